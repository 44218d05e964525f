"""`tunegate assess`: the framework's questions for a person without model access or annotations at hand.

A product lead often knows the answers (we measured alpha 0.82 in our labeling tool; the best prompt got 0.81 on
300 test items; we run 40k requests a month) but has no pipeline to run. The answers become a spec whose evidence
is *declared* — the verdict says so and lowers its confidence — plus the cost model's inputs, and the verdict and
18-month costs come out at once. The same questions are read from a file with ``--answers`` (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tunegate.errors import InputError


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    kind: str  # "str" | "float" | "int" | "yesno" | "choice"
    default: Any = None
    choices: tuple[str, ...] = ()
    section: str = ""


QUESTIONS: tuple[Question, ...] = (
    Question("task_name", "What is the feature called?", "str", "my-llm-feature", section="The task"),
    Question("task_kind", "What kind of task is it?", "choice", "classification",
             ("classification", "extraction", "generation")),
    Question("target", "Which metric value does the product need (0-1, e.g. 0.9)?", "float", None),
    Question("eval_reliable", "Does your evaluation suite consistently tell good outputs from bad ones, checked "
             "against people who know the domain? (yes/no/unknown)", "yesno", None, section="1. Success criterion"),
    Question("eval_auc", "If measured: how well does it separate known-good from known-bad outputs (ROC AUC 0-1)?",
             "float", None),
    Question("n_labeled", "How many labeled examples do you have?", "int", None, section="2. Labeled data"),
    Question("alpha", "If measured: annotator agreement (Krippendorff alpha, or kappa, -1 to 1)?", "float", None),
    Question("data_ok", "Were disagreements adjudicated and the edge cases that matter covered? (yes/no/unknown)",
             "yesno", None),
    Question("prompt_value", "The best prompt's metric on your test set (0-1)?", "float", None,
             section="3. Prompting gap"),
    Question("prompt_n", "On how many test items?", "int", None),
    Question("after_sprint", "Was that after a real prompt-engineering sprint (few-shot, structured output, "
             "chain-of-thought)? (yes/no)", "yesno", None),
    Question("finetune_value", "If you tried: what did a fine-tune (or a probe) reach on the same test set (0-1)?",
             "float", None),
    Question("monthly_requests", "Requests per month?", "float", 10000, section="Economics"),
    Question("monthly_growth", "Monthly growth of that volume (0.02 = 2%)?", "float", 0.02),
    Question("input_price", "Base model price per 1M input tokens?", "float", 0.15),
    Question("output_price", "Base model price per 1M output tokens?", "float", 0.60),
    Question("prompt_tokens", "Input tokens per request with your best prompt (instructions + examples + input)?",
             "float", 1500),
    Question("finetuned_tokens", "Input tokens per request for a fine-tuned model (shorter prompt)?", "float", 300),
    Question("existing_models", "How many fine-tuned models does your team already maintain?", "int", 0),
    Question("engineer_day", "Fully loaded engineer cost per day?", "float", 800),
    Question("value_per_point", "What is one metric point (0.01) worth per month, if you can say (0 = don't "
             "price quality)?", "float", 0),
)
_BY_KEY = {q.key: q for q in QUESTIONS}
_UNKNOWN = {"", "unknown", "?", "n/a", "na", "none", "-"}


def parse_answer(q: Question, raw: Any, *, where: str = "") -> Any:
    """Turn typed text (or a YAML value) into the question's type; blank/unknown gives the default."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in _UNKNOWN):
        return q.default
    try:
        if q.kind == "str":
            return str(raw).strip()
        if q.kind == "choice":
            v = str(raw).strip().lower()
            if v not in q.choices:
                raise ValueError(f"choose one of {', '.join(q.choices)}")
            return v
        if q.kind == "yesno":
            if isinstance(raw, bool):
                return raw
            v = str(raw).strip().lower()
            if v in ("y", "yes", "true", "1"):
                return True
            if v in ("n", "no", "false", "0"):
                return False
            raise ValueError("answer yes, no or unknown")
        if q.kind == "int":
            return int(float(raw))
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{exc}" if "answer" in str(exc) or "choose" in str(exc) else
                         f"expected a {q.kind}, got {raw!r}", file=where or None, field=q.key) from None


