"""The verdict rules, one test per rule, plus the combinations with unknown and declared evidence."""

from __future__ import annotations

import itertools

import pytest

from pathlib import Path

from tunegate.artifact_models import (
    AuditArtifact,
    CostArtifact,
    EvalCheckArtifact,
    EvalRun,
    ProbeArtifact,
    SprintArtifact,
)
from tunegate.artifact_models.audit import Agreement, Findings, Noise
from tunegate.artifact_models.cost import NetValue, PathTco
from tunegate.artifact_models.probe import LabelsNeeded, LearningCurve, ProbeResult
from tunegate.artifact_models.sprint import SprintBest, SprintCandidate
from tunegate.artifacts import EvalArtifact
from tunegate.verdict import VERDICTS, decide

TARGET = 0.9


def evalcheck(gate: str, next_actions: tuple[str, ...] = ()) -> EvalCheckArtifact:
    return EvalCheckArtifact(gate=gate, auc=0.95 if gate == "pass" else 0.6, reasons=[f"criterion {gate}"],
                             next_actions=list(next_actions))


def audit(gate: str) -> AuditArtifact:
    return AuditArtifact(gate=gate, reasons=[f"data {gate}"], agreement=Agreement(krippendorff_alpha=0.85, n_items=400),
                         noise=Noise(estimated_noise_rate=0.03), leakage=Findings(count=0))


def sprint(value: float, ci_half: float = 0.02, target: float | None = TARGET) -> SprintArtifact:
    lo, hi = value - ci_half, value + ci_half
    gate = "unknown" if target is None else "met" if lo >= target else "gap" if hi < target else "unknown"
    return SprintArtifact(
        metric="accuracy", target=target, gate=gate,
        best=SprintBest(candidate="kNN few-shot", value=value, ci_low=lo, ci_high=hi, n=400),
        candidates=[SprintCandidate(name="zero-shot", value=value - 0.1, ci_low=value - 0.12, ci_high=value - 0.08),
                    SprintCandidate(name="kNN few-shot", value=value, ci_low=lo, ci_high=hi, n=400)])


def band(value: int | None, low: int | None = None, high: int | None = None, status: str = "ok",
         reason: str | None = None) -> LabelsNeeded:
    return LabelsNeeded(value=value, low=low, high=high, status=status, reason=reason)


def probe(value: float, diff_ci_low: float | None = None, curve: LabelsNeeded | None = None, *,
          ci: tuple[float, float] | None = None, train_examples: int = 1000) -> ProbeArtifact:
    curve = curve if curve is not None else (
        band(1200, 900, 1500) if value >= TARGET else band(None, status="unreachable", reason="below the asymptote"))
    lo, hi = ci or (value - 0.02, value + 0.02)
    return ProbeArtifact(target=TARGET,
                         probes=[ProbeResult(kind="embedding_head", name="embedding_head", value=value, ci_low=lo,
                                             ci_high=hi, diff_ci_low=diff_ci_low, train_examples=train_examples)],
                         learning_curve=LearningCurve(labels_needed=curve.value, labels_needed_band=curve))


def cost(net: float, labeling: float | None = None) -> CostArtifact:
    fine_tuning = PathTco(median=50000 - net, breakdown={"labeling": labeling} if labeling is not None else {})
    return CostArtifact(horizon_months=18, n_draws=1000, p_finetune_cheaper=0.8 if net > 0 else 0.2,
                        expected_net_value_of_finetuning=NetValue(mean=net, p05=net - 1000, p95=net + 1000),
                        tco={"prompting": PathTco(median=50000), "fine_tuning": fine_tuning})


def eval_run(value: float, ci_low: float, ci_high: float, *, n: int = 200, started: str = "2026-01-01T00:00:00",
             directory: str = "eval-test") -> EvalRun:
    """A test-split prompt evaluation (``eval.json``) as the run directory holds it."""
    art = EvalArtifact(task="t", model="m", split="test", method="generate", prompt_source="default",
                       prompt_sha="abc", metric="accuracy", value=value, ci_low=ci_low, ci_high=ci_high,
                       confidence=0.95, ci_method="wilson", n=n, n_total=n, n_unscored=0, n_errors=0,
                       run={"started": started})
    return EvalRun(Path("run") / directory / "eval.json", art)


