"""The criterion gate's rule: measured numbers in, checks with status and plain-language reasons out (pure).

A check is ``{name, status: pass|fail|unknown, value, ci_low, ci_high, threshold, detail, required, n_items?,
fix?}``; ``fix`` (set by evalcheck from evals.fixes) names the change that would make a failing check pass, and
the reasons end with it.
The gate fails when any required check fails, is unknown when none fails but a required check could not be
measured (e.g. an LLM judge with no human ratings to compare it to), and passes otherwise. Checks that do not
apply (consistency of deterministic scorers, human agreement when there is no judge and no ratings) are
reported as not required, so missing optional evidence never blocks the gate.
"""

from __future__ import annotations

import math
from typing import Any

from tunegate.config.check_eval import CheckEvalSpec


def check(name: str, status: str, value: Any = None, *, ci: tuple[Any, Any] = (None, None), threshold: Any = None,
          detail: str = "", required: bool = True, n_items: int | None = None) -> dict[str, Any]:
    d = {"name": name, "status": status, "value": value, "ci_low": ci[0], "ci_high": ci[1], "threshold": threshold,
         "detail": detail, "required": required}
    if n_items is not None:
        d["n_items"] = n_items
    return d


def _f(x: Any, nd: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def discrimination_checks(cfg: CheckEvalSpec, suite: dict, per_scorer: dict[str, dict], primary: str) -> list[dict]:
    """The suite's AUC, and the primary scorer's (the metric's source) on its own; other scorers that do not
    separate on their own (a format check in a suite, say) are named in the detail, not failed."""
    out = []
    auc = suite["auc"]
    ci = (suite["auc_ci_low"], suite["auc_ci_high"])
    st = "unknown" if auc is None else ("pass" if auc >= cfg.min_auc else "fail")
    out.append(check("discrimination", st, auc, ci=ci, threshold=cfg.min_auc,
                     detail=f"ROC AUC of the suite ({', '.join(per_scorer)}), known-good vs known-bad outputs "
                     f"({suite['n_good']} good, "
                     f"{suite['n_bad']} bad; 95% CI {_f(ci[0])}–{_f(ci[1])})"))
    weak = {k: t["auc"] for k, t in per_scorer.items() if t["auc"] is not None and t["auc"] < cfg.min_auc}
    p_auc = per_scorer.get(primary, {}).get("auc")
    st = "unknown" if p_auc is None else ("fail" if primary in weak else "pass")
    detail = (f"primary scorer {primary} (the one the metric comes from): AUC {_f(p_auc)} "
              f"(95% CI {_f(per_scorer[primary]['auc_ci_low'])}–{_f(per_scorer[primary]['auc_ci_high'])})")
    others = {k: v for k, v in weak.items() if k != primary}
    if others:
        detail += "; on their own, also below the threshold: " + ", ".join(f"{k} (AUC {_f(v)})"
                                                                         for k, v in others.items())
    out.append(check("scorer_discrimination", st, p_auc, ci=(per_scorer[primary]["auc_ci_low"],
                                                              per_scorer[primary]["auc_ci_high"]),
                     threshold=cfg.min_auc, detail=detail, n_items=len(weak)))
    return out


def negatives_check(cfg: CheckEvalSpec, suite: dict, broken_by_scorer: dict[str, list[str]]) -> dict:
    rates = {t: v["rate"] for t, v in suite["by_type"].items() if t not in ("gold", "human_good")}
    over = {t: r for t, r in rates.items() if r is not None and r > cfg.max_accept_rate}
    worst = max(rates.values(), default=None)
    n_acc = sum(v["accepted"] for t, v in suite["by_type"].items() if t not in ("gold", "human_good"))
    parts = []
    if over:
        parts.append("the suite accepts " + ", ".join(f"{t} ({_f(r, 2)})" for t, r in sorted(over.items())))
    named = {k: v for k, v in broken_by_scorer.items() if v}
    if named:
        parts.append("; ".join(f"scorer {k} accepts broken output ({', '.join(v)})" for k, v in named.items()))
    st = "unknown" if worst is None else ("fail" if over else "pass")
    return check("known_bad_rejected", st, worst, threshold=cfg.max_accept_rate,
                 detail="; ".join(parts) or "no known-bad type is accepted more often than the threshold",
                 n_items=n_acc)


def consistency_check(cfg: CheckEvalSpec, per_scorer: dict[str, dict]) -> dict:
    if not per_scorer:
        return check("consistency", "pass", None, threshold=cfg.max_flip_rate, required=False,
                     detail="all scorers are deterministic (same output, same score): nothing to re-run")
    bad, unknown = [], []
    for k, c in per_scorer.items():
        if c["flip_rate"] is None:
            unknown.append(k)
            continue
        if c["flip_rate"] > cfg.max_flip_rate:
            bad.append(f"{k} flips {c['n_flipped']}/{c['n_compared']} verdicts across {c['repeats']} repeats")
        a = c["retest_alpha"]
        if a is not None and a < cfg.min_retest_alpha:
            bad.append(f"{k} test-retest alpha {_f(a)} < {cfg.min_retest_alpha}")
    worst_key = max(per_scorer, key=lambda k: per_scorer[k]["flip_rate"] or 0.0)
    w = per_scorer[worst_key]
    st = "fail" if bad else ("unknown" if unknown else "pass")
    detail = "; ".join(bad) if bad else (f"no parseable repeats for {', '.join(unknown)}" if unknown else
                                         f"flip rate {_f(w['flip_rate'])}, test-retest alpha {_f(w['retest_alpha'])}"
                                         f" ({w['repeats']} repeats)")
    return check("consistency", st, w["flip_rate"], ci=(w["flip_rate_ci_low"], w["flip_rate_ci_high"]),
                 threshold=cfg.max_flip_rate, detail=detail, n_items=sum(c["n_flipped"] for c in per_scorer.values()))


def human_check(cfg: CheckEvalSpec, agreement: dict | None, ceiling: dict | None, judged: str | None,
                has_judge: bool) -> dict:
    if agreement is None:
        if has_judge:
            return check("human_agreement", "unknown", None, threshold=cfg.min_judge_kappa,
                         detail="an LLM judge is in the suite but there are no human ratings of outputs "
                         "(check_eval.human_ratings + rated_outputs) to validate it against")
        return check("human_agreement", "unknown", None, threshold=cfg.min_judge_kappa, required=False,
                     detail="no human ratings of outputs; not required for deterministic scorers")
    k = agreement["kappa"]
    hh = (ceiling or {}).get("kappa")
    floor = cfg.min_judge_kappa if hh is None else max(cfg.min_judge_kappa, hh - cfg.max_kappa_shortfall)
    conf = agreement["confusion"]
    disagree = conf["scorer_accepts_human_bad"] + conf["scorer_rejects_human_good"]
    if k is None:
        st, detail = "unknown", f"{judged}: kappa with the raters is undefined (too few scored outputs or one class)"
    else:
        st = "pass" if k >= floor else "fail"
        detail = (f"{judged} vs each rater: mean Cohen kappa {_f(k)} (95% CI {_f(agreement['kappa_ci_low'])}–"
                  f"{_f(agreement['kappa_ci_high'])}); human-human {_f(hh)}; needs >= {_f(floor)}")
        if hh is not None and hh < cfg.min_judge_kappa:
            detail += f"; the raters themselves agree below {cfg.min_judge_kappa}: the rubric needs work"
    return check("human_agreement", st, k, ci=(agreement["kappa_ci_low"], agreement["kappa_ci_high"]),
                 threshold=round(floor, 4), detail=detail, n_items=disagree)


def power_check(cfg: CheckEvalSpec, power: dict) -> dict:
    mdd = power["minimal_detectable_difference"]
    st = "unknown" if mdd is None else ("pass" if mdd <= cfg.gap_that_matters else "fail")
    detail = (f"{power['n']} {power['split']} items detect a paired difference of {_f(mdd)} (alpha 0.05, power "
              f"0.8, baseline {power['baseline']}); {power['required_n']} items are needed for "
              f"{cfg.gap_that_matters}")
    return check("power", st, mdd, threshold=cfg.gap_that_matters, detail=detail)


def gate(checks: list[dict]) -> tuple[str, list[str]]:
    """Overall gate and the plain-language reasons behind it."""
    req = [c for c in checks if c.get("required", True)]
    failed = [c for c in req if c["status"] == "fail"]
    unknown = [c for c in req if c["status"] == "unknown"]
    def fix(c: dict) -> str:
        return f". Fix: {c['fix']}" if c.get("fix") else ""

    if failed:
        return "fail", [f"{c['name'].replace('_', ' ')} failed: {c['detail']}{fix(c)}" for c in failed] + [
            f"{c['name'].replace('_', ' ')} not measured: {c['detail']}{fix(c)}" for c in unknown]
    if unknown:
        return "unknown", [f"{c['name'].replace('_', ' ')} not measured: {c['detail']}{fix(c)}" for c in unknown]
    return "pass", ["the suite separates known-good from known-bad outputs, rejects every tested kind of known-bad "
                    "output, and the eval set is large enough for the gap that matters"]
