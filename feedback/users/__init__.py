"""Simulated users that talk to a gateway and react by a taste (docs/events.md, "Simulated users").

    python -m feedback.users --gateway URL --date YYYY-MM-DD --users N --seed S
        --taste MODULE:FUNCTION [--prompts FILE.jsonl] [--truth DIR]

Each user holds multi-turn conversations through the ``openai`` client, scores every answer with
the taste (``taste(messages, answer) -> float in [0, 1]``, ``feedback.users.tastes``) and reacts:
silence, thumbs, star ratings, edits toward the taste (``edits``), side-by-side picks when the
gateway serves a challenger, flags; some users never consent to training and a few ask to be
erased. The taste's score of every answer goes to ``TRUTH/dt=DATE.jsonl``, which the caller keeps
beside the landing zone, never inside it: the system learns from the feedback alone.
"""

from feedback.users.session import UsersConfig, read_truth, run_day, user_id
from feedback.users.tastes import SHIPPED, load_taste

__all__ = ["SHIPPED", "UsersConfig", "load_taste", "read_truth", "run_day", "user_id"]
