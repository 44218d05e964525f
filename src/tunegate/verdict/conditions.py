"""What a condition is, and the three conditions decided by gates and money: criterion, data, economics.

A condition is ``held`` / ``not_held`` / ``unknown``, from ``measured`` artifacts or ``declared`` evidence, and
says how firm its status is (``certainty``): ``clear`` when measured and its interval lies wholly on one side of
the threshold, ``marginal`` when the point estimate decides but the interval straddles the threshold, ``declared``
when a person typed the numbers in. The verdict's confidence is built from these (see ``rules.confidence``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tunegate.artifact_models import AuditArtifact, CostArtifact, EvalCheckArtifact
from tunegate.artifact_models.audit import Agreement, Noise
from tunegate.artifact_models.cost import NetValue
from tunegate.artifact_models.probe import LabelsNeeded
from tunegate.status import Status

HELD, NOT_HELD, UNKNOWN = Status.HELD, Status.NOT_HELD, Status.UNKNOWN  # the one vocabulary: tunegate.status
MEASURED, DECLARED, MISSING = "measured", "declared", "missing"
CLEAR, MARGINAL = "clear", "marginal"


@dataclass
class Thresholds:
    """The spec's thresholds the declared evidence must meet too (the gates apply them to measured evidence)."""

    min_auc: float = 0.9
    min_judge_kappa: float = 0.6
    min_alpha: float = 0.667
    max_noise_rate: float = 0.10


@dataclass
class Condition:
    status: str = UNKNOWN
    source: str = MISSING
    summary: str = "not measured"
    evidence: dict[str, Any] = field(default_factory=dict)
    certainty: str | None = None  # clear | marginal | declared; None while unknown

    def __post_init__(self) -> None:
        if self.certainty is None and self.status != UNKNOWN:
            self.certainty = DECLARED if self.source == DECLARED else CLEAR

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "source": self.source, "certainty": self.certainty,
                "summary": self.summary, "evidence": self.evidence}


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _declared_summary(declared: dict) -> str:
    ev = {k: v for k, v in declared.items() if v is not None and k != "note"}
    text = ", ".join(f"{k} {v}" for k, v in ev.items())
    return "declared: " + (f"{text} ({declared['note']})" if declared.get("note") else text)


# ------------------------------------------------------------------------------------------------ criterion


_GATE = {"pass": HELD, "fail": NOT_HELD, "unknown": UNKNOWN}


def criterion_condition(evalcheck: EvalCheckArtifact | None, declared: dict | None, th: Thresholds) -> Condition:
    """The criterion gate's own result when measured; declared evidence must clear the same spec thresholds
    (``check_eval.min_auc``, ``check_eval.min_judge_kappa``) — a declared AUC of 0.85 fails a 0.9 gate."""
    if evalcheck is not None:
        ec, gate = evalcheck, evalcheck.gate
        status = _GATE[gate]
        ev: dict[str, Any] = {"auc": ec.auc, "auc_ci_low": ec.auc_ci_low, "auc_ci_high": ec.auc_ci_high,
                              "judge_human_kappa": ec.judge_human_kappa, "flip_rate": ec.flip_rate,
                              "minimal_detectable_difference": ec.minimal_detectable_difference}
        reasons = "; ".join(ec.reasons[:3])
        if ec.next_actions:  # the gate's own fixes: the scorer, option or format to change
            ev["gate_fixes"] = list(ec.next_actions)
        return Condition(status, MEASURED, f"criterion gate {gate}" + (f": {reasons}" if reasons else ""), ev)
    if not declared:
        return Condition(summary="no criterion-gate result (tunegate check-eval) and nothing declared")
    ev = {k: v for k, v in declared.items() if v is not None}
    auc, kappa = _num(declared.get("auc")), _num(declared.get("judge_human_kappa"))
    failing = []
    if auc is not None and auc < th.min_auc:
        failing.append(f"declared AUC {auc:g} is below check_eval.min_auc {th.min_auc:g}")
    if kappa is not None and kappa < th.min_judge_kappa:
        failing.append(f"declared judge-human kappa {kappa:g} is below check_eval.min_judge_kappa "
                       f"{th.min_judge_kappa:g}")
    if declared.get("passes") is False:
        failing.append("declared as not passing")
    if failing:
        return Condition(NOT_HELD, DECLARED, "; ".join(failing), ev)
    if declared.get("passes") is True or auc is not None or kappa is not None:  # a judge's kappa is its AUC
        return Condition(HELD, DECLARED, _declared_summary(declared), ev)
    return Condition(UNKNOWN, DECLARED, "declared criterion evidence says neither passes nor an AUC or a kappa", ev)


