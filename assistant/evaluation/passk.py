"""pass@k and its uncertainty.

pass@k is the probability that at least one of k samples passes.  From n samples
of which c pass, the unbiased estimator (Chen et al., 2021) is
``1 - C(n-c, k) / C(n, k)``; "first sample passes" and "any of n passes" are
biased (the second grossly, for k < n).  It is computed as a product so that
n = 200 does not overflow.

Confidence intervals.  The overall pass@k is a mean over tasks, and the tasks
are the main source of noise (a suite is a sample of the work we care about),
so the 95% interval is a percentile bootstrap over tasks (fixed seed, so the
same report gives the same interval).  When each task has a single sample
(n = 1) the per-task outcomes are Bernoulli and the Wilson score interval for
a binomial proportion is exact enough and well-behaved at 0% and 100%; it is
reported alongside for that case.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.959963984540054


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task with ``n`` samples, ``c`` of them correct."""
    if n < 1 or k < 1:
        raise ValueError("n and k must be positive")
    if not 0 <= c <= n:
        raise ValueError("c must be between 0 and n")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task (have {n})")
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def bootstrap_ci(values: Sequence[float], *, resamples: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling the values)."""
    if not values:
        return (0.0, 0.0)
    if len(values) == 1:
        return (values[0], values[0])
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo = means[math.floor((1 - level) / 2 * resamples)]
    hi = means[min(resamples - 1, math.ceil((1 + level) / 2 * resamples) - 1)]
    return (lo, hi)


def wilson_ci(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if trials <= 0:
        return (0.0, 0.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap_diff(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000,
                          seed: int = 0) -> tuple[float, float]:
    """95% interval of mean(b - a) over paired tasks, resampling tasks."""
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    return bootstrap_ci(diffs, resamples=resamples, seed=seed)


def sign_flip_p_value(a: Sequence[float], b: Sequence[float], *, rounds: int = 10_000, seed: int = 0) -> float:
    """Two-sided paired permutation test: p-value of "A and B are the same model".

    Under the null, the sign of each per-task difference is a coin flip; the
    p-value is the share of random sign assignments whose mean difference is at
    least as large as the observed one.  Exact enumeration when there are at
    most 16 non-zero differences.
    """
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    nonzero = [d for d in diffs if d != 0]
    if not nonzero:
        return 1.0
    observed = abs(sum(nonzero)) - 1e-12
    if len(nonzero) <= 16:
        count = 0
        total = 1 << len(nonzero)
        for mask in range(total):
            s = sum(-d if mask >> i & 1 else d for i, d in enumerate(nonzero))
            count += abs(s) >= observed
        return count / total
    rng = random.Random(seed)
    hits = sum(abs(sum(d if rng.random() < 0.5 else -d for d in nonzero)) >= observed for _ in range(rounds))
    return (hits + 1) / (rounds + 1)


def mcnemar_p_value(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar test on discordant pairs (tasks only A solves vs only B solves)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)
