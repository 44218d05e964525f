"""Prompt strategies: small objects that shape a request plan and read answers back, found by name in a registry.

A candidate is a *stack* of strategies applied in order to a ``Plan`` (the instruction, few-shot examples, output
format, sampling, method) for each item; the plan is then rendered into chat messages. Stacking is how strategies
compose: ``[few_shot_knn, cot, self_consistency]`` is Medprompt's recipe minus choice shuffling. A user adds a
strategy by subclassing ``Strategy`` and decorating it with ``@register_strategy("name")``; nothing central changes.

Answers are parsed strictly (``tunegate.evals.parsing``): a chain-of-thought answer without a ``Final answer:``
line, or JSON that does not validate after its repair calls, is *unscored*, and the sprint counts it as wrong.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from tunegate.data.examples import Example
from tunegate.errors import SpecError
from tunegate.evals.parsing import normalize_text, parse_json_object, parse_label
from tunegate.evals.prompts import PromptTemplate
from tunegate.plugins import NoOptions, locate, lookup, record, validate_options

if TYPE_CHECKING:  # the context lives in the leaf sprint.base
    from tunegate.sprint.base import SprintContext

GENERATE, LIKELIHOOD = "generate", "label_likelihood"
_FINAL = re.compile(r"final answer\s*[:=\-]\s*", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


@dataclass
class Plan:
    """What one candidate does for one item; strategies edit it, ``render_messages`` turns it into messages."""

    instruction: str
    label_descriptions: bool = True
    shots: list[Example] = field(default_factory=list)
    output: str = "plain"  # plain | json | cot
    method: str = GENERATE  # generate | label_likelihood
    samples: int = 1  # > 1: self-consistency majority vote
    params: dict[str, Any] = field(default_factory=dict)
    repairs: int = 0  # extra calls allowed to repair invalid JSON


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Strategy:
    """Base class. ``apply`` edits the plan for one item; ``prepare`` runs once per sprint (e.g. build an index).

    ``Options`` is the pydantic model (``extra="forbid"``) of the keys a ``{type: name, ...}`` entry may set;
    ``self.opts`` is the validated model. ``needs_generation``: the strategy reads generated text, so
    label-likelihood scoring cannot serve it. ``tag`` is the short form used in candidate names.
    """

    name: ClassVar[str] = ""
    needs_generation: ClassVar[bool] = False
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: dict[str, Any], key: str) -> None:
        self.options = dict(options)
        self.key = key
        self.opts = validate_options(self.Options, self.options, what=f"strategy '{self.name}'", key=key)

    def opt(self, name: str) -> Any:
        return getattr(self.opts, name)

    def prepare(self, ctx: SprintContext) -> None:
        """Once per sprint, before any item."""

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def tag(self) -> str:
        extra = "".join(f"-{k}{v}" for k, v in sorted(self.options.items()))
        return self.name + extra


STRATEGIES: dict[str, type[Strategy]] = {}


def register_strategy(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator: ``@register_strategy("name") class MyStrategy(Strategy): ...``."""

    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        STRATEGIES[name] = cls
        record("strategy", name, cls.Options)
        return cls

    return deco


def make_strategy(entry: str | dict[str, Any], key: str, *, spec: Any = None) -> Strategy:
    """A strategy from a spec entry: ``"name"`` or ``{type: name, option: value}``. With the ``spec``, errors
    name its file and line as well as the key."""
    try:
        if isinstance(entry, str):
            name, options = entry, {}
        elif isinstance(entry, dict) and isinstance(entry.get("type"), str):
            name, options = entry["type"], {k: v for k, v in entry.items() if k != "type"}
        else:
            raise SpecError("a strategy is a name or a mapping with a 'type' key", field=key)
        cls = lookup(STRATEGIES, name)
        if cls is None:
            raise SpecError(f"unknown strategy '{name}' (registered: {', '.join(sorted(STRATEGIES))})", field=key)
        return cls(options, key)
    except SpecError as exc:
        if spec is None:
            raise
        raise locate(exc, getattr(spec, "source", None), getattr(spec, "line_of", None)) from None


# ------------------------------------------------------------------------------------------------ built-ins


@register_strategy("zero_shot")
class ZeroShot(Strategy):
    """Instruction and labels (with descriptions), no examples: the baseline every sprint is compared with."""

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.shots = []


@register_strategy("few_shot_random")
class FewShotRandom(Strategy):
    """k training examples drawn at random per item (seeded by the sprint seed and the item id)."""

    class Options(_Opts):
        k: StrictInt | None = Field(None, ge=1, le=64, description="Examples per item (default: sprint.shots).")

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.shots = ctx.random_shots(item, self.opt("k") or ctx.config.shots)


@register_strategy("few_shot_knn")
class FewShotKNN(Strategy):
    """The k training examples nearest to the item by embedding (dynamic few-shot, as in Medprompt)."""

    class Options(_Opts):
        k: StrictInt | None = Field(None, ge=1, le=64, description="Examples per item (default: sprint.shots).")

    def prepare(self, ctx: SprintContext) -> None:
        ctx.knn_index()

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.shots = ctx.knn_shots(item, self.opt("k") or ctx.config.shots)


