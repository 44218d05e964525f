"""Review queues back to where people label: Label Studio tasks and Argilla records, and their answers back.

Why: the adjudication queue and the data gate's findings are useless as a CSV nobody opens. Exported as import
files of the team's labeling tool, each item carries its text, why it is queued, and the votes so far as
*pre-annotations* (Label Studio ``predictions``, Argilla ``suggestions`` + a votes field) — suggestions, never
answers: the existing importers ignore them, so only what a person submits comes back. Answers return through the
same importers ``tunegate import-annotations`` uses and become adjudications (item_id, adjudicated_label,
adjudicator) that ``data.annotations.adjudications`` feeds to the next audit.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from tunegate.errors import InputError

QUESTION = "label"  # the Label Studio choices control / Argilla label question the importers are pointed at
ITEM_CHECKS = ("duplicates", "gold_vs_annotations")  # data-gate checks whose ``items`` are example ids


def queue_from_audit(audit_path: str | Path, *, findings: bool = True) -> list[dict[str, Any]]:
    """The adjudication queue of ``audit.json`` plus (``findings``) every item a data-gate check flagged, one row
    per item: item_id, reason, votes (annotator -> label), label (aggregate or suggested), confidence."""
    p = Path(audit_path)
    if p.is_dir():
        p = p / "audit.json"
    if not p.exists():
        raise InputError("no audit.json (run `tunegate audit --out DIR` first)", file=p)
    try:
        art = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"invalid JSON ({exc})", file=p) from None
    if art.get("artifact") != "audit":
        raise InputError("not an audit artifact", file=p, field="artifact")
    rows: dict[str, dict[str, Any]] = {}
    for q in art.get("adjudication_queue") or []:
        rows[str(q["item_id"])] = {"item_id": str(q["item_id"]), "reason": q.get("reason") or "adjudication queue",
                                   "votes": q.get("votes") or {}, "label": q.get("label"),
                                   "confidence": q.get("confidence"), "source": "adjudication_queue"}
    if findings:
        for issue in (art.get("noise") or {}).get("issues") or []:
            row = rows.setdefault(str(issue["id"]), {"item_id": str(issue["id"]), "reason": "", "votes": {},
                                                     "label": issue.get("suggested"), "confidence":
                                                     issue.get("suggested_probability"), "source": "label_noise"})
            row["reason"] = _join(row["reason"], f"label noise: given '{issue.get('given')}', model suggests "
                                  f"'{issue.get('suggested')}'")
            row["votes"].setdefault("given_label", issue.get("given"))
        for check in art.get("checks") or []:
            if check.get("status") not in ("fail", "warn") or check.get("name") not in ITEM_CHECKS:
                continue
            for item in _ids(check.get("items") or []):
                row = rows.setdefault(item, {"item_id": item, "reason": "", "votes": {}, "label": None,
                                             "confidence": None, "source": check["name"]})
                row["reason"] = _join(row["reason"], f"{check['name']}: {check.get('detail') or ''}".strip())
    return list(rows.values())


def _join(a: str, b: str) -> str:
    return b if not a else (a if b in a else f"{a}; {b}")


def _ids(items: Any) -> list[str]:
    out: list[str] = []
    for it in items:
        if isinstance(it, (list, tuple)):
            out.extend(_ids(it))
        elif isinstance(it, dict):
            out.extend(str(it[k]) for k in ("id", "item_id", "a", "b") if k in it)
        elif it is not None:
            out.append(str(it))
    return out


def _texts(queue: list[dict[str, Any]], texts: dict[str, str]) -> None:
    missing = [q["item_id"] for q in queue if q["item_id"] not in texts]
    if missing:
        raise InputError(f"no text for {len(missing)} queued item(s) ({', '.join(missing[:5])}): the examples file "
                         "must hold every queued item id", field="item_id")


def label_studio_tasks(queue: list[dict[str, Any]], texts: dict[str, str], labels: list[str]) -> tuple[list, str]:
    """(tasks, labeling config XML): one task per item; each vote and the aggregate are predictions."""
    _texts(queue, texts)
    tasks = []
    for q in queue:
        preds = []
        for who, lab in (q.get("votes") or {}).items():
            for one in (lab if isinstance(lab, list) else [lab]):
                if one is not None:
                    preds.append({"model_version": f"vote:{who}", "result": [_ls_choice(one)]})
        if q.get("label") is not None:
            preds.append({"model_version": "tunegate:aggregate", "score": q.get("confidence"),
                          "result": [_ls_choice(q["label"])]})
        tasks.append({"data": {"text": texts[q["item_id"]], "item_id": q["item_id"], "reason": q.get("reason") or "",
                               "votes": json.dumps(q.get("votes") or {}, ensure_ascii=False)},
                      "predictions": preds})
    choices = "\n".join(f"    <Choice value={quoteattr(lab)}/>" for lab in labels)
    config = (f'<View>\n  <Header value="$reason"/>\n  <Text name="text" value="$text"/>\n  <Text name="votes" '
              f'value="$votes"/>\n  <Choices name="{QUESTION}" toName="text" choice="single" showInline="true">\n'
              f"{choices}\n  </Choices>\n</View>\n")
    return tasks, config


def _ls_choice(label: str) -> dict[str, Any]:
    return {"from_name": QUESTION, "to_name": "text", "type": "choices", "value": {"choices": [str(label)]}}


def argilla_records(queue: list[dict[str, Any]], texts: dict[str, str], labels: list[str]) -> tuple[list, dict]:
    """(records, dataset settings) in Argilla 2.x shape: fields text + votes, a single-label question, the
    aggregate as a suggestion, reason and source as metadata."""
    _texts(queue, texts)
    records = []
    for q in queue:
        rec: dict[str, Any] = {"id": q["item_id"], "fields": {"text": texts[q["item_id"]], "votes": json.dumps(
            q.get("votes") or {}, ensure_ascii=False)}, "metadata": {"item_id": q["item_id"], "reason":
            q.get("reason") or "", "source": q.get("source") or ""}, "responses": {}, "suggestions": {}}
        if q.get("label") is not None and q["label"] in labels:
            rec["suggestions"][QUESTION] = {"value": q["label"], "score": q.get("confidence"),
                                            "agent": "tunegate:aggregate"}
        records.append(rec)
    settings = {"fields": [{"name": "text", "type": "text"}, {"name": "votes", "type": "text"}],
                "questions": [{"name": QUESTION, "type": "label_selection", "labels": labels, "required": True}],
                "metadata": [{"name": "reason", "type": "terms"}, {"name": "source", "type": "terms"}],
                "guidelines": "Choose the correct label. The votes so far and the aggregate are suggestions."}
    return records, settings


def write_review_files(queue: list[dict[str, Any]], texts: dict[str, str], labels: list[str],
                       out_dir: str | Path) -> dict[str, str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks, config = label_studio_tasks(queue, texts, labels)
    records, settings = argilla_records(queue, texts, labels)
    files = {"label_studio_tasks": out / "label_studio_tasks.json", "label_studio_config": out / "label_studio.xml",
             "argilla_records": out / "argilla_records.jsonl", "argilla_settings": out / "argilla_settings.json"}
    files["label_studio_tasks"].write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    files["label_studio_config"].write_text(config, encoding="utf-8")
    files["argilla_records"].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                        encoding="utf-8")
    files["argilla_settings"].write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    return {k: str(v) for k, v in files.items()}


def answers_to_adjudications(rows: list[tuple[str, str, str, str | None]], out_file: str | Path) -> int:
    """Write (item_id, annotator, label, timestamp) answers as the adjudication file the audit reads
    (item_id, adjudicated_label, adjudicator, timestamp). Identical repeats collapse; conflicts stay, and the
    audit's reader names them (two people disagreeing is not a decision)."""
    seen: set[tuple[str, str, str]] = set()
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "adjudicated_label", "adjudicator", "timestamp"])
        for item, who, lab, ts in rows:
            if (item, who, lab) in seen:
                continue
            seen.add((item, who, lab))
            w.writerow([item, lab, who, ts or ""])
            n += 1
    return n


def read_annotations_csv(path: str | Path) -> list[tuple[str, str, str, str | None]]:
    """The long CSV ``tunegate import-annotations`` writes (item_id, annotator, label, timestamp)."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=p)
    with p.open(newline="", encoding="utf-8") as fh:
        r = csv.DictReader(fh)
        for col in ("item_id", "annotator", "label"):
            if col not in (r.fieldnames or []):
                raise InputError(f"missing column '{col}'", file=p, line=1, field=col)
        return [(row["item_id"], row["annotator"], row["label"], row.get("timestamp") or None) for row in r]
