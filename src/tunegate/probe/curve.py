"""Learning curves for the fine-tune probe: would more labels help, and how many would reach the target?

Test error of a model trained on n examples falls roughly as a power law (Hestness et al. 2017, "Deep learning
scaling is predictable, empirically"; Rosenfeld et al. 2020). The probe trains at per-class budgets from 2 examples
per class up to the train split (``plan_sizes``), with more seeds where training is noisiest (small n). Which law,
weights and band to use was decided on real curves, not assumed (docs/learning-curve.md, bench/curve_backtest.py):
``b·n^(-c)`` fitted in log-log with inverse-variance weights (the exponent averaged with the last doubling's own,
``pow2_log_tail``), moved beyond the data by the per-doubling drift that real curves showed against their fits:
larger the lower the error already is (``DRIFT``), with an 80% band from the drift's spread (``drift_q``). The three-parameter ``a + b·n^(-c)`` fit is kept (``fit_power_law``) for callers that want a floor.

Extrapolation is where learning curves mislead: a sizeable share of real curves (about one in seven, cf. Viering &
Loog 2022, "The shape of learning curves"; Mohr et al. 2022, LCDB) is ill-behaved: non-monotone, flat, or noisier
than its trend. So nothing is extrapolated on trust: the fit on all sizes but the largest must predict the largest
at least as well as the naive "last observed value" forecast, and the curve must pass shape checks. Otherwise the
report says ``unreliable``, lists flags saying why, and gives the labels needed as ``unknown`` instead of a number.

Pure and seeded: points in, report out; the same points and ``seed`` give the same report on every machine.
scipy is imported inside the fitter only, so importing this module keeps CLI start-up fast.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from tunegate.probe.curve_models import CurveModel, fit_family

__all__ = ["BAND_LEVEL", "BAND_Q", "DEFAULT_FRACTIONS", "DRIFT", "DRIFT_RESID", "CurvePoint", "CurveReport",
           "PowerLawFit", "analyze_curve", "band_error", "drift_q", "calibrated_n_band", "fit_power_law", "fit_power_law_with_reason", "geometric_sizes",
           "plan_sizes", "seeds_for"]

DEFAULT_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
PLAN_PER_CLASS = 2.0   # smallest curve size, in examples per class (chosen by the back-test, docs/learning-curve.md)
PLAN_MAX_SIZES = 8
MIN_SIZES = 3          # three parameters need three distinct sizes
BAND_LEVEL = 0.8       # of every band in the report: an 80% band is what the back-tests could calibrate
# The model and band the back-test chose (docs/learning-curve.md, bench/curve_backtest.py):
FAMILY = "pow2_log_tail"
CHECK_FAMILY = "pow2_log"  # the lack-of-fit and back-test checks judge the plain least-squares law, as before
WEIGHTS = "inverse_variance"
# Drift per doubling of extrapolation, q = log(measured / predicted error) / log2(k), on real curves: its median
# grows as the error on hand falls (curves flatten toward a floor), q_mid = DRIFT[0] + DRIFT[1]·ln(error at n),
# fitted by least squares on banking77 + CLINC150 back-test rows (the same sign and size on each alone). The error
# enters clipped to DRIFT_ERR_RANGE, the on-hand errors it was learnt on. DRIFT_RESID: 10th / 90th percentiles of q
# about that line; BAND_Q: 10th / 50th / 90th percentiles of q itself. The 80% band is the envelope of both.
DRIFT = (-0.2708, -0.2142)
DRIFT_RESID = (-0.1278, 0.0725)
DRIFT_ERR_RANGE = (0.12, 0.31)
BAND_Q = (-0.0715, 0.0799, 0.1814)
# A size's error variance is floored: sample variances from 2-5 seeds scatter widely (chi-square with 1-4 df), and a
# size whose seeds happened to agree (or a single-seed size, whose variance is unknown) must not get near-infinite
# weight. Floor = max(half a point of error squared, a quarter of the pooled within-size variance); a single-seed
# size gets the pooled variance itself (it is noisy like any other size; its spread is just unobserved).
_SD_FLOOR = 0.005
_REL_VAR_FLOOR = 0.25
_TIE_TOL = 0.005       # error differences below half a point count as ties / as no change
_Z_RISE = 2.5          # a rise in error counts as real beyond 2.5 standard errors (many pairs are compared)
_Z_FLAT = 2.0
_MAX_RED_CHI2 = 10.0   # lack of fit: clean power-law data gave a reduced chi-square above 6 in 1% of simulations
_C_BOUNDS = (1e-3, 3.0)  # c in (0, 3]; the open end is closed at 1e-3 (c -> 0 makes b and a indistinguishable)
_C_STARTS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
_N_STARTS = 3
_GRID_POINTS = 60
_MAX_DOUBLINGS = 10.0  # labels needed beyond 1,024x the labels on hand are reported as unbounded


@dataclass(frozen=True)
class CurvePoint:
    """Errors (1 - metric, in [0, 1]) of the probe trained on ``n`` examples, one per seed."""

    n: int
    errors: list[float]

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or int(self.n) != self.n or self.n < 1:
            raise ValueError(f"curve point n must be a positive integer, got {self.n!r}")
        e = np.asarray(self.errors, dtype=float)
        if e.ndim != 1 or e.size == 0:
            raise ValueError(f"curve point n={self.n}: errors must be a non-empty list, one per seed")
        if not np.all(np.isfinite(e)) or e.min() < 0 or e.max() > 1:
            raise ValueError(f"curve point n={self.n}: errors must be finite and in [0, 1] (error = 1 - metric)")


@dataclass(frozen=True)
class _Table:
    """Points merged by n and sorted; ``var`` is the floored per-seed variance used for weights and noise."""

    ns: np.ndarray
    errors: tuple[np.ndarray, ...]
    k: np.ndarray
    means: np.ndarray
    sd: np.ndarray      # raw seed sd, NaN for a single seed
    var: np.ndarray
    pooled: float | None

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self.var / self.k)


def _table(points: Sequence[CurvePoint | Mapping]) -> _Table:
    merged: dict[int, list[float]] = {}
    for p in points:
        p = p if isinstance(p, CurvePoint) else CurvePoint(int(p["n"]), list(p["errors"]))
        merged.setdefault(int(p.n), []).extend(float(x) for x in p.errors)
    ns = sorted(merged)
    errors = tuple(np.asarray(merged[n], dtype=float) for n in ns)
    k = np.array([e.size for e in errors], dtype=float)
    raw = np.array([e.var(ddof=1) if e.size > 1 else np.nan for e in errors])
    multi = k > 1
    pooled = float(np.sum(raw[multi] * (k[multi] - 1)) / np.sum(k[multi] - 1)) if multi.any() else None
    floor = max(_SD_FLOOR**2, _REL_VAR_FLOOR * (pooled or 0.0))
    var = np.where(multi, np.maximum(np.nan_to_num(raw), floor), max(pooled or 0.0, floor))
    return _Table(np.array(ns, dtype=float), errors, k, np.array([e.mean() for e in errors]), np.sqrt(raw),
                  var, pooled)


def geometric_sizes(n_train: int, *, smallest: int | None = None, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                    min_size: int = 2) -> list[int]:
    """Training-set sizes for the curve: ``fractions`` of ``n_train``, distinct and sorted.

    Geometric spacing puts equal weight on each doubling, which is the scale a power law is linear on.
    ``smallest`` is the smallest anchor wanted (default: the smallest fraction of ``n_train``); ``min_size`` is the
    fewest examples a probe can learn from (pass ``2 * n_classes`` so each class can appear twice). Sizes below
    ``max(smallest, min_size)`` are raised to it; a train split below that raises ValueError. Fewer than 3
    distinct sizes (a tiny train split) are returned as they are; ``analyze_curve`` then says ``insufficient``.
    """
    if n_train < 1:
        raise ValueError(f"n_train must be positive, got {n_train}")
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must be non-empty and each in (0, 1], got {tuple(fractions)}")
    if min_size < 1:
        raise ValueError(f"min_size must be positive, got {min_size}")
    floor = max(min_size, smallest or 0)
    if n_train < floor:
        raise ValueError(f"the train split has {n_train} examples, fewer than the smallest learning-curve anchor "
                         f"({floor}; smallest={smallest}, min_size={min_size}): add training examples or lower it")
    return sorted({min(n_train, max(floor, round(f * n_train))) for f in fractions})


def plan_sizes(n_train: int, n_classes: int, *, per_class: float = PLAN_PER_CLASS, min_size: int = 20,
               max_sizes: int = PLAN_MAX_SIZES) -> list[int]:
    """Training-set sizes for the curve: from ``per_class`` examples per class up to ``n_train``, geometric.

    Sizes are evenly spaced in log n (the scale a power law is straight on), at most √2 apart (2^(1/4) on spans of
    one or two doublings, so that 5 sizes fit), and at most ``max_sizes`` of them (wider steps on long spans). The
    smallest size is a per-class budget, not a fraction of ``n_train``: with 640 labels and 77 classes a fraction rule
    raised to 3 per class left 3 sizes, too few to back-test, so the curve was always "unreliable". Two per class,
    not one: on banking77 the error at 1-1.5 examples per class sits *below* the power law through the larger sizes
    (C chosen on dev with one example per class), and fits that included those sizes predicted 1.7x the labels
    needed (docs/learning-curve.md). Fewer than 3 sizes come back only when ``n_train`` is below about 1.4x the
    smallest size; ``analyze_curve`` then says ``insufficient``.
    """
    if n_train < 1 or n_classes < 1:
        raise ValueError(f"n_train and n_classes must be positive, got n_train={n_train}, n_classes={n_classes}")
    if per_class <= 0 or max_sizes < 2:
        raise ValueError(f"need per_class > 0 and max_sizes >= 2, got per_class={per_class}, max_sizes={max_sizes}")
    smallest = max(math.ceil(per_class * n_classes), min_size, 2)
    if n_train <= smallest:
        return [n_train]
    span = math.log(n_train / smallest)
    count = 1 + math.ceil(span / math.log(math.sqrt(2)) - 1e-9)
    # a short span (one or two doublings) is split finer, down to 2^(1/4) apart, to still give 5 sizes
    count = min(max_sizes, max(count, min(5, 1 + math.floor(span / math.log(2 ** 0.25) + 1e-9))))
    if count < 2:
        return sorted({smallest, n_train})
    return sorted({round(n_train * math.exp(-span * i / (count - 1))) for i in range(count)})


def seeds_for(n: int, n_max: int, max_seeds: int = 5) -> int:
    """Seeds to run at size ``n``: 1 at the full size, one more per halving below it, capped at ``max_seeds``.

    Small training sets vary most from draw to draw, so they need the most repeats; the full set has one draw.
    Below the full size at least 2 seeds are run so that every such size shows its spread.
    """
    if not 1 <= n <= n_max or max_seeds < 1:
        raise ValueError(f"need 1 <= n <= n_max and max_seeds >= 1, got n={n}, n_max={n_max}, max_seeds={max_seeds}")
    if n >= n_max:
        return 1
    return int(min(max_seeds, max(2, 1 + round(math.log2(n_max / n)))))


@dataclass(frozen=True)
class PowerLawFit:
    """``error(n) = a + b·n^(-c)``: ``cov`` is the 3×3 covariance of (a, b, c) or None when singular."""

    a: float
    b: float
    c: float
    cov: tuple[tuple[float, ...], ...] | None
    rmse: float          # weighted root-mean-square residual of the size means, in error units
    converged: bool
    n_sizes: int

    def predict(self, n):
        return self.a + self.b * np.asarray(n, dtype=float) ** -self.c

    def n_for_error(self, target: float) -> float:
        """Smallest (real) n with predicted error <= target; inf when the target is at or below the asymptote."""
        if target <= self.a:
            return math.inf
        return max(1.0, (self.b / (target - self.a)) ** (1.0 / self.c)) if self.b > 0 else 1.0

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "c": self.c, "rmse": self.rmse, "converged": self.converged,
                "n_sizes": self.n_sizes, "cov": [list(r) for r in self.cov] if self.cov is not None else None}


def _fit_arrays(ns, y, sigma, *, start=None, n_starts: int = _N_STARTS):
    """Weighted least squares on the size means: (least_squares result, n_ref) of the best start, or a reason.

    Parametrised as ``a + b'·(n/n_ref)^(-c)`` with n_ref the largest size, so b' is the excess error there (order
    0.1) rather than a number that spans twelve orders of magnitude with c; b = b'·n_ref^c afterwards. Starts: for
    each c on a grid, (a, b') is linear and solved directly; the best few (plus ``start``) go to least_squares.
    """
    from scipy.optimize import least_squares

    n_ref = float(ns.max())
    x, w = np.log(ns / n_ref), 1.0 / sigma

    def resid(p):
        return (p[0] + p[1] * np.exp(-p[2] * x) - y) * w

    def jac(p):
        e = np.exp(-p[2] * x)
        return np.column_stack([w, w * e, -w * p[1] * x * e])

    lo, hi = np.array([0.0, 0.0, _C_BOUNDS[0]]), np.array([1.0, np.inf, _C_BOUNDS[1]])
    cands = []
    for c in _C_STARTS:
        design = np.column_stack([np.ones_like(x), np.exp(-c * x)]) * w[:, None]
        (a, b), *_ = np.linalg.lstsq(design, y * w, rcond=None)
        p = np.array([min(max(a, 0.0), 1.0), max(b, 0.0), c])
        cands.append((float(np.sum(resid(p) ** 2)), p))
    starts = [p for _, p in sorted(cands, key=lambda t: t[0])[:n_starts]]
    starts += [np.asarray(start, dtype=float)] if start is not None else []
    best = None
    for p0 in starts:
        p0 = np.clip(p0, lo + 1e-9, np.minimum(hi - 1e-9, 1e6))
        try:
            res = least_squares(resid, p0, jac=jac, bounds=(lo, hi), method="trf")
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.all(np.isfinite(res.x)) and np.isfinite(res.cost) and (best is None or res.cost < best.cost):
            best = res
    if best is None:
        return f"fit failed: least squares found no finite solution from {len(starts)} starting points"
    return best, n_ref


def _to_fit(res, n_ref, sigma, n_sizes) -> PowerLawFit:
    a, bs, c = (float(v) for v in res.x)
    scale = n_ref**c
    r = res.fun * sigma  # unweighted residuals
    w2 = 1.0 / sigma**2
    rmse = float(np.sqrt(np.sum(w2 * r**2) / np.sum(w2)))
    cov = None
    jtj = res.jac.T @ res.jac
    if np.linalg.cond(jtj) < 1e12:
        dof = n_sizes - 3
        # Weights are estimated variances, not known ones: inflate by the reduced chi-square when the scatter about
        # the curve exceeds the seeds' spread (lack of fit), never deflate (curve_fit's absolute_sigma=False, capped).
        cs = np.linalg.inv(jtj) * (max(1.0, 2 * res.cost / dof) if dof > 0 else 1.0)
        t = np.array([[1, 0, 0], [0, scale, bs * scale * math.log(n_ref)], [0, 0, 1]])
        cm = t @ cs @ t.T
        cov = tuple(tuple(float(v) for v in row) for row in cm) if np.all(np.isfinite(cm)) else None
    return PowerLawFit(a, bs * scale, c, cov, rmse, bool(res.success), n_sizes)


def _sigma(t: _Table, weights: str) -> np.ndarray:
    if weights == "inverse_variance":
        return np.sqrt(t.var / t.k)  # standard error of each size's mean: weight = k / var
    if weights == "uniform":
        return np.ones_like(t.means)
    raise ValueError(f"weights must be 'inverse_variance' or 'uniform', got {weights!r}")


def _fit_table(t: _Table, weights: str = "inverse_variance") -> tuple[PowerLawFit | None, str | None]:
    if len(t.ns) < MIN_SIZES:
        return None, f"insufficient: {len(t.ns)} distinct sizes; a 3-parameter curve needs at least {MIN_SIZES}"
    sigma = _sigma(t, weights)
    out = _fit_arrays(t.ns, t.means, sigma)
    if isinstance(out, str):
        return None, out
    return _to_fit(*out, sigma, len(t.ns)), None


def fit_power_law_with_reason(points: Sequence[CurvePoint], *, weights: str = "inverse_variance"
                              ) -> tuple[PowerLawFit | None, str | None]:
    """``fit_power_law``, plus why the fit is None (``insufficient: ...`` or ``fit failed: ...``)."""
    return _fit_table(_table(points), weights)


def fit_power_law(points: Sequence[CurvePoint], *, weights: str = "inverse_variance") -> PowerLawFit | None:
    """Fit ``error(n) = a + b·n^(-c)``, a in [0, 1], b >= 0, c in (0, 3], by weighted nonlinear least squares.

    Each size's mean error is weighted by the inverse variance of that mean (seed variance / seeds, floored as
    described at the top of the module), so noisy small sizes count less; ``weights="uniform"`` weights sizes
    equally. Returns None with fewer than 3 distinct sizes or when no start converges to a finite solution; use
    ``fit_power_law_with_reason`` to learn which.
    """
    return fit_power_law_with_reason(points, weights=weights)[0]


def _shape_flags(t: _Table) -> list[str]:
    """Non-monotone, flat and noisy curves: each makes an extrapolation meaningless whatever the fit says.

    Non-monotone: some later size's mean error exceeds an earlier one's by more than 2.5 standard errors (and half a
    point). Flat: first-to-last change within 2 standard errors (or half a point). Noisy: the pooled seed sd exceeds
    the first-to-last improvement. In seeded simulations (5 sizes, 5/4/3/2/1 seeds) none fired on 300 clean power
    laws; one fired on 99% of random curves (the lack-of-fit and back-test checks catch most of the rest) and on all
    U-shaped ones.
    """
    flags, se, m = [], t.se, t.means
    worst = None
    for i in range(len(m)):
        for j in range(i + 1, len(m)):
            rise, noise = m[j] - m[i], math.hypot(se[i], se[j])
            if rise > max(_Z_RISE * noise, _TIE_TOL) and (worst is None or rise / noise > worst[0]):
                worst = (rise / noise, i, j)
    if worst:
        z, i, j = worst
        flags.append(f"non-monotone: error rises from n={int(t.ns[i])} ({m[i]:.3f}) to n={int(t.ns[j])} "
                     f"({m[j]:.3f}), {z:.1f} standard errors")
    gain, noise = m[0] - m[-1], math.hypot(se[0], se[-1])
    if abs(gain) <= max(_Z_FLAT * noise, _TIE_TOL):
        flags.append(f"flat: no improvement with more data (error {m[0]:.3f} at n={int(t.ns[0])}, {m[-1]:.3f} at "
                     f"n={int(t.ns[-1])}; noise ±{_Z_FLAT * noise:.3f})")
    if t.pooled is not None and math.sqrt(t.pooled) > gain:
        flags.append(f"noisy: seed spread (sd {math.sqrt(t.pooled):.3f}) larger than the improvement "
                     f"({gain:.3f}) from n={int(t.ns[0])} to n={int(t.ns[-1])}")
    return flags


def _quantiles(values: np.ndarray, level: float = BAND_LEVEL) -> tuple[float, float]:
    alpha = (1 - level) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha], method="inverted_cdf")  # an actual replicate: safe with inf
    return float(lo), float(hi)


def _fit_model(t: _Table, start=None, family: str | None = None) -> CurveModel | None:
    return fit_family(t.ns, t.means, t.se, family or FAMILY, weights=WEIGHTS, start=start)


def _bootstrap(t: _Table, fit: CurveModel, n_boot: int, seed: int) -> np.ndarray:
    """(a, b, c) refitted on resamples of seeds within each size; rows whose fit failed are dropped.

    A single-seed size cannot be resampled, and treating it as exact would pin the largest size, the one that
    anchors every extrapolation; it is drawn from a normal with its (pooled) variance instead. Weights stay those
    of the full data, so the band reflects seed noise in the errors, not noise in the weights. This band covers
    seed noise only: it is drawn inside the observed sizes; beyond them the back-test-calibrated band is used.
    """
    rng = np.random.default_rng(seed)
    start = (fit.a, fit.b * float(t.ns.max()) ** -fit.c, fit.c)
    rows = []
    for _ in range(n_boot):
        y = np.array([e[rng.integers(0, e.size, e.size)].mean() if e.size > 1
                      else min(1.0, max(0.0, e[0] + rng.normal(0.0, math.sqrt(v)))) for e, v in zip(t.errors, t.var)])
        f = fit_family(t.ns, y, t.se, FAMILY, weights=WEIGHTS, start=start)
        if f is not None:
            rows.append((f.a, f.b, f.c))
    return np.array(rows, dtype=float).reshape(-1, 3)


def _predict(params: np.ndarray, n) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    return params[:, :1] + params[:, 1:2] * n[None, :] ** -params[:, 2:3]


def drift_q(fit, n_max: float) -> tuple[float, float, float]:
    """(q_lo, q_mid, q_hi) per doubling for this curve: the median from its error at ``n_max`` (``DRIFT``), the 80%
    band the envelope of that line's residual spread and the error-blind quantiles ``BAND_Q`` (neither alone
    covered 80% of both datasets' cases when learnt on the other one)."""
    e = min(max(float(fit.predict(n_max)), DRIFT_ERR_RANGE[0]), DRIFT_ERR_RANGE[1])
    mid = DRIFT[0] + DRIFT[1] * math.log(e)
    return min(mid + DRIFT_RESID[0], BAND_Q[0]), mid, max(mid + DRIFT_RESID[1], BAND_Q[2])


