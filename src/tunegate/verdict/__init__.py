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

from tunegate.artifact_models import (
    AuditArtifact,
    CostArtifact,
    EvalCheckArtifact,
    EvalRun,
    ProbeArtifact,
    SprintArtifact,
    VerdictArtifact,
)
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
    Estimate,
    best_prompt,
    gap_condition,
    labels_needed,
    probe_below_target,
    probe_condition,
    probe_reaches_target,
)
from tunegate.verdict.rules import apply_rules, confidence, next_actions

VERDICTS = ("FIX_EVAL_FIRST", "SHIP_PROMPT", "IMPROVE_DATA_FIRST", "KEEP_PROMPTING", "FINE_TUNE")

__all__ = [
    "VERDICTS", "HELD", "NOT_HELD", "UNKNOWN", "MEASURED", "DECLARED", "MISSING", "CLEAR", "MARGINAL",
    "Condition", "Estimate", "Thresholds", "decide", "best_prompt", "labels_on_hand",
]


def labels_on_hand(probe: ProbeArtifact | None, audit: AuditArtifact | None,
                   declared_data: dict | None) -> int | None:
    """Training labels the team has: what the probe trained on, else the audit's train count, else declared."""
    curve = probe.curve if probe is not None else None
    if curve is not None:
        for v in (curve.n_train, curve.labels_needed.n_train if curve.labels_needed else None):
            if v:
                return v
    for p in probe.probes if probe is not None else []:
        if p.kind == "embedding_head" and p.train_examples:
            return p.train_examples
    if audit is not None and audit.quantity is not None and audit.quantity.n_train:
        return audit.quantity.n_train
    n = (declared_data or {}).get("n_labeled")
    return int(n) if n else None


def decide(
    *, evalcheck: EvalCheckArtifact | None = None, audit: AuditArtifact | None = None,
    sprint: SprintArtifact | None = None, evals: list[EvalRun] | None = None, probe: ProbeArtifact | None = None,
    cost: CostArtifact | None = None, declared: dict[str, Any] | None = None, target: float | None = None,
    thresholds: Thresholds | None = None,
) -> VerdictArtifact:
    """The verdict (its ``run`` and ``inputs`` left to the caller): verdict, confidence, rule, conditions,
    next_actions. Measured evidence comes as the stages' artifact models; declared evidence as the spec's
    ``evidence`` section dumped to a dict."""
    declared = declared or {}
    th = thresholds or Thresholds()
    best, src, after = best_prompt(sprint, evals or [], declared.get("prompting"))
    target = target if target is not None else (sprint.target if sprint is not None else None)
    on_hand = labels_on_hand(probe, audit, declared.get("data"))
    reaches = probe_reaches_target(probe, declared.get("finetune"), target)
    below = probe_below_target(probe, declared.get("finetune"), target)
    quantity = label_quantity(labels_needed(probe), on_hand, reaches, below)
    conditions = {
        "criterion": criterion_condition(evalcheck, declared.get("criterion"), th),
        "data": data_condition(audit, declared.get("data"), th, quantity),
        "prompting_gap": gap_condition(best, src, after, target),
        "finetune_probe": probe_condition(probe, declared.get("finetune"), best, target, on_hand),
        "economics": economics_condition(cost),
    }
    verdict, rule = apply_rules(conditions)
    conf = confidence(conditions, rule)
    return VerdictArtifact(verdict=verdict, confidence=conf, rule=rule, summary=f"{verdict} ({conf} confidence): "
                           f"rule {rule}", conditions={k: v.to_dict() for k, v in conditions.items()},
                           next_actions=next_actions(conditions, verdict, cost))
