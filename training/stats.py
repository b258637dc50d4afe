"""Confidence intervals used by the reward benchmark and the evaluation gate."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

_Z = {0.90: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}


def wilson_interval(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (ties may count as half a success)."""
    if n <= 0:
        return (0.0, 1.0)
    if level not in _Z:
        raise ValueError(f"unsupported CI level {level} (expected one of {sorted(_Z)})")
    return wilson_bounds(successes, n, _Z[level])


def wilson_bounds(successes: float, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval for ``n > 0`` at normal quantile ``z`` (shared with inspect)."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean_ci(
    values: Sequence[float], samples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded: same inputs, same interval)."""
    n = len(values)
    if n == 0:
        return (0.0, 1.0)
    rng = random.Random(seed)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    tail = (1 - level) / 2
    low = means[int(math.floor(tail * (samples - 1)))]
    high = means[int(math.ceil((1 - tail) * (samples - 1)))]
    return (low, high)
