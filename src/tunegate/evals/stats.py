"""Statistics shared by every stage: intervals, paired comparisons, multiplicity and power.

Every number tunegate reports carries an interval, because a 2-point accuracy gain on 200 items is usually noise.
All functions are pure (numpy arrays in, numbers out) and fully seeded: the same inputs and ``seed`` give the same
interval on every machine, so reports are reproducible and tests can compare against published values.

What the reports actually use (``evals.metrics``):
- accuracy and every mean of per-item scores: ``bootstrap_ci`` with BCa (Efron 1987, JASA 82:171), Wilson only when
  all items agree and the bootstrap has zero width. For 0/1 scores the bootstrap distribution is discrete and BCa
  is conservative at small n: exact coverage for a nominal 95% is 0.96-0.99 at n=30 (p = 0.5-0.98) and 0.95-0.996
  at n=100 (0.98 at p=0.95), against Wilson's 0.93-0.98 and 0.94-0.97 (``bench/interval_coverage.py``). Too wide
  rather than too narrow, so it is kept. ``wilson_ci`` / ``proportion_ci`` serve callers that want the closed form
  (the monitor, the criterion gate).
- macro-F1: ``bootstrap_ci`` on ``(y_true, y_pred)`` with ``MacroF1(labels, absent="skip")`` and BCa, resampling
  items jointly; near-nominal coverage from ~100 items, about 0.90-0.95 at n=30 (see ``MacroF1``).
- comparisons: ``paired_bootstrap_diff`` / ``paired_comparison`` (with exact McNemar for 0/1 scores).
Bootstraps are vectorised: a mean is a row mean of an index matrix; a statistic with a ``resampler`` (``MacroF1``)
scores a whole chunk of resamples with array operations. No statistic costs a Python call per resample unless the
caller passes a plain function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fractions import Fraction
from statistics import NormalDist

import numpy as np

from tunegate.evals.f1stats import MacroF1, accuracy, macro_f1
from tunegate.intervals import Interval

# scipy.stats costs ~1.3 s to import; the standard library's NormalDist and exact binomial sums serve here, so
# every command that reports a CI stays fast to start (scipy.optimize is imported only where it is needed).
_NORMAL = NormalDist()


def _norm_ppf(p):
    return np.vectorize(_NORMAL.inv_cdf, otypes=[float])(p) if np.ndim(p) else _NORMAL.inv_cdf(float(p))


def _norm_cdf(x):
    return np.vectorize(_NORMAL.cdf, otypes=[float])(x) if np.ndim(x) else _NORMAL.cdf(float(x))


def _binom_half_cdf_pmf(k: int, d: int) -> tuple[float, float]:
    """P(X <= k) and P(X = k) for X ~ Binomial(d, 1/2), exactly (integer arithmetic, then one division)."""
    pmf_num = math.comb(d, k)
    cdf_num = sum(math.comb(d, i) for i in range(k + 1))
    return float(Fraction(cdf_num, 2**d)), float(Fraction(pmf_num, 2**d))

__all__ = [
    "Interval", "McNemarResult", "bootstrap_ci", "wilson_ci", "proportion_ci", "paired_bootstrap_diff",
    "mcnemar_exact", "holm_correction", "minimal_detectable_difference", "required_n_for_difference",
    "macro_f1", "accuracy", "MacroF1",
]

# Resample indices are drawn and used in chunks of about this many elements (512 KiB of int64): small enough that
# the index matrix and what is gathered with it stay in the CPU cache. 16 MiB chunks made the bootstrap memory-
# bound: 2,000 x 2,000 mean + macro-F1 took ~1.9x as long (issue 19). The chunking never changes the draws.
_CHUNK_ELEMENTS = 1 << 16
_JACKKNIFE_ELEMENTS = 1 << 21  # leave-one-out rows per batch call (the rare path without a closed form)
_ZERO_WIDTH_NOTE = ("every resample gave the same value: a zero-width interval understates uncertainty "
                    "(for 0/1 scores use wilson_ci, which stays wide at 0/n and n/n)")


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired 0/1 outcomes.

    ``b01``: items A got wrong and B got right; ``b10``: A right, B wrong. Only these discordant items carry
    information about which system is better. ``pvalue`` is the exact conditional (binomial) test, which is
    conservative; ``midp_pvalue`` is its mid-p version, recommended by Fagerland, Lydersen & Laake (2013,
    BMC Med. Res. Methodol. 13:91) because it holds the nominal level in practice with more power.
    """

    b01: int
    b10: int
    n: int
    pvalue: float
    midp_pvalue: float

    @property
    def n_discordant(self) -> int:
        return self.b01 + self.b10


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _as_arrays(values) -> tuple[tuple[np.ndarray, ...], bool]:
    """Normalise input to a tuple of aligned 1-D arrays; the flag says whether a tuple was given."""
    is_tuple = isinstance(values, tuple)
    arrays = tuple(np.asarray(v) for v in (values if is_tuple else (values,)))
    if not arrays:
        raise ValueError("no arrays given")
    n = len(arrays[0])
    for a in arrays:
        if a.ndim != 1 or len(a) != n:
            raise ValueError(f"values must be 1-D and aligned; got shapes {[x.shape for x in arrays]}")
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise ValueError("values contain NaN: drop missing items or score them explicitly before the interval")
    return arrays, is_tuple


