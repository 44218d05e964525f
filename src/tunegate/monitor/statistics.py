"""The two-sample statistics the drift tests share: PSI, KS, chi-square of homogeneity, two proportions, and the
effect sizes that keep large windows from alerting on shifts too small to matter (SMD, total variation).

A leaf module (numpy and scipy only), so every test module can import it without importing each other.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

PSI_EPS = 1e-4  # floor for empty bins, so one empty bin does not make PSI infinite
MIN_EXPECTED = 5.0  # chi-square cells with a smaller pooled expected count are merged


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (ties merged): the bins are fixed on the reference."""
    qs = np.quantile(np.asarray(reference, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


def binned_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin; bin i is [edge[i-1], edge[i]) with open outer bins, so every value lands somewhere."""
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="right")
    return np.bincount(idx, minlength=len(edges) + 1)


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = PSI_EPS) -> tuple[float, np.ndarray]:
    """Population stability index sum((c - r) * ln(c / r)) over bins; also each bin's contribution."""
    r = np.maximum(np.asarray(ref_counts, float) / max(1, np.sum(ref_counts)), eps)
    c = np.maximum(np.asarray(cur_counts, float) / max(1, np.sum(cur_counts)), eps)
    parts = (c - r) * np.log(c / r)
    return float(parts.sum()), parts


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of a numeric column with quantile bins fixed on the reference."""
    edges = quantile_edges(reference, bins)
    return psi_from_counts(binned_counts(reference, edges), binned_counts(current, edges))[0]


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic D and p-value (exact for small samples, asymptotic otherwise)."""
    from scipy.stats import ks_2samp

    res = ks_2samp(np.asarray(a, float), np.asarray(b, float))
    return float(res.statistic), float(res.pvalue)


def chi2_two_sample(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test of homogeneity on a 2 x K table; cells whose pooled expected count is below 5 are merged
    into one, so the asymptotic p-value is trustworthy. Returns (statistic, dof, p); dof 0 means no test."""
    from scipy.special import chdtrc

    rc, cc = np.asarray(ref_counts, float), np.asarray(cur_counts, float)
    n_r, n_c = rc.sum(), cc.sum()
    tot = rc + cc
    keep = tot * min(n_r, n_c) / (n_r + n_c) >= MIN_EXPECTED
    if (~keep).any():
        rc = np.append(rc[keep], rc[~keep].sum())
        cc = np.append(cc[keep], cc[~keep].sum())
        nz = (rc + cc) > 0
        rc, cc = rc[nz], cc[nz]
    if len(rc) < 2:
        return 0.0, 0, 1.0
    tot = rc + cc
    e_r, e_c = tot * n_r / (n_r + n_c), tot * n_c / (n_r + n_c)
    stat = float(np.sum((rc - e_r) ** 2 / e_r) + np.sum((cc - e_c) ** 2 / e_c))
    dof = len(rc) - 1
    return stat, dof, float(chdtrc(dof, stat))


def category_counts(ref: list[str], cur: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Counts over the reference's categories, plus one cell for categories the reference never saw."""
    return counted_categories(Counter(ref), Counter(cur))


def counted_categories(rc: Counter, cc: Counter) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``category_counts`` from counts already made (a window's ``categorical_counts``: no list of values)."""
    cats = sorted(rc)
    unseen = sum(v for k, v in cc.items() if k not in rc)
    r = np.array([rc[k] for k in cats] + [0])
    c = np.array([cc.get(k, 0) for k in cats] + [unseen])
    return cats + ["(unseen in reference)"], r, c


def total_variation(ref_counts: dict[str, int], cur_counts: dict[str, int]) -> float:
    """Total variation distance between two category distributions: half the summed absolute share changes,
    i.e. the share of traffic that would have to move category for one mix to become the other (0..1)."""
    n_r, n_c = sum(ref_counts.values()), sum(cur_counts.values())
    if not n_r or not n_c:
        return 0.0
    keys = set(ref_counts) | set(cur_counts)
    return 0.5 * sum(abs(ref_counts.get(k, 0) / n_r - cur_counts.get(k, 0) / n_c) for k in keys)


def standardized_mean_difference(ref: np.ndarray, cur: np.ndarray) -> float:
    """(mean_cur - mean_ref) / pooled SD (Cohen's d); 0 when both samples are constant and equal."""
    ref, cur = np.asarray(ref, float), np.asarray(cur, float)
    diff = float(np.mean(cur) - np.mean(ref))
    n_r, n_c = len(ref), len(cur)
    var = ((n_r - 1) * np.var(ref, ddof=1 if n_r > 1 else 0) + (n_c - 1) * np.var(cur, ddof=1 if n_c > 1 else 0)
           ) / max(1, n_r + n_c - 2)
    sd = float(np.sqrt(var))
    if sd == 0:
        return 0.0 if diff == 0 else float(np.sign(diff)) * float("inf")
    return diff / sd


def two_proportion_p(x1: int, n1: int, x2: int, n2: int, alternative: str = "two-sided") -> float:
    """Pooled two-proportion z-test p-value; ``alternative='greater'`` tests p2 > p1, 'less' tests p2 < p1."""
    from statistics import NormalDist

    p = (x1 + x2) / (n1 + n2)
    se = (p * (1 - p) * (1 / n1 + 1 / n2)) ** 0.5
    if se == 0:
        return 1.0
    z = (x2 / n2 - x1 / n1) / se
    nd = NormalDist()
    if alternative == "greater":
        return 1 - nd.cdf(z)
    if alternative == "less":
        return nd.cdf(z)
    return 2 * (1 - nd.cdf(abs(z)))
