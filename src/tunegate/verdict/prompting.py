"""The prompt and the fine-tune against the target: "the best prompt", the prompting gap and the probe condition.

Both are decided from intervals, never from point estimates: a prompt meets the target when its 95% interval
clears it (a point above the target with an interval below it is a *marginal* pass, and the next action names the
test items that would settle it); a fine-tune closes the gap only when it *reaches the target* with its interval
— beating the prompt while staying below the target is reported as such, not as closing the gap. With several
probes the best one's bound is Bonferroni-widened, so trying more probes does not make passing easier.

"The best prompt" has one definition: the sprint's selection (chosen on dev, measured on test), or — without a
sprint — one pre-declared evaluation (the earliest test-split run), never the maximum over test evaluations,
which would pick the luckiest of several noisy estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from tunegate.artifact_models import EvalRun, ProbeArtifact, SprintArtifact
from tunegate.artifact_models.probe import Comparison, LabelsNeeded, ProbeResult
from tunegate.evals.significance import lower_bound_for_family, more_items_to_settle, upper_bound_for_family
from tunegate.evals.stats import wilson_ci
from tunegate.verdict.conditions import (
    DECLARED,
    HELD,
    MARGINAL,
    MEASURED,
    MISSING,
    NOT_HELD,
    UNKNOWN,
    Condition,
)

_EXCLUDED_DIRS = ("probe-", "sprint-best")


@dataclass(frozen=True)
class Estimate:
    """A prompt's or a fine-tune's test result as the rules read it, measured or declared alike: value, 95%
    interval, items; a probe's paired comparison with the best prompt; where "the best prompt" was chosen."""

    name: str | None
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    ci_method: str | None = None
    model: str | None = None
    comparison: Comparison | None = None
    selected_on: str | None = None
    other_test_evals_not_used: tuple[str, ...] = ()

    def with_interval(self) -> Estimate:
        """Its own 95% interval, else Wilson from its ``n`` (a proportion-type metric), else none."""
        v, n = self.value, self.n
        if v is None or (self.ci_low is not None and self.ci_high is not None) or not n:
            return self
        iv = wilson_ci(round(float(v) * int(n)), int(n))
        return replace(self, ci_low=round(iv.low, 6), ci_high=round(iv.high, 6), ci_method="wilson (from n)")


def declared_estimate(name: str, declared: dict[str, Any], value_key: str = "value") -> Estimate:
    """Declared evidence (``spec.evidence.prompting`` / ``finetune``) as an estimate, its interval Wilson from
    ``n`` when only ``n`` was declared."""
    return Estimate(name, declared[value_key], declared.get("ci_low"), declared.get("ci_high"),
                    declared.get("n")).with_interval()


def probe_estimate(p: ProbeResult) -> Estimate:
    return Estimate(p.name, p.value, p.ci_low, p.ci_high, p.n, comparison=p.comparison)


def is_prompt_eval(run: EvalRun) -> bool:
    """A test-split prompt evaluation: not a probe's run, not the sprint's copy of its best (the probe stage picks
    "the best prompt"'s per-item results by this same rule)."""
    a = run.artifact
    return a.split == "test" and a.value is not None and not run.path.parent.name.startswith(_EXCLUDED_DIRS)


def best_prompt(sprint: SprintArtifact | None, evals: list[EvalRun], declared: dict | None
                ) -> tuple[Estimate | None, str, bool | None]:
    """(the best prompt, source, after_a_sprint) — see the module docstring for the one definition."""
    if sprint is not None:
        cand, best = sprint.best_candidate(), sprint.best
        if cand is not None:
            est = Estimate(cand.name, cand.value, cand.ci_low, cand.ci_high, cand.n, model=cand.model)
        else:  # the best's own numbers when its full record is not among the candidates
            est = Estimate(best.candidate, best.value, best.ci_low, best.ci_high, best.n)
        return replace(est, selected_on="dev (sprint)"), MEASURED, True
    tests = sorted((e for e in evals if is_prompt_eval(e)),
                   key=lambda e: (e.artifact.run.started or "", str(e.path)))
    if tests:
        a = tests[0].artifact
        return Estimate(f"{a.model} ({a.method})", a.value, a.ci_low, a.ci_high, a.n, model=a.model,
                        selected_on="the first test-split evaluation (pre-declared; never the best of several)",
                        other_test_evals_not_used=tuple(str(t.path) for t in tests[1:])), MEASURED, False
    if declared and declared.get("best_value") is not None:
        return declared_estimate("declared best prompt", declared, "best_value"), DECLARED, declared.get(
            "after_sprint")
    return None, MISSING, None