def band_error(fit, n_max: float, n, q: float) -> np.ndarray:
    """The fit's error at ``n`` moved by ``q`` in log error per doubling beyond ``n_max`` (none inside the data).

    ``q`` is a quantile of log(measured / predicted error) per doubling of extrapolation, learnt in back-tests on
    real curves (docs/learning-curve.md): how far real curves strayed from their fit, growing with the horizon.
    """
    n = np.asarray(n, dtype=float)
    return fit.predict(n) * np.exp(q * np.maximum(0.0, np.log2(n / n_max)))


def calibrated_n_band(fit, n_max: float, target: float, q_lo: float, q_hi: float,
                      max_doublings: float = _MAX_DOUBLINGS) -> tuple[float | None, float | None]:
    """(low, high) labels needed: the first n at which the optimistic / pessimistic edge reaches ``target``.

    Scanned on a grid of 1/100 doubling from n_max/64 to n_max·2^max_doublings. An edge that never gets there is
    None: for ``high`` that means the pessimistic curve flattens above the target (its per-doubling drift ``q_hi``
    cancels the fit's own slope), so no finite number of labels is promised at the band's upper end.
    """
    grid = n_max * np.exp2(np.arange(-6.0, max_doublings + 1e-9, 0.01))
    out = []
    for q in (q_lo, q_hi):
        hit = np.flatnonzero(band_error(fit, n_max, grid, q) <= target)
        out.append(float(grid[hit[0]]) if hit.size else None)
    return out[0], out[1]


