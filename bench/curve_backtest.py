"""Back-test of learning-curve extrapolation on real curves (issue #14): which family, weights, size plan and band.

Reads the fits cached by ``bench/curve_runs.py`` (banking77, CLINC150; MiniLM + the probe's logistic head). For
every on-hand replicate (n labels, one seeded sample) and multiple k in (2, 4, 8) with k·n inside the train pool,
each method fits the curve the probe would see inside those n labels and predicts

- the error at k·n, against the *measured* mean error at k·n (5 draws from the pool), and
- the labels needed for that measured error, whose measured value is therefore k·n exactly,

with an 80% band. Band constants that are learnt from back-tests are learnt leave-one-dataset-out: the figures for
banking77 use constants fitted on CLINC150 and vice versa, so no row grades a band on the data that tuned it.

    .venv/bin/python bench/curve_backtest.py            # the comparison table (markdown) + per-case rows
    .venv/bin/python bench/curve_backtest.py --cases    # also every case of the chosen method
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curve_data import CACHE  # noqa: E402

from tunegate.probe import curve as C  # noqa: E402
from tunegate.probe.curve_models import fit_family  # noqa: E402

KS = (2, 4, 8)


def load_runs(name: str, path: Path | None = None) -> tuple[dict[int, float], list[dict]]:
    """(truth by size, runs) from the cached fits; a run is {n, rep, points: {m: [errors]}}.

    The truth at a size is the measured curve (mean error of the pool draws at every measured size) smoothed by a
    weighted power law through all of them, so one size's draw luck does not move "the measured labels needed".
    """
    fits = json.loads((path or CACHE / f"{name}-curves.json").read_text())["fits"]
    truth: dict[int, list[float]] = defaultdict(list)
    runs: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for key, err in fits.items():
        kind, tag, m, _s = key.split("|")
        (truth[int(m)] if kind == "truth" else runs[tag][int(m)]).append(err)
    sizes = np.array(sorted(truth), dtype=float)
    means = np.array([np.mean(truth[int(m)]) for m in sizes])
    se = np.array([max(np.std(truth[int(m)], ddof=1) / math.sqrt(len(truth[int(m)])) if len(truth[int(m)]) > 1
                       else 0.0, 0.002) for m in sizes])
    # the measured curve, smoothed (draws at one size scatter ±0.3 pt): a weighted quadratic in log-log, used only
    # inside the measured range, where it leaves residuals within about 2 standard errors
    w = means / se
    coef = np.polyfit(np.log(sizes), np.log(means), 2, w=w)
    smooth = lambda m: float(np.exp(np.polyval(coef, math.log(m))))  # noqa: E731
    out = []
    for tag, pts in sorted(runs.items()):
        n, rep = (int(v) for v in tag.split(":"))
        if n in pts:  # the full on-hand size is the last fit of a replicate: a run without it is unfinished
            out.append({"dataset": name, "n": n, "rep": rep, "points": dict(sorted(pts.items()))})
    return {int(m): smooth(m) for m in sizes}, out


# ---- size plans: which of the dense √2 grid the probe would have run --------------------------------------------

def plan_old(sizes: list[int], n: int, k_cls: int) -> list[int]:
    """The pre-#14 rule: n/16, n/8, n/4, n/2, n, each raised to max(3 per class, 30)."""
    floor = max(3 * k_cls, 30)
    want = {max(floor, round(n * f)) for f in C.DEFAULT_FRACTIONS}
    return sorted({min(sizes, key=lambda s: abs(math.log(s / w))) for w in want if w <= n})


def plan_new(sizes: list[int], n: int, k_cls: int) -> list[int]:
    """The new rule (curve.plan_sizes), snapped to the nearest grid size."""
    want = C.plan_sizes(n, k_cls)
    return sorted({min(sizes, key=lambda s: abs(math.log(s / w))) for w in want})


def plan_grid(step: int, per_class: float):
    def plan(sizes: list[int], n: int, k_cls: int) -> list[int]:
        keep = [s for s in sizes if s >= per_class * k_cls]
        return sorted(keep[::-1][::step])
    plan.__name__ = f"grid{'√2' if step == 1 else '2'}≥{per_class:g}/class"
    return plan


def plan_span(doublings: float, per_class: float = 2):
    """The √2 grid over the last ``doublings`` doublings below n (never below ``per_class`` per class)."""
    def plan(sizes: list[int], n: int, k_cls: int) -> list[int]:
        return [s for s in sizes if s >= max(n / 2**doublings * 0.99, per_class * k_cls)]
    plan.__name__ = f"last{doublings:g}doublings≥{per_class:g}/class"
    return plan


