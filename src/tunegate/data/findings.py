"""Audit findings as review rows: one row per pair, group member or flagged item, with the texts and a fix.

Why: a finding a person cannot look at is a finding nobody fixes. ``tunegate audit --export-findings FILE.csv``
writes these rows so they can be loaded into a labeling tool (Label Studio and Argilla both import a CSV with a
text column) or a spreadsheet: ``text`` (and ``other_text`` for pairs) to read, ``label`` / ``suggested_label`` to
compare, empty ``review_decision`` and ``reviewer`` columns to fill in. For extraction and generation tasks
(audit.json ``gold`` is not "label") the ``label`` column holds the gold target in canonical form. Rows are built
from audit.json alone, so an old run directory can be exported again.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tunegate.errors import DataError

COLUMNS = ("finding_id", "finding", "severity", "item_id", "split", "label", "text", "other_item_id", "other_split",
           "other_label", "other_text", "similarity", "suggested_label", "detail", "fix", "review_decision",
           "reviewer")

FIX = {
    "leakage": "remove the test copy from train/dev (or keep identical texts in one split) and re-split",
    "conflicts": "decide the one correct label for this text and relabel the copies (or sharpen the guideline)",
    "duplicates": "drop the extra copy",
    "near_duplicates": "paraphrases are fine; if this pair is a near-copy, drop one or keep both in one split "
                       "(audit.near_duplicate_threshold moves the line)",
    "near_conflicts": "check both labels: the texts are near-identical but labeled differently",
    "label_noise": "review the label: the embedding probe confidently suggests another class",
    "repeated_judgments": "adjudicate: the same annotator gave this item different labels",
}


FIX_TARGET = {"conflicts": "decide the one correct gold answer for this input and correct the copies (for generation, "
                           "keep one reference reply per message or say why both are right)"}


def _row(fid: str, kind: str, severity: str, a: dict[str, Any], b: dict[str, Any] | None = None,
         **extra: Any) -> dict[str, Any]:
    row = {"finding_id": fid, "finding": kind, "severity": severity, "item_id": a.get("id"),
           "split": a.get("split"), "label": a.get("label"), "text": a.get("text"), "fix": FIX.get(kind, "")}
    if b is not None:
        row.update(other_item_id=b.get("id"), other_split=b.get("split"), other_label=b.get("label"),
                   other_text=b.get("text"))
    row.update({k: v for k, v in extra.items() if v is not None})
    return row


def _status(art: dict[str, Any], name: str, default: str = "warn") -> str:
    for c in art.get("checks") or []:
        if c.get("name") == name:
            return str(c.get("status"))
    return default


def findings_rows(art: dict[str, Any]) -> list[dict[str, Any]]:
    """Every text-bearing finding of an audit artifact, as flat rows (pairs stay on one row)."""
    rows: list[dict[str, Any]] = []
    targets = str(art.get("gold") or "label") != "label"  # extraction / generation: the label column holds the target

    def records(key: str, sub: str | None = None) -> list[dict[str, Any]]:
        d = art.get(key) or {}
        d = (d.get(sub) or {}) if sub else d
        return [r for r in d.get("records") or [] if isinstance(r, dict) and r.get("items")]

    for kind, key, sub in (("leakage", "leakage", None), ("near_duplicates", "near_duplicates", None),
                           ("near_conflicts", "near_conflicts", None)):
        sev = _status(art, kind)
        for n, r in enumerate(records(key, sub), 1):
            a, b = r["items"][0], r["items"][-1]
            rows.append(_row(f"{kind}-{n}", kind, sev, a, b, similarity=r.get("similarity"),
                             detail=f"{r.get('how', '')} {r.get('kind', '')}".strip()))
    for kind, key, sub in (("conflicts", "conflicts", None), ("duplicates", "duplicates", "exact"),
                           ("duplicates", "duplicates", "normalized")):
        sev = _status(art, kind)
        for n, r in enumerate(records(key, sub), 1):
            first = r["items"][0]
            fid = f"{kind}-{sub or 'same-text'}-{n}"
            detail = (f"{'gold' if targets else 'labels'}: {' / '.join(map(str, r['labels']))}" if r.get("labels") else
                      f"{len(r['items'])} copies ({r.get('how', '')})")
            for other in r["items"][1:]:
                row = _row(fid, kind, sev, first, other, detail=detail)
                if targets and kind in FIX_TARGET:
                    row["fix"] = FIX_TARGET[kind]
                rows.append(row)
    noise = art.get("noise") or {}
    for n, issue in enumerate(noise.get("issues") or [], 1):
        item = {"id": issue.get("id"), "split": issue.get("split"), "label": issue.get("given"),
                "text": issue.get("text")}
        rows.append(_row(f"label_noise-{n}", "label_noise", _status(art, "label_noise", "info"), item,
                         suggested_label=issue.get("suggested"),
                         detail=f"confidence in given {issue.get('self_confidence')}, in suggested "
                                f"{issue.get('suggested_probability')}; {issue.get('action', '')}"))
    rep = art.get("repeated_judgments") or {}
    for n, c in enumerate(rep.get("conflicts") or [], 1):
        item = {"id": c.get("item_id"), "label": " / ".join(map(str, c.get("labels") or [])),
                "text": c.get("text")}
        rows.append(_row(f"repeated_judgments-{n}", "repeated_judgments", "warn", item,
                         detail=f"annotator {c.get('annotator')} at {', '.join(c.get('sources') or [])}"))
    return rows


def write_findings_csv(art: dict[str, Any], path: str | Path) -> tuple[Path, int]:
    """Write ``findings_rows(art)`` as CSV (UTF-8, header always written); returns (path, number of rows)."""
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".tsv"):
        raise DataError(f"--export-findings writes CSV or TSV; got '{p.suffix or '(no extension)'}'", file=p)
    if p.is_dir():
        raise DataError("is a directory; give a file name such as findings.csv", file=p)
    rows = findings_rows(art)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, delimiter="\t" if p.suffix.lower() == ".tsv" else ",",
                           extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    return p, len(rows)