@dataclass(frozen=True)
class CurveReport:
    """What the probe stage writes under ``curve`` in probe.json; ``to_dict`` is JSON-ready (no NaN or inf)."""

    points: list[dict]
    fit: CurveModel | None
    fit_reason: str | None
    backtest: dict | None
    backtest_error: float | None
    last1_error: float | None
    status: str
    flags: list[str]
    extrapolations: dict | None
    labels_needed: dict
    series: dict
    target_error: float | None
    bootstrap: dict | None
    n_train: int | None = None

    def to_dict(self) -> dict:
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "fit"}
        q = list(drift_q(self.fit, self.n_train)) if self.fit and self.n_train else None
        return out | {"fit": self.fit.to_dict() if self.fit else None, "band_level": BAND_LEVEL,
                      "band": {"method": "back-test calibrated", "q_per_doubling": q,
                               "drift": {"median": list(DRIFT), "residual": list(DRIFT_RESID),
                                         "error_range": list(DRIFT_ERR_RANGE), "quantiles": list(BAND_Q)}}}


def _labels_needed(fit: CurveModel | None, target, status, n_max) -> dict:
    out = {"value": None, "low": None, "high": None, "times_largest": None, "status": "unknown", "reason": None,
           "band_level": BAND_LEVEL, "n_train": n_max or None}
    if target is None:
        return out | {"status": "no_target", "reason": "no target error was given"}
    if status != "ok" or fit is None:
        return out | {"reason": f"unknown: the learning curve is {status}, so it is not extrapolated"}
    q_lo, q_mid, q_hi = drift_q(fit, n_max)
    value, _ = calibrated_n_band(fit, n_max, target, q_mid, q_mid)
    if value is None:
        why = (f"the fitted floor a={fit.a:.4g} is at or above the target error {target:.4g}" if target <= fit.a
               else f"the curve does not reach it within {2 ** _MAX_DOUBLINGS:,.0f}x the labels on hand")
        return out | {"status": "unreachable", "reason": f"unreachable: {why}; more labels of this kind are not "
                      "predicted to reach the target"}
    low, high = calibrated_n_band(fit, n_max, target, q_lo, q_hi)
    out |= {"value": math.ceil(value), "times_largest": value / n_max, "status": "ok",
            "low": math.ceil(low) if low is not None else None, "high": math.ceil(high) if high is not None else None}
    if high is None:
        out["reason"] = (f"the band's upper end is unbounded: on its pessimistic edge the curve stays above the target "
                         f"for up to {2 ** _MAX_DOUBLINGS:,.0f}x the labels on hand (the target is close to where the "
                         "curve flattens)")
    return out


