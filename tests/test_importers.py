"""Label Studio and Argilla exports → Annotation rows, with skipped judgments counted and bad exports located.

The fixtures mimic real exports (field names as the tools write them), small enough to read in the test.
"""

from __future__ import annotations

import json

import pytest

from tunegate.data.aggregation import encode, majority_vote
from tunegate.data.importers import import_argilla, import_label_studio
from tunegate.errors import DataError


def _ls_annotation(ann_id, user, choices, *, cancelled=False, created="2024-05-02T09:00:00.000000Z",
                   from_name="sentiment"):
    result = [] if choices is None else [{
        "id": f"r{ann_id}", "type": "choices", "from_name": from_name, "to_name": "text", "origin": "manual",
        "value": {"choices": choices}}]
    return {"id": ann_id, "completed_by": user, "result": result, "was_cancelled": cancelled, "ground_truth": False,
            "created_at": created, "updated_at": created, "lead_time": 4.2, "task": None, "project": 3}


def _ls_export():
    return [
        {"id": 101, "data": {"text": "Great service", "ref": "msg-1"}, "meta": {}, "project": 3,
         "created_at": "2024-05-01T12:00:00.000000Z", "predictions": [
             {"model_version": "m1", "result": [{"type": "choices", "from_name": "sentiment", "to_name": "text",
                                                 "value": {"choices": ["Negative"]}}]}],
         "annotations": [
             _ls_annotation(1, 7, ["Positive"]),
             _ls_annotation(2, {"id": 8, "email": "bo@example.com", "first_name": "Bo", "last_name": ""},
                            ["Positive"]),
             _ls_annotation(3, 9, None, cancelled=True),
         ]},
        {"id": 102, "data": {"text": "Never again", "ref": "msg-2"}, "annotations": [
            _ls_annotation(4, 7, ["Negative"]),
            _ls_annotation(5, {"id": 8, "email": "bo@example.com"}, ["Positive"]),
            _ls_annotation(6, 9, [], created="2024-05-02T10:00:00Z"),  # submitted with no choice
        ]},
        {"id": 103, "data": {"text": "No one looked at this", "ref": "msg-3"}, "annotations": []},
    ]


def test_label_studio_export(tmp_path):
    path = tmp_path / "project-3.json"
    path.write_text(json.dumps(_ls_export()), encoding="utf-8")
    anns = import_label_studio(path)
    assert [(a.item_id, a.annotator, a.label) for a in anns] == [
        ("101", "7", "Positive"), ("101", "bo@example.com", "Positive"),
        ("102", "7", "Negative"), ("102", "bo@example.com", "Positive")]
    assert anns[0].timestamp == "2024-05-02T09:00:00.000000Z" and "task 101" in anns[0].source
    assert anns.report == {"format": "label_studio", "file": str(path), "n_tasks": 3, "n_annotations": 4,
                           "n_skipped": 2, "skipped": {"cancelled": 1, "no choice": 1}, "from_name": "sentiment"}
    by_ref = import_label_studio(path, id_field="ref")
    assert {a.item_id for a in by_ref} == {"msg-1", "msg-2"}
    res = majority_vote(encode(anns), tie="abstain")
    assert dict(zip(res.item_ids, res.labels)) == {"101": "Positive", "102": None}


