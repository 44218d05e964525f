"""Long-format annotations: one row per (item, annotator) judgment.

This is the shape labeling tools export and the shape agreement statistics need (missing judgments are simply
absent rows). Validation checks every row against the examples and the label set, naming file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunegate.data.readers import iter_rows
from tunegate.errors import DataError
from tunegate.spec import AnnotationFieldMap


@dataclass(frozen=True)
class Annotation:
    item_id: str
    annotator: str
    label: str
    timestamp: str | None = None
    source: str = ""


def load_annotations(
    path: str | Path,
    fields: AnnotationFieldMap | None = None,
    *,
    labels: list[str] | None = None,
    item_ids: set[str] | None = None,
    fmt: str = "auto",
) -> list[Annotation]:
    """Read and validate annotations. An annotator judging the same item twice needs a timestamp to tell
    which judgment is current; without one the duplicate is an error rather than a silent overwrite."""
    f = fields or AnnotationFieldMap()
    out: list[Annotation] = []
    seen: dict[tuple[str, str], str] = {}
    for row in iter_rows(path, fmt):
        if row.error:
            raise DataError(row.error, file=row.file, line=row.line)
        d = row.data or {}
        values = {}
        for role in ("item_id", "annotator", "label"):
            col = getattr(f, role)
            if col not in d:
                raise DataError("missing field", file=row.file, line=row.line, field=col)
            v = "" if d[col] is None else str(d[col]).strip()
            if not v:
                raise DataError(f"empty {role}", file=row.file, line=row.line, field=col)
            values[role] = v
        ts = None
        if f.timestamp:
            if f.timestamp not in d:
                raise DataError("missing field", file=row.file, line=row.line, field=f.timestamp)
            ts = str(d[f.timestamp]).strip() or None
        if labels is not None and values["label"] not in labels:
            raise DataError(
                f"unknown label '{values['label']}' (task.labels: {', '.join(labels)})",
                file=row.file,
                line=row.line,
                field=f.label,
            )
        if item_ids is not None and values["item_id"] not in item_ids:
            raise DataError(
                f"item '{values['item_id']}' is not in the examples", file=row.file, line=row.line, field=f.item_id
            )
        key = (values["item_id"], values["annotator"])
        if key in seen and ts is None:
            raise DataError(
                f"annotator '{key[1]}' labeled item '{key[0]}' twice (first at {seen[key]}); add a timestamp "
                "column to keep both judgments",
                file=row.file,
                line=row.line,
            )
        seen[key] = row.where
        out.append(Annotation(values["item_id"], values["annotator"], values["label"], ts, row.where))
    return out