def _shape_and_fit_flags(t: _Table, fit: CurveModel | None) -> list[str]:
    flags = _shape_flags(t)
    if fit is not None and len(t.ns) > MIN_SIZES:
        red = float(np.sum(((t.means - fit.predict(t.ns)) / t.se) ** 2)) / (len(t.ns) - 3)
        if red > _MAX_RED_CHI2:
            flags.append(f"lack of fit: the sizes scatter about the power law {math.sqrt(red):.1f}x more than their "
                         f"seeds' spread explains (reduced chi-square {red:.1f})")
    return flags


def _backtest(t: _Table, flags: list[str]) -> tuple[dict | None, float | None, float]:
    """Fit on all sizes but the largest and predict it; flag when the naive last-value forecast does better."""
    n_max, last1 = int(t.ns.max()), float(abs(t.means[-2] - t.means[-1]))
    if len(t.ns) < MIN_SIZES + 1:
        flags.append(f"no back-test: {len(t.ns)} sizes; fitting all but the largest needs at least {MIN_SIZES + 1}")
        return None, None, last1
    sub = _Table(t.ns[:-1], t.errors[:-1], t.k[:-1], t.means[:-1], t.sd[:-1], t.var[:-1], t.pooled)
    sub_fit = _fit_model(sub, family=CHECK_FAMILY)
    if sub_fit is None:
        flags.append("no back-test: the fit on all sizes but the largest failed")
        return None, None, last1
    pred = float(sub_fit.predict(t.ns[-1]))
    err = abs(pred - float(t.means[-1]))
    tol = max(_TIE_TOL, 2 * float(t.se[-1]))
    if err > last1 + tol:
        flags.append(f"backtest worse than last-value baseline: |error| {err:.4f} vs {last1:.4f} at n={n_max} "
                     f"(tie tolerance {tol:.4f})")
    return ({"n": n_max, "predicted": pred, "observed": float(t.means[-1]), "tolerance": tol,
             "fit": sub_fit.to_dict()}, err, last1)


