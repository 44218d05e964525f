"""The decision, as a pure function: artifacts (and declared evidence) in, one of five verdicts out.

Fine-tuning earns its cost only when three conditions hold at once — a criterion that separates good from bad,
enough good labeled data, a gap a real prompt sprint cannot close — and the fine-tune closes that gap at a cost
the 18-month economics accept. Each condition is ``held``, ``not_held`` or ``unknown``, from ``measured``
artifacts or ``declared`` evidence (numbers a person typed in, which lower the verdict's confidence).

Rules, first match wins (the README documents them; tests cover each one and the unknown combinations):

1. criterion not held                               -> FIX_EVAL_FIRST (no other number can be trusted yet)
2. the best prompt meets the target (no gap)        -> SHIP_PROMPT
3. data not held                                    -> IMPROVE_DATA_FIRST
4. the fine-tune probe does not close the gap       -> KEEP_PROMPTING
5. the economics are negative                       -> KEEP_PROMPTING
6. criterion, data, gap, probe and economics held   -> FINE_TUNE
7. anything else (something unknown)                -> KEEP_PROMPTING, the default bias: prompting is faster,
                                                        cheaper and reversible; the unknowns become next actions
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HELD, NOT_HELD, UNKNOWN = "held", "not_held", "unknown"
MEASURED, DECLARED, MISSING = "measured", "declared", "missing"
VERDICTS = ("FIX_EVAL_FIRST", "SHIP_PROMPT", "IMPROVE_DATA_FIRST", "KEEP_PROMPTING", "FINE_TUNE")


@dataclass
class Condition:
    status: str = UNKNOWN
    source: str = MISSING
    summary: str = "not measured"
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "source": self.source, "summary": self.summary, "evidence": self.evidence}


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


# -------------------------------------------------------------------------------------------- conditions


def criterion_condition(evalcheck: dict | None, declared: dict | None) -> Condition:
    if evalcheck:
        gate = evalcheck.get("gate")
        status = {"pass": HELD, "fail": NOT_HELD}.get(gate, UNKNOWN)
        ev = {k: evalcheck.get(k) for k in ("auc", "auc_ci_low", "auc_ci_high", "judge_human_kappa", "flip_rate",
                                            "minimal_detectable_difference") if k in evalcheck}
        reasons = "; ".join(evalcheck.get("reasons", [])[:3])
        return Condition(status, MEASURED, f"criterion gate {gate}" + (f": {reasons}" if reasons else ""), ev)
    if declared:
        passes = declared.get("passes")
        auc = _num(declared.get("auc"))
        status = HELD if passes is True or (passes is None and auc is not None and auc >= 0.8) else (
            NOT_HELD if passes is False or (auc is not None and auc < 0.8) else UNKNOWN)
        ev = {k: v for k, v in declared.items() if v is not None}
        return Condition(status, DECLARED, "declared: " + (declared.get("note") or ", ".join(
            f"{k} {v}" for k, v in ev.items())), ev)
    return Condition(summary="no criterion-gate result (tunegate check-eval) and nothing declared")


def data_condition(audit: dict | None, declared: dict | None, *, min_alpha: float = 0.667) -> Condition:
    if audit:
        gate = audit.get("gate")
        agr = audit.get("agreement") or {}
        noise = audit.get("noise") or {}
        ev = {"gate": gate, "krippendorff_alpha": agr.get("krippendorff_alpha"),
              "alpha_ci_low": (agr.get("alpha_ci") or {}).get("low"),
              "alpha_ci_high": (agr.get("alpha_ci") or {}).get("high"),
              "estimated_noise_rate": noise.get("estimated_noise_rate"),
              "leakage": (audit.get("leakage") or {}).get("count"),
              "n_items": agr.get("n_items")}
        status = {"pass": HELD, "fail": NOT_HELD}.get(gate, UNKNOWN)
        reasons = "; ".join(r for r in audit.get("reasons", [])[:3])
        return Condition(status, MEASURED, f"data gate {gate}: {reasons}", {k: v for k, v in ev.items()
                                                                              if v is not None})
    if declared:
        passes = declared.get("passes")
        alpha = _num(declared.get("alpha"))
        status = HELD if passes is True or (passes is None and alpha is not None and alpha >= min_alpha) else (
            NOT_HELD if passes is False or (alpha is not None and alpha < min_alpha) else UNKNOWN)
        ev = {k: v for k, v in declared.items() if v is not None}
        return Condition(status, DECLARED, "declared: " + (declared.get("note") or ", ".join(
            f"{k} {v}" for k, v in ev.items())), ev)
    return Condition(summary="no data audit (tunegate audit) and nothing declared")


def best_prompt(sprint: dict | None, evals: list[dict], declared: dict | None) -> tuple[dict | None, str, bool]:
    """(best prompt's numbers, source, after_a_sprint)."""
    if sprint and sprint.get("candidates"):
        best_name = sprint.get("best")
        if isinstance(best_name, dict):  # sprint.json: best = {candidate, value, ci_low, ci_high, n}
            best_name = best_name.get("candidate")
        cands = sprint["candidates"]
        best = next((c for c in cands if c.get("name") == best_name), None) or max(
            cands, key=lambda c: c.get("value") or -1)
        return best, MEASURED, True
    tests = [e for e in evals if e.get("split") == "test" and e.get("value") is not None]
    if tests:
        e = max(tests, key=lambda e: e["value"])
        return ({"name": f"{e.get('model')} ({e.get('method')})", "value": e["value"], "ci_low": e.get("ci_low"),
                 "ci_high": e.get("ci_high"), "n": e.get("n"), "model": e.get("model")}, MEASURED, False)
    if declared and declared.get("best_value") is not None:
        return ({"name": "declared best prompt", "value": declared["best_value"], "ci_low": declared.get("ci_low"),
                 "ci_high": declared.get("ci_high"), "n": declared.get("n")}, DECLARED,
                bool(declared.get("after_sprint", True)))
    return None, MISSING, False


def gap_condition(best: dict | None, source: str, after_sprint: bool, target: float | None) -> Condition:
    """``held`` = a gap remains that prompting could not close (the best prompt is significantly below target)."""
    if best is None:
        return Condition(summary="no prompt has been evaluated on the test split (tunegate sprint / eval)")
    v, lo, hi = best.get("value"), best.get("ci_low"), best.get("ci_high")
    ev = {"best_prompt": best.get("name"), "value": v, "ci_low": lo, "ci_high": hi, "target": target,
          "n": best.get("n"), "after_sprint": after_sprint}
    if target is None:
        return Condition(UNKNOWN, source, "no target set (eval.target): a gap cannot be measured", ev)
    if v >= target:
        sure = lo is not None and lo >= target
        return Condition(NOT_HELD, source, f"the best prompt reaches {v:.3f} against a target of {target:g}"
                         + ("" if sure else " (its CI reaches below the target)"), ev)
    if hi is not None and hi >= target:
        return Condition(UNKNOWN, source, f"the best prompt is at {v:.3f}, below the target {target:g}, but its CI "
                         f"reaches {hi:.3f}: evaluate on more items", ev)
    if not after_sprint:
        return Condition(UNKNOWN, source, f"one prompt reaches {v:.3f} (CI up to {hi if hi is not None else v:.3f}) "
                         f"against {target:g}, but no prompt sprint has been run: a single prompt's gap does not show "
                         "that prompting cannot close it", ev)
    return Condition(HELD, source, f"after the sprint the best prompt reaches {v:.3f} (CI up to "
                     f"{hi if hi is not None else v:.3f}), significantly below the target {target:g}", ev)


def probe_condition(probe: dict | None, declared: dict | None, best: dict | None, target: float | None) -> Condition:
    """``held`` = learning from the labels closes the gap (reaches the target, or beats the prompt significantly)."""
    entries, source = [], MISSING
    if probe and probe.get("probes"):
        entries, source = probe["probes"], MEASURED
    elif declared and declared.get("value") is not None:
        entries, source = [{"name": "declared fine-tune", **declared}], DECLARED
    if not entries:
        return Condition(summary="no fine-tune probe (tunegate probe) and nothing declared")
    top = max(entries, key=lambda p: p.get("value") or -1)
    v, lo = top.get("value"), top.get("ci_low")
    ev = {"probe": top.get("name"), "value": v, "ci_low": lo, "ci_high": top.get("ci_high"), "target": target,
          "diff_vs_prompt_ci_low": top.get("diff_ci_low"), "labels_needed": (probe or {}).get(
              "learning_curve", {}).get("labels_needed")}
    beats_prompt = top.get("diff_ci_low") is not None and top["diff_ci_low"] > 0
    if target is not None and v is not None and v >= target:
        return Condition(HELD, source, f"{top.get('name')} reaches {v:.3f} ≥ target {target:g}", ev)
    if beats_prompt:
        return Condition(HELD, source, f"{top.get('name')} beats the best prompt significantly (paired CI of the "
                         f"difference above 0) at {v:.3f}", ev)
    below_target = target is None or (v is not None and v < target)
    no_better = top.get("diff_ci_low") is not None and top["diff_ci_low"] <= 0
    overlaps = (best is not None and v is not None and lo is not None and best.get("ci_high") is not None
                and lo <= best["ci_high"])
    if below_target and (no_better or overlaps):
        ref = f" ({best.get('value'):.3f})" if best else ""
        return Condition(NOT_HELD, source, f"{top.get('name')} reaches {v:.3f}, below the target and not "
                         f"significantly better than the best prompt{ref}", ev)
    return Condition(UNKNOWN, source, f"{top.get('name')} reaches {v}: not enough to tell whether it closes the gap",
                     ev)


def economics_condition(cost: dict | None) -> Condition:
    if not cost:
        return Condition(summary="no cost model (tunegate cost)")
    env = cost.get("expected_net_value_of_finetuning") or {}
    mean = env.get("mean")
    ev = {"expected_net_value_mean": mean, "expected_net_value_p05": env.get("p05"),
          "expected_net_value_p95": env.get("p95"), "p_finetune_cheaper": cost.get("p_finetune_cheaper"),
          "breakeven_monthly_volume": cost.get("breakeven_monthly_volume"),
          "horizon_months": cost.get("horizon_months")}
    tco = cost.get("tco") or {}
    ev["tco_prompting_median"] = (tco.get("prompting") or {}).get("median")
    ev["tco_fine_tuning_median"] = (tco.get("fine_tuning") or {}).get("median")
    if mean is None:
        return Condition(UNKNOWN, MEASURED, "the cost model produced no net value", ev)
    horizon = cost.get("horizon_months", 18)
    if mean > 0:
        return Condition(HELD, MEASURED, f"fine-tuning's expected net value over {horizon} months is positive "
                         f"({mean:,.0f}; P(fine-tune cheaper) {cost.get('p_finetune_cheaper', 0):.2f})", ev)
    return Condition(NOT_HELD, MEASURED, f"fine-tuning's expected net value over {horizon} months is "
                     f"negative ({mean:,.0f}; P(fine-tune cheaper) {cost.get('p_finetune_cheaper', 0):.2f})", ev)


# -------------------------------------------------------------------------------------------------- rules


def apply_rules(c: dict[str, Condition]) -> tuple[str, str]:
    """(verdict, rule) from the five conditions; see the module docstring."""
    if c["criterion"].status == NOT_HELD:
        return "FIX_EVAL_FIRST", "1: the evaluation criterion does not hold"
    if c["prompting_gap"].status == NOT_HELD:
        return "SHIP_PROMPT", "2: the best prompt already meets the target"
    if c["data"].status == NOT_HELD:
        return "IMPROVE_DATA_FIRST", "3: there may be a gap, but the data gate fails"
    if c["finetune_probe"].status == NOT_HELD:
        return "KEEP_PROMPTING", "4: learning from the labels does not close the gap"
    if c["economics"].status == NOT_HELD:
        return "KEEP_PROMPTING", "5: the 18-month economics favour prompting"
    if all(x.status == HELD for x in c.values()):
        return "FINE_TUNE", "6: all three conditions hold, the probe closes the gap and the economics are positive"
    unknown = [k for k, x in c.items() if x.status == UNKNOWN]
    return "KEEP_PROMPTING", f"7: default to prompting while {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} " \
                             "unknown"


def confidence(c: dict[str, Condition], verdict: str) -> str:
    """high: everything measured and known; medium: one unknown or declared evidence; low: more unknowns."""
    relevant = list(c.values())
    if verdict == "FIX_EVAL_FIRST":
        relevant = [c["criterion"]]
    elif verdict == "SHIP_PROMPT":
        relevant = [c["criterion"], c["prompting_gap"]]
    elif verdict == "IMPROVE_DATA_FIRST":
        relevant = [c["criterion"], c["data"]]
    unknown = sum(x.status == UNKNOWN for x in relevant)
    declared = any(x.source == DECLARED for x in relevant)
    if unknown == 0 and not declared:
        return "high"
    if unknown <= 1:
        return "medium"
    return "low"


_ACTIONS = {
    ("criterion", UNKNOWN): "Check the evaluation suite (tunegate check-eval), or declare its evidence under "
                            "evidence.criterion.",
    ("criterion", NOT_HELD): "Fix the evaluation suite first: write a rubric or scorer that separates known-good "
                             "from known-bad outputs and agrees with your experts; nothing else can be verified "
                             "until it does.",
    ("data", UNKNOWN): "Audit the labeled data with annotations from several annotators (data.annotations; "
                       "tunegate audit), or declare its evidence under evidence.data.",
    ("data", NOT_HELD): "Improve the data first: resolve the audit's failing checks (see audit.json), adjudicate "
                        "the queue, and cover the required slices.",
    ("prompting_gap", UNKNOWN): "Run a prompt-engineering sprint (few-shot, structured output, chain-of-thought, "
                                "self-consistency) against a capable model on enough test items to separate the "
                                "best prompt from the target (eval.target), or declare its result under "
                                "evidence.prompting.",
    ("finetune_probe", UNKNOWN): "Run the fine-tune probe (tunegate probe) to see whether learning from the labels "
                                 "closes the gap, and how many labels it would take.",
    ("finetune_probe", NOT_HELD): "Keep prompting: the probe shows learning from these labels does not close the "
                                  "gap; revisit the task definition or gather different data.",
    ("economics", UNKNOWN): "Fill in volumes and prices under costs: and run tunegate cost.",
    ("economics", NOT_HELD): "Keep prompting: over the horizon the evaluation tax and retraining outweigh what "
                             "fine-tuning saves; re-run the cost model if volume grows past the break-even.",
}


def next_actions(c: dict[str, Condition], verdict: str) -> list[str]:
    out = []
    if verdict == "SHIP_PROMPT":
        out.append("Ship the best prompt, and schedule its re-evaluation (tunegate monitor) so a base-model change "
                   "is caught.")
    if verdict == "FINE_TUNE":
        out.append("Fine-tune, budget the evaluation tax from cost.json, and register the model for monitoring.")
    for key, cond in c.items():
        action = _ACTIONS.get((key, cond.status))
        if action and not (verdict == "SHIP_PROMPT" and key in ("finetune_probe", "economics", "data")):
            out.append(action)
    return out


def decide(
    *, evalcheck: dict | None = None, audit: dict | None = None, sprint: dict | None = None,
    evals: list[dict] | None = None, probe: dict | None = None, cost: dict | None = None,
    declared: dict[str, Any] | None = None, target: float | None = None,
) -> dict[str, Any]:
    """The verdict document (without provenance): verdict, confidence, rule, conditions, next_actions."""
    declared = declared or {}
    best, src, after = best_prompt(sprint, evals or [], declared.get("prompting"))
    target = target if target is not None else (sprint or {}).get("target")
    conditions = {
        "criterion": criterion_condition(evalcheck, declared.get("criterion")),
        "data": data_condition(audit, declared.get("data")),
        "prompting_gap": gap_condition(best, src, after, target),
        "finetune_probe": probe_condition(probe, declared.get("finetune"), best, target),
        "economics": economics_condition(cost),
    }
    verdict, rule = apply_rules(conditions)
    conf = confidence(conditions, verdict)
    return {
        "verdict": verdict,
        "confidence": conf,
        "rule": rule,
        "summary": f"{verdict} ({conf} confidence): rule {rule}",
        "conditions": {k: v.to_dict() for k, v in conditions.items()},
        "next_actions": next_actions(conditions, verdict),
    }
