"""Labeling-tool exports (Label Studio, Argilla) to long-format ``Annotation`` rows.

Why: teams label in these tools, and hand-converting an export invites silent mistakes — a cancelled annotation
counted as a vote, a draft counted as a decision, a multi-label answer squashed to its first choice. Each importer
keeps only decisions, counts what it skipped and why (the ``report``), and names the file and the task or record
when an export cannot be read as single-label classification.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tunegate.data.annotations import Annotation
from tunegate.data.encoding import decode_error
from tunegate.errors import DataError


class ImportedAnnotations(list):
    """A ``list[Annotation]`` plus ``report``: format, file, n_tasks, n_annotations, n_skipped, skipped (reason →
    count) and the question / control that was read."""

    report: dict[str, Any]

    def __init__(self, rows: list[Annotation], report: dict[str, Any]) -> None:
        super().__init__(rows)
        self.report = report


def _load_records(path: str | Path) -> tuple[Path, list[tuple[int | None, Any]]]:
    """Records of a JSON export (a list, or an object holding one under records/tasks/data) or of a JSONL file;
    each comes with its line number where the format has lines."""
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", file=p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise decode_error(p, exc) from None
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        out: list[tuple[int | None, Any]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    out.append((lineno, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", file=p, line=lineno) from None
        return p, out
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg})", file=p, line=exc.lineno) from None
    if isinstance(obj, dict):
        obj = next((obj[k] for k in ("records", "tasks", "data") if isinstance(obj.get(k), list)), None)
    if not isinstance(obj, list):
        raise DataError("expected a JSON list of tasks/records (or an object with a 'records' list)", file=p)
    return p, [(None, r) for r in obj]


def _where(n: int, rec: Any, kind: str) -> str:
    rid = rec.get("id") if isinstance(rec, dict) else None
    return f"{kind} #{n}" + (f" (id {rid})" if rid is not None else "")


def _report(fmt: str, p: Path, n: int, rows: list, skipped: Counter, **extra: Any) -> dict[str, Any]:
    return {"format": fmt, "file": str(p), "n_tasks": n, "n_annotations": len(rows),
            "n_skipped": sum(skipped.values()), "skipped": dict(skipped), **extra}


def _ls_user(cb: Any) -> str | None:
    if isinstance(cb, dict):
        v = cb.get("email") or cb.get("id")
        return None if v in (None, "") else str(v)
    return None if cb in (None, "") else str(cb)


def _check_choice(found: set[str], wanted: str | None, what: str, option: str, path: Path) -> None:
    """An export with several label controls / questions needs the caller to name one, and the name must exist."""
    if wanted is None and len(found) > 1:
        raise DataError(f"several {what}s ({', '.join(sorted(found))}); pass {option}", file=path)
    if wanted is not None and found and wanted not in found:
        raise DataError(f"no {what} named '{wanted}' (found: {', '.join(sorted(found))})", file=path)


def import_label_studio(path: str | Path, *, from_name: str | None = None,
                        id_field: str | None = None) -> ImportedAnnotations:
    """Read a Label Studio JSON export (a list of tasks with ``annotations``; pre-1.0 ``completions`` too).

    The item id is ``data[id_field]`` when given, else the task id. Only ``choices`` results count, from the
    control ``from_name`` (needed only when the export has several choices controls). Cancelled (skipped)
    annotations and annotations without a choice are skipped and counted; model ``predictions`` are ignored —
    they are not annotators. A result with several choices is an error: aggregation here is single-label.
    """
    p, recs = _load_records(path)
    names: set[str] = set()
    for _, t in recs:
        for a in (t.get("annotations") or t.get("completions") or []) if isinstance(t, dict) else []:
            names |= {r.get("from_name") for r in a.get("result") or [] if r.get("type") == "choices"}
    names.discard(None)
    _check_choice(names, from_name, "choices control", "from_name", p)
    rows: list[Annotation] = []
    skipped: Counter = Counter()
    for n, (line, t) in enumerate(recs):
        where = _where(n, t, "task")
        if not isinstance(t, dict):
            raise DataError(f"{where}: expected an object, got {type(t).__name__}", file=p, line=line)
        data = t.get("data") or {}
        if id_field is not None:
            if data.get(id_field) in (None, ""):
                raise DataError(f"{where}: data has no '{id_field}'", file=p, line=line, field=f"data.{id_field}")
            item = str(data[id_field])
        elif t.get("id") is None:
            raise DataError(f"{where}: task has no id (pass id_field to read one from data)", file=p, line=line,
                            field="id")
        else:
            item = str(t["id"])
        for a in t.get("annotations") or t.get("completions") or []:
            if a.get("was_cancelled"):
                skipped["cancelled"] += 1
                continue
            res = [r for r in a.get("result") or [] if r.get("type") == "choices"
                   and (from_name is None or r.get("from_name") == from_name)]
            choices = [c for r in res for c in ((r.get("value") or {}).get("choices") or [])]
            if not choices:
                skipped["no choice"] += 1
                continue
            if len(choices) > 1:
                raise DataError(f"{where}: annotation {a.get('id', '?')} chose {len(choices)} labels "
                                f"({', '.join(map(str, choices))}); only single-choice labels can be aggregated",
                                file=p, line=line, field="result.value.choices")
            who = _ls_user(a.get("completed_by"))
            if who is None:
                raise DataError(f"{where}: annotation {a.get('id', '?')} has no completed_by", file=p, line=line,
                                field="completed_by")
            rows.append(Annotation(item, who, str(choices[0]), a.get("created_at") or a.get("updated_at"),
                                   f"{p}[task {t.get('id', n)}]"))
    chosen = from_name or (next(iter(names)) if names else None)
    return ImportedAnnotations(rows, _report("label_studio", p, len(recs), rows, skipped, from_name=chosen))


def _argilla_responses(rec: dict[str, Any]) -> list[tuple[str, Any, Any, str | None]]:
    """(question, user, value, status) for the three record shapes Argilla writes: v2 nested
    (``responses: {question: [{value, user_id, status}]}``), v2 flattened (``question.responses[.users|.status]``)
    and v1 FeedbackDataset (``responses: [{user_id, values: {question: {value}}, status}]``)."""
    out = []
    resp = rec.get("responses")
    if isinstance(resp, dict):
        for q, lst in resp.items():
            for r in lst or []:
                out.append((q, r.get("user_id"), r.get("value"), r.get("status")))
    elif isinstance(resp, list):
        for r in resp:
            for q, v in (r.get("values") or {}).items():
                out.append((q, r.get("user_id"), v.get("value") if isinstance(v, dict) else v, r.get("status")))
    for key in [k for k in rec if k.endswith(".responses")]:
        q = key[: -len(".responses")]
        vals, users = rec.get(key) or [], rec.get(f"{key}.users") or []
        stats = rec.get(f"{key}.status") or [None] * len(vals)
        out.extend((q, u, v, s) for v, u, s in zip(vals, users, stats))
    return out


def import_argilla(path: str | Path, *, question: str | None = None, id_field: str | None = None) -> ImportedAnnotations:
    """Read an Argilla export (JSON list or JSONL of records).

    v2 and v1-FeedbackDataset records: responses to the label question ``question`` (needed only when records
    answer several questions); ``submitted`` responses count, ``discarded`` and ``draft`` ones are skipped and
    counted (a response without a status, as older SDKs wrote them, counts as submitted and is tallied in
    ``n_status_missing``). v1 text-classification records (``annotation``, ``annotation_agent`` or
    ``annotated_by``, ``status``): only ``Validated`` ones count. The item id is ``fields``/``metadata``
    ``[id_field]`` when given, else the record's ``id``, ``external_id`` or ``_server_id``. A multi-label answer is
    an error: aggregation here is single-label.
    """
    p, recs = _load_records(path)
    names = {q for _, r in recs if isinstance(r, dict) for q, *_ in _argilla_responses(r)}
    _check_choice(names, question, "question", "question", p)
    rows: list[Annotation] = []
    skipped: Counter = Counter()
    no_status = 0
    for n, (line, rec) in enumerate(recs):
        where = _where(n, rec, "record")
        if not isinstance(rec, dict):
            raise DataError(f"{where}: expected an object, got {type(rec).__name__}", file=p, line=line)
        if id_field is not None:
            pool = {**(rec.get("metadata") or {}), **(rec.get("fields") or {})}
            if pool.get(id_field) in (None, ""):
                raise DataError(f"{where}: no '{id_field}' in fields or metadata", file=p, line=line, field=id_field)
            item = str(pool[id_field])
        else:
            rid = next((rec[k] for k in ("id", "external_id", "_server_id") if rec.get(k) not in (None, "")), None)
            if rid is None:
                raise DataError(f"{where}: record has no id (pass id_field)", file=p, line=line, field="id")
            item = str(rid)
        src = f"{p}:{line}" if line is not None else f"{p}[record {item}]"
        if "annotation" in rec and rec.get("responses") is None:  # Argilla v1 text classification
            status = str(rec.get("status") or "").lower()
            if status != "validated" or rec.get("annotation") in (None, "", []):
                skipped["discarded" if status == "discarded" else "not validated"] += 1
                continue
            resp = [(None, rec.get("annotation_agent") or rec.get("annotated_by"), rec["annotation"], "submitted")]
        else:
            resp = [r for r in _argilla_responses(rec) if question is None or r[0] == question]
        for q, user, value, status in resp:
            if status is None:
                no_status += 1
            elif str(status).lower() != "submitted":
                skipped[str(status).lower()] += 1
                continue
            if isinstance(value, list):
                if len(value) > 1:
                    raise DataError(f"{where}: {user} gave {len(value)} labels ({', '.join(map(str, value))}) to "
                                    f"'{q or 'annotation'}'; only single labels can be aggregated", file=p,
                                    line=line, field=q or "annotation")
                value = value[0] if value else None
            if value in (None, ""):
                skipped["empty"] += 1
                continue
            if user in (None, ""):
                raise DataError(f"{where}: a response has no user", file=p, line=line, field="user_id")
            rows.append(Annotation(item, str(user), str(value), rec.get("event_timestamp"), src))
    chosen = question or (next(iter(names)) if names else None)
    return ImportedAnnotations(rows, _report("argilla", p, len(recs), rows, skipped, question=chosen,
                                             n_status_missing=no_status))