@register_strategy("json_output")
class JsonOutput(Strategy):
    """Answer as a JSON object (the task's output_schema, or {"label": ...}); invalid JSON gets repair calls."""

    needs_generation = True

    class Options(_Opts):
        repairs: StrictInt = Field(1, ge=0, description="Extra calls allowed to repair invalid JSON.")
        max_tokens: StrictInt = Field(64, ge=1)

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.output, plan.repairs = "json", int(self.opt("repairs"))
        plan.params["max_tokens"] = max(int(plan.params.get("max_tokens") or 0), int(self.opt("max_tokens")))


@register_strategy("cot")
class ChainOfThought(Strategy):
    """Reason briefly, then a ``Final answer:`` line; answers without that line are unscored."""

    needs_generation = True

    class Options(_Opts):
        max_tokens: StrictInt = Field(128, ge=1, description="Room for the reasoning and the final line.")

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.output = "cot"
        plan.params["max_tokens"] = max(int(plan.params.get("max_tokens") or 0), int(self.opt("max_tokens")))


@register_strategy("self_consistency")
class SelfConsistency(Strategy):
    """n samples at temperature > 0; the majority answer wins (Wang et al. 2023). Costs n calls per item.
    Extraction votes field by field (``field_majority``): two samples that differ in one field still agree on the
    others, so a whole-object vote would throw that agreement away."""

    needs_generation = True

    class Options(_Opts):
        n: StrictInt = Field(5, ge=2, description="Samples per item (n calls).")
        temperature: StrictInt | StrictFloat = Field(0.7, gt=0, description="Sampling temperature (> 0, or the "
                                                     "samples would agree by construction).")

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.samples = int(self.opt("n"))
        plan.params["temperature"] = float(self.opt("temperature"))


@register_strategy("label_likelihood")
class LabelLikelihood(Strategy):
    """Classification by scoring each label's log-likelihood as the reply (backends with label_logprobs)."""

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.method = LIKELIHOOD


@register_strategy("generate")
class Generate(Strategy):
    """Force free generation (parsed) even where label-likelihood scoring is available."""

    def apply(self, plan: Plan, item: Example, ctx: SprintContext) -> None:
        plan.method = GENERATE


# ------------------------------------------------------------------------------------------------ rendering


def _label_block(ctx: SprintContext, descriptions: bool) -> str:
    labs = ctx.spec.task.labels
    return "\n".join(f"- {lab.name}: {lab.description}" if descriptions and lab.description else f"- {lab.name}"
                     for lab in labs)


def shot_answer(plan: Plan, ex: Example, kind: str) -> str:
    """How an example's gold answer is written in the prompt, in the plan's output format."""
    gold = ex.gold
    if plan.output == "json":
        return json.dumps({"label": gold} if kind == "classification" else gold if isinstance(gold, dict)
                          else {"answer": gold}, ensure_ascii=False)
    text = gold if isinstance(gold, str) else json.dumps(gold, ensure_ascii=False)
    return f"Final answer: {text}" if plan.output == "cot" else text


def _answer_rule(plan: Plan, ctx: SprintContext) -> str:
    kind = ctx.spec.task.kind
    if plan.output == "json":
        if kind == "classification":
            return 'Reply with only a JSON object of the form {"label": "<one category name>"}.'
        if ctx.spec.task.output_schema:
            schema = json.dumps(ctx.spec.task.output_schema, ensure_ascii=False)
            return f"Reply with only a JSON object that follows this JSON Schema:\n{schema}"
        return 'Reply with only a JSON object of the form {"answer": "..."}.'
    what = "the category name" if kind == "classification" else "the answer"
    if plan.output == "cot":
        return f"Think step by step in a few short sentences, then end with one line: Final answer: <{what}>"
    return f"Answer with {what} only." if kind == "classification" else ""


_LAYOUT = "{{instruction}}\n\n{{categories}}{{input_line}}\n\n{{rule}}"


def render_messages(plan: Plan, item: Example, ctx: SprintContext) -> tuple[dict[str, str], ...]:
    """Chat messages for one plan. Plain answers use the user's prompt template (examples inserted before the
    line that holds ``{{input}}``); JSON and chain-of-thought answers use a fixed layout with their own rule."""
    kind = ctx.spec.task.kind
    values = {
        "instruction": plan.instruction,
        "labels": ", ".join(ctx.spec.task.label_names),
        "label_descriptions": _label_block(ctx, plan.label_descriptions),
        "output_schema": json.dumps(ctx.spec.task.output_schema, indent=2) if ctx.spec.task.output_schema else "",
        "input": item.input_text(),
    }
    shots = ""
    if plan.shots:
        shots = "Examples:\n\n" + "\n\n".join(
            f"Message: {s.input_text()}\nAnswer: {shot_answer(plan, s, kind)}" for s in plan.shots) + "\n\n"
    template: PromptTemplate = ctx.template
    if plan.output == "plain":
        text = template.text
    else:
        cats = "Categories:\n{{label_descriptions}}\n\n" if kind == "classification" else ""
        text = _LAYOUT.replace("{{categories}}", cats).replace("{{input_line}}", "Message: {{input}}")
        text = text.replace("{{rule}}", _answer_rule(plan, ctx).replace("{{", "{ {"))
    if shots:
        lines = text.split("\n")
        at = next((i for i, ln in enumerate(lines) if re.search(r"\{\{\s*input\s*\}\}", ln)), len(lines))
        text = "\n".join(lines[:at]) + ("\n" if at else "") + "{{__shots__}}" + "\n".join(lines[at:])
        values["__shots__"] = shots
    fill = lambda s: _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), s)  # noqa: E731
    msgs = []
    if template.system:
        msgs.append({"role": "system", "content": fill(template.system)})
    msgs.append({"role": "user", "content": fill(text).strip()})
    return tuple(msgs)