# ---- methods ------------------------------------------------------------------------------------------------------

def _points(run: dict, plan, k_cls: int) -> list[C.CurvePoint]:
    keep = plan(list(run["points"]), run["n"], k_cls)
    return [C.CurvePoint(m, run["points"][m]) for m in keep]


def evaluate(runs, truth_by_ds, k_by_ds, *, plan, family, weights, band, cal=None) -> list[dict]:
    """One row per (run, k): predicted error and labels needed, the band, and the truth."""
    rows = []
    for run in runs:
        ds, n = run["dataset"], run["n"]
        truth = truth_by_ds[ds]
        pts = _points(run, plan, k_by_ds[ds])
        t = C._table(pts)
        if len(t.ns) < 3:
            continue
        fit = fit_family(t.ns, t.means, t.se, family, weights=weights)
        for k in KS:
            if k * n not in truth:
                continue
            target = truth[k * n]
            row = {"dataset": ds, "n": n, "rep": run["rep"], "k": k, "sizes": len(t.ns), "truth_err": target,
                   "pred_err": None, "pred_n": None, "low": None, "high": None}
            if fit is not None:
                row["err_n"] = float(fit.predict(n))
                row["pred_err"] = float(fit.predict(k * n))
                row["pred_n"] = fit.n_for_error(target)
                row["low"], row["high"] = band(fit, t, n, target, cal, ds, family, weights)
                if cal:  # the point moved by the median drift of real curves (learnt on the other dataset)
                    row["pred_n_debiased"] = C.calibrated_n_band(fit, n, target, cal[ds][1], cal[ds][1])[0]
            rows.append(row)
    return rows


def band_none(fit, t, n, target, cal, ds, family, weights):
    return None, None