GOOD = dict(evalcheck=evalcheck("pass"), audit=audit("pass"), sprint=sprint(0.80), probe=probe(0.93, 0.05),
            cost=cost(20000.0), target=TARGET)


def test_rule_6_fine_tune_when_everything_holds():
    v = decide(**GOOD)
    assert v.verdict == "FINE_TUNE" and v.confidence == "high"
    assert all(c.status == "held" for c in v.conditions.values())
    assert set(v.conditions) >= {"criterion", "data", "prompting_gap", "economics"}
    assert v.next_actions


def test_rule_1_fix_eval_first_beats_everything():
    v = decide(**{**GOOD, "evalcheck": evalcheck("fail"), "audit": audit("fail"), "sprint": sprint(0.95)})
    assert v.verdict == "FIX_EVAL_FIRST" and v.rule.startswith("1")
    assert any("evaluation suite" in a for a in v.next_actions)


def test_rule_2_ship_prompt_when_best_prompt_meets_target():
    v = decide(**{**GOOD, "sprint": sprint(0.93), "audit": audit("fail"), "cost": cost(-5000.0)})
    assert v.verdict == "SHIP_PROMPT" and v.conditions["prompting_gap"].status == "not_held"
    assert v.confidence == "high"


def test_rule_3_improve_data_first():
    v = decide(**{**GOOD, "audit": audit("fail")})
    assert v.verdict == "IMPROVE_DATA_FIRST"


def test_rule_4_probe_does_not_close_gap():
    v = decide(**{**GOOD, "probe": probe(0.80, diff_ci_low=-0.03)})
    assert v.verdict == "KEEP_PROMPTING" and v.rule.startswith("4")


def test_rule_5_negative_economics():
    v = decide(**{**GOOD, "cost": cost(-20000.0)})
    assert v.verdict == "KEEP_PROMPTING" and v.rule.startswith("5")


def test_rule_7_default_to_prompting_with_unknowns_listed():
    v = decide(target=TARGET)
    assert v.verdict == "KEEP_PROMPTING" and v.rule.startswith("7") and v.confidence == "low"
    assert all(c.status == "unknown" and c.source == "missing" for c in v.conditions.values())
    assert len(v.next_actions) == 5


def test_gap_is_unknown_when_ci_reaches_target_or_no_sprint():
    v = decide(**{**GOOD, "sprint": sprint(0.88, ci_half=0.04)})
    assert v.conditions["prompting_gap"].status == "unknown" and v.verdict == "KEEP_PROMPTING"
    v = decide(**{**GOOD, "sprint": None, "evals": [eval_run(0.7, 0.65, 0.75)]})
    gap = v.conditions["prompting_gap"]
    assert gap.status == "unknown" and "no prompt sprint" in gap.summary
    assert gap.evidence["best_prompt"] == "m (generate)" and gap.evidence["after_sprint"] is False
    v = decide(**{**GOOD, "target": None, "sprint": sprint(0.8, target=None)})
    assert v.conditions["prompting_gap"].status == "unknown"


def test_declared_evidence_is_marked_and_lowers_confidence():
    declared = {"criterion": {"auc": 0.92, "note": "reviewed by the team"}, "data": {"alpha": 0.82},
                "prompting": {"best_value": 0.81, "ci_low": 0.77, "ci_high": 0.85, "n": 300, "after_sprint": True},
                "finetune": {"value": 0.93, "ci_low": 0.91, "ci_high": 0.95}}
    v = decide(declared=declared, cost=cost(10000.0), target=TARGET)
    assert v.verdict == "FINE_TUNE"
    assert {c.source for k, c in v.conditions.items() if k != "economics"} == {"declared"}
    assert v.confidence == "medium"
    v = decide(declared={**declared, "data": {"alpha": 0.5}}, cost=cost(10000.0), target=TARGET)
    assert v.verdict == "IMPROVE_DATA_FIRST"


STATES = {
    "criterion": {"held": evalcheck("pass"), "not_held": evalcheck("fail"), "unknown": None},
    "data": {"held": audit("pass"), "not_held": audit("fail"), "unknown": None},
    "gap": {"held": sprint(0.80), "not_held": sprint(0.93), "unknown": None},
    "probe": {"held": probe(0.93, 0.05), "not_held": probe(0.80, -0.03), "unknown": None},
    "economics": {"held": cost(20000.0), "not_held": cost(-20000.0), "unknown": None},
}


