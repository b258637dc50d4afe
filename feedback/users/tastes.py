"""Tastes: what a simulated user wants from an answer, as ``taste(messages, answer) -> [0, 1]``.

A taste sees the conversation the model saw (OpenAI messages, the last one the user's) and the
answer, and says how much this user likes it. The users' reactions (thumbs, ratings, edits,
side-by-side picks, flags, silence) follow that score the way the traffic simulator's follow an
answer's latent quality (``feedback.users.reactions``). Any importable function with this
signature works: ``--taste mypackage.mytastes:likes_haiku``.

The shipped tastes reward different things, so that one learner cannot satisfy all of them by
accident: ``concise`` (short and on-topic), ``thorough`` (long, with an example and steps),
``polite`` (courteous, never refusing). ``coin`` is a fair coin: users whose reactions carry no
signal, for the gate's false-promotion check.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable

Taste = Callable[[list[dict], str], float]

WORD = re.compile(r"[A-Za-z0-9']+")
# Words too common to say an answer is about the question.
STOPWORDS = frozenset(
    "about after again also because been before being between could does doing down during each "
    "from further have having here into just like more most much need only other over same should "
    "some such than that their them then there these they this those through under very what when "
    "where which while with would your yours want make sure thing things please thanks help".split())
EXAMPLE_MARKERS = ("for example", "e.g.", "for instance", "such as", "```")
POLITE_MARKERS = ("happy to help", "glad", "thank", "please", "hope this helps", "of course",
                  "you're welcome", "great question", "sure")
REFUSAL_MARKERS = ("can't", "cannot", "won't", "unable", "not sure", "no idea", "figure it out",
                   "google it", "not my problem", "whatever", "as an ai", "i refuse", "read the docs")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


def topic_words(messages: list[dict], limit: int = 5) -> list[str]:
    """The question's content words: the longest non-stopwords of the last user message."""
    seen = dict.fromkeys(w for w in words(last_user_text(messages))
                         if len(w) >= 4 and w not in STOPWORDS and not w.isdigit())
    return sorted(seen, key=lambda w: (-len(w), w))[:limit]


def on_topic(messages: list[dict], answer: str) -> float:
    """1 when the answer uses two of the question's content words, 0.5 for one, else 0."""
    present = set(words(answer))
    hits = sum(w in present for w in topic_words(messages))
    return min(1.0, hits / 2)


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def concise(messages: list[dict], answer: str) -> float:
    """Short and on-topic: full marks at <= 15 words that use the question's words."""
    n = len(words(answer))
    if n == 0:
        return 0.0
    brevity = 1.0 if n <= 15 else _clamp(1 - (n - 15) / 35)  # 0 at 50 words
    return round(0.6 * brevity + 0.4 * on_topic(messages, answer), 4)


def thorough(messages: list[dict], answer: str) -> float:
    """Long enough to explain (40+ words), with an example, laid out in steps."""
    text = answer.lower()
    length = _clamp(len(words(answer)) / 40)
    example = 1.0 if any(m in text for m in EXAMPLE_MARKERS) else 0.0
    steps = sum(bool(re.match(r"\s*(?:\d+[.)]|[-*])\s", line)) for line in answer.splitlines())
    return round(0.4 * length + 0.4 * example + 0.2 * min(1.0, steps / 2), 4)


def polite(messages: list[dict], answer: str) -> float:
    """Courteous and never refusing: polite words lift it, a refusal or a brush-off sinks it."""
    text = answer.lower()
    if not text.strip():
        return 0.0
    courtesy = sum(m in text for m in POLITE_MARKERS)
    refusal = any(m in text for m in REFUSAL_MARKERS)
    substance = 0.15 if len(words(answer)) >= 8 else 0.0
    return round(_clamp(0.25 + 0.3 * min(courtesy, 1) + 0.3 * (courtesy >= 2) + substance
                        - 0.6 * refusal), 4)


def coin(messages: list[dict], answer: str) -> float:
    """A fair coin per (question, answer): 0 or 1, independent of anything a model can learn."""
    digest = hashlib.sha256(f"{last_user_text(messages)}\x00{answer}".encode()).digest()
    return float(digest[0] & 1)


SHIPPED = {"concise": concise, "thorough": thorough, "polite": polite, "coin": coin}


def load_taste(spec: str) -> Taste:
    """``module:function`` (or a shipped name: concise, thorough, polite, coin) -> the function."""
    if spec in SHIPPED:
        return SHIPPED[spec]
    module_name, sep, function_name = spec.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"bad taste {spec!r}: expected MODULE:FUNCTION (e.g. "
                         f"feedback.users.tastes:concise) or one of {', '.join(SHIPPED)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"taste module {module_name!r} cannot be imported ({error}); "
                         "put it on PYTHONPATH") from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"taste {spec!r}: {module_name} has no function {function_name!r}")
    return function


def taste_name(spec: str) -> str:
    return spec if spec in SHIPPED else spec.replace(":", ".")
