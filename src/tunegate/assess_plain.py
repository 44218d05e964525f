"""`tunegate assess` in plain words: why the verdict came out as it did, and what to do next without an ML team.

The verdict engine speaks to people who run the pipeline (rule numbers, `tunegate probe`, audit.json). Someone who
answered the assess questions has none of that: they need the reason in their own numbers ("your best prompt gets
78% right, at most 82% on 300 test cases, short of the 90% target") and next steps they can act on (have a second
person label 100 examples) — never a pointer to an artifact that does not exist. This module rewrites both from the
verdict's conditions and evidence; the conditions themselves are untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.verdict.conditions import Thresholds

HEADLINES = {
    "FINE_TUNE": "Fine-tune.",
    "SHIP_PROMPT": "Ship the prompt you have.",
    "KEEP_PROMPTING": "Keep prompting for now.",
    "IMPROVE_DATA_FIRST": "Improve your labeled examples first.",
    "FIX_EVAL_FIRST": "Fix how quality is measured first.",
}


def _p(x: float | None) -> str:
    return "?" if x is None else f"{100 * x:.0f}%" if abs(100 * x - round(100 * x)) < 0.05 else f"{100 * x:.1f}%"


def _count(x: float) -> str:
    """12,000 / 1.4 million: how people say volumes."""
    return f"{x / 1e6:.1f} million" if x >= 1e6 else f"{x:,.0f}"


def _money(x: float, cur: str) -> str:
    sym = {"USD": "$", "EUR": "€", "GBP": "£"}.get(cur, "")
    return f"{'-' if x < 0 else ''}{sym}{abs(x):,.0f}" + ("" if sym else f" {cur}")


def _criterion(c: dict[str, Any], th: Thresholds) -> str:
    ev, st = c.get("evidence") or {}, c["status"]
    auc = ev.get("auc")
    rank = f" (it ranks a good output above a bad one {_p(auc)} of the time)" if auc is not None else ""
    if st == "held":
        return f"Quality can be measured: your check agrees with people who know the domain{rank}."
    if st == "not_held":
        if auc is not None and auc < th.min_auc:
            return (f"Quality cannot be measured reliably yet: your check ranks a good output above a bad one only "
                    f"{_p(auc)} of the time, and at least {_p(th.min_auc)} is needed before its numbers can be "
                    "trusted.")
        return "Quality cannot be measured reliably yet: you said your check does not agree with domain experts."
    return "Nobody has checked yet whether your quality check agrees with people who know the domain."


def _data(c: dict[str, Any], th: Thresholds) -> str:
    ev, st = c.get("evidence") or {}, c["status"]
    alpha, q = ev.get("alpha"), ev.get("label_quantity") or {}
    agree = f" (labeler agreement {alpha:g} on a scale where 0.8 or more is good)" if alpha is not None else ""
    if st == "held":
        return f"Your labeled examples look reliable{agree}."
    if st == "not_held":
        if alpha is not None and alpha < th.min_alpha:
            return (f"Your labels are not reliable enough: labelers agree only {alpha:g} beyond chance, and at least "
                    f"{th.min_alpha:g} is needed.")
        if q.get("status") == "not_held" and q.get("more_labels"):
            return f"You need about {q['more_labels']:,} more labeled examples to reach the target."
        return "You said labeler disagreements were not settled or the cases that matter are not covered."
    return "Whether your labeled examples are reliable is not known yet."


def _prompting(c: dict[str, Any]) -> str:
    ev, st = c.get("evidence") or {}, c["status"]
    v, lo, hi, n, target = (ev.get(k) for k in ("value", "ci_low", "ci_high", "n", "target"))
    on = f" on {n:,} test cases" if n else ""
    if target is None:
        return ("No target was given, so nobody can say whether prompting falls short; say what share of cases "
                "the product must get right.")
    if v is None:
        return "How far your best prompt gets is not known yet."
    if st == "held":
        return (f"Prompting falls short: your best prompt gets {_p(v)} right{on} (at most {_p(hi)} allowing for "
                f"chance), under the {_p(target)} target, even after a real effort to improve it.")
    if st == "not_held":
        return f"Prompting already does the job: {_p(v)} right{on} (at least {_p(lo)}) against the {_p(target)} target."
    if lo is None or hi is None:
        return (f"Your best prompt gets {_p(v)} right, but without the number of test cases nobody can tell how sure "
                "that is.")
    if hi >= target:
        more = ev.get("more_test_items_to_settle")
        tell = f"; about {more:,} more test cases would tell" if more else ""
        return (f"Your best prompt gets {_p(v)} right{on}, close to the {_p(target)} target: with that many test "
                f"cases it could be anywhere from {_p(lo)} to {_p(hi)}, so it is not yet clear which side it "
                f"falls{tell}.")
    if ev.get("after_sprint") is None:
        return (f"Your best prompt gets {_p(v)} right{on}, under the {_p(target)} target, but it is not known whether "
                "that was after a real effort to improve the prompt.")
    return (f"Your best prompt gets {_p(v)} right{on}, under the {_p(target)} target, but nobody has yet made a real "
            "effort to improve it, and such an effort often closes gaps like this.")


def _finetune(c: dict[str, Any]) -> str:
    ev, st = c.get("evidence") or {}, c["status"]
    v, lo, hi, target = (ev.get(k) for k in ("value", "ci_low", "ci_high", "target"))
    if v is None:
        return "Nobody has tried fine-tuning on your examples yet, so whether it would reach the target is unknown."
    if st == "held":
        return f"A fine-tune reached the target: {_p(v)} right (at least {_p(lo)}) against {_p(target)}."
    if st == "not_held":
        return f"A fine-tune did not reach the target: {_p(v)} right (at most {_p(hi)}) against {_p(target)}."
    if target is None:
        return f"A fine-tune got {_p(v)} right, but with no target it cannot be judged."
    return f"A fine-tune got {_p(v)} right, too close to the {_p(target)} target to be sure it reaches it."


def _economics(c: dict[str, Any], cur: str) -> str:
    ev, st = c.get("evidence") or {}, c["status"]
    env, months = ev.get("expected_net_value_mean"), ev.get("horizon_months", 18)
    if env is None:
        return "The costs could not be compared: give the monthly volume and the model's prices."
    be = ev.get("breakeven_monthly_volume")
    be_text = f"; it would break even at about {_count(be)} requests a month" if be else ""
    share = ev.get("p_net_value_positive")
    odds = f" (ahead in {_p(share)} of the simulated futures)" if share is not None else ""
    quality = "" if ev.get("quality_priced") else ", counting costs only (you did not put a value on quality)"
    if st == "held":
        return (f"Fine-tuning pays: over {months} months it is expected to come out {_money(env, cur)} ahead of "
                f"prompting{odds}{quality}.")
    if st == "not_held":
        return (f"Fine-tuning does not pay at your volume: over {months} months it is expected to cost "
                f"{_money(-env, cur)} more than prompting{quality}{be_text}.")
    return f"Whether fine-tuning pays is not clear: its expected value over {months} months is {_money(env, cur)}{odds}."


def explain(verdict: dict[str, Any], cost: dict[str, Any] | None = None,
            thresholds: Thresholds | None = None) -> dict[str, Any]:
    """{"headline", "why", "conditions": {key: sentence}, "next_actions": [...]} in plain words."""
    th = thresholds or Thresholds()
    cur = (cost or {}).get("currency", "USD")
    c = verdict["conditions"]
    words = {"criterion": _criterion(c["criterion"], th), "data": _data(c["data"], th),
             "prompting_gap": _prompting(c["prompting_gap"]), "finetune_probe": _finetune(c["finetune_probe"]),
             "economics": _economics(c["economics"], cur)}
    v = verdict["verdict"]
    rule = str(verdict.get("rule", "")).split(":")[0]
    deciding = {"1": ["criterion"], "2": ["prompting_gap"], "3": ["data"], "4": ["finetune_probe"],
                "5": ["economics"], "6": ["prompting_gap", "finetune_probe", "economics"]}.get(rule)
    if deciding is None:  # rule 7: prompting by default while something is unknown
        unknown = [k for k, x in c.items() if x["status"] == "unknown"]
        why = ("Prompting is faster, cheaper and easy to undo, so it stays the default until these are known: "
               + " ".join(words[k] for k in unknown))
    else:
        why = " ".join(words[k] for k in deciding)
    return {"headline": HEADLINES.get(v, v), "why": why, "conditions": words,
            "next_actions": next_actions(verdict, cost)}


def next_actions(verdict: dict[str, Any], cost: dict[str, Any] | None = None) -> list[str]:
    """Steps a product team without ML engineers can take, most decisive first."""
    v, c = verdict["verdict"], verdict["conditions"]
    st = {k: x["status"] for k, x in c.items()}
    out: list[str] = []
    if v == "FINE_TUNE":
        tax = (((cost or {}).get("tco") or {}).get("fine_tuning") or {}).get("breakdown", {}).get("evaluation_tax")
        budget = f" (about {_money(tax, (cost or {}).get('currency', 'USD'))} over the horizon)" if tax else ""
        out.append("Fine-tune: a vendor's fine-tuning service or a contractor can do it with your labeled examples. "
                   f"Budget for re-testing every new version{budget}, and keep checking quality after launch "
                   "(`tunegate monitor` on your logs).")
    if v == "SHIP_PROMPT":
        out.append("Ship the prompt, and re-run your test cases whenever the model provider updates the model.")
    if st["criterion"] != "held":
        out.append("Have two people who know the domain grade 50-100 real outputs as good or bad, and compare with "
                   "what your automatic check says; when it agrees with them (picks the good output over the bad "
                   "one at least 9 times in 10), quality numbers can be trusted.")
    if v != "SHIP_PROMPT" and st["data"] != "held":
        q = (c["data"].get("evidence") or {}).get("label_quantity") or {}
        if q.get("status") == "not_held" and q.get("more_labels"):
            out.append(f"Label about {q['more_labels']:,} more examples, then measure again.")
        else:
            out.append("Have a second person label 100 of your examples without seeing the first labels, count how "
                       "often they agree, and settle the disagreements together; add examples of the tricky cases "
                       "that matter most.")
    gap = c["prompting_gap"].get("evidence") or {}
    if st["prompting_gap"] == "unknown" and v != "SHIP_PROMPT":
        if gap.get("target") is None:
            out.append("Decide what share of cases the product must get right (the target), then answer again.")
        elif gap.get("more_test_items_to_settle"):
            out.append(f"Test the best prompt on about {gap['more_test_items_to_settle']:,} more cases: it is too "
                       "close to the target to tell yet.")
        elif gap.get("n") is None and gap.get("value") is not None:
            out.append("Count the test cases the prompt was measured on (100 or more helps), and answer again.")
        else:
            out.append("Spend a few days improving the prompt (add worked examples, ask for a fixed answer format, "
                       "ask the model to reason step by step) and measure it on at least 200 test cases.")
    if st["finetune_probe"] == "unknown" and v not in ("SHIP_PROMPT", "FIX_EVAL_FIRST"):
        out.append("Before committing, ask a vendor or contractor for a small trial fine-tune on your labeled "
                   "examples, measured on the same test cases as the prompt.")
    if st["finetune_probe"] == "not_held" and v == "KEEP_PROMPTING":
        out.append("The trial fine-tune did not reach the target: keep prompting, and revisit what the task asks "
                   "or which examples you have.")
    if st["economics"] == "not_held" and v == "KEEP_PROMPTING":
        be = (c["economics"].get("evidence") or {}).get("breakeven_monthly_volume")
        out.append("Keep prompting: at your volume the upkeep of a fine-tuned model costs more than it saves"
                   + (f". Ask again if traffic grows toward {_count(be)} requests a month." if be else "."))
    if st["economics"] == "unknown":
        out.append("Give your monthly volume and the model's prices so the costs can be compared.")
    return out


def run_assess(answers: dict[str, Any], out_file: str | Path, run_dir: str | Path
               ) -> tuple[Path, dict[str, Any] | None, dict[str, Any]]:
    """Answers -> spec file -> cost.json and verdict.json, the verdict carrying ``plain`` (headline, why, each
    condition in words) and plain next actions; the engine's own actions stay as ``next_actions_for_pipeline``.
    Without a monthly volume the cost model is not run (cost None): the economics stay unknown rather than priced
    at a placeholder volume."""
    from tunegate.artifact_models import VerdictArtifact
    from tunegate.assess import answers_to_spec, write_spec
    from tunegate.decision_stages import cost_stage, decide_stage
    from tunegate.spec import load_spec

    path = write_spec(answers_to_spec(answers), out_file)
    spec = load_spec(path)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    stale = Path(run_dir) / "cost.json"
    if answers.get("monthly_requests") is None:
        stale.unlink(missing_ok=True)  # an earlier answer's cost model must not decide this one
        cost = None
    else:
        cost = cost_stage(spec, run_dir)
    verdict = decide_stage(run_dir, spec)
    plain = explain(verdict, cost)
    verdict["next_actions_for_pipeline"] = verdict.get("next_actions", [])
    verdict["next_actions"] = plain.pop("next_actions")
    verdict["plain"] = plain
    VerdictArtifact.from_dict(verdict, source=Path(run_dir) / VerdictArtifact.FILENAME).save(run_dir)
    return path, cost, verdict
