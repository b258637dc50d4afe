"""How users react to an answer of latent quality q: the thumbs and rating probabilities, and
the per-model-version summary of the feedback a day earned (expected against actual)."""

from __future__ import annotations

import math
import random

from feedback.simulate.config import mean_quality
from feedback.simulate.structure import Day

# Spread of a user's rating around 1 + 4q, before rounding and clamping to 1..5.
RATING_SD = 0.7


def p_thumbs_up(q: float) -> float:
    return 0.05 + 0.9 * q


def expected_rating(q: float) -> float:
    """E[clamp(round(1 + 4q + N(0, RATING_SD)), 1, 5)], exactly."""
    mu = 1 + 4 * q

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mu) / (RATING_SD * math.sqrt(2))))

    total = 0.0
    for r in range(1, 6):
        lo = -math.inf if r == 1 else r - 0.5
        hi = math.inf if r == 5 else r + 0.5
        total += r * ((1.0 if hi == math.inf else cdf(hi)) - (0.0 if lo == -math.inf else cdf(lo)))
    return total


def draw_rating(q: float, rng: random.Random) -> int:
    return max(1, min(5, round(1 + 4 * q + rng.gauss(0, RATING_SD))))


def version_stats(day: Day, yesterday: Day, feedback_truth: dict,
                  interactions_truth: dict) -> tuple[dict, dict]:
    """Feedback counts per model version, and per version the designed, realised and expected
    quality and reactions."""
    quality_of = {r.event_id: r.quality for r in yesterday.interactions}
    quality_of.update({k: v["quality"] for k, v in interactions_truth.items()})
    counts, expected_up, expected_ratings = _count_feedback(feedback_truth, quality_of)
    stats = {}
    for index, v in enumerate(day.model_versions):
        qualities = [r.quality for r in day.interactions
                     if r.model_version == v and r.kind != "junk"]
        row = counts.get(v, {})
        n_thumbs = row.get("thumbs_up", 0) + row.get("thumbs_down", 0)
        stats[v] = {
            "interactions": sum(1 for r in day.interactions if r.model_version == v),
            "design_mean_quality": mean_quality(index),
            "mean_quality": round(sum(qualities) / len(qualities), 4) if qualities else None,
            "expected_thumbs_up_rate": _mean(expected_up.get(v)),
            "actual_thumbs_up_rate": round(row["thumbs_up"] / n_thumbs, 4) if n_thumbs else None,
            "expected_mean_rating": _mean(expected_ratings.get(v)),
            "actual_mean_rating": (round(row["ratings_sum"] / row["ratings_n"], 4)
                                   if row.get("ratings_n") else None),
        }
    return dict(sorted(counts.items())), stats


def _count_feedback(feedback_truth: dict, quality_of: dict[str, float]
                    ) -> tuple[dict[str, dict], dict[str, list], dict[str, list]]:
    counts: dict[str, dict] = {}
    expected_up: dict[str, list] = {}
    expected_ratings: dict[str, list] = {}
    for fb in feedback_truth.values():
        v = fb["model_version"]
        if v is None:
            continue
        row = counts.setdefault(v, {"thumbs_up": 0, "thumbs_down": 0, "ratings_sum": 0,
                                    "ratings_n": 0, "edits": 0, "flags": 0, "comparisons": 0})
        q = quality_of[fb["interaction_id"]]
        if fb["kind"] == "thumbs":
            row["thumbs_up" if fb["value"] == 1 else "thumbs_down"] += 1
            expected_up.setdefault(v, []).append(p_thumbs_up(q))
        elif fb["kind"] == "rating":
            row["ratings_sum"] += fb["value"]
            row["ratings_n"] += 1
            expected_ratings.setdefault(v, []).append(expected_rating(q))
        elif fb["kind"] == "edit":
            row["edits"] += 1
        elif fb["kind"] == "flag":
            row["flags"] += 1
        else:
            row["comparisons"] += 1
    return counts, expected_up, expected_ratings


def _mean(values: list | None) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
