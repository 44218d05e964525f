"""What to change when a criterion-gate check fails: the scorer to use, the output to constrain, the key to set.

Why separate from the checks: a check measures; this module reads the measurements and the suite's make-up
(scorer types, their spec keys and options, the answer method) and names one concrete change per problem, so
the reasons, `next_actions` in evalcheck.json and the verdict's next actions all say the same thing (pure).
"""

from __future__ import annotations

from typing import Any

FORMAT_ONLY = ("regex", "json_valid")  # check the shape of an answer, not whether it is right
OVERLAP = ("rouge_l", "embedding_similarity")  # compare with the reference by overlap: blind to what is added
# known-bad outputs that are well-formed but wrong: only a scorer that checks correctness rejects them
WRONG_CONTENT = ("wrong_label", "near_miss", "other_item", "human_bad", "missing_field", "hallucinated_value",
                 "off_topic", "unsafe_promise", "wrong_language")
CORRECT_SCORER = {"classification": "label_match with strict: true",
                  "extraction": "json_fields (after json_valid)",
                  "generation": "normalized_match for short answers, or an llm_judge with a rubric"}


def _correct(kind: str) -> str:
    return CORRECT_SCORER.get(kind, CORRECT_SCORER["generation"])


def _make_primary(kind: str) -> str:
    """How to make the correctness scorer the one the metric comes from (evalcheck's and metrics' rule)."""
    if kind == "classification":
        return "add label_match with strict: true to eval.scorers (accuracy is read from label_match)"
    return f"put {_correct(kind)} first in eval.scorers, or name it in eval.metric"


def _type_fix(t: str, sc: dict[str, Any], kind: str, method: str) -> str:
    """The change that stops scorer ``sc`` ({name, type, key, options}) accepting negative type ``t``."""
    name, typ, key = sc["name"], sc["type"], sc["key"]
    where = f"{name} ({key})"
    if typ in FORMAT_ONLY and t in WRONG_CONTENT:
        return f"{where} checks the format, not correctness: {_make_primary(kind)} and keep {typ} beside it"
    if typ == "label_match" and t in ("copy_of_input", "truncation") and not sc["options"].get("strict"):
        alt = ("; or, if your answers come from label likelihood, set check_eval.answer_method: label_likelihood"
               if kind == "classification" and method == "generate" else "")
        return (f"{where} reads a label mentioned anywhere, so an answer that repeats the message counts: set "
                f"`strict: true` on {key} (the answer must be one label), or use normalized_match, or constrain "
                f"the output format (sprint strategy json_output){alt}")
    if t == "empty":
        return f"{where} accepts an empty answer: it does not read the answer; use {_correct(kind)}"
    if t == "broken_format":
        return (f"{where} accepts malformed output: add json_valid to eval.scorers and constrain the output "
                f"(sprint strategy json_output)" if kind == "extraction" else
                f"{where} accepts an answer that hedges over every label: use label_match with strict: true")
    if typ in OVERLAP and t in ("unsafe_promise", "wrong_language", "truncation", "copy_of_input"):
        return (f"{where} measures overlap with the reference, so {t.replace('_', ' ')} drafts that share its words "
                f"pass: make an llm_judge whose rubric forbids them the primary scorer (eval.metric: llm_judge) "
                f"and keep {typ} beside it, or raise {key}.threshold")
    if t in ("near_miss", "missing_field", "hallucinated_value") and typ == "json_fields":
        return (f"{where} gives partial credit, so an object with one wrong or missing field passes: set "
                f"check_eval.accept_threshold: 1.0 if only a fully correct object is acceptable, or add a scorer "
                f"that checks the critical field exactly")
    if typ == "llm_judge":
        return (f"{where} accepts {t} outputs: make the rubric ({key}.rubric) say what separates a right answer "
                f"from this one, set {key}.reference: true, or use a stronger judge model ({key}.model)")
    if t in ("wrong_label", "near_miss", "other_item"):
        return f"{where} does not compare the answer with the gold answer: use {_correct(kind)}"
    return f"{where} accepts {t} outputs: use {_correct(kind)}"


def known_bad_fixes(over_by_scorer: dict[str, list[str]], scorers: list[dict[str, Any]], kind: str,
                    method: str) -> list[str]:
    """One fix per (scorer, accepted type), deduplicated in order."""
    by_name = {s["name"]: s for s in scorers}
    out: list[str] = []
    for name, types in over_by_scorer.items():
        for t in types:
            f = _type_fix(t, by_name[name], kind, method)
            if f not in out:
                out.append(f)
    return out


def discrimination_fix(weak: list[str], scorers: list[dict[str, Any]], kind: str) -> str:
    by_name = {s["name"]: s for s in scorers}
    fmt = [n for n in weak if by_name[n]["type"] in FORMAT_ONLY]
    if fmt:
        return (f"{', '.join(fmt)} check(s) the format, not correctness: {_make_primary(kind)} and keep the "
                "format check beside it")
    return (f"the suite does not rank right answers above wrong ones: {_make_primary(kind)}; known_bad_rejected "
            "lists which wrong outputs get through")


def consistency_fix(bad: list[str], scorers: list[dict[str, Any]]) -> str:
    keys = [s["key"] for s in scorers if s["name"] in bad]
    where = ", ".join(keys) or "the judge"
    return (f"set temperature: 0.0 on {where}, prefer scale: pass_fail to 1-5, and make the rubric decide the outputs "
            "whose verdict flipped (consistency.<scorer>.flipped lists them)")


def human_fix(status: str, judged: str | None, scorers: list[dict[str, Any]], raters_disagree: bool,
              kind: str = "classification") -> str:
    if status == "unknown":
        return ("have two or more people rate 50+ outputs good/bad and give them as check_eval.human_ratings "
                "(item_id, rater, rating) and check_eval.rated_outputs (id, item_id, output)")
    if raters_disagree:
        return ("the raters disagree with each other: agree on the rubric with them (adjudicate the outputs they "
                "split on) before judging the judge")
    sc = next((s for s in scorers if s["name"] == judged), None)
    if sc is not None and sc["type"] != "llm_judge":
        return (f"{sc['name']} ({sc['key']}) disagrees with the raters about which outputs are good: use "
                f"{_correct(kind)}, or an llm_judge with a rubric the raters agree with")
    key = sc["key"] if sc else "the judge"
    return (f"rewrite {key}.rubric from the outputs where it and the raters disagree (human_agreement.per_scorer), "
            f"set {key}.reference: true, or use a stronger judge model ({key}.model)")


def power_fix(power: dict[str, Any]) -> str:
    need, n, gap = power.get("required_n"), power["n"], power["gap_that_matters"]
    parts = [f"add {power['split']} items ({need} are needed, {n} are there)" if need else
             f"add {power['split']} items"]
    if power.get("baseline_source", "").startswith("0.5"):
        alt = power.get("if_target") or {}
        parts.append("set eval.target (or check_eval.baseline_accuracy): the worst case 0.5 is assumed now"
                     + (f"; at a {alt['target']} target {alt['required_n']} items suffice" if alt else ""))
    parts.append(f"or raise check_eval.gap_that_matters above {gap} if a smaller difference would not change "
                 "your decision")
    return "; ".join(parts)
