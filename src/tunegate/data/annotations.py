"""Long-format annotations: one row per (item, annotator) judgment.

This is the shape labeling tools export and the shape agreement statistics need (missing judgments are simply
absent rows). Validation checks every row against the examples and the label set, naming file, line and field.

An annotator may judge the same item more than once (Dawid & Skene's 1979 data has one clinician examining every
patient three times; crowd exports re-serve items). Every judgment is kept; what each statistic does with repeats
is decided in ``data.repeats`` and stated in the audit, never by silently dropping rows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tunegate.data.encoding import utf8_guard
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


def parse_timestamp(value: str, *, file: str | Path | None = None, line: int | None = None,
                    field: str | None = "timestamp") -> float:
    """ISO 8601 (naive means UTC) or epoch seconds -> epoch seconds. Comparing the strings would order
    '2024-1-10' before '2024-1-9' and epoch seconds before dates, so both are parsed; anything else is an error
    naming where it came from."""
    s = (value or "").strip()
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
    except ValueError:
        pass
    try:
        x = float(s)
    except ValueError:
        x = float("nan")
    if x == x and abs(x) != float("inf"):
        return x
    raise DataError(f"unparseable timestamp '{s}' (use ISO 8601 such as 2024-05-02T09:00:00Z, or epoch seconds)",
                    file=file, line=line, field=field)


def load_annotations(
    path: str | Path,
    fields: AnnotationFieldMap | None = None,
    *,
    labels: list[str] | None = None,
    item_ids: set[str] | None = None,
    fmt: str = "auto",
) -> list[Annotation]:
    """Read and validate annotations (every judgment kept, repeats included). A timestamp column, when mapped,
    must parse on every row; an empty or header-only file is an error, not an audit of nothing."""
    f = fields or AnnotationFieldMap()
    out: list[Annotation] = []
    for row in utf8_guard(path, iter_rows(path, fmt)):
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
            ts = "" if d[f.timestamp] is None else str(d[f.timestamp]).strip()
            if ts:
                parse_timestamp(ts, file=row.file, line=row.line, field=f.timestamp)
            ts = ts or None
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
        out.append(Annotation(values["item_id"], values["annotator"], values["label"], ts, row.where))
    if not out:
        raise DataError("no annotations: the file is empty or holds only a header row "
                        f"(expected columns {f.item_id}, {f.annotator}, {f.label})", file=path)
    return out
