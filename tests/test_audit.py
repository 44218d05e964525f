"""The data gate: duplicates, leakage, label noise, coverage, the gate rules, and the real shared datasets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.data.audit import FAIL, INFO, PASS, UNKNOWN, WARN, Check, gate_from_checks
from tunegate.data.coverage import coverage
from tunegate.data.duplicates import DupItem, find_duplicates, normalize_for_dedup
from tunegate.data.examples import Example
from tunegate.data.noise import confident_learning
from tunegate.spec import RequiredSlice

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
EXAMPLE = ROOT / "examples" / "support-triage" / "tunegate.yaml"
runner = CliRunner()


def test_duplicates_conflicts_and_leakage():
    items = [
        DupItem("a", "Where is my parcel?", "order_status", "train"),
        DupItem("b", "Where is my parcel?", "order_status", "train"),       # exact duplicate of a
        DupItem("c", "where is my  PARCEL", "order_status", "test"),        # normalized duplicate -> leakage
        DupItem("d", "Refund me now!", "refund", "train"),
        DupItem("e", "refund me now", "billing", "dev"),                    # conflict (different label)
        DupItem("f", "totally different text", "refund", "test"),
        DupItem("g", "an almost identical sentence", "refund", "dev"),
        DupItem("h", "an almost identical sentence!!", "refund", "test"),   # normalized dup, dev-test leakage
    ]
    found = find_duplicates(items)
    assert found["exact_duplicates"].items == [["a", "b"]]
    assert sorted(map(sorted, found["normalized_duplicates"].items)) == [["a", "b", "c"], ["d", "e"], ["g", "h"]]
    assert found["conflicts"].items == [["d", "e"]]
    # leakage is reported as pairs (train/dev item, test item), each with both texts
    leak = {(r["items"][0]["id"], r["items"][1]["id"]): (r["kind"], r["how"]) for r in found["leakage"].records}
    assert leak == {("a", "c"): ("train-test", "normalized"), ("b", "c"): ("train-test", "normalized"),
                    ("g", "h"): ("dev-test", "normalized")}
    rec = found["leakage"].records[0]
    assert rec["items"][1] == {"id": "c", "split": "test", "label": "order_status", "text": "where is my  PARCEL"}
    assert found["conflicts"].records[0]["labels"] == ["billing", "refund"]
    assert normalize_for_dedup("  Héllo,   WORLD! ") == "héllo world"


def test_near_duplicates_are_a_warning_not_leakage_or_conflict():
    """Paraphrases across splits are what intent data is: shown with both texts, never counted as leakage."""
    items = [DupItem("x", "reset my password please", "account", "train"),
             DupItem("y", "please reset my password", "fraud", "test"),
             DupItem("z", "unrelated", "account", "train")]
    v = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    found = find_duplicates(items, vectors=v, near_threshold=0.95)
    assert found["near_duplicates"].items == [["x", "y"]]
    near = found["near_duplicates"].records[0]
    assert near["crosses_test"] and near["kind"] == "train-test" and near["similarity"] == pytest.approx(0.99, abs=1e-3)
    assert [it["text"] for it in near["items"]] == ["reset my password please", "please reset my password"]
    assert found["leakage"].count == 0 and found["conflicts"].count == 0
    assert found["near_conflicts"].records[0]["labels"] == ["account", "fraud"]
    assert find_duplicates(items, vectors=v, near_threshold=0.995)["near_duplicates"].count == 0


def test_audit_checks_fail_on_exact_leakage_warn_on_paraphrases():
    from tunegate.data.audit import audit_examples
    from tunegate.spec import AuditSpec

    ex = [Example("a", "Why was my card declined?", label="card", split="train"),
          Example("b", "why was my card declined", label="card", split="test"),
          Example("c", "can you tell me why my card got declined", label="card", split="test"),
          Example("d", "how do I order checks", label="checks", split="train")]
    v = np.array([[1, 0, 0], [1, 0, 0], [0.97, 0.243, 0], [0, 0, 1]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    cfg = AuditSpec(min_per_class=1, near_duplicate_threshold=0.95)
    report, checks = audit_examples(ex, cfg, labels=["card", "checks"], vectors=v)
    by = {c.name: c for c in checks}
    assert by["leakage"].status == FAIL and by["leakage"].value == 1 and by["leakage"].items == ["b"]
    assert "why was my card declined" in by["leakage"].detail and "Fix:" in by["leakage"].detail
    assert by["near_duplicates"].status == WARN and by["near_duplicates"].value == 1  # a↔c; b↔c are both test
    assert by["near_duplicates"].items == ["a", "c"] and "got declined" in by["near_duplicates"].detail
    assert "audit.near_duplicate_threshold" in by["near_duplicates"].detail
    assert report["leakage"]["n_test_items"] == 1 and report["near_duplicates"]["threshold"] == 0.95
    assert AuditSpec().near_duplicate_threshold == 0.98  # the calibrated default (docs/data-gate.md)
    _, checks = audit_examples(ex, AuditSpec(min_per_class=1, near_duplicate_threshold=0.99), labels=["card",
                               "checks"], vectors=v)
    assert {c.name: c for c in checks}["near_duplicates"].status == PASS  # the setting moves the line


def test_confident_learning_finds_flipped_labels():
    rng = np.random.default_rng(0)
    n, k = 600, 3
    truth = rng.integers(0, k, n)
    probs = np.full((n, k), 0.05)
    probs[np.arange(n), truth] = 0.9
    probs += rng.uniform(0, 0.05, (n, k))
    probs /= probs.sum(axis=1, keepdims=True)
    given = truth.copy()
    flipped = rng.choice(n, 30, replace=False)
    given[flipped] = (truth[flipped] + 1) % k
    labels = ["a", "b", "c"]
    ids = [f"i{i}" for i in range(n)]
    rep = confident_learning(probs, given, labels, ids, ["test" if i % 10 == 0 else "train" for i in range(n)])
    flagged = {i["id"] for i in rep.issues}
    truth_ids = {f"i{i}" for i in flipped}
    assert flagged <= truth_ids and len(flagged) >= 27  # precise, and finds at least 90% of the flips
    assert rep.estimated_noise_rate == pytest.approx(30 / n, abs=0.01)
    assert all(i["action"] == "report only (test split)" for i in rep.issues if i["split"] == "test")


def test_coverage_minimums_required_slices_and_long_tail():
    items = ([Example(f"a{i}", "t", label="a", split="train", slices={"edge": "sarcasm" if i < 3 else "none"})
              for i in range(30)]
             + [Example(f"b{i}", "t", label="b", split="train", slices={"edge": "none"}) for i in range(5)]
             + [Example(f"c{i}", "t", label="c", split="test", slices={"edge": "none"}) for i in range(30)])
    rep = coverage(items, labels=["a", "b", "c", "d"], min_per_class=10,
                   required_slices=[RequiredSlice(column="edge", value="sarcasm", min=5)])
    below = {b["label"]: b["count"] for b in rep.classes_below_min}
    assert below == {"b": 5, "c": 0, "d": 0}  # c has only test examples; d none at all
    assert rep.required_slices[0]["count"] == 3 and not rep.required_slices[0]["met"]
    assert set(rep.long_tail["rare_classes"]) == {"b", "d"}


@pytest.mark.parametrize(
    "statuses, gate",
    [
        ({"agreement": PASS, "label_noise": PASS, "leakage": PASS}, "pass"),
        ({"agreement": WARN, "label_noise": PASS, "duplicates": WARN}, "pass"),
        ({"agreement": PASS, "label_noise": PASS, "leakage": FAIL}, "fail"),
        ({"agreement": UNKNOWN, "label_noise": PASS, "leakage": FAIL}, "fail"),
        ({"agreement": UNKNOWN, "label_noise": PASS}, "unknown"),
        ({"agreement": PASS, "label_noise": UNKNOWN}, "unknown"),
        ({"label_noise": PASS, "leakage": PASS, "gold_vs_annotations": INFO}, "unknown"),  # no annotations
    ],
)
def test_gate_rules(statuses, gate):
    checks = [Check(name, st, detail=name) for name, st in statuses.items()]
    assert gate_from_checks(checks)[0] == gate


def test_standalone_annotations_bad_input(tmp_path):
    p = tmp_path / "ann.csv"
    p.write_text("item_id,annotator,label\ni1,a,x\ni1,b,y\ni2,a,\n")
    r = runner.invoke(app, ["audit", "--annotations", str(p), "--json"])
    assert r.exit_code == 2 and "ann.csv:4: label: empty value" in r.output
    p.write_text("item_id,annotator,label\ni1,a,x\ni1,b,y\ni2,a,x\ni2,b,x\n")
    r = runner.invoke(app, ["audit", "--annotations", str(p), "--level", "interval", "--json"])
    assert r.exit_code == 2 and "error:" in r.output
    r = runner.invoke(app, ["audit", "--annotations", str(p), "--json"])
    assert r.exit_code == 3  # alpha of this tiny set is far below 0.667
    d = json.loads(r.stdout)
    assert d["agreement"]["n_items"] == 2 and d["agreement"]["fleiss_kappa"] is not None


@pytest.mark.skipif(not (SHARED / "snow2008-rte").exists(), reason="shared datasets not present")
def test_snow_rte_crowd_labels(tmp_path):
    tsv = SHARED / "snow2008-rte" / "rte.standardized.tsv"
    base = ["audit", "--annotations", str(tsv), "--item-col", "orig_id", "--annotator-col", "!amt_worker_ids",
            "--label-col", "response", "--gold-col", "gold", "--json"]
    r = runner.invoke(app, base + ["--export-labels", str(tmp_path / "labels.csv")])
    assert r.exit_code == 3  # crowd agreement is low: the gate fails on alpha
    d = json.loads(r.stdout)
    assert 0.2 < d["agreement"]["krippendorff_alpha"] < 0.3
    assert d["agreement"]["n_items"] == 800 and d["agreement"]["n_annotators"] == 164
    ds_acc = d["aggregation"]["accuracy_vs_gold"]
    r = runner.invoke(app, base + ["--method", "majority"])
    mv_acc = json.loads(r.stdout)["aggregation"]["accuracy_vs_gold"]
    assert ds_acc >= 0.92 and ds_acc > mv_acc >= 0.85  # Snow et al.: ~0.93 (DS-style) vs ~0.90 (majority)
    rows = list(csv.DictReader((tmp_path / "labels.csv").open()))
    assert len(rows) == 800 and set(rows[0]) == {"item_id", "label", "confidence", "method"}


@pytest.mark.skipif(not (SHARED / "banking77").exists(), reason="shared datasets not present")
def test_banking77_cross_split_findings():
    r = runner.invoke(app, ["audit", "--examples", str(SHARED / "banking77" / "train.csv"), "--test",
                            str(SHARED / "banking77" / "test.csv"), "--no-embeddings", "--json"])
    assert r.exit_code == 3, r.output
    d = json.loads(r.stdout)
    from tunegate.data.readers import iter_rows

    texts = {}
    for split in ("train", "test"):
        for row in iter_rows(SHARED / "banking77" / f"{split}.csv"):
            texts[f"{split}:{row.line}"] = row.data["text"].strip()
    assert d["leakage"]["count"] >= 1
    for rec in d["leakage"]["records"]:  # every leakage pair really is the same normalized text across splits
        a, b = rec["items"]
        assert (a["split"], b["split"]) == ("train", "test") and (a["text"], b["text"]) == (texts[a["id"]],
                                                                                         texts[b["id"]])
        assert normalize_for_dedup(a["text"]) == normalize_for_dedup(b["text"])


@pytest.mark.skipif(not (SHARED / "clinc150").exists(), reason="shared datasets not present")
def test_clinc150_json_layout_audit():
    r = runner.invoke(app, ["audit", "--examples", str(SHARED / "clinc150" / "data_full.json"), "--no-embeddings",
                            "--json"])
    d = json.loads(r.stdout)
    assert r.exit_code == 3 and d["leakage"]["count"] > 0
    assert sum(d["coverage"]["per_class"]["oos"].values()) > 0
    assert len(d["coverage"]["per_class"]) == 151


@pytest.mark.integration
def test_audit_example_task_end_to_end(tmp_path):
    r = runner.invoke(app, ["audit", str(EXAMPLE), "--json", "--out", str(tmp_path)])
    d = json.loads(r.stdout)
    assert r.exit_code == {"pass": 0, "fail": 3, "unknown": 4}[d["gate"]]
    for key in ("duplicates", "conflicts", "leakage"):
        assert {"count", "items"} <= set(d[key])
    assert d["agreement"]["n_annotators"] == 3 and d["agreement"]["n_items"] == 485
    assert 0.6 < d["agreement"]["krippendorff_alpha"] < 0.9
    assert d["noise"]["oof_accuracy"] > 0.5
    assert (tmp_path / "audit.json").exists() and (tmp_path / "adjudication_queue.csv").exists()


def test_adjudications_from_the_spec_override_and_are_recorded(tmp_path):
    """Export the queue, a person fills two rows (one left blank), the next audit applies them with names."""
    import shutil

    from tunegate.audit_stage import audit_stage
    from tunegate.spec import load_spec

    src = EXAMPLE.parent
    for name in ("data.jsonl", "annotations.csv"):
        shutil.copy(src / name, tmp_path / name)
    text = EXAMPLE.read_text().replace("template: prompts/zero_shot.txt", "inline: '{{input}}'")
    (tmp_path / "tunegate.yaml").write_text(text + "audit: {use_embeddings: false}\n")
    first = audit_stage(load_spec(tmp_path / "tunegate.yaml"), out_dir=tmp_path / "run1")
    queue = list(csv.DictReader((tmp_path / "run1" / "adjudication_queue.csv").open()))
    assert len(queue) == len(first["adjudication_queue"]) > 2
    a, b, c = queue[0], queue[1], queue[2]
    a.update(adjudicated_label="fraud_report", adjudicator="lead_sam")
    b.update(adjudicated_label="order_status", adjudicator="lead_sam")
    with (tmp_path / "decisions.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(a))
        w.writeheader()
        w.writerows([a, b, c])  # c left blank: not a decision
    (tmp_path / "tunegate.yaml").write_text(
        text.replace("    path: annotations.csv", "    path: annotations.csv\n    adjudications: decisions.csv")
        + "audit: {use_embeddings: false}\n")
    second = audit_stage(load_spec(tmp_path / "tunegate.yaml"), out_dir=tmp_path / "run2")
    assert second["aggregation"]["adjudicated_by"] == {a["item_id"]: "lead_sam", b["item_id"]: "lead_sam"}
    queued = {q["item_id"] for q in second["adjudication_queue"]}
    assert a["item_id"] not in queued and b["item_id"] not in queued and c["item_id"] in queued