def test_label_studio_multi_choice_and_ambiguous_controls_are_errors(tmp_path):
    tasks = _ls_export()
    tasks[1]["annotations"][1] = _ls_annotation(5, 8, ["Positive", "Negative"])
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(DataError, match=r"task #1 \(id 102\): annotation 5 chose 2 labels") as exc:
        import_label_studio(path)
    assert exc.value.file == str(path)

    tasks = _ls_export()
    tasks[0]["annotations"][0]["result"].append({"type": "choices", "from_name": "topic", "to_name": "text",
                                                 "value": {"choices": ["billing"]}})
    path.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(DataError, match=r"several choices controls \(sentiment, topic\); pass from_name"):
        import_label_studio(path)
    topic = import_label_studio(path, from_name="topic")
    assert [(a.item_id, a.label) for a in topic] == [("101", "billing")]
    assert topic.report["skipped"] == {"cancelled": 1, "no choice": 4}
    with pytest.raises(DataError, match="no choices control named 'topc'"):
        import_label_studio(path, from_name="topc")
    with pytest.raises(DataError, match=r"task #0 \(id 101\): data has no 'uid'") as exc:
        import_label_studio(path, from_name="topic", id_field="uid")
    assert exc.value.field == "data.uid"


def _argilla_v2():
    u1, u2, u3 = ("3d9a1b0e-0000-4000-8000-000000000001", "3d9a1b0e-0000-4000-8000-000000000002",
                  "3d9a1b0e-0000-4000-8000-000000000003")
    return [
        {"id": "rec-1", "_server_id": "9f0c0000-aaaa-4bbb-8ccc-000000000001", "fields": {"text": "refund please"},
         "metadata": {"source": "email"}, "vectors": {},
         "suggestions": {"intent": {"value": "billing", "score": 0.8, "agent": "gpt"}},
         "responses": {"intent": [{"value": "billing", "user_id": u1, "status": "submitted"},
                                  {"value": "billing", "user_id": u2, "status": "submitted"},
                                  {"value": "shipping", "user_id": u3, "status": "discarded"}],
                       "notes": [{"value": "angry customer", "user_id": u1, "status": "submitted"}]}},
        {"id": "rec-2", "fields": {"text": "where is my parcel"}, "metadata": {}, "suggestions": {},
         "responses": {"intent": [{"value": "shipping", "user_id": u1, "status": "submitted"},
                                  {"value": "billing", "user_id": u2, "status": "draft"},
                                  {"value": ["shipping"], "user_id": u3, "status": "submitted"}]}},
        {"id": "rec-3", "fields": {"text": "hello"}, "metadata": {}, "suggestions": {}, "responses": {}},
    ]


def test_argilla_v2_export(tmp_path):
    path = tmp_path / "records.json"
    path.write_text(json.dumps(_argilla_v2()), encoding="utf-8")
    with pytest.raises(DataError, match=r"several questions \(intent, notes\); pass question"):
        import_argilla(path)
    anns = import_argilla(path, question="intent")
    assert [(a.item_id, a.annotator[-1], a.label) for a in anns] == [
        ("rec-1", "1", "billing"), ("rec-1", "2", "billing"), ("rec-2", "1", "shipping"), ("rec-2", "3", "shipping")]
    rep = anns.report
    assert (rep["n_tasks"], rep["n_annotations"], rep["n_skipped"]) == (3, 4, 2)
    assert rep["skipped"] == {"discarded": 1, "draft": 1} and rep["question"] == "intent"
    assert rep["n_status_missing"] == 0

    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in _argilla_v2()), encoding="utf-8")
    again = import_argilla(jsonl, question="intent")
    assert [(a.item_id, a.label) for a in again] == [(a.item_id, a.label) for a in anns]
    assert again[0].source == f"{jsonl}:1"
    by_meta = import_argilla(path, question="intent", id_field="text")
    assert by_meta[0].item_id == "refund please"


def test_argilla_multi_label_and_missing_id_are_errors(tmp_path):
    recs = _argilla_v2()
    recs[1]["responses"]["intent"][0]["value"] = ["shipping", "billing"]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    with pytest.raises(DataError, match=r"record #1 \(id rec-2\): .* gave 2 labels") as exc:
        import_argilla(path, question="intent")
    assert exc.value.line == 2 and exc.value.field == "intent"
    recs = _argilla_v2()
    del recs[2]["id"]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    with pytest.raises(DataError, match="record #2: record has no id") as exc:
        import_argilla(path, question="intent")
    assert exc.value.line == 3


