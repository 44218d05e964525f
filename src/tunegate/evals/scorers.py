"""Scorers: one small class per way of judging an output, found by name in a registry.

A scorer turns (model output, example) into an ``ItemScore``. ``value`` is ``None`` when the output could not be
scored (unparseable answer, no number found): such items are *unscored* — counted and reported next to the
metric, never silently folded into it as right or wrong. Users add scorers with ``@register_scorer("name")``;
user Python functions run only when the spec sets ``eval.allow_python_scorers: true``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from pathlib import Path
from typing import Any

from tunegate.data.examples import Example
from tunegate.errors import SpecError
from tunegate.evals.parsing import normalize_text, parse_json_object, parse_label, parse_number
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tunegate.evals.scoring_base import SCORERS, ItemScore, Scorer, ScorerContext, register_scorer, scorer_class
from tunegate.spec import ScorerSpec, Spec

# the registry and base types live in the leaf scoring_base (a judge imports them without importing the
# built-ins); they are re-exported here, where users have always found them
__all__ = ["SCORERS", "ItemScore", "Scorer", "ScorerContext", "build_scorers", "default_scorers",
           "register_scorer"]


def default_scorers(spec: Spec) -> list[ScorerSpec]:
    kind = spec.task.kind
    if kind == "classification":
        return [ScorerSpec(type="label_match")]
    if kind == "extraction":
        return [ScorerSpec(type="json_valid"), ScorerSpec(type="json_fields")]
    return [ScorerSpec(type="normalized_match")]


def build_scorers(spec: Spec, ctx: ScorerContext | None = None) -> list[Scorer]:
    import tunegate.evals.judge  # noqa: F401  (registers llm_judge; imported here to avoid an import cycle)

    ctx = ctx or ScorerContext(spec)
    entries = spec.eval.scorers or default_scorers(spec)
    out: list[Scorer] = []
    for i, entry in enumerate(entries):
        key = f"eval.scorers.{i}"
        cls = scorer_class(entry.type)
        if cls is None:
            raise SpecError(
                f"unknown scorer '{entry.type}' (registered: {', '.join(sorted(SCORERS))})",
                file=spec.source,
                line=spec.line_of(f"{key}.type"),
                field=f"{key}.type",
            )
        options = {k: v for k, v in entry.model_dump().items() if k != "type"}
        out.append(cls(options, ctx, key))
    return out


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _gold_text(example: Example) -> str:
    g = example.gold
    return g if isinstance(g, str) else ("" if g is None else str(g))


# ------------------------------------------------------------------------------------------- text matches


@register_scorer("exact_match")
class ExactMatch(Scorer):
    """Output equals the gold answer after trimming surrounding whitespace."""

    def score(self, output: str, example: Example) -> ItemScore:
        pred = (output or "").strip()
        return ItemScore(float(pred == _gold_text(example).strip()), pred)


@register_scorer("normalized_match")
class NormalizedMatch(Scorer):
    """Equality after lower-casing and removing punctuation, articles and extra whitespace (SQuAD style).

    Fits short generation and classification alike: the whole answer must equal the gold text, so a label
    merely mentioned inside a longer answer (or a copied input) does not count. For labels it is stricter than
    ``label_match`` about separators ("card arrival" is not "card_arrival"); ``label_match`` with
    ``strict: true`` accepts those variants and also feeds macro-F1 and the confusion table.
    """

    def score(self, output: str, example: Example) -> ItemScore:
        pred = normalize_text(output or "")
        return ItemScore(float(pred == normalize_text(_gold_text(example))), pred)


@register_scorer("label_match")
class LabelMatch(Scorer):
    """Classification: read one label out of free text; unscored when none or several are named.

    ``strict: true`` requires the answer to be a label (the whole answer, a JSON ``label`` field or the line
    after ``Answer:``) instead of a label mentioned anywhere: on intent data, where messages often name their
    intent, the lenient read scores a copy of the input as correct (the criterion gate's copy_of_input check).
    """

    class Options(_Opts):
        strict: StrictBool = Field(False, description="The whole answer must be a label (no label merely "
                                   "mentioned in a longer answer).")

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        super().__init__(options, ctx, key)
        self.strict = self.opts.strict

    def score(self, output: str, example: Example) -> ItemScore:
        labels = self.ctx.spec.task.label_names
        pred = parse_label(output or "", labels, strict=self.strict)
        if pred is None:
            reason = "empty output" if not (output or "").strip() else (
                "the answer is not one of the labels (strict)" if self.strict else
                "no single label found in the output")
            return ItemScore(None, None, reason)
        return ItemScore(float(pred == example.label), pred)


@register_scorer("regex")
class RegexMatch(Scorer):
    """The output matches a pattern (``pattern``; ``fullmatch: true`` to require the whole output)."""

    class Options(_Opts):
        pattern: str = Field(description="A Python regular expression.")
        fullmatch: StrictBool = Field(False, description="The whole output must match (else: a match anywhere).")
        ignore_case: StrictBool = False

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        super().__init__(options, ctx, key)
        try:
            self.pattern = re.compile(self.opts.pattern, re.IGNORECASE if self.opts.ignore_case else 0)
        except re.error as exc:
            raise self.error(f"invalid regular expression: {exc}", "pattern") from None

    def score(self, output: str, example: Example) -> ItemScore:
        text = (output or "").strip()
        m = self.pattern.fullmatch(text) if self.opts.fullmatch else self.pattern.search(text)
        return ItemScore(float(m is not None), m.group(0) if m else None)


@register_scorer("numeric")
class NumericMatch(Scorer):
    """The first number in the output is within ``abs_tol`` or ``rel_tol`` of the gold number."""

    class Options(_Opts):
        abs_tol: float = Field(1e-9, ge=0, description="Absolute tolerance.")
        rel_tol: float = Field(0.0, ge=0, description="Relative tolerance (0.01 = 1%).")

    def score(self, output: str, example: Example) -> ItemScore:
        pred = parse_number(output)
        if pred is None:
            return ItemScore(None, None, "no number in the output")
        gold = parse_number(_gold_text(example))
        if gold is None:
            return ItemScore(None, pred, "no number in the gold answer")
        ok = math.isclose(pred, gold, rel_tol=self.opts.rel_tol, abs_tol=self.opts.abs_tol)
        return ItemScore(float(ok), pred)


# ------------------------------------------------------------------------------------------------ JSON


@register_scorer("json_valid")
class JsonValid(Scorer):
    """The output is a JSON value that validates against ``task.output_schema`` (or any JSON if none).

    Always scored: invalid JSON is exactly what this scorer measures, so it counts as 0, not as unscored.
    """

    def score(self, output: str, example: Example) -> ItemScore:
        obj = parse_json_object(output or "")
        if obj is None:
            return ItemScore(0.0, None)
        schema = self.ctx.spec.task.output_schema
        if schema:
            from jsonschema.validators import validator_for

            errors = list(validator_for(schema)(schema).iter_errors(obj))
            if errors:
                return ItemScore(0.0, obj)
        return ItemScore(1.0, obj)


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    key = prefix[:-1] if prefix else "$"
    if isinstance(obj, list):
        return {key: sorted(normalize_text(x) if isinstance(x, str) else repr(x) for x in obj)}
    return {key: normalize_text(obj) if isinstance(obj, str) else obj}


@register_scorer("json_fields")
class JsonFields(Scorer):
    """Per-field F1 between the output object and the gold object (fields flattened to dotted paths;
    string values compared after normalisation). Unscored when the output holds no JSON object."""

    class Options(_Opts):
        fields: list[str] = Field(default_factory=list, description="Dotted fields compared (default: all).")

    binary = False

    def score(self, output: str, example: Example) -> ItemScore:
        obj = parse_json_object(output or "")
        if not isinstance(obj, dict):
            return ItemScore(None, None, "no JSON object in the output")
        gold = example.target if isinstance(example.target, dict) else parse_json_object(_gold_text(example))
        if not isinstance(gold, dict):
            return ItemScore(None, obj, "gold target is not a JSON object")
        pred_f, gold_f = _flatten(obj), _flatten(gold)
        fields = set(self.opts.fields) or None
        if fields:
            pred_f = {k: v for k, v in pred_f.items() if k in fields}
            gold_f = {k: v for k, v in gold_f.items() if k in fields}
        tp = sum(1 for k, v in pred_f.items() if k in gold_f and gold_f[k] == v)
        if not pred_f and not gold_f:
            return ItemScore(1.0, obj)
        precision = tp / len(pred_f) if pred_f else 0.0
        recall = tp / len(gold_f) if gold_f else 0.0
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        return ItemScore(f1, obj)


def _lcs_len(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (one row of the dynamic programme at a time)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


@register_scorer("rouge_l")
class RougeL(Scorer):
    """ROUGE-L F-measure (Lin 2004, beta = 1) between the output and the reference, on normalised tokens: a
    reference-based check for generation that needs no model. With ``threshold`` the value is 1 at or above it,
    else 0. Overlap cannot see an added unsafe sentence or a wrong number, so it is a companion to a judge, not a
    replacement (the criterion gate shows which known-bad drafts it accepts)."""

    class Options(_Opts):
        threshold: float | None = Field(None, gt=0, le=1, strict=True, description="With it, the value is 1 at "
                                        "or above the threshold, else 0.")

    binary = False

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        super().__init__(options, ctx, key)
        t = self.opts.threshold
        self.threshold = None if t is None else float(t)
        self.binary = self.threshold is not None

    def score(self, output: str, example: Example) -> ItemScore:
        pred, ref = normalize_text(output or "").split(), normalize_text(_gold_text(example)).split()
        if not ref:
            return ItemScore(None, None, "empty reference")
        lcs = _lcs_len(pred, ref) if pred else 0
        f = 0.0 if lcs == 0 else 2 * lcs / (len(pred) + len(ref))
        if self.threshold is None:
            return ItemScore(f, round(f, 4))
        return ItemScore(float(f >= self.threshold), round(f, 4))


# ------------------------------------------------------------------------------------------- embeddings


@register_scorer("embedding_similarity")
class EmbeddingSimilarity(Scorer):
    """Cosine similarity of output and gold embeddings; with ``threshold`` the value is 1 above it, else 0."""

    class Options(_Opts):
        threshold: float | None = Field(None, ge=-1, le=1, description="With it, the value is 1 at or above the "
                                        "cosine threshold, else 0.")

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        super().__init__(options, ctx, key)
        if ctx.embedder is None:
            raise self.error("embedding_similarity needs an embedding model (models.embedding)")
        self.threshold = self.opts.threshold
        self.binary = self.threshold is not None

    def score(self, output: str, example: Example) -> ItemScore:
        if not (output or "").strip():
            return ItemScore(None, None, "empty output")
        vecs = self.ctx.embedder().embed([output, _gold_text(example)])  # type: ignore[misc]
        cos = float((vecs[0] * vecs[1]).sum())
        if self.threshold is None:
            return ItemScore(cos, cos)
        return ItemScore(float(cos >= float(self.threshold)), cos)


# ------------------------------------------------------------------------------------------ user Python


@register_scorer("python")
class PythonScorer(Scorer):
    """A user function ``function: "scorers.py:my_score"`` or ``"package.module:fn"``.

    It receives ``(output: str, example: dict)`` and returns a number, a bool, None (unscored) or a dict with
    ``value`` and optional ``reason``. Importing user code runs it, so it needs ``eval.allow_python_scorers``.
    """

    class Options(_Opts):
        function: str = Field(description="'file.py:name' (relative to the spec) or 'package.module:name'.")

    binary = False

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        super().__init__(options, ctx, key)
        if not ctx.spec.eval.allow_python_scorers:
            raise self.error(
                "python scorers run your code and are off by default; set eval.allow_python_scorers: true")
        target = self.opts.function
        where, _, fn_name = target.rpartition(":")
        if not where or not fn_name:
            raise self.error("function must look like 'file.py:name' or 'module:name'", "function")
        if where.endswith(".py"):
            path = ctx.spec.resolve(where)
            if not Path(path).exists():
                raise SpecError("python scorer file not found", file=path, field=f"{key}.function")
            module_spec = importlib.util.spec_from_file_location(f"tunegate_user_{path.stem}", path)
            module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
            module_spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(where)
        self.fn = getattr(module, fn_name, None)
        if not callable(self.fn):
            raise self.error(f"'{fn_name}' is not a function in {where}", "function")

    def score(self, output: str, example: Example) -> ItemScore:
        from dataclasses import asdict

        result = self.fn(output, asdict(example))
        if isinstance(result, dict):
            v = result.get("value")
            return ItemScore(None if v is None else float(v), result.get("prediction"), result.get("reason"))
        if result is None:
            return ItemScore(None, None, "user scorer returned None")
        return ItemScore(float(result), None)
