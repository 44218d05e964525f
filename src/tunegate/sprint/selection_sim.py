"""Simulated candidates with known accuracies, to measure how often a selection rule keeps the best prompt.

Why here and not only in a benchmark: the suite's acceptance test for racing (tests/test_racing_selection.py)
and ``bench/sprint_selection.py`` must measure the same thing, so both draw from these functions.

Scores are 0/1 per (candidate, item). ``rho`` is the latent correlation of item difficulty between candidates
(0: independent errors, the hardest case for paired tests; real prompts on the same items share much of their
difficulty). A selection is *good* when the chosen candidate's true accuracy is within ``tolerance`` of the true
best's; the full grid (every candidate on every item, best mean wins) is the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

Selector = Callable[[np.ndarray, int], tuple[int, float]]  # (scores K x n, seed) -> (winner, cost in items)


def scenario(k: int, lead: float, family: str, best: float = 0.75) -> np.ndarray:
    """True accuracies, best first. ``ladder``: each candidate ``lead`` below the previous (dense, the hard case);
    ``tail``: the runner-up ``lead`` behind, the others evenly spread from 3 points below the runner-up down to
    20 points below the best (a few contenders and a tail, as in most sprints)."""
    if family == "ladder":
        return best - lead * np.arange(k)
    if family == "tail":
        return np.concatenate([[best, best - lead], np.linspace(best - lead - 0.03, best - 0.20, k - 2)])
    raise ValueError(f"unknown scenario family {family!r} (ladder | tail)")


def simulate_scores(accs: np.ndarray, n: int, reps: int, rng: np.random.Generator, rho: float = 0.0) -> np.ndarray:
    """0/1 scores, shape (reps, K, n): item i is right for candidate c iff sqrt(rho) z_i + sqrt(1-rho) e_ci is
    below the normal quantile of the candidate's accuracy (a Gaussian copula; rho = 0 gives independent draws)."""
    t = np.array([NormalDist().inv_cdf(float(p)) for p in accs])
    k = len(accs)
    latent = np.sqrt(1 - rho) * rng.standard_normal((reps, k, n))
    if rho:
        latent += np.sqrt(rho) * rng.standard_normal((reps, 1, n))
    return (latent < t[None, :, None]).astype(np.float64)


@dataclass
class CellResult:
    family: str
    k: int
    lead: float
    n: int
    grid_rate: float  # share of repetitions where the grid's pick is within tolerance of the true best
    rates: dict[str, float]  # the same for each selector
    cost_share: dict[str, float]  # each selector's mean cost / the grid's (K x n)
    cost_share_max: dict[str, float]
    diff_se: dict[str, float]  # standard error of each rate minus the grid's (paired over the repetitions)


def run_cell(selectors: dict[str, Selector], family: str, k: int, lead: float, n: int, reps: int,
             rng: np.random.Generator, rho: float = 0.0, tolerance: float = 0.01) -> CellResult:
    """All selectors and the grid on the same simulated repetitions (common random numbers, so the differences
    between them are far less noisy than each rate)."""
    accs = scenario(k, lead, family)
    data = simulate_scores(accs, n, reps, rng, rho)
    good = accs.max() - accs <= tolerance + 1e-9
    grid = data.sum(axis=2).argmax(axis=1)  # ties: the lower index, as the grid does (candidates simplest first)
    rates, share, share_max, se = {}, {}, {}, {}
    for name, sel in selectors.items():
        picks, costs = zip(*(sel(data[r], r) for r in range(reps)))
        rates[name] = float(np.mean(good[list(picks)]))
        share[name] = float(np.mean(costs)) / (k * n)
        share_max[name] = float(np.max(costs)) / (k * n)
        se[name] = float(np.std(good[list(picks)].astype(float) - good[grid]) / np.sqrt(reps))
    return CellResult(family, k, lead, n, float(np.mean(good[grid])), rates, share, share_max, se)


def run_grid(selectors: dict[str, Selector], *, families: Iterable[str] = ("tail", "ladder"),
             ks: Iterable[int] = (8, 16), leads: Iterable[float] = (0.01, 0.02, 0.03),
             ns: Iterable[int] = (300, 1000), reps: int = 200, rho: float = 0.0, seed: int = 0) -> list[CellResult]:
    rng = np.random.default_rng(seed)
    return [run_cell(selectors, f, k, lead, n, reps, rng, rho)
            for f in families for k in ks for lead in leads for n in ns]


def matrix_evaluator(scores: np.ndarray):
    """An ``evaluate`` callback for sprint.racing over a K x n score matrix (candidate ids are row numbers)."""
    return lambda ids, idx: {c: scores[c, idx] for c in ids}


def latent_rho(scores: np.ndarray) -> list[float]:
    """The copula ``rho`` of ``simulate_scores`` that fits a real K x n grid of 0/1 dev scores, per pair of
    candidates (the tetrachoric correlation: the rho whose bivariate normal gives the observed share of items both
    get right). Why: the simulator's verdict on a selection rule depends on rho, so it is read off real grids
    rather than assumed. Pairs where a candidate gets everything right or wrong are skipped."""
    from scipy.stats import multivariate_normal

    x = np.asarray(scores, dtype=float)
    out = []
    for a in range(x.shape[0]):
        for b in range(a + 1, x.shape[0]):
            pa, pb, both = x[a].mean(), x[b].mean(), float(np.mean(x[a] * x[b]))
            if not (0 < pa < 1 and 0 < pb < 1):
                continue
            ta, tb = NormalDist().inv_cdf(pa), NormalDist().inv_cdf(pb)
            lo, hi = -0.999, 0.999
            for _ in range(30):  # P(both right) grows with rho
                mid = (lo + hi) / 2
                p = multivariate_normal(mean=[0, 0], cov=[[1, mid], [mid, 1]]).cdf([ta, tb])
                lo, hi = (mid, hi) if p < both else (lo, mid)
            out.append(round((lo + hi) / 2, 3))
    return out