def test_argilla_flattened_and_v1_exports(tmp_path):
    flat = [{"id": "a", "text": "x", "intent.responses": ["billing", "shipping"],
             "intent.responses.users": ["u1", "u2"], "intent.responses.status": ["submitted", "discarded"],
             "intent.suggestion": "billing", "intent.suggestion.score": 0.5, "intent.suggestion.agent": None}]
    p = tmp_path / "flat.json"
    p.write_text(json.dumps(flat), encoding="utf-8")
    anns = import_argilla(p)
    assert [(a.item_id, a.annotator, a.label) for a in anns] == [("a", "u1", "billing")]
    assert anns.report["skipped"] == {"discarded": 1}

    feedback_v1 = {"records": [
        {"external_id": "e1", "fields": {"text": "t"}, "responses": [
            {"user_id": "u1", "values": {"label": {"value": "spam"}}, "status": "submitted"},
            {"user_id": "u2", "values": {"label": {"value": "ham"}}, "status": "discarded"},
            {"user_id": "u3", "values": {"label": {"value": "ham"}}}]}]}
    p = tmp_path / "feedback.json"
    p.write_text(json.dumps(feedback_v1), encoding="utf-8")
    anns = import_argilla(p)
    assert [(a.item_id, a.annotator, a.label) for a in anns] == [("e1", "u1", "spam"), ("e1", "u3", "ham")]
    assert anns.report["n_status_missing"] == 1 and anns.report["skipped"] == {"discarded": 1}

    classic = [
        {"id": 1, "text": "buy now", "annotation": "spam", "annotation_agent": "ana", "status": "Validated",
         "event_timestamp": "2023-02-01T10:00:00"},
        {"id": 2, "text": "hi mum", "annotation": "ham", "annotated_by": "ben", "status": "Discarded"},
        {"id": 3, "text": "lunch?", "annotation": None, "prediction": [["ham", 0.9]], "status": "Default"},
    ]
    p = tmp_path / "classic.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in classic), encoding="utf-8")
    anns = import_argilla(p)
    assert [(a.item_id, a.annotator, a.label, a.timestamp) for a in anns] == [
        ("1", "ana", "spam", "2023-02-01T10:00:00")]
    assert anns.report["skipped"] == {"discarded": 1, "not validated": 1}


def test_unreadable_exports_name_the_file(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('[{"id": 1,', encoding="utf-8")
    with pytest.raises(DataError, match="invalid JSON") as exc:
        import_label_studio(p)
    assert exc.value.file == str(p)
    p.write_text('{"nothing": 1}', encoding="utf-8")
    with pytest.raises(DataError, match="expected a JSON list"):
        import_argilla(p)
    with pytest.raises(DataError, match="file not found"):
        import_argilla(tmp_path / "missing.json")


def test_import_annotations_cli_writes_long_format_that_audit_reads(tmp_path):
    import csv

    from typer.testing import CliRunner

    from tunegate.cli import app

    path = tmp_path / "project-3.json"
    path.write_text(json.dumps(_ls_export()), encoding="utf-8")
    out = tmp_path / "ann.csv"
    r = CliRunner().invoke(app, ["import-annotations", str(path), "--from", "label-studio", "--out", str(out)])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())  # rich wraps long paths at the terminal width
    assert "wrote 4 annotations" in said and "skipped 2" in said
    rows = list(csv.DictReader(out.open()))
    assert rows[0] == {"item_id": "101", "annotator": "7", "label": "Positive",
                       "timestamp": "2024-05-02T09:00:00.000000Z"}
    r = CliRunner().invoke(app, ["audit", "--annotations", str(out), "--json"])
    assert r.exit_code in (3, 4) and json.loads(r.stdout)["agreement"]["n_items"] == 2
    r = CliRunner().invoke(app, ["import-annotations", str(path), "--from", "prodigy"])
    assert r.exit_code == 2
