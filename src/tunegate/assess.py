"""`tunegate assess`: the framework's questions for a person without model access or annotations at hand.

A product lead often knows the answers (we measured alpha 0.82 in our labeling tool; the best prompt got 0.81 on
300 test items; we run 40k requests a month) but has no pipeline to run. The answers become a spec whose evidence
is *declared* — the verdict says so and lowers its confidence — plus the cost model's inputs, and the verdict and
18-month costs come out at once. The same questions are read from a file with ``--answers`` (tested).
"""

from __future__ import annotations

from collections.abc import Callable
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tunegate.errors import InputError


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    kind: str  # str | choice | yesno | share (0-1 or a percentage) | count | money | number
    default: Any = None
    choices: tuple[str, ...] = ()
    section: str = ""
    low: float | None = None  # bounds for numeric kinds (inclusive)
    high: float | None = None


QUESTIONS: tuple[Question, ...] = (
    Question("task_name", "What is the feature called?", "str", "my-llm-feature", section="The task"),
    Question("task_kind", "What does it do: classification (picks one of a fixed set of answers), extraction "
             "(pulls fields out of text) or generation (writes free text)?", "choice", "classification",
             ("classification", "extraction", "generation")),
    Question("target", "What quality does the product need: the share of test cases it must get right "
             "(e.g. 90%)?", "share", None),
    Question("eval_reliable", "Does your automatic quality check agree with people who know the domain: when "
             "they call an output good or bad, does the check say the same? (yes / no / don't know)", "yesno", None,
             section="1. Can you measure quality?"),
    Question("eval_auc", "If you measured it: shown one good and one bad output, how often does the check score "
             "the good one higher (e.g. 93%; statisticians call this the ROC AUC)?", "share", None),
    Question("n_labeled", "How many examples do you have with the correct answer written down (labeled "
             "examples, e.g. 2,000)?", "count", None, section="2. Your labeled examples", low=0),
    Question("alpha", "If you measured it: how well do two labelers agree beyond chance (Krippendorff's alpha "
             "or Cohen's kappa: 1 = always agree, 0 = no better than chance, 0.8 or more is good)?", "number", None,
             low=-1, high=1),
    Question("data_ok", "Were disagreements between labelers settled, and are the tricky cases that matter "
             "covered? (yes / no / don't know)", "yesno", None),
    Question("prompt_value", "With your best prompt, what share of test cases does the model get right "
             "(e.g. 78%)?", "share", None, section="3. How far prompting gets"),
    Question("prompt_n", "How many test cases was that measured on (e.g. 300)?", "count", None, low=1),
    Question("after_sprint", "Was that after a real effort to improve the prompt: a few days trying worked "
             "examples, a fixed answer format, step-by-step reasoning? (yes / no / don't know)", "yesno", None),
    Question("finetune_value", "If anyone tried fine-tuning (training the model on your examples): what share "
             "of the same test cases did it get right (e.g. 92%)?", "share", None),
    # no default: "don't know" leaves the economics unknown instead of pricing a volume nobody gave
    Question("monthly_requests", "How many requests a month (e.g. 40k)?", "count", None, section="Money",
             low=0),
    Question("monthly_growth", "How fast is that growing each month (e.g. 2%)?", "share", 0.02),
    Question("input_price", "What does the model cost per million input tokens (e.g. $0.15; see your "
             "provider's price page)?", "money", 0.15),
    Question("output_price", "And per million output tokens (e.g. $0.60)?", "money", 0.60),
    Question("prompt_tokens", "How long is one request with your best prompt, in tokens (instructions + "
             "examples + the input; one token is about 4 characters)?", "count", 1500, low=1),
    Question("finetuned_tokens", "How long would a request be for a fine-tuned model, which needs no "
             "instructions or examples, in tokens?", "count", 300, low=1),
    Question("existing_models", "How many fine-tuned models does your team already look after?", "count", 0,
             low=0),
    Question("engineer_day", "What does a day of an engineer cost you, fully loaded (e.g. $800)?", "money", 800),
    Question("value_per_point", "What is one point of quality (1% more cases right) worth to you per month "
             "(e.g. $2k; 0 or don't know = leave quality out of the money)?", "money", 0),
)
_BY_KEY = {q.key: q for q in QUESTIONS}
_UNKNOWN = {"", "unknown", "?", "n/a", "na", "none", "-", "don't know", "dont know", "do not know", "not sure",
            "no idea", "idk", "skip", "unsure", "dunno"}
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_NUMBER = re.compile(r"^(?P<cur>[$€£])?\s*(?P<num>[+-]?(?:\d[\d,_ ]*)?\.?\d*)\s*(?P<scale>k|thousand|mn|m|million|bn|b"
                     r"|billion)?\s*(?P<pct>%)?\s*(?P<unit>(?:usd|eur|gbp|dollars?|euros?)?\s*(?:(?:/|per |a )\s*"
                     r"(?:month|mo|day|year))?)$", re.IGNORECASE)


def parse_number(raw: Any) -> tuple[float, bool]:
    """A number as people write it: "12,000", "40k", "1.5M", "$800", "€2", "90%", "$2k/month".
    Returns (value, was_percent); a percentage is returned as written (90 for "90%")."""
    if isinstance(raw, bool):
        raise ValueError(f"expected a number, got {raw!r}")
    if isinstance(raw, (int, float)):
        return float(raw), False
    text = str(raw).strip().replace("\u2009", " ").replace("\u00a0", " ")
    m = _NUMBER.match(text)
    if not m or not re.search(r"\d", m["num"] or ""):
        raise ValueError(f"expected a number (like 12,000, 40k, $800 or 90%), got {raw!r}")
    digits = m["num"].replace("_", "").replace(" ", "")
    if "," in digits:
        whole = digits.split(".")[0].lstrip("+-")
        groups = whole.split(",")
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            raise ValueError(f"{raw!r}: commas separate thousands here (12,000); write decimals with a point (1.5)")
        digits = digits.replace(",", "")
    value = float(digits)
    if m["scale"]:
        value *= _SCALE[m["scale"].lower()]
    return value, bool(m["pct"])