def gap_condition(best: Estimate | None, source: str, after_sprint: bool | None, target: float | None
                  ) -> Condition:
    """``held`` = a gap remains that prompting could not close: after a sprint, the best prompt's interval lies
    wholly below the target. ``not_held`` = the prompt meets the target: its interval clears it. A point at or
    above the target with an interval reaching below it is ``unknown`` (the verdict says so and names the test
    items that would settle it): a point estimate alone never ships a prompt."""
    if best is None:
        return Condition(summary="no prompt has been evaluated on the test split (tunegate sprint / eval)")
    v, lo, hi, n = best.value, best.ci_low, best.ci_high, best.n
    ev = {"best_prompt": best.name, "value": v, "ci_low": lo, "ci_high": hi, "target": target, "n": n,
          "after_sprint": after_sprint, "selected_on": best.selected_on}
    if best.other_test_evals_not_used:
        ev["other_test_evals_not_used"] = list(best.other_test_evals_not_used)
    if target is None:
        return Condition(UNKNOWN, source, "no target set (eval.target): a gap cannot be measured", ev)
    if lo is None or hi is None:
        return Condition(UNKNOWN, source, f"the best prompt reaches {v:.3f} but with no interval and no item count: "
                         "declare ci_low/ci_high or n so the gap can be tested", ev)
    more = more_items_to_settle(v, lo, hi, n, target)
    if more:  # only where the interval straddles the target (0 = already settled: not worth a row)
        ev["more_test_items_to_settle"] = more
    settle = (f"; about {more:,} more test items would settle it" if more else
              "; the estimate sits on the target, so more items will not settle it" if more is None and n else "")
    if lo >= target:
        return Condition(NOT_HELD, source, f"the best prompt meets the target: {v:.3f} (95% CI {lo:.3f}–{hi:.3f}) "
                         f"against {target:g}", ev)
    if v >= target:
        ev["point_meets_target"] = True
        return Condition(UNKNOWN, source, f"the best prompt reaches {v:.3f} against a target of {target:g}, but its "
                         f"95% CI reaches down to {lo:.3f}: it may meet the target, but that is not yet shown"
                         f"{settle}", ev)
    if hi >= target:
        return Condition(UNKNOWN, source, f"the best prompt is at {v:.3f}, below the target {target:g}, but its 95% "
                         f"CI reaches {hi:.3f}: not yet shown to fall short{settle}", ev)
    if after_sprint is None:
        return Condition(UNKNOWN, source, f"the declared prompt reaches {v:.3f} (CI up to {hi:.3f}) against "
                         f"{target:g}, but whether it came after a prompt sprint is not declared "
                         "(evidence.prompting.after_sprint)", ev)
    if not after_sprint:
        return Condition(UNKNOWN, source, f"one prompt reaches {v:.3f} (CI up to {hi:.3f}) against {target:g}, but "
                         "no prompt sprint has been run: a single prompt's gap does not show that prompting cannot "
                         "close it", ev)
    return Condition(HELD, source, f"after the sprint the best prompt reaches {v:.3f} (95% CI up to {hi:.3f}), "
                     f"below the target {target:g}", ev)


def fine_tune_entries(probe: ProbeArtifact | None, declared: dict | None) -> tuple[list[Estimate], str]:
    """The probes with a value (measured), else the declared fine-tune, else none (missing)."""
    if probe is not None and probe.probes:
        return [probe_estimate(p) for p in probe.probes if p.value is not None], MEASURED
    if declared and declared.get("value") is not None:
        return [declared_estimate("declared fine-tune", declared)], DECLARED
    return [], MISSING


def probe_reaches_target(probe: ProbeArtifact | None, declared: dict | None, target: float | None) -> bool:
    """Whether some probe's (family-widened) lower bound clears the target — used for label quantity too."""
    entries, _ = fine_tune_entries(probe, declared)
    if target is None:
        return False
    k = len(entries)
    return any(e.ci_low is not None and lower_bound_for_family(e.value, e.ci_low, k) >= target for e in entries)


def _all_below(entries: list[Estimate], target: float) -> bool:
    k = len(entries)
    return all(e.ci_high is not None and upper_bound_for_family(e.value, e.ci_high, k) < target for e in entries)


def probe_below_target(probe: ProbeArtifact | None, declared: dict | None, target: float | None) -> bool:
    """Whether every probe's (family-widened) upper bound lies below the target."""
    entries, _ = fine_tune_entries(probe, declared)
    if target is None or not entries:
        return False
    return _all_below(entries, target)


def labels_needed(probe: ProbeArtifact | None) -> LabelsNeeded:
    """The learning curve's labels needed for the target (empty = no curve)."""
    lc = probe.learning_curve if probe is not None else None
    return (lc.needed() if lc is not None else None) or LabelsNeeded()