# ----------------------------------------------------------------------------------------------------- data


def label_quantity(labels_needed: LabelsNeeded | None, on_hand: int | None, probe_reaches_target: bool,
                   probe_below_target: bool = False) -> dict[str, Any]:
    """Labels on hand against the learning curve's labels needed for the target (its estimate *and* band).

    status: held (enough: the probe already reaches the target, or the whole band lies within the labels on
    hand), not_held (the whole band lies above them: label more), n/a (more labels of this kind are not predicted
    to reach the target: quantity is not what stands in the way), unknown."""
    ln = labels_needed or LabelsNeeded()
    band_level = ln.band_level if ln.band_level is not None else (0.8 if ln.low is not None else None)
    out: dict[str, Any] = {"labels_on_hand": on_hand, "labels_needed": ln.value, "labels_needed_low": ln.low,
                           "labels_needed_high": ln.high, "band_level": band_level}
    if probe_reaches_target:
        return out | {"status": HELD, "summary": "the labels on hand already reach the target in the probe"}
    if ln.status == "unreachable":
        return out | {"status": "n/a", "summary": "the learning curve does not reach the target with more labels of "
                      "this kind (" + (ln.reason or "unreachable") + ")"}
    value = ln.value
    if value is None or ln.status not in (None, "ok") or on_hand is None:
        why = ln.reason or ("labels on hand unknown" if on_hand is None else "no learning curve")
        return out | {"status": UNKNOWN, "summary": f"labels needed for the target: unknown ({why})"}
    low = ln.low if ln.low is not None else value
    high = ln.high
    band = f"{low:,}–{high:,}" if high is not None else f"{low:,}–unbounded"
    if low > on_hand:
        more = value - on_hand
        more_band = f"{low - on_hand:,}–" + (f"{high - on_hand:,}" if high is not None else "unbounded")
        return out | {"status": NOT_HELD, "more_labels": more, "more_labels_band": more_band,
                      "summary": f"about {value:,} labels are needed for the target (band {band}), {on_hand:,} are "
                                 f"on hand: label about {more:,} more ({more_band})"}
    if high is not None and high <= on_hand and probe_below_target:
        return out | {"status": UNKNOWN, "summary": f"the learning curve says {high:,} labels suffice, but the probe "
                                                    f"trained on the {on_hand:,} on hand stays below the target: the "
                                                    "curve is not trusted here"}
    if high is not None and high <= on_hand:
        return out | {"status": HELD, "summary": f"the {on_hand:,} labels on hand cover the {value:,} needed "
                                                  f"(band {band})"}
    return out | {"status": UNKNOWN, "summary": f"{on_hand:,} labels on hand lie inside the band of labels needed "
                                                f"({band}): the curve cannot tell whether they suffice"}