@pytest.mark.parametrize("combo", list(itertools.product(("held", "not_held", "unknown"), repeat=5)))
def test_every_combination_follows_the_rule_order(combo):
    crit, data, gap, prb, eco = combo
    v = decide(evalcheck=STATES["criterion"][crit], audit=STATES["data"][data], sprint=STATES["gap"][gap],
               probe=STATES["probe"][prb], cost=STATES["economics"][eco], target=TARGET)
    got = {k: c.status for k, c in v.conditions.items()}
    # label quantity is part of the data condition: without a probe (no learning curve) it is unknown
    data = "unknown" if data == "held" and prb == "unknown" else data
    combo = (crit, data, gap, prb, eco)
    assert got == {"criterion": crit, "data": data, "prompting_gap": gap, "finetune_probe": prb, "economics": eco}
    if crit == "not_held":
        expected = "FIX_EVAL_FIRST"
    elif gap == "not_held":
        expected = "SHIP_PROMPT"
    elif data == "not_held" and gap == "held":
        expected = "IMPROVE_DATA_FIRST"
    elif "unknown" not in combo and "not_held" not in combo:
        expected = "FINE_TUNE"
    else:
        expected = "KEEP_PROMPTING"
    assert v.verdict == expected and v.verdict in VERDICTS
    assert v.confidence in ("low", "medium", "high")


def test_a_failing_criterion_gate_passes_on_its_own_fixes():
    ec = evalcheck("fail", next_actions=("set strict: true on eval.scorers.0 (label_match)",))
    v = decide(**{**GOOD, "evalcheck": ec})
    assert v.verdict == "FIX_EVAL_FIRST" and "set strict: true on eval.scorers.0 (label_match)" in v.next_actions


def test_label_quantity_short_means_improve_data_first_with_the_number_and_the_cost():
    below = probe(0.864, curve=band(2900, 2300, 3900), ci=(0.84, 0.885), train_examples=1280)
    v = decide(**{**GOOD, "probe": below, "cost": cost(20000.0, labeling=3240.0)})
    data = v.conditions["data"]
    assert v.verdict == "IMPROVE_DATA_FIRST" and data.status == "not_held"
    q = data.evidence["label_quantity"]
    assert q["labels_on_hand"] == 1280 and q["more_labels"] == 1620 and q["more_labels_band"] == "1,020–2,620"
    assert any("Label about 1,620 more" in a and "3,240" in a for a in v.next_actions)
    # the whole band within the labels on hand, and the probe not shown to fall short: enough
    enough = probe(0.885, curve=band(900, 700, 1200), ci=(0.86, 0.91), train_examples=1280)
    v = decide(**{**GOOD, "probe": enough})
    assert v.conditions["data"].status == "held"
    assert v.conditions["finetune_probe"].status == "held"
    assert v.conditions["finetune_probe"].certainty == "marginal" and v.confidence == "medium"
    # ... but a curve that contradicts a probe clearly below the target on all those labels is not trusted
    v = decide(**{**GOOD, "probe": below.model_copy(update={"learning_curve": enough.learning_curve})})
    assert v.conditions["data"].status == "unknown" and v.verdict == "KEEP_PROMPTING"
    assert v.conditions["finetune_probe"].status == "not_held"
    # the curve says more labels of this kind never reach the target: not a quantity problem, the probe fails
    never = probe(0.864, curve=band(None, status="unreachable"), ci=(0.84, 0.885), train_examples=1280)
    v = decide(**{**GOOD, "probe": never})
    assert v.verdict == "KEEP_PROMPTING" and v.rule.startswith("4")


