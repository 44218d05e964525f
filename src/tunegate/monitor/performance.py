"""Performance on labeled or feedback rows, sequential change detection, a label-free estimate, and model-version
changes.

- ``accuracy``: accuracy per window with a Wilson interval (``evals.stats.proportion_ci``) and a one-sided
  two-proportion test for a drop.
- ``cusum``: a Bernoulli CUSUM (Page 1954) over the current window's labeled rows in log order, tuned to a drop
  of ``thresholds.min_accuracy_drop``. Its alarm threshold h and its p-value come from a seeded simulation of
  the window under no change *including* the noise of estimating the reference accuracy, so the false-alarm
  rate is measured, not assumed (``thresholds.cusum_false_alarm`` per window).
- ``estimated_accuracy``: when confidences are calibrated on the reference labels (ECE <= ``max_ece``), the mean
  confidence of the current window estimates its accuracy without labels (confidence-based estimation).
- ``model_version``: a version change is a finding (run the regression suite); accuracy by version is tested.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tunegate.evals.stats import bootstrap_ci, proportion_ci
from tunegate.monitor.statistics import two_proportion_p
from tunegate.monitor.test_base import Context, TestResult, register_test
from tunegate.monitor.windows import Window

CUSUM_SIMULATIONS = 2000
MIN_LABELED = 10


def correctness(win: Window, predicted: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(row index, 1/0 correct) for rows with a gold label (unscored = wrong) or, failing that, feedback."""
    idx, ok = [], []
    for i, (r, p) in enumerate(zip(win.records, predicted)):
        if r.label is not None and not win.training:
            idx.append(i)
            ok.append(1.0 if p is not None and p == r.label else 0.0)
        elif r.feedback is not None:
            idx.append(i)
            ok.append(r.feedback)
    return np.array(idx, int), np.array(ok, float)


def ci_dict(values: np.ndarray, seed: int) -> dict[str, Any]:
    iv = proportion_ci(values, seed=seed)
    return {"value": iv.estimate, "ci_low": iv.low, "ci_high": iv.high, "ci_method": iv.method, "n": iv.n}


def cusum_path(x: np.ndarray, p0: float, delta: float) -> np.ndarray:
    """The Bernoulli CUSUM S_t = max(0, S_{t-1} + llr_t) for a drop p0 -> p0 - delta over 0/1 outcomes x."""
    p0c = min(max(p0, 0.01), 0.99)
    p1 = min(max(p0c - delta, 0.005), p0c - 1e-3)
    up, down = math.log(p1 / p0c), math.log((1 - p1) / (1 - p0c))
    s, path = 0.0, np.zeros(len(x))
    for t, v in enumerate(x):
        s = max(0.0, s + (up if v >= 0.5 else down))
        path[t] = s
    return path


def cusum_null(p0: float, n_ref: int, n: int, delta: float, *, sims: int = CUSUM_SIMULATIONS,
               seed: int = 0) -> np.ndarray:
    """Simulated maxima of the CUSUM on ``n`` rows of unchanged accuracy ``p0``, where the detector's p0 is
    itself estimated from ``n_ref`` reference rows (parametric bootstrap)."""
    rng = np.random.default_rng(seed)
    p0_hat = np.clip(rng.binomial(n_ref, p0, sims) / n_ref, 0.01, 0.99) if n_ref > 0 else np.full(sims, p0)
    p1 = np.clip(p0_hat - delta, 0.005, p0_hat - 1e-3)
    up, down = np.log(p1 / p0_hat), np.log((1 - p1) / (1 - p0_hat))
    s, best = np.zeros(sims), np.zeros(sims)
    for start in range(0, n, 512):
        block = rng.random((min(512, n - start), sims)) < p0
        for row in block:
            s = np.maximum(0.0, s + np.where(row, up, down))
            np.maximum(best, s, out=best)
    return best


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(ece)


def iso_or_none(ts: float | None) -> str | None:
    from datetime import datetime, timezone

    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")