def _interval_from_distribution(theta_hat, theta_b, jack, confidence, method, n, note=None) -> Interval:
    """Percentile or BCa interval from bootstrap replicates ``theta_b`` and jackknife values ``jack``."""
    finite = np.isfinite(theta_b)
    if not finite.all():
        note = f"{int((~finite).sum())} of {theta_b.size} resamples gave a non-finite statistic and were dropped"
        theta_b = theta_b[finite]
    if theta_b.size == 0:
        return Interval(float(theta_hat), math.nan, math.nan, confidence, method, n, "no finite resamples")
    # Discrete statistics (accuracy, F1) tie with theta_hat often; compare with a rounding tolerance so that
    # algebraically equal paths (mean of differences vs difference of means) give the same interval.
    tol = 1e-9 * max(abs(theta_hat), float(np.abs(theta_b).max()))
    if np.ptp(theta_b) <= tol:
        v = float(np.median(theta_b))
        return Interval(float(theta_hat), v, v, confidence, method, n, _ZERO_WIDTH_NOTE)
    alpha = (1.0 - confidence) / 2.0
    probs = np.array([alpha, 1.0 - alpha])
    if method == "bca":
        # Efron (1987): bias correction z0 from the mid-rank of theta_hat among the replicates (as scipy does),
        # acceleration a from the jackknife skewness.
        ties = np.abs(theta_b - theta_hat) <= tol
        pct = (np.sum((theta_b < theta_hat) & ~ties) + 0.5 * np.sum(ties)) / theta_b.size
        z0 = _norm_ppf(pct) if 0.0 < pct < 1.0 else (-math.inf if pct <= 0 else math.inf)
        u = jack.mean() - jack
        denom = np.sum(u**2)
        a = np.sum(u**3) / (6.0 * denom**1.5) if denom > 0 else 0.0
        z = _norm_ppf(probs)
        with np.errstate(invalid="ignore", divide="ignore"):
            arg = z0 + (z0 + z) / (1.0 - a * (z0 + z))
        adj = np.array([_norm_cdf(v) if np.isfinite(v) else np.nan for v in arg])
        if np.all(np.isfinite(adj)):
            probs = adj
        else:
            method, note = "percentile", "BCa undefined (estimate outside the bootstrap distribution); percentile used"
    low, high = _quantile_linear(theta_b, probs)
    return Interval(float(theta_hat), float(low), float(high), confidence, method, n, note)