def analyze_curve(points: Sequence[CurvePoint], *, target_error: float | None, n_boot: int = 200,
                  seed: int = 0) -> CurveReport:
    """Fit, back-test, check and extrapolate a learning curve; see the module docstring for why each step exists.

    Status ``ok`` needs a fit, no flag (shape, lack of fit), and a back-test (fit on all sizes but the largest,
    predict it) whose absolute error is at most the last-value baseline's plus a tie tolerance: max(half a point,
    two standard errors of the largest size's mean). Both forecasts are scored against that one noisy observation,
    so a perfect forecast misses it by up to 2 SE (95%) while the baseline can hit it by luck; with 1 SE, clean
    simulated power laws failed the back-test 23% of the time, with 2 SE 0-3%. With 3 sizes no back-test is
    possible (``unreliable``); with fewer than 3 the curve is ``insufficient``.

    Bands are at ``BAND_LEVEL`` (80%). Beyond the largest size (extrapolations, labels needed) they are the fit
    moved by the per-doubling drift quantiles ``drift_q`` of how real curves strayed from their fits in back-tests
    (``band_error``); inside the observed sizes the series band is a percentile interval over ``n_boot`` seeded
    resamples of seeds within sizes (``_bootstrap``).
    """
    if target_error is not None and not 0 <= target_error <= 1:
        raise ValueError(f"target_error must be in [0, 1] (error = 1 - metric), got {target_error}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    t = _table(points)
    summary = [{"n": int(n), "errors": e.tolist(), "mean": float(mu), "sd": None if np.isnan(s) else float(s)}
               for n, e, mu, s in zip(t.ns, t.errors, t.means, t.sd)]
    observed = {key: [p[key] for p in summary] for key in ("n", "mean", "sd", "errors")}
    n_max = int(t.ns.max()) if len(t.ns) else 0
    grid = sorted({round(v) for v in np.geomspace(t.ns.min(), 4 * n_max, _GRID_POINTS)}) if n_max else []
    series = {"n": grid, "error": None, "low": None, "high": None, "observed": observed, "trusted": False}
    if len(t.ns) < MIN_SIZES:
        reason = f"insufficient: {len(t.ns)} distinct sizes; a 3-parameter curve needs at least {MIN_SIZES}"
        return CurveReport(summary, None, reason, None, None, None, "insufficient", [reason], None,
                           _labels_needed(None, target_error, "insufficient", n_max), series, target_error, None,
                           n_max or None)

    fit = _fit_model(t)
    reason = None if fit is not None else "fit failed: least squares found no finite solution"
    flags = ([reason] if reason else []) + _shape_and_fit_flags(t, _fit_model(t, family=CHECK_FAMILY))
    backtest, backtest_error, last1 = _backtest(t, flags)
    status = "ok" if fit is not None and not flags else "unreliable"

    boot_info, extrap = None, None
    if fit is not None:
        boot = _bootstrap(t, fit, n_boot, seed) if n_boot else np.zeros((0, 3))
        boot_info = {"n_boot": n_boot, "n_ok": len(boot), "seed": seed, "used_for": "series band inside the data"}
        q_lo, q_mid, q_hi = drift_q(fit, n_max)
        g = np.asarray(grid, dtype=float)
        mid = band_error(fit, n_max, g, q_mid)  # the fit inside the data, moved by the median drift beyond it
        lo, hi = band_error(fit, n_max, g, q_lo), band_error(fit, n_max, g, q_hi)
        if len(boot):
            inside = np.array([_quantiles(col) for col in _predict(boot, grid).T])
            lo, hi = np.where(g <= n_max, inside[:, 0], lo), np.where(g <= n_max, inside[:, 1], hi)
        series |= {"error": [float(v) for v in mid], "low": [float(v) for v in np.minimum(lo, mid)],
                   "high": [float(v) for v in np.maximum(hi, mid)], "trusted": status == "ok"}
        extrap = {}
        for mult in (2, 4, 8):
            n = mult * n_max
            entry = {"n": n, "error": None, "low": None, "high": None}
            if status != "ok":
                entry["reason"] = "unknown: the learning curve is unreliable, so it is not extrapolated"
            else:
                entry |= {"error": float(band_error(fit, n_max, n, q_mid)),
                          "low": float(band_error(fit, n_max, n, q_lo)),
                          "high": float(band_error(fit, n_max, n, q_hi))}
            extrap[f"{mult}x"] = entry
    labels = _labels_needed(fit, target_error, status, n_max)
    return CurveReport(summary, fit, reason, backtest, backtest_error, last1, status, flags, extrap, labels, series,
                       target_error, boot_info, n_max)
