"""Interval formulas, one home each: Wilson (rates), Student t (means), percentile bootstrap.

Shared by the analysts' views (``curation.views``), the reward model's held-out accuracy and the
evaluation gate (``training``), so a rate printed by ``inspect`` and a rate the gate acts on are
computed the same way.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from statistics import NormalDist

CONFIDENCE = 0.95  # the level every interval in reports and gate decisions is read at


def normal_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)


def wilson_interval(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (sound at small n and at rates near 0 or 1).

    ``successes`` may be fractional (a tie counted as half a win). Undefined (NaN) for n = 0.
    """
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = normal_quantile(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_quantile(p: float, df: int) -> float:
    """Student-t quantile: exact for df 1 and 2, Cornish-Fisher series (A&S 26.7.5) above.

    At p = 0.975 the series is 0.004 off at df = 3 and under 1e-4 from df = 10 on, far below
    the precision an interval is read at; it saves a SciPy dependency.
    """
    if df < 1:
        raise ValueError("t quantile needs df >= 1")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = normal_quantile(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def mean_interval(mean: float, sd: float | None, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval of a mean; undefined (NaN) below two observations."""
    if n < 2 or sd is None:
        return (math.nan, math.nan)
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def bootstrap_mean_ci(
    values: Sequence[float], samples: int = 2000, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded: same inputs, same interval); NaN when empty."""
    n = len(values)
    if n == 0:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    tail = (1 - confidence) / 2
    low = means[int(math.floor(tail * (samples - 1)))]
    high = means[int(math.ceil((1 - tail) * (samples - 1)))]
    return (low, high)


def difference_interval(successes_a: float, n_a: int, successes_b: float, n_b: int,
                        confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Newcombe's hybrid score interval of rate A minus rate B, from the two Wilson intervals
    (Newcombe 1998, method 10): sound at small n and rates near 0 or 1. NaN when either n is 0."""
    if n_a <= 0 or n_b <= 0:
        return (math.nan, math.nan)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = wilson_interval(successes_a, n_a, confidence)
    low_b, high_b = wilson_interval(successes_b, n_b, confidence)
    diff = p_a - p_b
    return (diff - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2),
            diff + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2))
