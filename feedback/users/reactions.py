"""How a user reacts to an answer with taste score ``s``: the same curves the traffic simulator
uses for latent quality (``feedback.simulate.reactions``), so a day of simulated users and a day
of simulated traffic earn feedback alike. Pure: the caller passes the random stream."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from feedback.simulate.reactions import draw_rating, p_thumbs_up


@dataclass(frozen=True)
class ReactionConfig:
    feedback_rate: float = 0.7  # the rest is silence: most answers get no feedback at all
    unhappy_below: float = 0.6  # a score under this makes an edit (or a flag) possible
    edit_rate: float = 0.3  # of unhappy answers: the user rewrites it (when the edit helps)
    flag_below: float = 0.1  # a score this bad can be reported
    flag_rate: float = 0.3
    thumbs_share: float = 0.65  # of the remaining feedback: thumbs; the rest star ratings
    pick_sharpness: float = 8.0  # side by side: P(pick A) = logistic(sharpness * (s_A - s_B))


@dataclass(frozen=True)
class Reaction:
    kind: str  # silence | flag | edit | thumbs | rating
    value: int | None = None  # thumbs +1/-1, rating 1..5


def react(score: float, rng: random.Random, config: ReactionConfig, can_edit: bool) -> Reaction:
    """The reaction to one answer. ``can_edit``: the user's repertoire improves this answer."""
    if rng.random() >= config.feedback_rate:
        return Reaction("silence")
    roll = rng.random()
    if score < config.flag_below and roll < config.flag_rate:
        return Reaction("flag")
    if score < config.unhappy_below and can_edit and roll >= 1 - config.edit_rate:
        return Reaction("edit")
    if rng.random() < config.thumbs_share:
        return Reaction("thumbs", 1 if rng.random() < p_thumbs_up(score) else -1)
    return Reaction("rating", draw_rating(score, rng))


def pick(score_a: float, score_b: float, rng: random.Random, config: ReactionConfig) -> int:
    """0 when the user prefers answer A, 1 for B; equal scores are a coin toss."""
    p_a = 1 / (1 + math.exp(-config.pick_sharpness * (score_a - score_b)))
    return 0 if rng.random() < p_a else 1