def test_declared_evidence_goes_through_the_same_thresholds():
    from tunegate.verdict import Thresholds

    declared = {"criterion": {"auc": 0.85}, "data": {"alpha": 0.70},
                "prompting": {"best_value": 0.85, "n": 40, "after_sprint": True}, "finetune": {"value": 0.90}}
    v = decide(declared=declared, cost=cost(10000.0), target=TARGET)
    assert v.conditions["criterion"].status == "not_held"  # 0.85 < check_eval.min_auc 0.9
    assert v.verdict == "FIX_EVAL_FIRST"
    v = decide(declared={**declared, "criterion": {"auc": 0.95}}, cost=cost(10000.0), target=TARGET)
    gap = v.conditions["prompting_gap"]
    assert gap.status == "unknown" and gap.evidence["ci_high"] > 0.9  # Wilson from n = 40 reaches 0.93
    assert v.conditions["finetune_probe"].status == "unknown"  # no interval, no n
    assert v.verdict not in ("FINE_TUNE",) and gap.status != "held"
    v = decide(declared={**declared, "criterion": {"auc": 0.85}}, cost=cost(10000.0), target=TARGET,
               thresholds=Thresholds(min_auc=0.8))
    assert v.conditions["criterion"].status == "held"  # the spec's own threshold is the one applied
    v = decide(declared={**declared, "criterion": {"auc": 0.95}}, cost=cost(1.0), target=TARGET,
               thresholds=Thresholds(min_alpha=0.8))
    assert v.conditions["data"].status == "not_held"  # audit.min_alpha reaches declared alpha
    no_sprint = {**declared, "criterion": {"auc": 0.95}, "prompting": {"best_value": 0.6, "n": 400}}
    v = decide(declared=no_sprint, target=TARGET)
    assert v.conditions["prompting_gap"].status == "unknown"  # after_sprint not declared


def test_after_sprint_is_optional_in_the_spec_but_needed_for_a_gap():
    from tunegate.spec import parse_spec

    spec = parse_spec("task: {name: t, kind: classification, labels: [a, b]}\neval: {target: 0.9}\n"
                      "evidence:\n  criterion: {passes: true}\n  prompting: {best_value: 0.97, n: 400}\n")
    declared = spec.evidence.model_dump(exclude_none=True)
    v = decide(declared=declared, target=0.9)
    assert v.verdict == "SHIP_PROMPT"  # meeting the target needs no sprint
    declared["prompting"]["best_value"] = 0.6
    v = decide(declared=declared, target=0.9)
    assert v.conditions["prompting_gap"].status == "unknown" and "after_sprint" in \
        v.conditions["prompting_gap"].summary


def test_a_negative_economics_verdict_with_unknown_conditions_is_not_high():
    v = decide(evalcheck=evalcheck("pass"), sprint=sprint(0.0, ci_half=0.0), cost=cost(-20000.0), target=TARGET)
    assert v.verdict == "KEEP_PROMPTING" and v.rule.startswith("5")
    assert v.confidence == "medium"  # data and probe unknown: the quality gain was assumed, not measured
    full = decide(**{**GOOD, "cost": cost(-20000.0)})
    assert full.rule.startswith("5") and full.confidence == "high"


def test_without_a_sprint_the_best_prompt_is_the_earliest_test_eval_never_a_probe_run_or_the_max():
    evals = [eval_run(0.95, 0.93, 0.97, started="2026-01-03T00:00:00", directory="eval-late"),
             eval_run(0.99, 0.98, 1.0, started="2026-01-01T00:00:00", directory="probe-lora"),
             eval_run(0.99, 0.98, 1.0, started="2026-01-01T00:00:00", directory="sprint-best"),
             eval_run(0.70, 0.65, 0.75, started="2026-01-02T00:00:00", directory="eval-first")]
    gap = decide(**{**GOOD, "sprint": None, "evals": evals}).conditions["prompting_gap"]
    assert gap.evidence["value"] == 0.70 and gap.evidence["after_sprint"] is False
    assert gap.evidence["other_test_evals_not_used"] == [str(Path("run/eval-late/eval.json"))]


def test_the_verdict_is_its_artifact_model_and_saves_as_verdict_json(tmp_path):
    from tunegate.artifact_models import VerdictArtifact

    v = decide(**GOOD)
    assert isinstance(v, VerdictArtifact)
    back = VerdictArtifact.load(v.save(tmp_path))
    assert back.verdict == "FINE_TUNE" and back.conditions["economics"].evidence["horizon_months"] == 18
    assert back.conditions["data"].evidence["label_quantity"]["labels_on_hand"] == 1000
