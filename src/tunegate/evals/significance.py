"""Paired significance tests of the right size, and how many more items would settle a threshold question.

Why this module exists: a paired-bootstrap CI of a difference that excludes 0 is not a test of the right size when
few items disagree — 3 wins and 0 losses look "significant" at any n, and under no real difference that rule
rejects ~10% of the time at n = 50 for a nominal 5%. Decisions therefore use exact tests:

- 0/1 scores: the exact McNemar test (the sign test on the discordant pairs; ``stats.mcnemar_exact``);
- graded scores: the exact sign-flip permutation test of the mean paired difference (Fisher 1935; Pitman 1937),
  enumerated when at most ``EXACT_MAX`` items differ and Monte Carlo with the (1 + hits) / (1 + B) correction
  otherwise (Phipson & Smyth 2010), so the p-value is never 0 and the test never exceeds its level.

On 0/1 scores the sign-flip test *is* McNemar's exact test (every non-zero difference is ±1), so one function,
``paired_test``, serves every per-item score; its ``method`` says which one ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from tunegate.evals.stats import mcnemar_exact

EXACT_MAX = 20  # 2^20 sign patterns enumerated exactly; beyond, Monte Carlo
_DEFAULT_RESAMPLES = 20000


@dataclass(frozen=True)
class PairedTest:
    """B − A on the same items: the two-sided p-value of "no difference", and the counts behind it."""

    method: str  # "mcnemar_exact" | "sign_flip_exact" | "sign_flip_monte_carlo" | "none"
    n: int
    mean_diff: float
    pvalue: float
    wins_b: int  # items where B scored higher
    wins_a: int  # items where A scored higher

    def significant(self, alpha: float = 0.05) -> bool:
        return self.pvalue <= alpha

    def to_dict(self) -> dict:
        return {"method": self.method, "n": self.n, "mean_diff": round(self.mean_diff, 6),
                "pvalue": float(self.pvalue), "wins_b": self.wins_b, "wins_a": self.wins_a}


def _sign_flip_exact(d: np.ndarray) -> float:
    """Two-sided exact p-value of the sign-flip test: the share of the 2^m sign patterns whose |sum| reaches the
    observed |sum| (the observed pattern included)."""
    m = d.size
    observed = abs(d.sum())
    # all 2^m patterns as a (2^m, m) matrix of ±1, built by bits; m <= EXACT_MAX keeps this at most 20M entries
    bits = (np.arange(2**m)[:, None] >> np.arange(m)[None, :]) & 1
    sums = np.abs((1 - 2 * bits) @ d)
    return float(np.mean(sums >= observed - 1e-12 * max(1.0, observed)))


def _sign_flip_monte_carlo(d: np.ndarray, n_resamples: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    observed = abs(d.sum())
    hits, done, chunk = 0, 0, max(1, min(n_resamples, (1 << 22) // max(1, d.size)))
    while done < n_resamples:
        b = min(chunk, n_resamples - done)
        signs = rng.integers(0, 2, size=(b, d.size), dtype=np.int8) * 2 - 1
        hits += int(np.sum(np.abs(signs @ d) >= observed - 1e-12 * max(1.0, observed)))
        done += b
    return (1 + hits) / (1 + n_resamples)


def paired_test(a, b, *, n_resamples: int = _DEFAULT_RESAMPLES, seed: int = 0) -> PairedTest:
    """Test whether B and A differ on the same items (two-sided). Exact McNemar for 0/1 scores, the sign-flip
    permutation test otherwise; items where both score the same carry no information and drop out of both."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be aligned 1-D arrays: {a.shape} vs {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired scores must be finite numbers (count unscored items as 0 before testing)")
    n = int(a.size)
    d = b - a
    wins_b, wins_a = int(np.sum(d > 0)), int(np.sum(d < 0))
    mean_diff = float(d.mean()) if n else math.nan
    if n == 0:
        return PairedTest("none", 0, math.nan, 1.0, 0, 0)
    binary = bool(np.all((a == 0) | (a == 1)) and np.all((b == 0) | (b == 1)))
    if binary:
        m = mcnemar_exact(a.astype(bool), b.astype(bool))
        return PairedTest("mcnemar_exact", n, mean_diff, float(m.pvalue), wins_b, wins_a)
    nz = d[d != 0]
    if nz.size == 0:
        return PairedTest("sign_flip_exact", n, mean_diff, 1.0, 0, 0)
    if nz.size <= EXACT_MAX:
        return PairedTest("sign_flip_exact", n, mean_diff, _sign_flip_exact(nz), wins_b, wins_a)
    return PairedTest("sign_flip_monte_carlo", n, mean_diff, _sign_flip_monte_carlo(nz, n_resamples, seed),
                      wins_b, wins_a)


def lower_bound_for_family(value: float, ci_low: float, k: int, confidence: float = 0.95) -> float:
    """The lower confidence bound of one of ``k`` estimates, Bonferroni-widened so that "the best of k clears the
    threshold" keeps the family's error rate: the two-sided interval's half-width below the estimate is scaled by
    z(1 − α/(2k)) / z(1 − α/2) (a normal approximation of the interval's shape; exact for k = 1)."""
    if k <= 1:
        return ci_low
    alpha = 1.0 - confidence
    z1, zk = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(1 - alpha / (2 * k))
    return value - (value - ci_low) * zk / z1


def upper_bound_for_family(value: float, ci_high: float, k: int, confidence: float = 0.95) -> float:
    """The upper bound counterpart of ``lower_bound_for_family``."""
    return -lower_bound_for_family(-value, -ci_high, k, confidence)


def more_items_to_settle(value: float, ci_low: float, ci_high: float, n: int | None, threshold: float) -> int | None:
    """About how many *more* items would make the interval clear ``threshold``, if the estimate stayed where it is.

    The interval's half-width shrinks as 1/sqrt(n), so it clears the threshold at N = n · (h / |value − t|)².
    None when n is unknown or the estimate sits on the threshold (no number of items settles it); 0 when the
    interval already clears it."""
    if n is None or n <= 0 or value is None or ci_low is None or ci_high is None:
        return None
    gap = abs(value - threshold)
    if gap < 1e-9:
        return None
    half = (value - ci_low) if value >= threshold else (ci_high - value)
    if half <= gap:
        return 0
    return max(1, math.ceil(n * (half / gap) ** 2) - n)
