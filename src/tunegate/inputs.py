"""In-memory inputs for the public API: a spec as a mapping, examples and annotations as lists of dicts or
DataFrames.

A notebook holds its data in memory; the stages read files, because a file gives every error a line to point at
and every run a fingerprint to hash. So the records are written once into a working directory (JSONL, one record
per line, in the given order) beside the spec's YAML, and the spec is loaded from there like any other: an error
names that file, the line (= record index + 1) and the key, and nothing is dropped or reordered.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tunegate.errors import InputError, SpecError


def _records(rows: Any, what: str) -> list[dict[str, Any]]:
    """A list of dicts from a list/iterable of mappings or a pandas / polars DataFrame (duck-typed, no import)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas
        rows = rows.to_dict(orient="records")
    elif hasattr(rows, "to_dicts") and hasattr(rows, "columns"):  # polars
        rows = rows.to_dicts()
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise InputError(f"{what} must be a list of records (dicts) or a DataFrame, got {type(rows).__name__}")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(f"{what}[{i}] must be a dict of column -> value, got {type(row).__name__}")
        out.append(dict(row))
    return out


def _plain(value: Any) -> Any:
    """JSON-ready values: numpy scalars as Python numbers, NaN (a DataFrame's missing value) as null."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_records(rows: Any, path: Path, what: str) -> Path:
    """The records as JSONL, one per line in order; a value JSON cannot hold is an error naming the record."""
    lines = []
    for i, row in enumerate(_records(rows, what)):
        try:
            lines.append(json.dumps({str(k): _plain(v) for k, v in row.items()}, ensure_ascii=False,
                                    allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what}[{i}] cannot be written as JSON: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def spec_from_mapping(spec: Mapping[str, Any], *, data: Any = None, annotations: Any = None,
                      workdir: str | Path | None = None) -> Any:
    """A ``Spec`` from a mapping shaped like tunegate.yaml, with ``data`` (examples) and ``annotations`` given in
    memory. They are written to ``workdir`` (a new temporary directory when None) as ``data.jsonl`` and
    ``annotations.jsonl`` and the spec's ``data.path`` / ``data.annotations.path`` point at them; the spec itself is
    written as ``tunegate.yaml`` there and loaded, so errors name that file, line and key. Other relative paths in
    the mapping (a prompt template, human ratings) resolve from ``workdir``: give them as absolute paths."""
    import yaml

    from tunegate.spec import load_spec

    if not isinstance(spec, Mapping):
        raise SpecError(f"a spec mapping is a dict shaped like tunegate.yaml, got {type(spec).__name__}")
    doc = json.loads(json.dumps(spec, default=str))  # a plain, deep copy
    d = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="tunegate-"))
    d.mkdir(parents=True, exist_ok=True)
    if data is not None:
        section = doc.setdefault("data", {})
        if not isinstance(section, dict):
            raise SpecError("data must be a mapping when examples are given in memory", field="data")
        write_records(data, d / "data.jsonl", "data")
        section["path"] = "data.jsonl"
        section.pop("paths", None)
    if annotations is not None:
        section = doc.setdefault("data", {})
        ann = section.get("annotations")
        if not isinstance(ann, dict):
            ann = section["annotations"] = {}
        write_records(annotations, d / "annotations.jsonl", "annotations")
        ann["path"] = "annotations.jsonl"
    path = d / "tunegate.yaml"
    path.write_text("# written by tunegate.load_spec from an in-memory spec\n"
                    + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_spec(path)