@register_test("performance")
class Performance:
    """Accuracy per window, CUSUM over the current window, and the label-free estimate."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ri, rok = correctness(reference, ctx.predicted(reference))
        ci, cok = correctness(current, ctx.predicted(current))
        out: list[TestResult] = []
        if len(ci) < MIN_LABELED:
            ctx.skip("performance:accuracy", f"{len(ci)} labeled/feedback rows in the current window "
                     f"(need {MIN_LABELED})")
        else:
            ctx.summary["performance"] = {"metric": "accuracy", **ci_dict(cok, ctx.seed)}
        if len(ci) < MIN_LABELED:
            pass
        elif len(ri) < MIN_LABELED:
            cur = ci_dict(cok, ctx.seed)
            ctx.skip("performance:accuracy", "no labeled model outputs in the reference window to compare with "
                     f"(current accuracy {cur['value']:.3f} [{cur['ci_low']:.3f}, {cur['ci_high']:.3f}], "
                     f"n={cur['n']})")
        else:
            ref, cur = ci_dict(rok, ctx.seed), ci_dict(cok, ctx.seed)
            p = two_proportion_p(int(rok.sum()), len(rok), int(cok.sum()), len(cok), "less")
            out.append(TestResult("performance:accuracy", "performance", cur["value"], p_value=p,
                                  n_reference=len(rok), n_current=len(cok),
                                  detail=f"accuracy {ref['value']:.3f} -> {cur['value']:.3f} (one-sided z-test "
                                  "for a drop)", extra={"reference": ref, "current": cur},
                                  message=f"accuracy fell from {ref['value']:.1%} to {cur['value']:.1%} (labeled "
                                  f"rows: {len(rok):,} before, {len(cok):,} now)"))
            out.append(self._cusum(rok, cok, ci, current, ctx))
        est = self._estimate(reference, current, ri, rok, ctx)
        if est is not None:
            out.append(est)
        return out

    def _cusum(self, rok: np.ndarray, cok: np.ndarray, ci: np.ndarray, current: Window,
               ctx: Context) -> TestResult:
        th = ctx.cfg.thresholds
        p0 = float(rok.mean())
        path = cusum_path(cok, p0, th.min_accuracy_drop)
        observed = float(path.max()) if len(path) else 0.0
        null = cusum_null(p0, len(rok), len(cok), th.min_accuracy_drop, seed=ctx.seed,
                          sims=ctx.resolution.get("performance", CUSUM_SIMULATIONS))
        h = float(np.quantile(null, 1 - th.cusum_false_alarm))
        p = (1 + int(np.sum(null >= observed - 1e-12))) / (1 + len(null))
        alarm = None
        if observed > h:
            at = int(np.argmax(path > h))  # the first crossing: when a live detector would have fired
            rec = current.records[int(ci[at])]
            alarm = {"labeled_row": at + 1, "line": rec.line, "timestamp": iso_or_none(rec.ts)}
        msg = (f"a sequential (CUSUM) detector for a {th.min_accuracy_drop:.0%} accuracy drop from {p0:.1%} fired "
               f"at log line {alarm['line']}" if alarm else None)
        return TestResult(
            "cusum:accuracy", "performance", observed, p_value=p, threshold=h, n_reference=len(rok), message=msg,
            n_current=len(cok),
            detail=(f"Bernoulli CUSUM for a drop of {th.min_accuracy_drop:g} from {p0:.3f}; h = simulated "
                    f"{1 - th.cusum_false_alarm:.0%} quantile of {len(null)} no-change windows"),
            extra={"alarm": alarm, "simulated_false_alarm_rate": float(np.mean(null > h)),
                   "simulations": len(null)})

    def _estimate(self, reference: Window, current: Window, ri: np.ndarray, rok: np.ndarray,
                  ctx: Context) -> TestResult | None:
        th = ctx.cfg.thresholds
        cconf = np.array([r.confidence for r in current.records if r.confidence is not None], float)
        if len(cconf) < MIN_LABELED:
            return None
        pairs = [(reference.records[i].confidence, ok) for i, ok in zip(ri, rok)
                 if reference.records[i].confidence is not None]
        if len(pairs) < 50:
            ctx.skip("estimated_accuracy", "confidences exist but fewer than 50 labeled reference rows carry "
                     "one, so their calibration cannot be checked")
            return None
        conf, ok = np.array(pairs, float).T
        ece = expected_calibration_error(conf, ok)
        if ece > th.max_ece:
            ctx.skip("estimated_accuracy", f"confidences are not calibrated on the reference (ECE {ece:.3f} > "
                     f"{th.max_ece}); no label-free estimate")
            return None
        iv = bootstrap_ci(cconf, seed=ctx.seed)
        threshold = float(rok.mean()) - th.min_accuracy_drop
        status = "alert" if iv.high < threshold else "ok"
        return TestResult("estimated_accuracy", "performance", iv.estimate, threshold=threshold, status=status,
                          message=(f"accuracy estimated from the model's own confidence is {iv.estimate:.1%} "
                                   f"(95% CI {iv.low:.1%}–{iv.high:.1%}), below the reference {rok.mean():.1%} "
                                   f"minus {th.min_accuracy_drop:.0%}"),
                          n_reference=len(pairs), n_current=len(cconf),
                          detail=(f"label-free: mean confidence {iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}] "
                                  f"(reference ECE {ece:.3f}); alerts when the whole CI is below reference "
                                  f"accuracy - {th.min_accuracy_drop:g}"),
                          extra={"ci_low": iv.low, "ci_high": iv.high, "reference_ece": ece})


@register_test("model_version")
class ModelVersion:
    """A version change inside the current window (or vs the reference) is a finding; accuracy by version."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref_versions = {r.version for r in reference.records if r.version is not None}
        order: dict[str, int] = {}
        for i, r in enumerate(current.records):
            if r.version is not None and r.version not in order:
                order[r.version] = i
        if not order:
            return ctx.skip("model_version_change", "no model_version column in the log")
        new = [v for v in order if ref_versions and v not in ref_versions]
        if len(order) < 2 and not new:
            return [TestResult("model_version_change", "version", float(len(order)), status="ok",
                               n_current=len(current), detail=f"one version: {next(iter(order))}")]
        old = sorted(ref_versions) or [v for v in order if v not in new][:1] or [next(iter(order))]
        changes = []
        for v in order:
            if v in old:
                continue
            rec = current.records[order[v]]
            changes.append({"from": old[-1], "to": v, "line": rec.line, "timestamp": iso_or_none(rec.ts)})
        extra: dict[str, Any] = {"changes": changes}
        hint = ""
        if changes and ctx.spec_path:
            extra["regress"] = f"tunegate monitor {ctx.spec_path} --regress {changes[0]['from']} {changes[0]['to']}"
            hint = f"; run `{extra['regress']}`"
        out = [TestResult("model_version_change", "version", float(len(order)), status="alert",
                          n_current=len(current), extra=extra,
                          message="the model version changed: " + ", ".join(
                              f"{c['from']} → {c['to']} at log line {c['line']}" for c in changes),
                          detail="model_version changed: " + ", ".join(f"{c['from']} -> {c['to']} at line "
                                                                       f"{c['line']}" for c in changes) + hint)]
        out += self._by_version(reference, current, old, [c["to"] for c in changes], ctx)
        return out

    def _by_version(self, reference: Window, current: Window, old: list[str], new: list[str],
                    ctx: Context) -> list[TestResult]:
        res = []
        rows = []
        for win in (reference, current):
            idx, ok = correctness(win, ctx.predicted(win))
            rows += [(win.records[i].version, o) for i, o in zip(idx, ok)]
        base = np.array([o for v, o in rows if v in old], float)
        for v in new:
            cur = np.array([o for vv, o in rows if vv == v], float)
            if len(cur) < MIN_LABELED or len(base) < MIN_LABELED:
                ctx.skip(f"performance:version:{v}", f"too few labeled rows (old {len(base)}, {v} {len(cur)})")
                continue
            b, c = ci_dict(base, ctx.seed), ci_dict(cur, ctx.seed)
            p = two_proportion_p(int(base.sum()), len(base), int(cur.sum()), len(cur), "less")
            res.append(TestResult(f"performance:version:{v}", "performance", c["value"], p_value=p,
                                  n_reference=len(base), n_current=len(cur),
                                  detail=f"accuracy {'/'.join(old)} {b['value']:.3f} -> {v} {c['value']:.3f} "
                                  "(one-sided z-test for a drop)", extra={"reference": b, "current": c},
                                  message=f"version {v} is right {c['value']:.1%} of the time against "
                                  f"{b['value']:.1%} for {'/'.join(old)}"))
        return res
