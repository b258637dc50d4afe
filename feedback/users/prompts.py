"""What simulated users ask: the traffic simulator's topics, or a real prompt file.

``SimulatorPrompts`` draws a topic, its slots and a system message from ``feedback.simulate``
(prompts carry planted PII at the simulator's rates, as real prompts do); follow-up turns walk
the topic's follow-up list. ``FilePrompts`` reads a JSONL file with a ``prompt`` (or
``question``/``turns``) field per line, e.g. ``../shared/data/arena_hard_v0.1_question.jsonl``;
its follow-ups are generic.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from feedback.simulate.config import DEFAULT_CONFIG
from feedback.simulate.pii import PIIDrawer, seed_pools
from feedback.simulate.text import draw_prompt, draw_slots
from feedback.simulate.topics import SYSTEM_PROMPTS, TOPICS

GENERIC_FOLLOW_UPS = ("Can you say more about that?", "Thanks. What should I do first?",
                      "Could you give me the short version?", "Is there anything I should avoid?")
MAX_PROMPT_CHARS = 1200  # longer file prompts do not fit a small model's context: skipped
SYSTEM_MESSAGE_RATE = 0.5


@dataclass
class Conversation:
    """One conversation's questions, drawn up front: ``question(turn)`` for turn 1, 2, ..."""

    system: str | None
    first: str
    follow_ups: list[str]

    def question(self, turn: int) -> str:
        return self.first if turn == 1 else self.follow_ups[(turn - 2) % len(self.follow_ups)]


class SimulatorPrompts:
    def __init__(self, seed: int):
        self.pools = seed_pools(seed)

    def conversation(self, rng: random.Random, turns: int) -> Conversation:
        topic = rng.choice(TOPICS)
        slots = draw_slots(topic, rng, self.pools)
        pii = PIIDrawer(self.pools, rng)
        asked = [draw_prompt(topic, slots, rng, pii, DEFAULT_CONFIG, t)[0] for t in range(1, turns + 1)]
        system = rng.choice(SYSTEM_PROMPTS) if rng.random() < SYSTEM_MESSAGE_RATE else None
        return Conversation(system, asked[0], asked[1:] or list(GENERIC_FOLLOW_UPS))


class FilePrompts:
    def __init__(self, path: str | Path):
        self.prompts: list[str] = []
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number} is not JSON ({error.msg}); expected one "
                                     "object with a 'prompt' field per line") from error
                text = _prompt_of(row)
                if text and len(text) <= MAX_PROMPT_CHARS:
                    self.prompts.append(text)
        if not self.prompts:
            raise ValueError(f"{path} holds no prompt of at most {MAX_PROMPT_CHARS} characters "
                             "(fields tried: prompt, question, turns[0].content)")

    def conversation(self, rng: random.Random, turns: int) -> Conversation:
        system = rng.choice(SYSTEM_PROMPTS) if rng.random() < SYSTEM_MESSAGE_RATE else None
        follow_ups = rng.sample(GENERIC_FOLLOW_UPS, len(GENERIC_FOLLOW_UPS))
        return Conversation(system, rng.choice(self.prompts), follow_ups)


def _prompt_of(row: object) -> str | None:
    if not isinstance(row, dict):
        return None
    for key in ("prompt", "question"):
        if isinstance(row.get(key), str):
            return row[key].strip()
    turns = row.get("turns")
    if isinstance(turns, list) and turns and isinstance(turns[0], dict):
        content = turns[0].get("content")
        return content.strip() if isinstance(content, str) else None
    return None


def prompt_source(seed: int, path: str | Path | None):
    return FilePrompts(path) if path else SimulatorPrompts(seed)