def _numeric(q: Question, raw: Any) -> float | int:
    value, percent = parse_number(raw)
    if q.kind == "share":
        if percent:
            value /= 100
        elif value > 1:
            raise ValueError(f"write a share as 0.9 or 90%, got {raw!r}")
        if not 0 <= value <= 1:
            raise ValueError(f"a share lies between 0% and 100%, got {raw!r}")
        return value
    if percent:
        raise ValueError(f"expected a number, not a percentage, got {raw!r}" + (
            " (a raw agreement rate is not alpha or kappa, which correct for chance; answer don't know if you have "
            "only that)" if q.key == "alpha" else ""))
    if q.low is not None and value < q.low or q.high is not None and value > q.high:
        span = f"between {q.low:g} and {q.high:g}" if q.high is not None else f"at least {q.low:g}"
        raise ValueError(f"expected a number {span}, got {raw!r}")
    if q.kind == "money" and value < 0:
        raise ValueError(f"a price or value cannot be negative, got {raw!r}")
    if q.kind == "count":
        if value != int(value):
            raise ValueError(f"expected a whole number, got {raw!r}")
        return int(value)
    return value


def parse_answer(q: Question, raw: Any, *, where: str = "") -> Any:
    """Turn typed text (or a YAML value) into the question's type; blank or "don't know" gives the default."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower().replace("\u2019", "'") in _UNKNOWN):
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
            raise ValueError("answer yes, no or don't know")
        return _numeric(q, raw)
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc), file=where or None, field=q.key) from None


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
    echo("Answer \"don't know\" (or press Enter) whenever you are not sure; numbers can be written as you would "
         "say them: 90%, 12,000, 40k, $800.")
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


def _said(what: str, auc: float | None = None) -> str:
    return "you said " + what + (f" (it ranks a good output above a bad one {auc:.0%} of the time)"
                                 if auc is not None else "")


def answers_to_spec(a: dict[str, Any]) -> dict[str, Any]:
    """A tunegate spec (as a mapping) with declared evidence and cost inputs from the answers."""
    evidence: dict[str, Any] = {}
    crit = {k: v for k, v in (("passes", a.get("eval_reliable")), ("auc", a.get("eval_auc"))) if v is not None}
    if crit:
        evidence["criterion"] = {**crit, "note": _said(
            "your quality check agrees with domain experts" if crit.get("passes") is not False else
            "your quality check does not agree with domain experts", auc=crit.get("auc"))}
    data = {k: v for k, v in (("passes", a.get("data_ok")), ("alpha", a.get("alpha")),
                              ("n_labeled", a.get("n_labeled"))) if v is not None}
    if data:
        ok = data.get("passes")
        evidence["data"] = {**data, "note": _said(
            "labeler disagreements were settled and the cases that matter are covered" if ok else
            "labeler disagreements were not settled or cases that matter are missing" if ok is False else
            "labels as described")}
    if a.get("prompt_value") is not None:
        p: dict[str, Any] = {"best_value": a["prompt_value"]}
        if a.get("after_sprint") is not None:  # unknown stays unknown: the verdict asks for it, never assumes no
            p["after_sprint"] = bool(a["after_sprint"])
        if a.get("prompt_n"):
            from tunegate.evals.stats import wilson_ci

            n = int(a["prompt_n"])
            iv = wilson_ci(round(a["prompt_value"] * n), n)
            p.update(n=n, ci_low=round(iv.low, 4), ci_high=round(iv.high, 4))
        evidence["prompting"] = {**p, "note": _said(
            f"your best prompt gets {a['prompt_value']:.0%} right" + (f" on {int(a['prompt_n']):,} test cases "
                                                                       "(interval: Wilson, from that count)"
                                                                       if a.get("prompt_n") else ""))}
    if a.get("finetune_value") is not None:
        ft = {"value": a["finetune_value"]}
        if a.get("prompt_n"):  # measured on the same test set as the prompt: the verdict derives a Wilson interval
            ft["n"] = int(a["prompt_n"])
        evidence["finetune"] = {**ft, "note": _said(f"a fine-tune got {a['finetune_value']:.0%} right on the same "
                                                    "test cases")}
    gain = None
    if a.get("finetune_value") is not None and a.get("prompt_value") is not None:
        gain = round(max(0.0, a["finetune_value"] - a["prompt_value"]) * 100, 3)
    costs = {
        **({"monthly_requests": a["monthly_requests"]} if a.get("monthly_requests") is not None else {}),
        "monthly_growth": a["monthly_growth"],
        "prices": {"input_per_1m": a["input_price"], "output_per_1m": a["output_price"]},
        "tokens": {"prompt_input": a["prompt_tokens"], "finetuned_input": a["finetuned_tokens"]},
        "portfolio": {"existing_finetuned_models": a["existing_models"]},
        "rates": {"engineer_day": a["engineer_day"]},
        "quality": {"value_per_point_per_month": a["value_per_point"], "gain_points": gain},
    }
    spec: dict[str, Any] = {"task": {"name": a["task_name"], "kind": a["task_kind"]}}
    if a["task_kind"] == "extraction":  # the spec requires a schema; the answers name no fields, so say only that
        spec["task"]["output_schema"] = {"type": "object", "description": "fields not given in tunegate assess: "
                                         "list them under properties before running the stages"}
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
