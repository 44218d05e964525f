"""Learning-curve model families, fitted to per-size mean errors: the candidates the back-test compared.

- ``pow3``: ``error = a + b·n^(-c)`` fitted by least squares on the errors (a floor ``a`` >= 0);
- ``pow3_log``: the same law fitted on log(error), so every size counts by its *relative* misfit;
- ``pow2_log``: ``error = b·n^(-c)`` (no floor), a straight line in log-log, fitted by (weighted) least squares;
- ``pow2_log_tail``: the same law, its log-intercept and exponent the mean of the fit on all sizes and the fit on
  the last doubling only: the slope nearest the labels on hand counts double (real curves flatten as they go),
  without trusting the last doubling's 2-3 noisy sizes alone.

Which family the probe uses, and with which weights, was chosen on real curves (docs/learning-curve.md, made by
bench/curve_backtest.py); the others stay here so the back-test can be rerun. Each fit is a ``CurveModel``:
``predict(n)`` and ``n_for_error(target)`` (inf when the target is at or below the floor). scipy is imported
inside the nonlinear fitter only, so importing this module keeps CLI start-up fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FAMILIES = ("pow3", "pow3_log", "pow2_log", "pow2_log_tail")
_C_BOUNDS = (1e-3, 3.0)
_C_STARTS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
_EPS = 1e-4  # log(error) needs error > 0; a size with zero mean error is lifted to 0.01 points


@dataclass(frozen=True)
class CurveModel:
    """A fitted curve ``a + b·n^(-c)`` (``a`` = 0 for pow2_log); ``rmse_log`` is the weighted log-space misfit."""

    family: str
    a: float
    b: float
    c: float
    rmse_log: float
    n_sizes: int

    def predict(self, n):
        return self.a + self.b * np.asarray(n, dtype=float) ** -self.c

    def n_for_error(self, target: float) -> float:
        """Smallest real n with predicted error <= target; inf when the target is at or below the floor ``a``."""
        if target <= self.a:
            return math.inf
        if self.b <= 0:
            return 1.0
        return max(1.0, (self.b / (target - self.a)) ** (1.0 / self.c))

    def to_dict(self) -> dict:
        return {"family": self.family, "a": self.a, "b": self.b, "c": self.c, "rmse_log": self.rmse_log,
                "n_sizes": self.n_sizes}


def _log_sigma(means: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Standard error of log(mean) by the delta method: se / mean."""
    return se / np.maximum(means, _EPS)


def _fit_pow2_log(ns, means, sigma_log) -> tuple[float, float]:
    x, y, w = np.log(ns), np.log(np.maximum(means, _EPS)), 1.0 / sigma_log**2
    xm, ym = np.sum(w * x) / np.sum(w), np.sum(w * y) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - ym)) / sxx) if sxx > 0 else 0.0
    c = min(max(-slope, 0.0), _C_BOUNDS[1])
    return float(math.exp(ym + c * xm)), c


def _fit_pow3(ns, means, sigma, *, log_space: bool, start=None):
    """(a, b, c) by bounded least squares from the best of a grid of c starts; None when nothing converges."""
    from scipy.optimize import least_squares

    n_ref = float(ns.max())
    x = np.log(ns / n_ref)
    y = np.log(np.maximum(means, _EPS)) if log_space else means
    w = 1.0 / sigma

    def model(p):
        return p[0] + p[1] * np.exp(-p[2] * x)

    def resid(p):
        m = model(p)
        return ((np.log(np.maximum(m, _EPS)) if log_space else m) - y) * w

    lo, hi = np.array([0.0, 0.0, _C_BOUNDS[0]]), np.array([1.0, np.inf, _C_BOUNDS[1]])
    cands = []
    for c in _C_STARTS:
        design = np.column_stack([np.ones_like(x), np.exp(-c * x)]) / sigma[:, None]
        (a, b), *_ = np.linalg.lstsq(design, means / sigma, rcond=None)
        p = np.array([min(max(a, 0.0), 1.0 - 1e-6), max(b, 1e-6), c])
        cands.append((float(np.sum(resid(p) ** 2)), p))
    starts = [p for _, p in sorted(cands, key=lambda t: t[0])[:3]]
    starts += [np.asarray(start, dtype=float)] if start is not None else []
    best = None
    for p0 in starts:
        p0 = np.clip(p0, lo + 1e-9, np.minimum(hi - 1e-9, 1e6))
        try:
            res = least_squares(resid, p0, bounds=(lo, hi), method="trf")
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.all(np.isfinite(res.x)) and (best is None or res.cost < best.cost):
            best = res
    if best is None:
        return None
    a, bs, c = (float(v) for v in best.x)
    return a, bs * n_ref**c, c


def fit_family(ns, means, se, family: str = "pow2_log", *, weights: str = "inverse_variance",
               start=None) -> CurveModel | None:
    """Fit ``family`` to size means with their standard errors ``se``; None when the fit fails.

    ``weights``: ``inverse_variance`` (each size by 1/se², in the space the family is fitted in) or ``uniform``.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if weights not in ("inverse_variance", "uniform"):
        raise ValueError(f"weights must be 'inverse_variance' or 'uniform', got {weights!r}")
    ns, means, se = (np.asarray(v, dtype=float) for v in (ns, means, se))
    if len(ns) < (2 if family.startswith("pow2") else 3):
        return None
    log_fit = family != "pow3"
    sig = _log_sigma(means, se) if log_fit else se
    sig = np.ones_like(means) if weights == "uniform" else np.maximum(sig, 1e-9)
    if family == "pow2_log":
        a, (b, c) = 0.0, _fit_pow2_log(ns, means, sig)
    elif family == "pow2_log_tail":
        (b1, c1), tail = _fit_pow2_log(ns, means, sig), ns >= ns.max() / 2 * 0.99
        b2, c2 = _fit_pow2_log(ns[tail], means[tail], sig[tail]) if tail.sum() >= 2 else (b1, c1)
        a, b, c = 0.0, math.exp((math.log(b1) + math.log(b2)) / 2), (c1 + c2) / 2
    else:
        out = _fit_pow3(ns, means, sig, log_space=log_fit, start=start)
        if out is None:
            return None
        a, b, c = out
    pred = a + b * ns**-c
    r = (np.log(np.maximum(pred, _EPS)) - np.log(np.maximum(means, _EPS)))
    wl = 1.0 / np.maximum(_log_sigma(means, se), 1e-9) ** 2
    rmse = float(np.sqrt(np.sum(wl * r**2) / np.sum(wl)))
    return CurveModel(family, a, b, c, rmse, len(ns))