def data_condition(audit: AuditArtifact | None, declared: dict | None, th: Thresholds, quantity: dict[str, Any]
                   ) -> Condition:
    """The data gate (agreement, noise, duplicates, leakage, coverage) *and* label quantity: not held when either
    fails; held only when the gate passes and the quantity is enough (or not what stands in the way)."""
    if audit is not None:
        gate = audit.gate
        agr, noise = audit.agreement or Agreement(), audit.noise or Noise()
        ci = agr.alpha_ci
        ev = {"gate": gate, "krippendorff_alpha": agr.krippendorff_alpha,
              "alpha_ci_low": ci.low if ci else None, "alpha_ci_high": ci.high if ci else None,
              "estimated_noise_rate": noise.estimated_noise_rate, "leakage": audit.leakage.count,
              "n_items": agr.n_items}
        ev = {k: v for k, v in ev.items() if v is not None}
        quality = _GATE[gate]
        source = MEASURED
        reasons = "; ".join(audit.reasons[:3])
        quality_summary = f"data gate {gate}" + (f": {reasons}" if reasons else "")
    elif declared:
        ev = {k: v for k, v in declared.items() if v is not None}
        source = DECLARED
        alpha, noise_rate = _num(declared.get("alpha")), _num(declared.get("noise_rate"))
        failing = []
        if alpha is not None and alpha < th.min_alpha:
            failing.append(f"declared alpha {alpha:g} is below audit.min_alpha {th.min_alpha:g}")
        if noise_rate is not None and noise_rate > th.max_noise_rate:
            failing.append(f"declared noise rate {noise_rate:g} is above audit.max_noise_rate {th.max_noise_rate:g}")
        if declared.get("passes") is False:
            failing.append("declared as not passing")
        if failing:
            quality, quality_summary = NOT_HELD, "; ".join(failing)
        elif declared.get("passes") is True or alpha is not None:
            quality, quality_summary = HELD, _declared_summary(declared)
        else:
            quality, quality_summary = UNKNOWN, "declared data evidence says neither passes nor an alpha"
    else:
        quality, source, ev = UNKNOWN, MISSING, {}
        quality_summary = "no data audit (tunegate audit) and nothing declared"
    ev["label_quantity"] = quantity
    q = quantity["status"]
    if quality == NOT_HELD or q == NOT_HELD:
        parts = [s for s, st in ((quality_summary, quality), (quantity["summary"], q)) if st == NOT_HELD]
        return Condition(NOT_HELD, source if quality == NOT_HELD else MEASURED, "; ".join(parts), ev)
    if quality == HELD and q in (HELD, "n/a"):
        return Condition(HELD, source, f"{quality_summary}; {quantity['summary']}", ev)
    summary = f"{quality_summary}; {quantity['summary']}"
    return Condition(UNKNOWN, source if source != MISSING else MISSING, summary, ev)


# ------------------------------------------------------------------------------------------------ economics


def economics_condition(cost: CostArtifact | None) -> Condition:
    """Held when fine-tuning's expected 18-month net value is positive; ``clear`` only when at least 90% of the
    Monte Carlo draws agree on the sign (else ``marginal``)."""
    if cost is None:
        return Condition(summary="no cost model (tunegate cost)")
    env = cost.expected_net_value_of_finetuning or NetValue()
    mean = env.mean
    prompting, fine_tuning = cost.path_tco("prompting"), cost.path_tco("fine_tuning")
    ev = {"expected_net_value_mean": mean, "expected_net_value_p05": env.p05,
          "expected_net_value_p95": env.p95, "p_net_value_positive": env.p_positive,
          "quality_priced": env.quality_priced, "p_finetune_cheaper": cost.p_finetune_cheaper,
          "breakeven_monthly_volume": cost.breakeven_monthly_volume, "horizon_months": cost.horizon_months,
          "tco_prompting_median": prompting.median if prompting else None,
          "tco_fine_tuning_median": fine_tuning.median if fine_tuning else None}
    if mean is None:
        return Condition(UNKNOWN, MEASURED, "the cost model produced no net value", ev)
    horizon = cost.horizon_months
    p_pos = env.p_positive
    if p_pos is None and env.p05 is not None and env.p95 is not None:
        p_pos = 0.95 if env.p05 > 0 else (0.05 if env.p95 < 0 else 0.5)
    held = mean > 0
    clear = p_pos is not None and (p_pos >= 0.9 if held else p_pos <= 0.1)
    pp = f"P(net value > 0) {p_pos:.2f}" if p_pos is not None else "P(net value > 0) unknown"
    text = (f"fine-tuning's expected net value over {horizon} months is {'positive' if held else 'negative'} "
            f"({mean:,.0f}; {pp})")
    return Condition(HELD if held else NOT_HELD, MEASURED, text + ("" if clear else ": the draws disagree on the "
                     "sign, so the economics are marginal"), ev, CLEAR if clear else MARGINAL)
