"""Everything about a spec that can be checked without a model, checked before the first paid call.

Why: a misspelt ``eval.metric`` used to pass ``validate``, then ``eval`` paid for every call and crashed at
the summary. ``tunegate validate`` and every command that calls a model run ``preflight`` first: metric names
against the scorers, scorer types and options, the prompt template and its ``{{placeholders}}``, model ids and
their schemes, python scorers without opt-in, the evaluated split being empty, and an annotations file with no
rows. Each problem is a SpecError / DataError naming the file, line or key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.data.examples import Dataset, load_examples
from tunegate.errors import DataError, SpecError
from tunegate.evals.runner import check_metric
from tunegate.models.registry import check_models
from tunegate.spec import Spec


@dataclass
class Preflight:
    """What the checks loaded (so a caller need not load it twice)."""

    dataset: Dataset | None = None
    annotations: list[Any] = field(default_factory=list)
    scorer_names: list[str] = field(default_factory=list)


def check_scorers(spec: Spec, *, subject_model: str | None = None) -> list[str]:
    """Build the scorers (types, options, python opt-in, judge settings) without creating any backend; return
    their names."""
    from tunegate.evals.scorers import ScorerContext, build_scorers

    never = lambda: None  # noqa: E731  (an embedder is only created when a scorer first scores)
    ctx = ScorerContext(spec, never, subject_model=subject_model or spec.models.default)
    try:
        scorers = build_scorers(spec, ctx)
    except SpecError as exc:
        if exc.file is None and spec.source is not None:  # a scorer names the key; the file is the spec
            raise SpecError(exc.message, file=spec.source, line=exc.line, field=exc.field) from None
        raise
    try:
        return [s.name for s in scorers]
    finally:
        for s in scorers:
            s.close()


def check_annotations(spec: Spec, dataset: Dataset) -> list[Any]:
    if not (spec.data and spec.data.annotations):
        return []
    from tunegate.data.annotations import load_annotations

    path = spec.resolve(spec.data.annotations.path)
    ann = load_annotations(path, spec.data.annotations.fields, labels=spec.task.label_names or None,
                           item_ids=set(dataset.by_id()))
    if not ann:
        raise DataError("the annotations file has no rows (empty, or a header only)", file=path,
                        field="data.annotations.path")
    return list(ann)


def preflight(spec: Spec, *, model: str | None = None, split: str = "test", prompt_file: str | Path | None = None,
              skip_invalid: bool = False, annotations: bool = True, data: bool = True) -> Preflight:
    """Run every model-free check; raise on the first problem."""
    from tunegate.evals.prompts import load_template

    check_models(spec.models, model, source=spec.source)
    names = check_scorers(spec, subject_model=model)
    check_metric(spec, names)
    result = Preflight(scorer_names=names)
    if spec.data is None or not data:
        return result
    load_template(spec, prompt_file)
    ds = load_examples(spec, skip_invalid=skip_invalid)
    if not ds.split(split):
        raise DataError(f"the '{split}' split is empty ({ds.summary()['splits']}): nothing to evaluate",
                        file=spec.source, field="data.split")
    result.dataset = ds
    if annotations:
        result.annotations = check_annotations(spec, ds)
    return result
