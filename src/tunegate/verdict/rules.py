"""The seven ordered rules, what "confidence" means, and the next actions.

Rules, first match wins:

1. criterion not held                               -> FIX_EVAL_FIRST (no other number can be trusted yet)
2. the best prompt meets the target (no gap)        -> SHIP_PROMPT
3. a gap shown, data not held (quality or quantity) -> IMPROVE_DATA_FIRST (before a gap is shown: rule 7)
4. the fine-tune probe does not close the gap       -> KEEP_PROMPTING
5. the economics are negative                       -> KEEP_PROMPTING
6. criterion, data, gap, probe and economics held   -> FINE_TUNE
7. anything else (something unknown)                -> KEEP_PROMPTING, the default bias: prompting is faster,
                                                        cheaper and reversible; the unknowns become next actions

Confidence, written down (README "How to read a verdict" says the same):

- ``high``: every condition the rule rests on is *measured* and its interval clears its threshold (and, for
  rules 3-5, no condition at all is unknown);
- ``medium``: every such condition is known, but some rest on declared numbers, or one is marginal (the economics'
  Monte Carlo draws disagree on the sign; the learning curve, not the test set, shows the target reachable);
- ``low``: a condition the rule rests on is unknown, or two or more are marginal.
"""

from __future__ import annotations

from tunegate.artifact_models import CostArtifact
from tunegate.verdict.conditions import CLEAR, HELD, MARGINAL, MEASURED, NOT_HELD, UNKNOWN, Condition

# the conditions each rule rests on (rule 7 rests on all of them, and some are unknown)
DECIDING = {
    "1": ("criterion",),
    "2": ("criterion", "prompting_gap"),
    "3": ("criterion", "data", "prompting_gap"),
    "4": ("criterion", "finetune_probe"),
    "5": ("criterion", "economics"),
    "6": ("criterion", "data", "prompting_gap", "finetune_probe", "economics"),
    "7": ("criterion", "data", "prompting_gap", "finetune_probe", "economics"),
}


def apply_rules(c: dict[str, Condition]) -> tuple[str, str]:
    """(verdict, rule) from the five conditions; see the module docstring."""
    if c["criterion"].status == NOT_HELD:
        return "FIX_EVAL_FIRST", "1: the evaluation criterion does not hold"
    if c["prompting_gap"].status == NOT_HELD:
        return "SHIP_PROMPT", "2: the best prompt already meets the target"
    if c["data"].status == NOT_HELD and c["prompting_gap"].status == HELD:
        # IMPROVE_DATA_FIRST presupposes a gap a sprint could not close (DESIGN §3): before a sprint has shown one,
        # prompting comes first, and the data's own next actions are still listed
        return "IMPROVE_DATA_FIRST", "3: there is a gap, but the data (quality or label quantity) falls short"
    if c["finetune_probe"].status == NOT_HELD:
        return "KEEP_PROMPTING", "4: learning from the labels does not reach the target"
    if c["economics"].status == NOT_HELD:
        return "KEEP_PROMPTING", "5: the 18-month economics favour prompting"
    if all(x.status == HELD for x in c.values()):
        return "FINE_TUNE", "6: all three conditions hold, the probe reaches the target and the economics are positive"
    unknown = [k for k, x in c.items() if x.status == UNKNOWN]
    verb = "is" if len(unknown) == 1 else "are"
    if c["prompting_gap"].evidence.get("point_meets_target"):
        return "KEEP_PROMPTING", ("7: the best prompt's point estimate meets the target but its interval reaches "
                                  "below it: keep prompting, and settle it with more test items before shipping "
                                  "or fine-tuning")
    return "KEEP_PROMPTING", f"7: default to prompting while {', '.join(unknown)} {verb} unknown"


def confidence(c: dict[str, Condition], rule: str) -> str:
    """high / medium / low, as defined in the module docstring."""
    number = rule.split(":")[0]
    relevant = [c[k] for k in DECIDING[number]]
    if any(x.status == UNKNOWN for x in relevant):
        return "low"
    marginal = sum(x.certainty == MARGINAL for x in relevant)
    if marginal >= 2:
        return "low"
    # rules 3-5 answer "not yet / not worth it" while the framework's question is open; with a condition still
    # unknown (e.g. the economics priced a quality gain no probe has measured) they are not `high`
    open_question = number in ("3", "4", "5") and any(x.status == UNKNOWN for x in c.values())
    if all(x.source == MEASURED and x.certainty == CLEAR for x in relevant) and not open_question:
        return "high"
    return "medium"