def band_boot(fit, t, n, target, cal, ds, family, weights, n_boot=100, seed=0):
    """80% percentile band of n over resamples of seeds within sizes (the pre-#14 band, at 80%)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        y = np.array([e[rng.integers(0, e.size, e.size)].mean() if e.size > 1 else
                      min(1.0, max(1e-4, e[0] + rng.normal(0.0, math.sqrt(v)))) for e, v in zip(t.errors, t.var)])
        f = fit_family(t.ns, y, t.se, family, weights=weights, start=(fit.a, fit.b * t.ns.max() ** -fit.c, fit.c))
        if f is not None:
            vals.append(f.n_for_error(target))
    if not vals:
        return None, None
    lo, hi = np.quantile(np.asarray(vals), [0.1, 0.9], method="inverted_cdf")
    return float(lo), (float(hi) if math.isfinite(hi) else None)


def band_cal(fit, t, n, target, cal, ds, family, weights):
    """Back-test-calibrated: log-error quantiles per doubling of horizon, learnt on the *other* dataset."""
    q_lo, _, q_hi = cal[ds]
    return C.calibrated_n_band(fit, n, target, q_lo, q_hi)


def calibrate(rows: list[dict], ds_out: str | None) -> tuple[float, float, float]:
    """10th / 50th / 90th percentile of log(truth / predicted error) per doubling, on rows of datasets other than
    ds_out (all rows when ds_out is None)."""
    r = [math.log(row["truth_err"] / row["pred_err"]) / math.log2(row["k"]) for row in rows
         if row["dataset"] != ds_out and row["pred_err"]]
    return tuple(float(v) for v in np.quantile(r, [0.1, 0.5, 0.9]))


def calibrate_drift(rows: list[dict], ds_out: str | None) -> dict:
    """The shipped drift model's constants on rows of datasets other than ds_out: q = log(truth / predicted error) /
    log2(k) regressed on ln(error at n) (clipped to ``C.DRIFT_ERR_RANGE``) by least squares; the 10th / 90th
    percentiles of its residuals; and the plain 10th / 50th / 90th percentiles of q (the envelope's other half)."""
    r = [row for row in rows if row["dataset"] != ds_out and row["pred_err"]]
    q = np.array([math.log(row["truth_err"] / row["pred_err"]) / math.log2(row["k"]) for row in r])
    lo, hi = C.DRIFT_ERR_RANGE
    z = np.array([math.log(min(max(row["err_n"], lo), hi)) for row in r])
    # each row weighted by its horizon in doublings: q at 2x is one doubling's noise, at 8x the mean of three
    d = np.array([math.log2(row["k"]) for row in r])
    A = np.column_stack([np.ones_like(z), z]) * d[:, None]
    coef, *_ = np.linalg.lstsq(A, q * d, rcond=None)
    res = q - (coef[0] + coef[1] * z)
    return {"DRIFT": (float(coef[0]), float(coef[1])),
            "DRIFT_RESID": tuple(float(v) for v in np.quantile(res, [0.1, 0.9])),
            "BAND_Q": tuple(float(v) for v in np.quantile(q, [0.1, 0.5, 0.9]))}


def constant_drift(quantiles) -> dict:
    """Constants that make ``C.drift_q`` the pre-change error-blind drift (q10 / q50 / q90 for every curve)."""
    q10, q50, q90 = quantiles
    return {"DRIFT": (q50, 0.0), "DRIFT_RESID": (q10 - q50, q90 - q50), "BAND_Q": (q10, q50, q90)}


def summarise(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["pred_n"] is not None and math.isfinite(r["pred_n"])]
    truth_n = lambda r: r["k"] * r["n"]  # noqa: E731
    within = [abs(r["pred_n"] / truth_n(r) - 1) <= 0.35 for r in ok]
    deb = [r["pred_n_debiased"] for r in rows if r.get("pred_n_debiased")]
    within_deb = [abs(r["pred_n_debiased"] / truth_n(r) - 1) <= 0.35 for r in rows if r.get("pred_n_debiased")]
    banded = [r for r in rows if r["low"] is not None]
    bounded = [r for r in banded if r["high"] is not None]
    cover = [r["low"] <= truth_n(r) <= (r["high"] if r["high"] is not None else math.inf) for r in banded]
    return {"cases": len(rows), "estimates": len(ok),
            "within35": float(np.mean(within)) if within else float("nan"),
            "within35_debiased": float(np.mean(within_deb)) if deb else float("nan"),
            "median_ratio": float(np.median([r["pred_n"] / truth_n(r) for r in ok])) if ok else float("nan"),
            "err_mae_pts": 100 * float(np.mean([abs(r["pred_err"] - r["truth_err"]) for r in rows if r["pred_err"]]
                                               or [float("nan")])),
            "coverage": float(np.mean(cover)) if cover else float("nan"),
            "bounded": len(bounded) / len(rows) if rows else float("nan"),
            "width": float(np.median([r["high"] / r["low"] for r in bounded])) if bounded else float("nan")}


def shipped(runs, truth_by_ds, k_by_ds, consts_by_ds=None, family: str | None = None) -> list[dict]:
    """The shipped pipeline end to end: ``plan_sizes`` (snapped to the measured grid) and ``analyze_curve`` with its
    checks and status; ``consts_by_ds`` swaps in the drift constants per dataset (leave-one-dataset-out) and
    ``family`` the fitted family (the pre-change pipeline: ``pow2_log`` with ``constant_drift``)."""
    names = ("DRIFT", "DRIFT_RESID", "BAND_Q", "FAMILY")
    rows, saved = [], {k: getattr(C, k) for k in names}
    try:
        C.FAMILY = family or C.FAMILY
        for run in runs:
            ds, n = run["dataset"], run["n"]
            for key, v in (consts_by_ds or {}).get(ds, {}).items():
                setattr(C, key, v)
            pts = _points(run, plan_new, k_by_ds[ds])
            for k in KS:
                if k * n not in truth_by_ds[ds]:
                    continue
                target = truth_by_ds[ds][k * n]
                rep = C.analyze_curve(pts, target_error=target, n_boot=0)
                ln = rep.labels_needed
                rows.append({"dataset": ds, "n": n, "rep": run["rep"], "k": k, "sizes": len(pts),
                             "status": rep.status, "flags": rep.flags, "truth_err": target,
                             "pred_err": float(C.band_error(rep.fit, n, k * n, C.drift_q(rep.fit, n)[1]))
                             if rep.fit and rep.status == "ok" else None,
                             "pred_n": ln["value"], "low": ln["low"] if ln["value"] else None,
                             "high": ln["high"], "reason": ln["reason"], "ln_status": ln["status"]})
    finally:
        for key, v in saved.items():
            setattr(C, key, v)
    return rows


def print_shipped(rows: list[dict], datasets) -> None:
    """Per dataset and horizon; "within ±35%" and "inside band" count every extrapolated case (status ok), an
    ``unreachable`` labels-needed as a miss."""
    print("| dataset | horizon | cases | extrapolated (status ok) | within ±35% | median predicted / measured | "
          "inside 80% band | bounded band | error MAE at k·n (pts) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for ds in [*datasets, "all"]:
        for k in (*KS, "all"):
            sel = [r for r in rows if ds in ("all", r["dataset"]) and k in ("all", r["k"])]
            if not sel:
                continue
            ext = [r for r in sel if r["status"] == "ok"]
            ok = [r for r in ext if r["pred_n"]]
            m = lambda r: r["k"] * r["n"]  # noqa: E731
            nan = float("nan")
            within = np.mean([bool(r["pred_n"]) and abs(r["pred_n"] / m(r) - 1) <= 0.35 for r in ext]) if ext else nan
            inside = np.mean([bool(r["pred_n"]) and r["low"] <= m(r) <= (r["high"] or math.inf) for r in ext]) \
                if ext else nan
            bounded = np.mean([r["high"] is not None for r in ext]) if ext else nan
            ratio = np.median([r["pred_n"] / m(r) for r in ok]) if ok else nan
            mae = 100 * np.mean([abs(r["pred_err"] - r["truth_err"]) for r in ok]) if ok else nan
            print(f"| {ds} | {k if k == 'all' else f'{k}x'} | {len(sel)} | {len(ext)} | {within:.0%} | {ratio:.2f} | "
                  f"{inside:.0%} | {bounded:.0%} | {mae:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", action="store_true")
    ap.add_argument("--boot", action="store_true", help="also the seed-bootstrap band (slow)")
    args = ap.parse_args()
    truth, runs, kcls = {}, [], {}
    for ds, k in (("banking77", 77), ("clinc150", 150)):
        if (CACHE / f"{ds}-curves.json").exists():
            truth[ds], r = load_runs(ds)
            runs += r
            kcls[ds] = k
    lodo = lambda ds: ds if len(truth) > 1 else None  # noqa: E731
    before_rows = evaluate(runs, truth, kcls, plan=plan_new, family="pow2_log", weights=C.WEIGHTS, band=band_none)
    before = {ds: constant_drift(calibrate(before_rows, lodo(ds))) for ds in truth}
    print("## before: pow2_log, error-blind drift (constants leave-one-dataset-out)\n")
    print_shipped(shipped(runs, truth, kcls, before, family="pow2_log"), truth)
    base = evaluate(runs, truth, kcls, plan=plan_new, family=C.FAMILY, weights=C.WEIGHTS, band=band_none)
    consts = {ds: calibrate_drift(base, lodo(ds)) for ds in truth}
    fmt = lambda d: {k: [round(x, 4) for x in v] for k, v in d.items()}  # noqa: E731
    print(f"\n## shipped: {C.FAMILY}, drift from the error on hand (constants leave-one-dataset-out)\n")
    print("constants learnt on all datasets (curve.py):", fmt(calibrate_drift(base, None)))
    print("leave-one-dataset-out:", {ds: fmt(v) for ds, v in consts.items()}, "\n")
    rows = shipped(runs, truth, kcls, consts)
    print_shipped(rows, truth)
    if args.cases:
        for r in rows:
            print(json.dumps(r))
    print("\n## comparison of plans, families, weights and bands\n")
    plans = [plan_old, plan_new, plan_grid(1, 2), plan_grid(2, 2), plan_grid(1, 3), plan_span(2)]
    print("| plan | family | weights | band | dataset | cases | within ±35% | median pred/true n | "
          "within ±35% debiased | error MAE (pts) | 80% coverage | bounded | median high/low |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for plan in plans:
        for family in ("pow3", "pow3_log", "pow2_log", "pow2_log_tail"):
            for weights in ("inverse_variance", "uniform"):
                base = evaluate(runs, truth, kcls, plan=plan, family=family, weights=weights, band=band_none)
                # leave-one-dataset-out; with one dataset only, in-sample (optimistic; printed as "cal-in")
                cal = {ds: calibrate(base, ds if len(truth) > 1 else None) for ds in truth}
                bands = [("cal" if len(truth) > 1 else "cal-in", band_cal)]
                if plan is plan_new and args.boot:
                    bands.append(("boot", band_boot))
                for bname, bfn in bands:
                    rows = evaluate(runs, truth, kcls, plan=plan, family=family, weights=weights, band=bfn, cal=cal)
                    for ds in [*truth, "all", *(f"k={k}" for k in KS)]:
                        s = summarise([r for r in rows if ds in ("all", r["dataset"], f"k={r['k']}")])
                        print(f"| {plan.__name__} | {family} | {weights} | {bname} | {ds} | {s['cases']} | "
                              f"{s['within35']:.0%} | {s['median_ratio']:.2f} | {s['within35_debiased']:.0%} | "
                              f"{s['err_mae_pts']:.2f} | "
                              f"{s['coverage']:.0%} | {s['bounded']:.0%} | {s['width']:.2f} |", flush=True)
                    if args.cases and plan is plan_new and family == C.FAMILY and weights == C.WEIGHTS \
                            and bname.startswith("cal"):
                        for r in rows:
                            print(json.dumps(r))


if __name__ == "__main__":
    main()
