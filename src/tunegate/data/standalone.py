"""Loading data that is not yet described by a spec, for the stand-alone forms of ``tunegate audit``.

A team often has an annotation export or a labeled CSV before it has a task spec. These loaders read such files
with explicit or inferred column names and produce the same records the spec-driven path uses, with the same
file:line errors.
"""

from __future__ import annotations

import json
from pathlib import Path

from tunegate.data.annotations import Annotation
from tunegate.data.encoding import decode_error, utf8_guard
from tunegate.data.examples import Example
from tunegate.data.readers import iter_rows
from tunegate.data.splits import SPLIT_ALIASES
from tunegate.errors import DataError

_INPUT = ("text", "input", "message", "query", "utterance", "sentence", "question", "content")
_LABEL = ("label", "intent", "category", "class", "gold")
_ID = ("id", "item_id", "uid")


def load_annotation_file(
    path: str | Path, *, item_col: str = "item_id", annotator_col: str = "annotator", label_col: str = "label",
    gold_col: str | None = None,
) -> tuple[list[Annotation], dict[str, str]]:
    """Long-format annotations with mapped columns; also the per-item gold labels when ``gold_col`` is given
    (the gold must be the same on every row of an item)."""
    anns: list[Annotation] = []
    gold: dict[str, str] = {}
    for row in utf8_guard(path, iter_rows(path)):
        if row.error:
            raise DataError(row.error, file=row.file, line=row.line)
        d = row.data or {}
        vals = {}
        for col in (item_col, annotator_col, label_col) + ((gold_col,) if gold_col else ()):
            if col not in d:
                raise DataError("missing field", file=row.file, line=row.line, field=col)
            v = "" if d[col] is None else str(d[col]).strip()
            if not v and col != gold_col:
                raise DataError("empty value", file=row.file, line=row.line, field=col)
            vals[col] = v
        item = vals[item_col]
        anns.append(Annotation(item, vals[annotator_col], vals[label_col], None, row.where))
        if gold_col and vals[gold_col]:
            if gold.setdefault(item, vals[gold_col]) != vals[gold_col]:
                raise DataError(f"item '{item}' has two different gold labels ('{gold[item]}' and "
                                f"'{vals[gold_col]}')", file=row.file, line=row.line, field=gold_col)
    if not anns:
        raise DataError("no annotations: the file is empty or holds only a header row (expected columns "
                        f"{item_col}, {annotator_col}, {label_col})", file=path)
    return anns, gold


def _pick(columns: list[str], names: tuple[str, ...], given: str | None, what: str, path: Path) -> str:
    if given:
        if given not in columns:
            raise DataError(f"no column '{given}' (columns: {', '.join(columns)})", file=path, field=what)
        return given
    lower = {c.lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    raise DataError(f"cannot tell which column is the {what} (columns: {', '.join(columns)}); name it with "
                    f"--{what}-col", file=path)


def _clinc_style(path: Path) -> list[Example] | None:
    """A JSON object mapping split names to lists of [text, label] pairs (the CLINC150 layout)."""
    if path.suffix.lower() != ".json":
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise decode_error(path, exc) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg})", file=path, line=exc.lineno) from None
    if not isinstance(obj, dict):
        return None
    out: list[Example] = []
    for key, rows in obj.items():
        split = SPLIT_ALIASES.get(key.lower().removeprefix("oos_"))
        if split is None or not isinstance(rows, list):
            raise DataError(f"key '{key}' is not a split name (train/val/test, optionally oos_ prefixed)", file=path)
        for i, pair in enumerate(rows):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                raise DataError(f"{key}[{i}] is not a [text, label] pair", file=path, field=key)
            out.append(Example(f"{key}-{i}", pair[0], label=pair[1], split=split, source=f"{path}:{key}[{i}]"))
    return out


def load_example_file(
    path: str | Path, *, split: str | None = None, input_col: str | None = None, label_col: str | None = None,
    id_col: str | None = None, id_prefix: str = "",
) -> list[Example]:
    """Labeled examples from JSONL/CSV/Parquet (columns inferred when not named) or a CLINC-style JSON file. A
    ``split`` column, when present and ``split`` is not given, assigns each row's split."""
    p = Path(path)
    clinc = _clinc_style(p)
    if clinc is not None:
        return clinc
    out: list[Example] = []
    cols: dict[str, str] = {}
    for row in utf8_guard(p, iter_rows(p)):
        if row.error:
            raise DataError(row.error, file=row.file, line=row.line)
        d = row.data or {}
        if not cols:
            columns = list(d)
            cols["input"] = _pick(columns, _INPUT, input_col, "input", p)
            cols["label"] = _pick(columns, _LABEL, label_col, "label", p)
            cols["id"] = id_col or next((c for c in columns if c.lower() in _ID), "")
            # a split column (train/dev/test or aliases) is used when the caller did not fix the split
            cols["split"] = "" if split is not None else next((c for c in columns if c.lower() == "split"), "")
        for role in ("input", "label"):
            v = d.get(cols[role])
            if v is None or not str(v).strip():
                raise DataError("missing or empty value", file=row.file, line=row.line, field=cols[role])
        # without an id column, file:line is unique across files already; with one, the prefix keeps test ids apart
        ex_id = f"{id_prefix}{d[cols['id']]}" if cols["id"] else f"{p.stem}:{row.line}"
        row_split = split
        if cols["split"]:
            raw = "" if d.get(cols["split"]) is None else str(d[cols["split"]]).strip().lower()
            row_split = SPLIT_ALIASES.get(raw)
            if row_split is None:
                raise DataError(f"unknown split '{raw}' (use train, dev/val or test)", file=row.file,
                                line=row.line, field=cols["split"])
        out.append(Example(str(ex_id), str(d[cols["input"]]).strip(), label=str(d[cols["label"]]).strip(),
                           split=row_split, source=row.where))
    if not out:
        raise DataError("no examples found", file=p)
    return out