_ACTIONS = {
    ("criterion", UNKNOWN): "Check the evaluation suite (tunegate check-eval), or declare its evidence under "
                            "evidence.criterion.",
    ("criterion", NOT_HELD): "Fix the evaluation suite first: write a rubric or scorer that separates known-good "
                             "from known-bad outputs and agrees with your experts; nothing else can be verified "
                             "until it does.",
    ("data", UNKNOWN): "Audit the labeled data with annotations from several annotators (data.annotations; "
                       "tunegate audit) and run the probe's learning curve for the labels needed, or declare the "
                       "evidence under evidence.data.",
    ("data", NOT_HELD): "Improve the data first: resolve the audit's failing checks (see audit.json), adjudicate "
                        "the queue, and cover the required slices.",
    ("prompting_gap", UNKNOWN): "Run a prompt-engineering sprint (few-shot, structured output, chain-of-thought, "
                                "self-consistency) against a capable model on enough test items to separate the "
                                "best prompt from the target (eval.target), or declare its result under "
                                "evidence.prompting (with n or a CI, and after_sprint).",
    ("finetune_probe", UNKNOWN): "Run the fine-tune probe (tunegate probe) on enough test items to tell whether "
                                 "learning from the labels reaches the target, and how many labels it would take.",
    ("finetune_probe", NOT_HELD): "Keep prompting: the probe shows learning from these labels does not reach the "
                                  "target; revisit the task definition or gather different data.",
    ("economics", UNKNOWN): "Fill in volumes and prices under costs: and run tunegate cost.",
    ("economics", NOT_HELD): "Keep prompting: over the horizon the evaluation tax and retraining outweigh what "
                             "fine-tuning saves; re-run the cost model if volume grows past the break-even.",
}


def _settle_action(cond: Condition, what: str) -> str | None:
    more = cond.evidence.get("more_test_items_to_settle")
    if not more:
        return None
    text = f"Evaluate {what} on about {more:,} more test items: its interval straddles the target."
    if cond.evidence.get("point_meets_target"):
        text += " If it still meets the target with its interval, ship the prompt (SHIP_PROMPT)."
    return text


def _labeling_action(data: Condition, cost: CostArtifact | None) -> str | None:
    q = data.evidence["label_quantity"]
    if q["status"] != NOT_HELD:
        return None
    price = ""
    fine_tuning = cost.path_tco("fine_tuning") if cost is not None else None
    labeling = fine_tuning.breakdown.get("labeling") if fine_tuning else None
    if labeling:
        price = f", costing about {labeling:,.0f} {cost.currency} (cost.json, labeling)".rstrip()
    return (f"Label about {q['more_labels']:,} more examples (band {q['more_labels_band']}){price}, then re-run the "
            "probe: the learning curve puts the target beyond the labels on hand.")


def next_actions(c: dict[str, Condition], verdict: str, cost: CostArtifact | None = None) -> list[str]:
    out = []
    if verdict == "SHIP_PROMPT":
        out.append("Ship the best prompt, and schedule its re-evaluation (tunegate monitor) so a base-model change "
                   "is caught.")
    if verdict == "FINE_TUNE":
        out.append("Fine-tune, budget the evaluation tax from cost.json, and register the model for monitoring.")
    labeling = _labeling_action(c["data"], cost)
    if labeling and verdict != "SHIP_PROMPT":
        out.append(labeling)
    for key, cond in c.items():
        if verdict == "SHIP_PROMPT" and key in ("finetune_probe", "economics", "data"):
            continue
        if key == "data" and labeling and cond.status == NOT_HELD and \
                cond.evidence["label_quantity"]["status"] == NOT_HELD and "gate fail" not in \
                cond.summary and "declared" not in cond.summary:
            continue  # only the label quantity falls short: the labeling action above says what to do
        if cond.status == UNKNOWN and verdict != "SHIP_PROMPT":
            settle = _settle_action(cond, "the best prompt" if key == "prompting_gap" else "the probe")
            if settle:
                out.append(settle)
                continue
        if key == "finetune_probe" and cond.evidence.get("contradicts_paired_test"):
            out.append("Check how the probe and the best prompt were scored: the probe reaches the target, yet the "
                       "paired test on the same items finds it worse than the prompt; re-run both on the same test "
                       "items with the task's primary scorer (tunegate probe), then decide.")
            continue
        if key == "criterion" and cond.status != HELD and cond.evidence.get("gate_fixes"):
            out.extend(cond.evidence["gate_fixes"])  # the criterion gate named what to change: say exactly that
            continue
        action = _ACTIONS.get((key, cond.status))
        if action:
            out.append(action)
    return out