def load_answers(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise InputError("answers file not found", file=p)
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise InputError("the answers file must be a mapping of question keys to answers", file=p)
    unknown = sorted(set(raw) - set(_BY_KEY))
    if unknown:
        raise InputError(f"unknown question key(s): {', '.join(unknown)} (known: {', '.join(_BY_KEY)})", file=p)
    return {q.key: parse_answer(q, raw.get(q.key), where=str(p)) for q in QUESTIONS}


def ask(prompt: Callable[[Question], Any], echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Ask every question through ``prompt`` (the CLI passes typer.prompt), re-asking on a bad answer."""
    answers: dict[str, Any] = {}
    for q in QUESTIONS:
        if q.section:
            echo(f"\n{q.section}")
        while True:
            try:
                answers[q.key] = parse_answer(q, prompt(q))
                break
            except InputError as exc:
                echo(f"  {exc.message}")
    return answers


def answers_to_spec(a: dict[str, Any]) -> dict[str, Any]:
    """A tunegate spec (as a mapping) with declared evidence and cost inputs from the answers."""
    evidence: dict[str, Any] = {}
    crit = {k: v for k, v in (("passes", a.get("eval_reliable")), ("auc", a.get("eval_auc"))) if v is not None}
    if crit:
        evidence["criterion"] = {**crit, "note": "declared in tunegate assess"}
    data = {k: v for k, v in (("passes", a.get("data_ok")), ("alpha", a.get("alpha")),
                              ("n_labeled", a.get("n_labeled"))) if v is not None}
    if data:
        evidence["data"] = {**data, "note": "declared in tunegate assess"}
    if a.get("prompt_value") is not None:
        p = {"best_value": a["prompt_value"], "after_sprint": bool(a.get("after_sprint"))}
        if a.get("prompt_n"):
            from tunegate.evals.stats import wilson_ci

            n = int(a["prompt_n"])
            iv = wilson_ci(round(a["prompt_value"] * n), n)
            p.update(n=n, ci_low=round(iv.low, 4), ci_high=round(iv.high, 4))
        evidence["prompting"] = {**p, "note": "declared in tunegate assess (CI: Wilson, from n)"}
    if a.get("finetune_value") is not None:
        ft = {"value": a["finetune_value"]}
        if a.get("prompt_n"):  # measured on the same test set as the prompt: the verdict derives a Wilson interval
            ft["n"] = int(a["prompt_n"])
        evidence["finetune"] = {**ft, "note": "declared in tunegate assess"}
    gain = None
    if a.get("finetune_value") is not None and a.get("prompt_value") is not None:
        gain = round(max(0.0, a["finetune_value"] - a["prompt_value"]) * 100, 3)
    costs = {
        "monthly_requests": a["monthly_requests"],
        "monthly_growth": a["monthly_growth"],
        "prices": {"input_per_1m": a["input_price"], "output_per_1m": a["output_price"]},
        "tokens": {"prompt_input": a["prompt_tokens"], "finetuned_input": a["finetuned_tokens"]},
        "portfolio": {"existing_finetuned_models": a["existing_models"]},
        "rates": {"engineer_day": a["engineer_day"]},
        "quality": {"value_per_point_per_month": a["value_per_point"], "gain_points": gain},
    }
    spec: dict[str, Any] = {"task": {"name": a["task_name"], "kind": a["task_kind"]}}
    if a.get("target") is not None:
        spec["eval"] = {"target": a["target"]}
    spec["evidence"] = evidence
    spec["costs"] = costs
    return spec


def write_spec(spec: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Written by `tunegate assess`: evidence here is DECLARED (typed in by a person), not measured.\n"
              "# Add a data: section and run the stages to replace declarations with measurements.\n")
    p.write_text(header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return p
