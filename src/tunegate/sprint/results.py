"""The sprint's statistics: finalists on test with intervals, paired comparisons, slices, cost, gap and gate.

Pure functions of per-item outcomes. Unscored answers count as wrong throughout the sprint (a strategy must not
win by abstaining); each result says how many there were. Intervals and tests come from ``tunegate.evals.stats``
and ``tunegate.evals.metrics``, so the sprint's numbers mean what ``tunegate eval``'s mean.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from tunegate.evals.metrics import macro_f1_ci, mean_ci
from tunegate.evals.stats import Interval, holm_correction, mcnemar_exact, paired_comparison
from tunegate.spec import BootstrapSpec
from tunegate.sprint.evaluate import ItemOutcome
from tunegate.sprint.racing import RaceResult

GATE_RULE = ("met: the lower bound of the best prompt's {conf:.0%} CI on test is at or above the target; gap: the "
             "upper bound is below the target; unknown: the interval straddles the target.")


def _r(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def metric_interval(outcomes: list[ItemOutcome], metric: str, labels: list[str], boot: BootstrapSpec) -> Interval:
    """The sprint metric with its CI; macro-F1 over gold vs prediction (unscored: a miss for its gold class)."""
    if metric == "macro_f1" and labels:
        gold = [str(o.gold) for o in outcomes]
        pred = [str(o.prediction) if o.scored and o.prediction is not None else "" for o in outcomes]
        return macro_f1_ci(gold, pred, labels, boot)
    return mean_ci(np.asarray([o.score for o in outcomes], dtype=float), boot)


def summarize_candidate(outcomes: list[ItemOutcome], metric: str, labels: list[str], boot: BootstrapSpec,
                        slice_min: int = 1) -> dict[str, Any]:
    """Value, CI, counts, cost and latency per 1,000 requests, and per-slice values for one candidate on test."""
    iv = metric_interval(outcomes, metric, labels, boot)
    n = len(outcomes)
    calls = sum(o.calls for o in outcomes)
    slices: dict[str, dict[str, Any]] = {}
    for col in sorted({c for o in outcomes for c in o.slices}):
        slices[col] = {}
        for val in sorted({o.slices.get(col, "") for o in outcomes}):
            members = [o for o in outcomes if o.slices.get(col, "") == val]
            if len(members) >= slice_min:
                s = mean_ci(np.asarray([o.score for o in members], dtype=float), boot)
                slices[col][val] = {"value": _r(s.estimate), "ci_low": _r(s.low), "ci_high": _r(s.high),
                                    "n": len(members)}
    return {
        "value": _r(iv.estimate), "ci_low": _r(iv.low), "ci_high": _r(iv.high), "ci_method": iv.method,
        "confidence": iv.confidence, "n": n, "n_unscored": sum(1 for o in outcomes if not o.scored),
        "n_errors": sum(1 for o in outcomes if o.error), "calls": calls,
        "calls_per_item": _r(calls / n) if n else None, "repair_calls": sum(o.repairs for o in outcomes),
        "cost_per_1000": _r(sum(o.cost for o in outcomes) / n * 1000) if n else None,
        "latency_ms_per_request": _r(sum(o.latency_s for o in outcomes) / n * 1000) if n else None,
        "tokens_per_request": {"input": _r(sum(o.input_tokens for o in outcomes) / n) if n else None,
                               "output": _r(sum(o.output_tokens for o in outcomes) / n) if n else None},
        "slices": slices,
    }


def _signflip_p(d: np.ndarray, seed: int, n_perm: int = 10000) -> float:
    """Two-sided paired sign-flip permutation p-value for a mean difference (graded scores)."""
    if not np.any(d):
        return 1.0
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_perm, d.size))
    null = np.abs((signs * d).mean(axis=1))
    return float((1 + np.sum(null >= abs(d.mean()) - 1e-12)) / (n_perm + 1))


def compare(a: list[ItemOutcome], b: list[ItemOutcome], *, name_a: str, name_b: str, boot: BootstrapSpec,
            what: str) -> dict[str, Any]:
    """Paired difference ``b - a`` on the same test items: bootstrap CI, and exact McNemar p for 0/1 scores
    (sign-flip permutation p otherwise). Unscored answers count as wrong on both sides."""
    by_a = {o.id: o.score for o in a}
    ids = [o.id for o in b if o.id in by_a]
    xa = np.asarray([by_a[i] for i in ids], dtype=float)
    xb = np.asarray([o.score for o in b if o.id in by_a], dtype=float)
    pc = paired_comparison(xa, xb, n_resamples=boot.n_resamples, confidence=boot.confidence, seed=boot.seed)
    iv, m = pc.diff, pc.mcnemar
    if m is not None:
        p, test, extra = m.pvalue, "mcnemar_exact", {"b01": m.b01, "b10": m.b10, "p_midp": m.midp_pvalue}
    else:
        p, test, extra = _signflip_p(xb - xa, boot.seed), "sign_flip_permutation", {}
    # per-item scores (the primary scorer): for a corpus metric such as macro_f1 this is the per-item accuracy the
    # paired tests need, not the metric of the leaderboard, and the artifact says so
    return {"comparison": what, "a": name_a, "b": name_b, "metric": "per-item primary score (paired)",
            "n": len(ids), "value_a": _r(xa.mean()),
            "value_b": _r(xb.mean()), "diff": _r(xb.mean() - xa.mean()), "ci_low": _r(iv.low),
            "ci_high": _r(iv.high), "p": float(p), "test": test, **extra}


def holm(comparisons: list[dict[str, Any]], alpha: float) -> None:
    """Add Holm-adjusted p-values (across all comparisons of the sprint) and a significance flag, in place."""
    if not comparisons:
        return
    adj = holm_correction([c["p"] for c in comparisons])
    for c, pa in zip(comparisons, adj):
        c["p_holm"] = float(pa)
        c["significant"] = bool(pa <= alpha)


def more_items_needed(value: float, target: float, n: int, confidence: float, power: float = 0.8) -> int | None:
    """Test items (beyond ``n``, at least 1) for a one-sample test of value vs target to decide at the given power,
    if the true value is the observed one: n* = ((z_{1-a/2} sqrt(T(1-T)) + z_power sqrt(p(1-p))) / |p - T|)^2.
    None when p == T."""
    d = abs(value - target)
    if d < 1e-9:
        return None
    p = min(max(value, 0.0), 1.0)
    t = min(max(target, 0.0), 1.0)
    za, zb = NormalDist().inv_cdf(0.5 + confidence / 2), NormalDist().inv_cdf(power)
    # the test's variance under the target plus under the observed value (at p = 0 or 1 the latter vanishes, the
    # former does not), and never "0 more": the caller only asks when the interval still straddles the target
    n_star = ((za * math.sqrt(t * (1 - t)) + zb * math.sqrt(p * (1 - p))) / d) ** 2
    return max(1, math.ceil(n_star) - n)


def gap_and_gate(best: dict[str, Any], target: float | None, confidence: float) -> dict[str, Any]:
    """``gap`` = best - target with the CI shifted by the target, and the gate: met | gap | unknown."""
    rule = GATE_RULE.format(conf=confidence)
    v, lo, hi, n = best.get("value"), best.get("ci_low"), best.get("ci_high"), best.get("n") or 0
    if target is None or v is None:
        return {"gap": None, "gate": "unknown", "gate_rule": rule, "more_items_needed": None,
                "gate_reason": "no target (eval.target) is set" if target is None else "no value on test"}
    gap = {"value": _r(v - target), "ci_low": _r(lo - target) if lo is not None else None,
           "ci_high": _r(hi - target) if hi is not None else None}
    if lo is not None and lo >= target:
        return {"gap": gap, "gate": "met", "gate_rule": rule, "more_items_needed": None,
                "gate_reason": f"lower CI bound {lo:.3f} >= target {target:g}"}
    if hi is not None and hi < target:
        return {"gap": gap, "gate": "gap", "gate_rule": rule, "more_items_needed": None,
                "gate_reason": f"upper CI bound {hi:.3f} < target {target:g}"}
    more = more_items_needed(v, target, n, confidence)
    return {"gap": gap, "gate": "unknown", "gate_rule": rule, "more_items_needed": more,
            "gate_reason": f"the CI [{lo}, {hi}] straddles the target {target:g}"
            + (f"; about {more} more test items would decide it (80% power, if the value holds)"
               if more is not None else "; the value equals the target")}


def selection_certainty(race: RaceResult, names: dict[int, str], *, alpha: float, n_resamples: int, seed: int,
                        tolerance: float = 0.01) -> dict[str, Any]:
    """How sure the dev selection is, from the race's per-item dev scores.

    ``p_within_1pt``: share of bootstrap resamples of the dev items used in which no candidate beats the winner
    by more than ``tolerance`` on the items the two share (a candidate eliminated early is compared on the items
    it saw): a bootstrap probability, optimistic for a winner chosen on the same items, not a guarantee.
    ``indistinguishable``: candidates whose paired difference from the winner on their shared items is not
    significant at ``alpha`` (exact McNemar for 0/1 scores, sign-flip permutation otherwise; Holm across them).
    """
    win = race.finalists[0]
    order = race.items_order
    u = len(order)
    x = {c: np.asarray(v, dtype=float) for c, v in race.scores.items()}
    rivals = [c for c in race.scores if c != win and x[c].size]
    p_within, pvals = 1.0, []
    if rivals and u:
        rng = np.random.default_rng(seed)
        w = rng.multinomial(u, np.full(u, 1.0 / u), size=n_resamples).astype(float)  # resample weights
        ok = np.ones(n_resamples, dtype=bool)
        for c in rivals:
            m = x[c].size
            d = x[c] - x[win][:m]
            den = w[:, :m].sum(axis=1)
            diff = np.divide(w[:, :m] @ d, den, out=np.zeros(n_resamples), where=den > 0)
            ok &= diff <= tolerance + 1e-12
            a, b = x[win][:m], x[c]
            if np.all((a == 0) | (a == 1)) and np.all((b == 0) | (b == 1)):
                pvals.append(mcnemar_exact(a.astype(bool), b.astype(bool)).pvalue)
            else:
                pvals.append(_signflip_p(b - a, seed))
        p_within = float(ok.mean())
    adj = holm_correction(pvals) if pvals else []
    return {"p_within_1pt": round(p_within, 4), "tolerance": tolerance,
            "indistinguishable": [names[c] for c, p in zip(rivals, adj) if p > alpha],
            "test": "exact McNemar (0/1 scores) or sign-flip permutation, Holm across candidates"}