def repair_messages(messages: tuple[dict[str, str], ...], answer: str, problem: str) -> tuple[dict[str, str], ...]:
    """The conversation so far plus a request to fix an invalid JSON answer (one extra call)."""
    return (*messages, {"role": "assistant", "content": answer},
            {"role": "user", "content": f"That reply is not valid: {problem}. Reply with only the corrected JSON "
                                        "object, nothing else."})


# ------------------------------------------------------------------------------------------------ parsing


@dataclass
class Parsed:
    output: str | None  # the answer handed to the scorers (None: unscored)
    problem: str | None = None  # why it is invalid (drives JSON repair)


def parse_answer(plan: Plan, text: str, ctx: SprintContext) -> Parsed:
    """Read the answer out of one generated text according to the plan's output format."""
    kind = ctx.spec.task.kind
    if plan.output == "cot":
        marks = list(_FINAL.finditer(text or ""))
        if not marks:
            return Parsed(None, "no 'Final answer:' line")
        return Parsed(text[marks[-1].end():].strip().splitlines()[0].strip() if text[marks[-1].end():].strip()
                      else "", None)
    if plan.output == "json":
        obj = parse_json_object(text or "")
        if not isinstance(obj, dict):
            return Parsed(None, "no JSON object found")
        if kind == "classification":
            lab = obj.get("label")
            if not isinstance(lab, str) or parse_label(lab, ctx.spec.task.label_names) is None:
                return Parsed(None, f'"label" must be one of: {", ".join(ctx.spec.task.label_names)}')
            return Parsed(lab)
        if ctx.spec.task.output_schema:
            from jsonschema import Draft202012Validator

            errs = sorted(Draft202012Validator(ctx.spec.task.output_schema).iter_errors(obj), key=str)
            if errs:
                return Parsed(None, f"does not match the JSON Schema: {errs[0].message}")
            return Parsed(json.dumps(obj, ensure_ascii=False, sort_keys=True))
        ans = obj.get("answer")
        return Parsed(ans if isinstance(ans, str) else None, None if isinstance(ans, str) else '"answer" missing')
    return Parsed(text)


def vote_key(output: str | None, ctx: SprintContext) -> str | None:
    """What two samples must share to count as the same answer in a majority vote."""
    if output is None:
        return None
    kind = ctx.spec.task.kind
    if kind == "classification":
        return parse_label(output, ctx.spec.task.label_names)
    if kind == "extraction":
        obj = parse_json_object(output)
        return json.dumps(obj, sort_keys=True) if obj is not None else None
    return normalize_text(output) or None


def majority(keys: list[str | None]) -> tuple[int | None, float]:
    """Index of the sample that carries the majority answer (ties: the answer sampled first) and its vote share.
    Samples without an answer do not vote; ``(None, 0.0)`` when none has one."""
    votes = Counter(k for k in keys if k is not None)
    if not votes:
        return None, 0.0
    top = max(votes.values())
    winner = next(k for k in keys if k is not None and votes[k] == top)
    return keys.index(winner), top / len(keys)


def field_majority(outputs: list[str | None]) -> tuple[str | None, float]:
    """Self-consistency for extraction: the object whose every field is the majority value of that field among
    the samples that parsed to an object (a field is kept when most of them have it; ties go to the value sampled
    first). Returns (canonical JSON, mean vote share of the winning values), or (None, 0.0) when no sample parsed.
    The share's denominator is every sample, so unparseable samples lower it."""
    objs = [o for o in (parse_json_object(x) if x is not None else None for x in outputs) if isinstance(o, dict)]
    if not objs:
        return None, 0.0
    keys = list(dict.fromkeys(k for o in objs for k in o))
    merged: dict[str, Any] = {}
    shares: list[float] = []
    for k in keys:
        having = [o for o in objs if k in o]
        if 2 * len(having) <= len(objs) and len(objs) > 1:
            continue
        votes = Counter(json.dumps(o[k], sort_keys=True) for o in having)
        top = max(votes.values())
        win = next(json.dumps(o[k], sort_keys=True) for o in having if votes[json.dumps(o[k], sort_keys=True)] == top)
        merged[k] = json.loads(win)
        shares.append(top / len(outputs))
    return json.dumps(merged, ensure_ascii=False, sort_keys=True), (sum(shares) / len(shares) if shares else 0.0)