def probe_condition(probe: ProbeArtifact | None, declared: dict | None, best: Estimate | None,
                    target: float | None, labels_on_hand: int | None = None) -> Condition:
    """``held`` = fine-tuning closes the gap: a probe reaches the target with its interval (Bonferroni across
    probes), or — when no probe is clearly below the target — the learning curve's whole band for the target lies
    within the labels on hand (``marginal``). ``not_held`` = every probe's interval lies below the target, whatever
    the curve says (a curve that contradicts the measured probe is not trusted; whether *more* labels would help
    is the data condition's label-quantity question)."""
    entries, source = fine_tune_entries(probe, declared)
    if not entries:
        return Condition(summary="no fine-tune probe (tunegate probe) and nothing declared")
    k = len(entries)
    top = max(entries, key=lambda p: p.value or -math.inf)
    v, lo, hi = top.value, top.ci_low, top.ci_high
    curve = labels_needed(probe)
    ev: dict[str, Any] = {"probe": top.name, "value": v, "ci_low": lo, "ci_high": hi, "target": target,
                          "n": top.n, "probes_compared": k,
                          "labels_needed": curve.value, "labels_needed_low": curve.low,
                          "labels_needed_high": curve.high}
    cmp, p = top.comparison, None
    if cmp is not None:
        test = cmp.test
        p = test.pvalue if test is not None and test.pvalue is not None else cmp.mcnemar_p
        ev.update(diff_vs_prompt=cmp.diff, diff_ci_low=cmp.diff_ci_low, diff_ci_high=cmp.diff_ci_high,
                  paired_test=(test.method if test is not None else None) or "mcnemar_exact",
                  paired_pvalue=p, primary_scorer=cmp.primary_scorer)
    diff = cmp.diff if cmp is not None else None
    vs_prompt = ""
    if p is not None and diff is not None:
        vs_prompt = (f"; it beats the best prompt by {diff:+.3f} (paired test p = {p:.3g})" if p <= 0.05 and
                     diff > 0 else f"; against the best prompt: {diff:+.3f} (paired test p = {p:.3g})")
    name = top.name
    if target is None:
        return Condition(UNKNOWN, source, f"{name} reaches {v:.3f}; no target set (eval.target){vs_prompt}", ev)
    if lo is None or hi is None:
        return Condition(UNKNOWN, source, f"{name} reaches {v:.3f} with no interval and no item count: declare "
                         f"ci_low/ci_high or n{vs_prompt}", ev)
    lo_k = lower_bound_for_family(v, lo, k)
    ev["lower_bound_for_family"] = round(lo_k, 6)
    fam = f" (bound widened for {k} probes)" if k > 1 else ""
    if lo_k >= target and p is not None and p <= 0.05 and diff is not None and diff < 0:
        ev["contradicts_paired_test"] = True  # same items, opposite answers: one of the two is mis-scored
        return Condition(UNKNOWN, source, f"{name} reaches {v:.3f} (lower bound {lo_k:.3f}{fam}) against {target:g}, "
                         f"yet on the same test items it is significantly worse than the best prompt{vs_prompt}: "
                         "the two results contradict each other; check that both are scored with the same metric "
                         "on the same items before trusting either", ev)
    if lo_k >= target:
        return Condition(HELD, source, f"{name} reaches the target: {v:.3f}, lower bound {lo_k:.3f}{fam} ≥ "
                         f"{target:g}{vs_prompt}", ev)
    every_below = _all_below(entries, target)
    more = more_items_to_settle(v, lo_k, hi, top.n, target)
    if more:
        ev["more_test_items_to_settle"] = more
    needed_hi = curve.high
    if not every_below and curve.status == "ok" and needed_hi is not None and labels_on_hand is not None \
            and needed_hi <= labels_on_hand:
        return Condition(HELD, source, f"{name} reaches {v:.3f}, not yet shown to reach the target {target:g} on "
                         f"this test set, but the learning curve puts the labels needed at most {needed_hi:,} (80% "
                         f"band), within the {labels_on_hand:,} on hand{vs_prompt}", ev,
                         MARGINAL if source == MEASURED else DECLARED)
    if every_below:
        extra = ""
        if curve.status == "ok" and curve.value is not None:
            extra = f"; the learning curve says about {curve.value:,} labels would reach it (see the data condition)"
        elif curve.status == "unreachable":
            extra = "; the learning curve does not reach the target with more labels of this kind"
        beats = " It beats the prompt but stays below the target, which does not close the gap." if (
            p is not None and p <= 0.05 and (diff or 0) > 0) else ""
        return Condition(NOT_HELD, source, f"{name} reaches {v:.3f} (95% CI up to {hi:.3f}), below the target "
                         f"{target:g}{vs_prompt}{extra}.{beats}".replace("..", "."), ev)
    settle = f"; about {more:,} more test items would settle it" if more else ""
    return Condition(UNKNOWN, source, f"{name} reaches {v:.3f} (95% CI {lo:.3f}–{hi:.3f}{fam}) against the "
                     f"target {target:g}: not shown to reach it, nor to fall short{settle}{vs_prompt}", ev)