def _quantile_linear(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(a, q)`` (default 'linear' method) for a finite 1-D ``a`` and ``q`` in [0, 1], bit for bit (the
    same index, weight and two-sided interpolation as numpy's ``_quantile`` / ``_lerp``; tested). Why: numpy's
    version calls ``np.unique``, whose first use imports ``numpy.ma`` (~10 ms of every eval command)."""
    s = np.sort(a)
    virtual = (s.size - 1) * np.asarray(q, dtype=float)
    prev = np.floor(virtual)
    nxt = prev + 1
    above = virtual >= s.size - 1
    prev[above], nxt[above] = -1, -1
    below = virtual < 0
    prev[below], nxt[below] = 0, 0
    prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
    gamma = virtual - prev
    lo, hi = s[prev], s[nxt]
    diff = hi - lo
    return np.where(gamma >= 0.5, hi - diff * (1 - gamma), lo + diff * gamma)


def bootstrap_ci(values, statistic: Callable[..., float] = np.mean, *, n_resamples: int = 2000,
                 confidence: float = 0.95, seed: int = 0, method: str = "auto") -> Interval:
    """Seeded bootstrap confidence interval over items.

    ``values`` is a 1-D array of per-item values, or a tuple of aligned arrays (e.g. ``(y_true, y_pred)``) for a
    corpus-level metric; items (rows) are resampled jointly and ``statistic(*arrays)`` is called on each resample.
    ``method="auto"`` uses BCa for ``np.mean`` (fast and vectorised; it corrects bias and skew) and percentile for
    other statistics, whose jackknife acceleration is unreliable when they are not smooth (macro-F1, medians);
    ``"bca"`` and ``"percentile"`` force a method. The interval reflects sampling of *items* only: it does not
    cover variation from re-running a stochastic model on the same items.

    Degenerate cases: no items gives a NaN interval with a note; a statistic that is the same on every resample
    (e.g. all-equal scores) gives a zero-width interval, which understates uncertainty: for 0/1 scores prefer
    ``wilson_ci``.
    """
    return bootstrap_cis([(values, statistic, method)], n_resamples=n_resamples, confidence=confidence,
                         seed=seed)[0]


def bootstrap_cis(jobs: Sequence[tuple], *, n_resamples: int = 2000, confidence: float = 0.95,
                  seed: int = 0) -> list[Interval]:
    """``bootstrap_ci`` for several ``(values, statistic, method)`` at once, each interval equal to its own call.

    Why: a seeded bootstrap draws the same resample indices for every statistic over the same number of items, so
    jobs of equal n share one draw (a report's accuracy and macro-F1 on the same items; per-label means of equal
    size) instead of drawing, and holding, the same index matrices again (issue 19)."""
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    out: list[Interval | None] = [None] * len(jobs)
    groups: dict[int, list[_Job]] = {}
    for k, (values, statistic, method) in enumerate(jobs):
        if method not in ("auto", "bca", "percentile"):
            raise ValueError(f"method must be 'auto', 'bca' or 'percentile', got {method!r}")
        job = _Job(k, values, statistic, method, confidence)
        if job.done is not None:
            out[k] = job.done
        else:
            groups.setdefault(job.n, []).append(job)
    for n, group in groups.items():
        rng = np.random.default_rng(seed)
        rows = max(1, _CHUNK_ELEMENTS // n)  # resample-index matrices in chunks that bound memory; every path
        for start in range(0, n_resamples, rows):  # draws the same indices: same seed, same resamples
            idx = rng.integers(0, n, size=(min(rows, n_resamples - start), n))
            for job in group:
                job.add_chunk(idx)
        for job in group:
            out[job.k] = job.interval(confidence)
    return out  # type: ignore[return-value]


class _Job:
    """One statistic of ``bootstrap_cis``: its inputs prepared once, its replicates gathered chunk by chunk."""

    def __init__(self, k: int, values, statistic: Callable[..., float], method: str, confidence: float) -> None:
        self.k, self.statistic = k, statistic
        self.arrays, is_tuple = _as_arrays(values)
        self.n = n = len(self.arrays[0])
        self.is_mean = statistic is np.mean and not is_tuple
        self.method = method if method != "auto" else ("bca" if self.is_mean else "percentile")
        self.done: Interval | None = None
        self.chunks: list[np.ndarray] = []
        if n == 0:
            self.done = Interval(math.nan, math.nan, math.nan, confidence, self.method, 0, "no items")
            return
        if self.is_mean:
            self.x = self.arrays[0].astype(float)
            self.theta_hat = float(self.x.mean())
        else:
            self.theta_hat = float(statistic(*self.arrays))
        if n == 1:
            t = self.theta_hat
            self.done = Interval(t, t, t, confidence, self.method, 1, "a single item: " + _ZERO_WIDTH_NOTE)
            return
        # A statistic with a ``resampler`` (see ``MacroF1``) prepares its inputs once and scores a whole matrix of
        # resample indices with array operations: O(n) numpy work per resample instead of a Python call per resample.
        batch = None if self.is_mean else getattr(statistic, "resampler", None)
        self.batch = batch(*self.arrays) if batch is not None else None

    def add_chunk(self, idx: np.ndarray) -> None:
        if self.is_mean:
            self.chunks.append(self.x[idx].mean(axis=1))
        elif self.batch is not None:
            self.chunks.append(np.asarray(self.batch(idx), dtype=float))
        else:
            self.chunks.append(np.array([self.statistic(*(a[row] for a in self.arrays)) for row in idx], dtype=float))

    def interval(self, confidence: float) -> Interval:
        theta_b = np.concatenate(self.chunks)
        self.chunks = []
        n, arrays, statistic, batch = self.n, self.arrays, self.statistic, self.batch
        jack = None
        if self.method == "bca":
            if self.is_mean:
                jack = (self.x.sum() - self.x) / (n - 1)  # leave-one-out means in closed form
            elif hasattr(statistic, "jackknife"):  # closed form (e.g. MacroF1: one item moves at most two classes)
                jack = np.asarray(statistic.jackknife(*arrays), dtype=float)
            elif batch is not None:  # leave-one-out rows: row i is arange(n) without i, as np.delete gives
                j = np.arange(n - 1)
                jack = np.concatenate([np.asarray(batch(j[None, :] + (j[None, :] >= i[:, None])), dtype=float)
                                       for i in np.array_split(np.arange(n), max(1, n * n // _JACKKNIFE_ELEMENTS))])
            else:
                jack = np.array([statistic(*(np.delete(a, i) for a in arrays)) for i in range(n)], dtype=float)
        return _interval_from_distribution(self.theta_hat, theta_b, jack, confidence, self.method, n)


def wilson_ci(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion (Wilson 1927; Newcombe 1998, Stat. Med. 17:857, method 3).

    Preferred over the bootstrap for 0/1 scores: near-nominal coverage even for small n or p near 0 or 1, and a
    non-zero width at 0/n and n/n (upper limit z^2/(n+z^2) at 0/n), where a bootstrap interval collapses to a point.
    """
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= n or int(successes) != successes or int(n) != n:
        raise ValueError(f"need integers 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, confidence, "wilson", 0, "no items")
    z = float(_norm_ppf(0.5 + confidence / 2.0))
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, confidence, "wilson", int(n))


def proportion_ci(values, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Interval for the mean of per-item scores: Wilson when every score is 0 or 1, BCa bootstrap otherwise.

    This is the runner's rule for accuracy-type metrics: binary scores are a binomial proportion, for which Wilson
    is better calibrated than any bootstrap (see ``wilson_ci``); graded scores (partial credit, similarities) have
    no such closed form, so they get the bootstrap. ``Interval.method`` records which was used.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"values must be 1-D per-item scores, got shape {x.shape}")
    if np.all((x == 0.0) | (x == 1.0)):  # also true for no items: Wilson then returns a NaN interval
        return wilson_ci(int(x.sum()), int(x.size), confidence)
    return bootstrap_ci(x, np.mean, n_resamples=n_resamples, confidence=confidence, seed=seed, method="bca")


def paired_bootstrap_diff(a, b, statistic: Callable[..., float] = np.mean, *, n_resamples: int = 2000,
                          confidence: float = 0.95, seed: int = 0, method: str = "auto") -> Interval:
    """Interval for ``statistic(b) - statistic(a)`` when A and B were scored on the *same* items.

    Items are resampled jointly for both sides, so item difficulty cancels and the interval is much narrower than
    comparing two separate intervals (overlapping marginal intervals do not mean "no difference"). Each side is a
    1-D array of per-item scores or a tuple of aligned arrays for a corpus metric, e.g. ``(y_true, pred_a)`` and
    ``(y_true, pred_b)`` with ``statistic=macro_f1``. For the mean this is the bootstrap of per-item differences.
    """
    a_arr, a_tuple = _as_arrays(a)
    b_arr, b_tuple = _as_arrays(b)
    if len(a_arr[0]) != len(b_arr[0]):
        raise ValueError(f"paired comparison needs the same items: {len(a_arr[0])} vs {len(b_arr[0])}")
    kw = dict(n_resamples=n_resamples, confidence=confidence, seed=seed, method=method)
    if statistic is np.mean and not (a_tuple or b_tuple):
        return bootstrap_ci(b_arr[0].astype(float) - a_arr[0].astype(float), np.mean, **kw)
    k = len(a_arr)

    def diff(*arrays):
        return statistic(*arrays[k:]) - statistic(*arrays[:k])

    resampler = getattr(statistic, "resampler", None)
    if resampler is not None:  # keep the vectorised path: the same per-resample differences, in array form
        def diff_resampler(*arrays):
            fa, fb = resampler(*arrays[:k]), resampler(*arrays[k:])
            return lambda idx: fb(idx) - fa(idx)

        diff.resampler = diff_resampler
        if hasattr(statistic, "jackknife"):
            diff.jackknife = lambda *arrays: statistic.jackknife(*arrays[k:]) - statistic.jackknife(*arrays[:k])
    return bootstrap_ci(a_arr + b_arr, diff, **kw)


def _binary(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1 or not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must be a 1-D array of 0/1 (or bool) outcomes")
    return arr.astype(bool)


def mcnemar_exact(a_correct, b_correct) -> McNemarResult:
    """Exact McNemar test of whether A and B have the same accuracy on the same items.

    Conditional on the d = b01 + b10 discordant items, b01 ~ Binomial(d, 1/2) under the null; the two-sided p-value
    is ``min(1, 2 * P(X <= min(b01, b10)))``; the mid-p value counts outcomes as extreme as the observed one by
    half (``1 - pmf/2`` when b01 == b10), as defined by Fagerland et al. (2013). With no discordant items there
    is no evidence either way: both p-values are 1.
    """
    a, b = _binary(a_correct, "a_correct"), _binary(b_correct, "b_correct")
    if a.shape != b.shape:
        raise ValueError(f"a_correct and b_correct must be aligned: {a.size} vs {b.size} items")
    b01, b10 = int(np.sum(~a & b)), int(np.sum(a & ~b))
    d, k = b01 + b10, min(b01, b10)
    if d == 0:
        return McNemarResult(b01, b10, int(a.size), 1.0, 1.0)
    cdf, pmf = _binom_half_cdf_pmf(k, d)
    p = min(1.0, 2.0 * cdf)
    # mid-p: P(more extreme) + P(as extreme)/2; when b01 == b10 the observed count is its own mirror image.
    midp = 1.0 - 0.5 * pmf if b01 == b10 else 2.0 * cdf - pmf
    return McNemarResult(b01, b10, int(a.size), p, midp)


@dataclass(frozen=True)
class PairedComparison:
    """B − A on the same items: both means, the paired-bootstrap interval of the difference, and exact McNemar
    when every score is 0/1 (None otherwise)."""

    n: int
    mean_a: float
    mean_b: float
    diff: Interval
    mcnemar: McNemarResult | None


def paired_comparison(a, b, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
                      ) -> PairedComparison:
    """The one paired comparison every stage reports (sprint finalists, probe vs prompt, model regression)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    iv = paired_bootstrap_diff(a, b, n_resamples=n_resamples, confidence=confidence, seed=seed)
    binary = bool(np.all((a == 0) | (a == 1)) and np.all((b == 0) | (b == 1)))
    return PairedComparison(int(a.size), float(a.mean()), float(b.mean()), iv,
                            mcnemar_exact(a.astype(bool), b.astype(bool)) if binary else None)


def holm_correction(pvalues: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order.

    Use when several candidates are each compared with a baseline: rejecting those with adjusted p <= alpha keeps
    the chance of *any* false "better than baseline" at most alpha, and is uniformly more powerful than Bonferroni.
    Adjusted p_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)) over the ascending order; ties keep a stable order.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must be a 1-D sequence of numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    adj_sorted = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(m, 0, -1)))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def _z(alpha: float, power: float) -> tuple[float, float]:
    if not 0 < alpha < 1 or not 0.5 <= power < 1:
        raise ValueError(f"need 0 < alpha < 1 and 0.5 <= power < 1, got alpha={alpha}, power={power}")
    return float(_norm_ppf(1 - alpha / 2)), float(_norm_ppf(power))


def _discordance(baseline: float | None, discordance: float | None) -> float:
    """psi = P(A and B disagree on an item). Default from baseline accuracy p: 2p(1-p), i.e. independent errors."""
    if discordance is not None and not 0 < discordance <= 1:
        raise ValueError(f"discordance must be in (0, 1], got {discordance}")
    if discordance is not None:
        return float(discordance)
    if baseline is None or not 0 < baseline < 1:
        raise ValueError(f"give discordance (share of items where A and B disagree) or baseline accuracy in (0, 1);"
                         f" got baseline={baseline}")
    return 2.0 * baseline * (1.0 - baseline)


def _unpaired_n(delta: float, p1: float, za: float, zb: float) -> float:
    # Fleiss, Levin & Paik (2003) eq. 4.14 without continuity correction; n per group.
    p2 = p1 + delta
    pbar = (p1 + p2) / 2
    return (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / delta**2


def required_n_for_difference(delta: float, *, baseline: float | None = None, discordance: float | None = None,
                              alpha: float = 0.05, power: float = 0.8, paired: bool = True) -> int:
    """Items needed to detect an accuracy difference ``delta`` with a two-sided level-``alpha`` test.

    Paired (both systems on the same items, McNemar): Connor (1987, Biometrics 43:207), normal approximation,
        n = [z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - delta^2)]^2 / delta^2,
    where psi = p01 + p10 is the discordant proportion (must be >= delta). If psi is unknown it defaults to
    2p(1-p) from ``baseline`` accuracy p (independent errors): conservative because systems tested on the same
    items usually fail on the same hard items, which lowers psi. Pass a measured psi (e.g. from a pilot
    ``mcnemar_exact``: n_discordant / n) for a sharper answer. Unpaired: n per group, two-proportion z-test.
    """
    za, zb = _z(alpha, power)
    delta = abs(float(delta))
    if not 0 < delta < 1:
        raise ValueError(f"delta must be a non-zero difference in proportions, got {delta}")
    if not paired:
        if baseline is None or not 0 < baseline < 1 or baseline + delta >= 1:
            raise ValueError("unpaired design needs baseline in (0, 1) with baseline + delta < 1")
        return math.ceil(_unpaired_n(delta, baseline, za, zb))
    psi = _discordance(baseline, discordance)
    if delta > psi:
        raise ValueError(f"a difference of {delta} needs at least that share of discordant items; psi={psi:.4g}")
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) ** 2 / delta**2)


def minimal_detectable_difference(n: int, *, baseline: float | None = None, discordance: float | None = None,
                                  alpha: float = 0.05, power: float = 0.8, paired: bool = True) -> float:
    """Smallest accuracy difference that ``n`` items detect with the given power (inverse of the sample size).

    Differences below this are not evidence of "no difference": the eval set is too small to see them. Paired:
    Connor's formula solved for delta (a quadratic),
        delta = sqrt(psi) [sqrt(n) z_a + z_b sqrt(n + z_b^2 - z_a^2)] / (n + z_b^2),
    with psi as in ``required_n_for_difference``. Returns NaN when no feasible difference is detectable
    (delta > psi, or baseline + delta > 1). Unpaired: solved numerically, n per group.
    """
    za, zb = _z(alpha, power)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not paired:
        if baseline is None or not 0 < baseline < 1:
            raise ValueError("unpaired design needs baseline in (0, 1)")
        hi = 1.0 - baseline - 1e-12
        if _unpaired_n(hi, baseline, za, zb) > n:
            return math.nan
        from scipy.optimize import brentq

        return float(brentq(lambda d: _unpaired_n(d, baseline, za, zb) - n, 1e-9, hi, xtol=1e-12))
    psi = _discordance(baseline, discordance)
    disc = n + zb**2 - za**2
    if disc < 0:
        return math.nan
    delta = math.sqrt(psi) * (math.sqrt(n) * za + zb * math.sqrt(disc)) / (n + zb**2)
    if delta > psi or (baseline is not None and baseline + delta > 1):
        return math.nan
    return delta
