"""Loading labeled examples from a spec's data section, with validation that names file, line and field.

Nothing is dropped silently: a malformed row raises a DataError, unless the caller asked to skip invalid rows,
and then every skipped row is returned (and recorded in the run artifact) with its reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tunegate.data.readers import Row, iter_rows
from tunegate.data.splits import SPLIT_ALIASES, assign_splits
from tunegate.errors import DataError
from tunegate.spec import Spec


@dataclass
class Example:
    """One labeled item. ``input`` is text (or a mapping for structured inputs); ``label`` for classification,
    ``target`` for extraction / generation."""

    id: str
    input: Any
    label: str | None = None
    target: Any = None
    split: str | None = None
    slices: dict[str, str] = field(default_factory=dict)
    source: str = ""  # file:line, for error messages downstream

    @property
    def gold(self) -> Any:
        return self.label if self.label is not None else self.target

    def input_text(self) -> str:
        return self.input if isinstance(self.input, str) else json.dumps(self.input, ensure_ascii=False)


@dataclass(frozen=True)
class SkippedRow:
    file: str
    line: int
    field: str | None
    reason: str


@dataclass
class Dataset:
    examples: list[Example]
    skipped: list[SkippedRow] = field(default_factory=list)
    split_source: str = "column"  # "column" | "ratios" | "files"

    def split(self, name: str) -> list[Example]:
        return [e for e in self.examples if e.split == name]

    def by_id(self) -> dict[str, Example]:
        return {e.id: e for e in self.examples}

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for e in self.examples:
            counts[e.split or "none"] = counts.get(e.split or "none", 0) + 1
        return {
            "n": len(self.examples),
            "splits": counts,
            "split_source": self.split_source,
            "n_skipped": len(self.skipped),
            "skipped": [asdict(s) for s in self.skipped],
        }


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _parse_row(row: Row, spec: Spec, fixed_split: str | None) -> Example:
    """Validate one row; raise DataError naming the field. ``fixed_split`` comes from data.paths."""
    f = spec.data.fields
    if row.error:
        raise DataError(row.error, file=row.file, line=row.line)
    d = row.data or {}

    def need(col: str) -> Any:
        if col not in d:
            raise DataError("missing field", file=row.file, line=row.line, field=col)
        return d[col]

    raw_input = need(f.input)
    if raw_input is None or (isinstance(raw_input, str) and not raw_input.strip()):
        raise DataError("empty input", file=row.file, line=row.line, field=f.input)
    if isinstance(raw_input, str):
        raw_input = raw_input.strip()

    ex_id = _as_text(need(f.id)) if f.id else str(row.line)
    if not ex_id:
        raise DataError("empty id", file=row.file, line=row.line, field=f.id)

    label = None
    target = None
    if spec.task.kind == "classification":
        label = _as_text(need(f.label))  # type: ignore[arg-type]
        if not label:
            raise DataError("empty label", file=row.file, line=row.line, field=f.label)
        if label not in spec.task.label_names:
            known = ", ".join(spec.task.label_names)
            raise DataError(
                f"unknown label '{label}' (task.labels: {known})", file=row.file, line=row.line, field=f.label
            )
    else:
        target = need(f.target)  # type: ignore[arg-type]
        if target is None or (isinstance(target, str) and not target.strip()):
            raise DataError("empty target", file=row.file, line=row.line, field=f.target)
        if spec.task.kind == "extraction" and isinstance(target, str):
            try:
                target = json.loads(target)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"target is not valid JSON ({exc.msg})", file=row.file, line=row.line, field=f.target
                ) from None

    split = fixed_split
    if split is None and f.split:
        value = _as_text(need(f.split)).lower()
        split = SPLIT_ALIASES.get(value)
        if split is None:
            raise DataError(
                f"unknown split '{value}' (use train, dev or test)", file=row.file, line=row.line, field=f.split
            )

    slices = {}
    for col in f.slices:
        slices[col] = _as_text(need(col))
    return Example(ex_id, raw_input, label, target, split, slices, source=row.where)


def load_examples(spec: Spec, *, skip_invalid: bool = False) -> Dataset:
    """Load, validate and split the examples a spec points at."""
    sources: list[tuple[Path, str | None]]
    spec.require_data()
    if spec.data.paths:
        sources = [(spec.resolve(p), split) for split, p in spec.data.paths.items()]
        split_source = "files"
    else:
        sources = [(spec.resolve(spec.data.path), None)]  # type: ignore[arg-type]
        split_source = "column" if spec.data.fields.split else "ratios"

    examples: list[Example] = []
    skipped: list[SkippedRow] = []
    seen: dict[str, str] = {}
    for path, fixed_split in sources:
        for row in iter_rows(path, spec.data.format):
            try:
                ex = _parse_row(row, spec, fixed_split)
                if ex.id in seen:
                    raise DataError(
                        f"duplicate id '{ex.id}' (first seen at {seen[ex.id]})",
                        file=row.file,
                        line=row.line,
                        field=spec.data.fields.id or "id",
                    )
            except DataError as err:
                if not skip_invalid:
                    raise
                skipped.append(SkippedRow(row.file, row.line, err.field, err.message))
                continue
            seen[ex.id] = ex.source
            examples.append(ex)
    if not examples:
        where = ", ".join(str(p) for p, _ in sources)
        raise DataError("no valid examples found", file=where)
    if split_source == "ratios":
        assign_splits(examples, spec.data.split, stratify_on_label=spec.task.kind == "classification")
    return Dataset(examples, skipped, split_source)
