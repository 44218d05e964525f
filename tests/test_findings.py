"""Findings carry their texts: audit.json -> review CSV (`--export-findings`) and the report's data-gate section."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tunegate.data.audit import audit_examples
from tunegate.data.examples import Example
from tunegate.data.findings import COLUMNS, findings_rows, write_findings_csv
from tunegate.errors import DataError
from tunegate.spec import AuditSpec

EXAMPLES = [Example("a", "Why was my card declined?", label="card", split="train"),
            Example("b", "why was my card declined", label="card", split="test"),
            Example("c", "can you tell me why my card got declined", label="card", split="test"),
            Example("d", "order checks", label="checks", split="train"),
            Example("e", "Order checks!", label="card", split="dev")]


def _art() -> dict:
    v = np.array([[1, 0, 0], [1, 0, 0], [0.97, 0.243, 0], [0, 0, 1], [0, 0, 1]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    report, checks = audit_examples(EXAMPLES, AuditSpec(min_per_class=1, near_duplicate_threshold=0.95),
                                    labels=["card", "checks"], vectors=v)
    return {**report, "checks": [c.to_dict() for c in checks]}


def test_every_finding_row_has_its_texts_and_a_fix(tmp_path):
    art = json.loads(json.dumps(_art()))  # as read back from audit.json
    rows = findings_rows(art)
    kinds = {r["finding"] for r in rows}
    assert {"leakage", "conflicts", "near_duplicates", "duplicates"} <= kinds
    leak = next(r for r in rows if r["finding"] == "leakage")
    assert (leak["item_id"], leak["other_item_id"]) == ("a", "b") and leak["severity"] == "fail"
    assert leak["text"] == "Why was my card declined?" and leak["other_text"] == "why was my card declined"
    conflict = next(r for r in rows if r["finding"] == "conflicts")
    assert {conflict["label"], conflict["other_label"]} == {"checks", "card"} and "relabel" in conflict["fix"]
    near = next(r for r in rows if r["finding"] == "near_duplicates")
    assert near["other_text"] == "can you tell me why my card got declined" and near["severity"] == "warn"
    assert all(r["text"] and r["fix"] for r in rows)

    path, n = write_findings_csv(art, tmp_path / "out" / "findings.csv")
    back = list(csv.DictReader(path.open(encoding="utf-8")))
    assert n == len(rows) == len(back) and list(back[0]) == list(COLUMNS)
    assert back[0]["review_decision"] == "" and back[0]["reviewer"] == ""
    with pytest.raises(DataError, match="CSV or TSV"):
        write_findings_csv(art, tmp_path / "findings.json")


def test_report_shows_the_texts_of_findings(tmp_path):
    from tunegate.report.render import render_report

    art = {"artifact": "audit", "gate": "fail", "reasons": ["leakage: …"], **_art()}
    (tmp_path / "audit.json").write_text(json.dumps(art))
    html, md = render_report(tmp_path)
    text = md.read_text(encoding="utf-8")
    assert "why was my card declined" in text and "can you tell me why my card got declined" in text
    assert "audit.near_duplicate_threshold" in text and "--export-findings" in text
