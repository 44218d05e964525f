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
from typing import Any

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


def _eval_started(e: dict) -> str:
    return str((e.get("run") or {}).get("started") or "")


def is_prompt_eval(e: dict) -> bool:
    """A test-split prompt evaluation: not a probe's run, not the sprint's copy of its best (the probe stage picks
    "the best prompt"'s per-item results by this same rule)."""
    from pathlib import Path

    parent = Path(e.get("_path") or "x/eval.json").parent.name
    return e.get("split") == "test" and e.get("value") is not None and not parent.startswith(_EXCLUDED_DIRS)


def with_interval(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's 95% interval: its own, else Wilson from its ``n`` (a proportion-type metric), else none."""
    v, lo, hi, n = entry.get("value"), entry.get("ci_low"), entry.get("ci_high"), entry.get("n")
    if v is None or (lo is not None and hi is not None):
        return entry
    if n:
        k = round(float(v) * int(n))
        iv = wilson_ci(k, int(n))
        return {**entry, "ci_low": round(iv.low, 6), "ci_high": round(iv.high, 6), "ci_method": "wilson (from n)"}
    return entry


def best_prompt(sprint: dict | None, evals: list[dict], declared: dict | None
                ) -> tuple[dict | None, str, bool | None]:
    """(the best prompt's numbers, source, after_a_sprint) — see the module docstring for the one definition."""
    if sprint and (sprint.get("best") or sprint.get("candidates")):
        best_obj = sprint.get("best")
        name = best_obj.get("candidate") if isinstance(best_obj, dict) else best_obj
        cand = next((c for c in sprint.get("candidates") or [] if c.get("name") == name), None)
        if cand is None and isinstance(best_obj, dict):
            cand = {"name": name, **{k: best_obj.get(k) for k in ("value", "ci_low", "ci_high", "n")}}
        if cand is None:  # a sprint with no named best has not selected anything
            return None, MISSING, None
        return {**cand, "selected_on": "dev (sprint)"}, MEASURED, True
    tests = sorted((e for e in evals if is_prompt_eval(e)), key=lambda e: (_eval_started(e), e.get("_path", "")))
    if tests:
        e = tests[0]
        out = {"name": f"{e.get('model')} ({e.get('method')})", "value": e["value"], "ci_low": e.get("ci_low"),
               "ci_high": e.get("ci_high"), "n": e.get("n"), "model": e.get("model"),
               "selected_on": "the first test-split evaluation (pre-declared; never the best of several)"}
        if len(tests) > 1:
            out["other_test_evals_not_used"] = [t.get("_path") for t in tests[1:]]
        return out, MEASURED, False
    if declared and declared.get("best_value") is not None:
        entry = with_interval({"name": "declared best prompt", "value": declared["best_value"],
                               "ci_low": declared.get("ci_low"), "ci_high": declared.get("ci_high"),
                               "n": declared.get("n")})
        return entry, DECLARED, declared.get("after_sprint")
    return None, MISSING, None


def gap_condition(best: dict | None, source: str, after_sprint: bool | None, target: float | None) -> Condition:
    """``held`` = a gap remains that prompting could not close: after a sprint, the best prompt's interval lies
    wholly below the target. ``not_held`` = the prompt meets the target: its interval clears it. A point at or
    above the target with an interval reaching below it is ``unknown`` (the verdict says so and names the test
    items that would settle it): a point estimate alone never ships a prompt."""
    if best is None:
        return Condition(summary="no prompt has been evaluated on the test split (tunegate sprint / eval)")
    v, lo, hi, n = best.get("value"), best.get("ci_low"), best.get("ci_high"), best.get("n")
    ev = {"best_prompt": best.get("name"), "value": v, "ci_low": lo, "ci_high": hi, "target": target, "n": n,
          "after_sprint": after_sprint, "selected_on": best.get("selected_on")}
    if best.get("other_test_evals_not_used"):
        ev["other_test_evals_not_used"] = best["other_test_evals_not_used"]
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


def _probe_entries(probe: dict | None, declared: dict | None) -> tuple[list[dict], str]:
    if probe and probe.get("probes"):
        return [p for p in probe["probes"] if p.get("value") is not None], MEASURED
    if declared and declared.get("value") is not None:
        return [with_interval({"name": "declared fine-tune", **declared})], DECLARED
    return [], MISSING


def probe_reaches_target(probe: dict | None, declared: dict | None, target: float | None) -> bool:
    """Whether some probe's (family-widened) lower bound clears the target — used for label quantity too."""
    entries, _ = _probe_entries(probe, declared)
    if target is None:
        return False
    k = len(entries)
    return any(e.get("ci_low") is not None and lower_bound_for_family(e["value"], e["ci_low"], k) >= target
               for e in entries)


def probe_below_target(probe: dict | None, declared: dict | None, target: float | None) -> bool:
    """Whether every probe's (family-widened) upper bound lies below the target."""
    entries, _ = _probe_entries(probe, declared)
    if target is None or not entries:
        return False
    k = len(entries)
    return all(e.get("ci_high") is not None and upper_bound_for_family(e["value"], e["ci_high"], k) < target
               for e in entries)


def _curve(probe: dict | None) -> dict:
    lc = (probe or {}).get("learning_curve") or {}
    band = lc.get("labels_needed_band")
    if isinstance(band, dict):
        return band
    ln = lc.get("labels_needed")
    return ln if isinstance(ln, dict) else ({"value": ln, "status": "ok"} if ln is not None else {})


def probe_condition(probe: dict | None, declared: dict | None, best: dict | None, target: float | None,
                    labels_on_hand: int | None = None) -> Condition:
    """``held`` = fine-tuning closes the gap: a probe reaches the target with its interval (Bonferroni across
    probes), or — when no probe is clearly below the target — the learning curve's whole band for the target lies
    within the labels on hand (``marginal``). ``not_held`` = every probe's interval lies below the target, whatever
    the curve says (a curve that contradicts the measured probe is not trusted; whether *more* labels would help
    is the data condition's label-quantity question)."""
    entries, source = _probe_entries(probe, declared)
    if not entries:
        return Condition(summary="no fine-tune probe (tunegate probe) and nothing declared")
    k = len(entries)
    top = max(entries, key=lambda p: p.get("value") or -math.inf)
    v, lo, hi = top.get("value"), top.get("ci_low"), top.get("ci_high")
    curve = _curve(probe)
    ev: dict[str, Any] = {"probe": top.get("name"), "value": v, "ci_low": lo, "ci_high": hi, "target": target,
                          "n": top.get("n"), "probes_compared": k,
                          "labels_needed": curve.get("value"), "labels_needed_low": curve.get("low"),
                          "labels_needed_high": curve.get("high")}
    cmp = top.get("comparison") or {}
    test = cmp.get("test") or {}
    if cmp:
        ev.update(diff_vs_prompt=cmp.get("diff"), diff_ci_low=cmp.get("diff_ci_low"),
                  diff_ci_high=cmp.get("diff_ci_high"), paired_test=test.get("method") or "mcnemar_exact",
                  paired_pvalue=test.get("pvalue", cmp.get("mcnemar_p")), primary_scorer=cmp.get("primary_scorer"))
    p = ev.get("paired_pvalue")
    vs_prompt = ""
    if p is not None and cmp.get("diff") is not None:
        vs_prompt = (f"; it beats the best prompt by {cmp['diff']:+.3f} (paired test p = {p:.3g})" if p <= 0.05 and
                     cmp["diff"] > 0 else f"; against the best prompt: {cmp['diff']:+.3f} (paired test p = {p:.3g})")
    name = top.get("name")
    if target is None:
        return Condition(UNKNOWN, source, f"{name} reaches {v:.3f}; no target set (eval.target){vs_prompt}", ev)
    if lo is None or hi is None:
        return Condition(UNKNOWN, source, f"{name} reaches {v:.3f} with no interval and no item count: declare "
                         f"ci_low/ci_high or n{vs_prompt}", ev)
    lo_k = lower_bound_for_family(v, lo, k)
    ev["lower_bound_for_family"] = round(lo_k, 6)
    fam = f" (bound widened for {k} probes)" if k > 1 else ""
    if lo_k >= target:
        return Condition(HELD, source, f"{name} reaches the target: {v:.3f}, lower bound {lo_k:.3f}{fam} ≥ "
                         f"{target:g}{vs_prompt}", ev)
    every_below = all(e.get("ci_high") is not None and upper_bound_for_family(e["value"], e["ci_high"], k) < target
                      for e in entries)
    more = more_items_to_settle(v, lo_k, hi, top.get("n"), target)
    if more:
        ev["more_test_items_to_settle"] = more
    needed_hi = curve.get("high")
    if not every_below and curve.get("status") == "ok" and needed_hi is not None and labels_on_hand is not None \
            and needed_hi <= labels_on_hand:
        return Condition(HELD, source, f"{name} reaches {v:.3f}, not yet shown to reach the target {target:g} on "
                         f"this test set, but the learning curve puts the labels needed at most {needed_hi:,} (80% "
                         f"band), within the {labels_on_hand:,} on hand{vs_prompt}", ev,
                         MARGINAL if source == MEASURED else DECLARED)
    if every_below:
        extra = ""
        if curve.get("status") == "ok" and curve.get("value") is not None:
            extra = f"; the learning curve says about {curve['value']:,} labels would reach it (see the data condition)"
        elif curve.get("status") == "unreachable":
            extra = "; the learning curve does not reach the target with more labels of this kind"
        beats = " It beats the prompt but stays below the target, which does not close the gap." if (
            p is not None and p <= 0.05 and (cmp.get("diff") or 0) > 0) else ""
        return Condition(NOT_HELD, source, f"{name} reaches {v:.3f} (95% CI up to {hi:.3f}), below the target "
                         f"{target:g}{vs_prompt}{extra}.{beats}".replace("..", "."), ev)
    settle = f"; about {more:,} more test items would settle it" if more else ""
    return Condition(UNKNOWN, source, f"{name} reaches {v:.3f} (95% CI {lo:.3f}–{hi:.3f}{fam}) against the "
                     f"target {target:g}: not shown to reach it, nor to fall short{settle}{vs_prompt}", ev)
