"""The data gate of extraction and generation tasks (issue 21): what fits a non-label target, and an explicit
"not applicable" for the label-only checks. Fast: no model (use_embeddings false, or hand-made vectors)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tunegate.data.audit import (
    ANNOTATION_CHECKS,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    WARN,
    Check,
    audit_targets,
    gate_from_checks,
    not_applicable_checks,
)
from tunegate.data.duplicates import canonical_target
from tunegate.data.examples import Example
from tunegate.spec import AuditSpec, RequiredSlice

ROOT = Path(__file__).resolve().parents[1]
EXTRACTION = ROOT / "examples" / "extraction"
GENERATION = ROOT / "examples" / "generation"
LABEL_ONLY = ("agreement", "aggregation", "label_noise", "class_coverage")


def _gold(order: str, action: str = "refund", amount: float | None = None) -> dict:
    return {"order_ids": [order], "amount": amount, "currency": None, "item": "kettle", "action": action}


def test_canonical_target_compares_json_with_sorted_keys_and_text_with_collapsed_spacing():
    a = {"b": 1, "a": [1, 2], "c": 20.0}
    b = {"c": 20, "a": [1, 2], "b": 1}
    assert canonical_target(a, "extraction") == canonical_target(b, "extraction")
    assert canonical_target({"a": [2, 1]}, "extraction") != canonical_target({"a": [1, 2]}, "extraction")
    assert canonical_target({"x": None}, "extraction") != canonical_target({"x": 0}, "extraction")
    assert canonical_target("Hi Sam,\n  thanks. ", "generation") == "Hi Sam, thanks."
    assert canonical_target("Hi Sam", "generation") != canonical_target("hi sam", "generation")  # case is content
    assert canonical_target(None, "extraction") is None


def test_extraction_leakage_and_conflicting_gold_fail_key_order_is_no_conflict():
    ex = [
        Example("a", "Refund order PX-10001 please", target=_gold("PX-10001"), split="train"),
        Example("b", "refund order px-10001, please!", target=_gold("PX-10001"), split="test"),  # leaks a
        Example("c", "Where is PX-20002?", target=_gold("PX-20002", "track_order"), split="train"),
        Example("d", "where is px-20002", target=_gold("PX-20002", "refund"), split="dev"),  # conflicts with c
        Example("e", "Cancel PX-30003", target=_gold("PX-30003", "cancel_order"), split="train"),
        Example("f", "cancel px-30003", split="train",  # same gold, other key order and 0.0: no conflict
                target=dict(reversed(list(_gold("PX-30003", "cancel_order").items())))),
    ]
    report, checks = audit_targets(ex, AuditSpec(use_embeddings=False), kind="extraction", vectors=None)
    by = {c.name: c for c in checks}
    assert by["leakage"].status == FAIL and by["leakage"].items == ["b"]
    assert by["conflicts"].status == FAIL and by["conflicts"].items == ["c", "d"]  # 2/6 > max_conflict_share
    assert "gold JSON object" in by["conflicts"].detail and '"action": "track_order"' in by["conflicts"].detail
    assert report["conflicts"]["count"] == 1 and report["gold"] == "gold JSON object"
    assert by["duplicates"].status == WARN and by["duplicates"].value == 3  # {a,b}, {c,d}, {e,f}
    for name in ("label_noise", "class_coverage"):
        assert by[name].status == NOT_APPLICABLE and by[name].detail.startswith("label-only check")
    assert "near_duplicates" not in by  # no vectors: not measured, not claimed
    gate, reasons = gate_from_checks(checks)
    assert gate == "fail" and [r.split(":")[0] for r in reasons] == ["leakage", "conflicts"]


def test_generation_conflict_is_a_warning_and_near_duplicates_warn_without_near_conflicts():
    ex = [
        Example("a", "My parcel PX-1 is late. - Ana", target="Hi Ana, sorry for the wait.", split="train"),
        Example("b", "my parcel px-1 is late - ana", target="Hi Ana, I am sorry.", split="train"),
        Example("c", "My parcel PX-2 is late. - Bo", target="Hi Bo, sorry for the wait.", split="test"),
        Example("d", "Please cancel order PX-3", target="Done: PX-3 is cancelled.", split="train"),
    ]
    v = np.array([[1, 0, 0], [1, 0, 0], [0.99, 0.141, 0], [0, 0, 1]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    cfg = AuditSpec(near_duplicate_threshold=0.95)
    report, checks = audit_targets(ex, cfg, kind="generation", vectors=v)
    by = {c.name: c for c in checks}
    assert by["conflicts"].status == WARN and by["conflicts"].value == 0.5 > cfg.max_conflict_share
    assert "reference reply" in by["conflicts"].detail
    assert by["leakage"].status == PASS
    assert by["near_duplicates"].status == WARN and by["near_duplicates"].items == ["a", "b", "c"]
    assert report["near_conflicts"]["count"] == 0  # different replies to similar messages are by design
    assert gate_from_checks(checks)[0] == "unknown"  # agreement absent: build_audit adds it per kind
    checks += not_applicable_checks("generation", ANNOTATION_CHECKS)
    assert gate_from_checks(checks)[0] == "pass"  # warnings only, label-only checks decide nothing


def test_required_slices_count_slice_columns_in_the_train_split():
    ex = [Example(f"t{i}", f"message {i}", target=f"reply {i}", split="train",
                  slices={"edge_case": "two_orders" if i < 3 else "none"}) for i in range(10)]
    ex += [Example(f"x{i}", f"test message {i}", target="r", split="test", slices={"edge_case": "two_orders"})
           for i in range(5)]
    cfg = AuditSpec(required_slices=[RequiredSlice(column="edge_case", value="two_orders", min=4)])
    _, checks = audit_targets(ex, cfg, kind="generation", vectors=None)
    req = {c.name: c for c in checks}["required_slices"]
    assert req.status == FAIL and req.items == ["edge_case=two_orders"] and "has 3 < 4" in req.detail
    cfg = AuditSpec(required_slices=[RequiredSlice(column="edge_case", value="two_orders", min=3)])
    _, checks = audit_targets(ex, cfg, kind="generation", vectors=None)
    assert {c.name: c for c in checks}["required_slices"].status == PASS


@pytest.mark.parametrize("statuses, gate", [
    ({n: NOT_APPLICABLE for n in LABEL_ONLY} | {"leakage": PASS}, "pass"),
    ({n: NOT_APPLICABLE for n in LABEL_ONLY} | {"leakage": FAIL}, "fail"),
    ({n: NOT_APPLICABLE for n in LABEL_ONLY} | {"duplicates": WARN}, "pass"),
    ({"agreement": NOT_APPLICABLE, "label_noise": UNKNOWN, "leakage": PASS}, "unknown"),
    ({"leakage": PASS}, "unknown"),  # a check that is absent is still not measured
])
def test_not_applicable_is_neither_pass_nor_fail(statuses, gate):
    got, reasons = gate_from_checks([Check(n, s) for n, s in statuses.items()])
    assert got == gate
    if gate == "pass":
        assert reasons[0].startswith("every applicable check met its threshold (not applicable, label-only checks")


def _spec(src: Path, tmp_path: Path, extra: str = "", edit=None):
    from tunegate.spec import load_spec

    for p in src.iterdir():
        if p.is_file():
            shutil.copy(p, tmp_path / p.name)
        elif p.is_dir():
            shutil.copytree(p, tmp_path / p.name)
    if edit:
        edit(tmp_path / "data.jsonl")
    text = (tmp_path / "tunegate.yaml").read_text()
    text = text.replace("\naudit:\n", "\naudit:\n  use_embeddings: false\n") if "\naudit:\n" in text \
        else text + "audit: {use_embeddings: false}\n"
    (tmp_path / "tunegate.yaml").write_text(text + extra)
    return load_spec(tmp_path / "tunegate.yaml")


@pytest.mark.parametrize("src", [EXTRACTION, GENERATION], ids=["extraction", "generation"])
def test_example_gate_passes_on_real_findings_only_and_counts_labels_on_hand(src, tmp_path):
    from tunegate.artifact_models.audit import AuditArtifact
    from tunegate.audit_stage import audit_stage
    from tunegate.verdict import labels_on_hand

    spec = _spec(src, tmp_path)
    art = audit_stage(spec, out_dir=tmp_path / "run")
    rows = [json.loads(line) for line in (src / "data.jsonl").read_text().splitlines() if line.strip()]
    n_train = sum(r["split"] == "train" for r in rows)
    by = {c["name"]: c for c in art["checks"]}
    assert art["gate"] == "pass", art["reasons"]
    assert {n: by[n]["status"] for n in LABEL_ONLY} == {n: NOT_APPLICABLE for n in LABEL_ONLY}
    assert all(by[n]["detail"].startswith("label-only check") for n in LABEL_ONLY)
    assert {by[n]["status"] for n in ("leakage", "conflicts", "duplicates")} == {PASS}
    assert art["quantity"]["n_train"] == n_train > 100
    # the verdict's label-quantity condition sees it
    assert labels_on_hand(None, AuditArtifact.from_dict(art), None) == n_train
    AuditArtifact.model_validate(json.loads((tmp_path / "run" / "audit.json").read_text()))


def test_planted_leakage_and_conflict_fail_the_extraction_gate(tmp_path):
    from tunegate.audit_stage import audit_stage

    def plant(path: Path) -> None:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        train = [r for r in rows if r["split"] == "train"]
        test = next(r for r in rows if r["split"] == "test")
        rows.append({**test, "id": "leak-1", "text": test["text"].upper(), "split": "train"})  # normalized copy
        wrong = {**train[0]["gold"], "action": "cancel_order" if train[0]["gold"]["action"] != "cancel_order"
                 else "refund"}
        rows += [{**train[0], "id": f"conf-{i}", "gold": wrong, "split": "dev"} for i in range(8)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    art = audit_stage(_spec(EXTRACTION, tmp_path, edit=plant))
    by = {c["name"]: c for c in art["checks"]}
    assert art["gate"] == "fail"
    assert by["leakage"]["status"] == FAIL and by["leakage"]["value"] == 1
    assert by["conflicts"]["status"] == FAIL and by["conflicts"]["n_items"] == 9
    assert art["conflicts"]["records"][0]["items"][0]["text"]


def test_required_slice_shortfall_fails_the_extraction_gate(tmp_path):
    from tunegate.audit_stage import audit_stage

    spec = _spec(EXTRACTION, tmp_path)  # declares three slices at min 10; ask for more than the data has
    cfg = spec.audit.model_copy(update={"required_slices": [RequiredSlice(column="edge_case", value="two_orders",
                                                                          min=10_000)]})
    art = audit_stage(spec.model_copy(update={"audit": cfg}))
    by = {c["name"]: c for c in art["checks"]}
    assert art["gate"] == "fail" and by["required_slices"]["status"] == FAIL
    assert art["coverage"]["required_slices"][0]["count"] > 0


def test_report_and_findings_export_say_not_applicable_and_gold(tmp_path):
    from tunegate.data.findings import findings_rows
    from tunegate.audit_stage import audit_stage
    from tunegate.report.render import render_report

    def plant(path: Path) -> None:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        r = next(r for r in rows if r["split"] == "train")
        path.write_text(path.read_text() + json.dumps({**r, "id": "conf-1", "gold": {**r["gold"], "item": "x"}})
                        + "\n")

    art = audit_stage(_spec(EXTRACTION, tmp_path, edit=plant), out_dir=tmp_path / "run")
    conf = [row for row in findings_rows(art) if row["finding"] == "conflicts"]
    assert len(conf) == 1 and "gold answer" in conf[0]["fix"] and conf[0]["detail"].startswith("gold: ")
    _, md = render_report(tmp_path / "run")
    text = md.read_text()
    assert "Conflicts: the same input with a different gold JSON object" in text
    assert text.count("Not applicable — label-only check") >= 3  # agreement, adjudication, label noise
    assert "Per-class minimums: not applicable" in text
