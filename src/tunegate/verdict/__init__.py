"""The decision, as a pure function: artifacts (and declared evidence) in, one of five verdicts out.

Fine-tuning earns its cost only when three conditions hold at once — a criterion that separates good from bad,
enough good labeled data, a gap a real prompt sprint cannot close — and the fine-tune reaches the target at a
cost the 18-month economics accept. This package is the one decision core every stage and the verdict use:

- ``conditions``: criterion, data (quality *and* label quantity), economics;
- ``prompting``: the one definition of "the best prompt", the prompting gap and the probe condition, each decided
  from intervals (never point estimates) and exact tests;
- ``rules``: the seven ordered rules, what confidence means, next actions.

Declared evidence goes through the same thresholds as measured evidence (the spec's ``check_eval.min_auc``,
``audit.min_alpha``, ``audit.max_noise_rate``); a declared ``n`` becomes a Wilson interval; no interval and no ``n``
leaves the condition unknown.
"""

from __future__ import annotations

from typing import Any

from tunegate.verdict.conditions import (
    CLEAR,
    DECLARED,
    HELD,
    MARGINAL,
    MEASURED,
    MISSING,
    NOT_HELD,
    UNKNOWN,
    Condition,
    Thresholds,
    criterion_condition,
    data_condition,
    economics_condition,
    label_quantity,
)
from tunegate.verdict.prompting import (
    best_prompt,
    gap_condition,
    probe_below_target,
    probe_condition,
    probe_reaches_target,
)
from tunegate.verdict.rules import apply_rules, confidence, next_actions

VERDICTS = ("FIX_EVAL_FIRST", "SHIP_PROMPT", "IMPROVE_DATA_FIRST", "KEEP_PROMPTING", "FINE_TUNE")

__all__ = [
    "VERDICTS", "HELD", "NOT_HELD", "UNKNOWN", "MEASURED", "DECLARED", "MISSING", "CLEAR", "MARGINAL",
    "Condition", "Thresholds", "decide", "best_prompt", "labels_on_hand",
]


def labels_on_hand(probe: dict | None, audit: dict | None, declared_data: dict | None) -> int | None:
    """Training labels the team has: what the probe trained on, else the audit's train count, else declared."""
    curve = (probe or {}).get("curve") or {}
    for v in (curve.get("n_train"), ((curve.get("labels_needed") or {}).get("n_train")
                                     if isinstance(curve.get("labels_needed"), dict) else None)):
        if v:
            return int(v)
    for p in (probe or {}).get("probes") or []:
        if p.get("kind") == "embedding_head" and p.get("train_examples"):
            return int(p["train_examples"])
    n = ((audit or {}).get("quantity") or {}).get("n_train")
    if n:
        return int(n)
    n = (declared_data or {}).get("n_labeled")
    return int(n) if n else None


def decide(
    *, evalcheck: dict | None = None, audit: dict | None = None, sprint: dict | None = None,
    evals: list[dict] | None = None, probe: dict | None = None, cost: dict | None = None,
    declared: dict[str, Any] | None = None, target: float | None = None, thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """The verdict document (without provenance): verdict, confidence, rule, conditions, next_actions."""
    declared = declared or {}
    th = thresholds or Thresholds()
    best, src, after = best_prompt(sprint, evals or [], declared.get("prompting"))
    target = target if target is not None else (sprint or {}).get("target")
    on_hand = labels_on_hand(probe, audit, declared.get("data"))
    reaches = probe_reaches_target(probe, declared.get("finetune"), target)
    curve = (probe or {}).get("learning_curve") or {}
    needed = curve.get("labels_needed_band") or curve.get("labels_needed")
    quantity = label_quantity(needed, on_hand, reaches, probe_below_target(probe, declared.get("finetune"), target))
    conditions = {
        "criterion": criterion_condition(evalcheck, declared.get("criterion"), th),
        "data": data_condition(audit, declared.get("data"), th, quantity),
        "prompting_gap": gap_condition(best, src, after, target),
        "finetune_probe": probe_condition(probe, declared.get("finetune"), best, target, on_hand),
        "economics": economics_condition(cost),
    }
    verdict, rule = apply_rules(conditions)
    conf = confidence(conditions, rule)
    return {
        "verdict": verdict,
        "confidence": conf,
        "rule": rule,
        "summary": f"{verdict} ({conf} confidence): rule {rule}",
        "conditions": {k: v.to_dict() for k, v in conditions.items()},
        "next_actions": next_actions(conditions, verdict, cost),
    }
