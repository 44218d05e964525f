"""``tunegate init``: a commented starter spec inferred from the user's own data file.

Starting from one's own file beats starting from a blank page: the fields, the label set and the split are read
off the data, and every inferred choice is written as a comment the user can check.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tunegate.data.readers import detect_format, iter_rows
from tunegate.data.splits import SPLIT_ALIASES
from tunegate.errors import DataError

_INPUT_NAMES = ("input", "text", "message", "query", "utterance", "question", "prompt", "content", "sentence")
_LABEL_NAMES = ("label", "intent", "category", "class", "gold", "y", "target_label")
_TARGET_NAMES = ("target", "output", "answer", "expected", "response", "reference")
_ID_NAMES = ("id", "item_id", "uid", "example_id", "guid")
MAX_LABELS = 200
SAMPLE_ROWS = 5000


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def infer_spec(data_file: str | Path, *, spec_dir: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """Return (commented YAML text, facts found). The data path is written relative to ``spec_dir``."""
    path = Path(data_file)
    fmt = detect_format(path)
    rows: list[dict[str, Any]] = []
    for row in iter_rows(path, fmt):
        if row.error:
            raise DataError(row.error, file=row.file, line=row.line)
        rows.append(row.data or {})
        if len(rows) >= SAMPLE_ROWS:
            break
    if not rows:
        raise DataError("the file holds no records", file=path)
    columns = list(dict.fromkeys(c for r in rows for c in r))
    distinct = {c: Counter(str(r.get(c)) for r in rows if r.get(c) not in (None, "")) for c in columns}

    def avg_len(c: str) -> float:
        vals = [len(str(r.get(c) or "")) for r in rows]
        return sum(vals) / len(vals)

    split_col = next((c for c in columns if distinct[c] and set(v.lower() for v in distinct[c]) <= set(SPLIT_ALIASES)
                      and len(distinct[c]) >= 2), None)
    id_col = _pick(columns, _ID_NAMES)
    if id_col is None:
        id_col = next((c for c in columns if c != split_col and len(distinct[c]) == len(rows) and avg_len(c) < 40
                       and c.lower().endswith("id")), None)
    rest = [c for c in columns if c not in (split_col, id_col)]
    label_col = _pick(rest, _LABEL_NAMES)
    if label_col is None:
        label_col = next((c for c in rest if 2 <= len(distinct[c]) <= min(MAX_LABELS, max(2, len(rows) // 3))
                          and avg_len(c) < 40 and c not in _INPUT_NAMES), None)
    target_col = None if label_col else _pick(rest, _TARGET_NAMES)
    input_col = _pick([c for c in rest if c not in (label_col, target_col)], _INPUT_NAMES)
    if input_col is None:
        candidates = [c for c in rest if c not in (label_col, target_col)]
        if not candidates:
            raise DataError("could not find an input text column", file=path)
        input_col = max(candidates, key=avg_len)
    slice_cols = [c for c in rest if c not in (label_col, target_col, input_col)
                  and 2 <= len(distinct[c]) <= 30 and avg_len(c) < 40]
    kind = "classification" if label_col else "generation"
    labels = sorted(distinct[label_col]) if label_col else []

    rel = Path(path).resolve()
    if spec_dir is not None:  # relative to the spec, so the pair can be moved together
        rel = Path(os.path.relpath(rel, Path(spec_dir).resolve()))
    fields: dict[str, Any] = {"input": input_col}
    if label_col:
        fields["label"] = label_col
    if target_col:
        fields["target"] = target_col
    if id_col:
        fields["id"] = id_col
    if split_col:
        fields["split"] = split_col
    if slice_cols:
        fields["slices"] = slice_cols

    def dump(obj: Any) -> str:
        if isinstance(obj, str):
            return json.dumps(obj, ensure_ascii=False)  # a JSON string is a valid YAML scalar, quoted safely
        return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=110).rstrip()

    split_note = (f"# split: read from column '{split_col}' ({', '.join(sorted(distinct[split_col]))})"
                  if split_col else "# split: no split column found; a seeded, stratified 60/20/20 split is made")
    lines = [
        f"# tunegate task spec, inferred by `tunegate init` from {path.name} ({len(rows)} rows read, format {fmt}).",
        "# Check every inferred choice below; `tunegate schema` lists all keys, `tunegate validate` checks the file.",
        "task:",
        f"  name: {dump(path.stem)}",
        f"  kind: {kind}  # classification | extraction | generation",
        "  instruction: null  # your task instruction for the model, in your own words",
    ]
    if labels:
        lines.append(f"  # {len(labels)} labels found in column '{label_col}'; add a description to each for prompts")
        lines.append("  labels:")
        lines += [f"    - name: {dump(lab)}\n      description: null" for lab in labels]
    lines += [
        "data:",
        f"  path: {dump(str(rel))}",
        f"  # fields: which column plays which role (input column chosen as '{input_col}')",
        "  fields:",
        *["    " + ln for ln in dump(fields).splitlines()],
        split_note,
    ]
    if not split_col:
        lines += ["  split:", "    ratios: {train: 0.6, dev: 0.2, test: 0.2}", "    seed: 0"]
    lines += [
        "eval:",
        f"  metric: {'accuracy' if kind == 'classification' else 'normalized_match'}",
        "  target: null  # the value the product needs, e.g. 0.9",
        "models:",
        "  default: local:smollm2  # offline demo model; point at a real endpoint under models.backends",
        "  # backends:",
        "  #   openai:gpt-4o-mini:",
        "  #     base_url: https://api.openai.com/v1",
        "  #     api_key_env: OPENAI_API_KEY   # the NAME of the variable, never the key",
        "  #     price: {input_per_1m: 0.15, output_per_1m: 0.60}",
        "seed: 0",
    ]
    facts = {"format": fmt, "rows_read": len(rows), "columns": columns, "input": input_col, "label": label_col,
             "target": target_col, "id": id_col, "split": split_col, "slices": slice_cols, "labels": labels,
             "kind": kind}
    return "\n".join(lines) + "\n", facts
