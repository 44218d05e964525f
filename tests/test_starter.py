"""`tunegate init` on real exports: the whole file is read, and its defaults pass the criterion gate on clean
intent data (banking77, CLINC150 slices; skipped when /work/shared/data is absent)."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.data.examples import load_examples
from tunegate.errors import DataError
from tunegate.evals.evalcheck import check_eval_stage
from tunegate.spec import load_spec
from tunegate.starter import infer_spec
from tests.support.intent_exports import SHARED_DATA, banking77_export, clinc150_export

needs_data = pytest.mark.skipif(not (SHARED_DATA / "banking77").exists() or not (SHARED_DATA / "clinc150").exists(),
                                reason="shared datasets not present")


def _sorted_export(path, n_labels=40, per_label=160):
    """A label-sorted export whose later labels all lie past row 5,000 (the old sample's end)."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ticket_id", "message", "category", "split"])
        k = 0
        for lab in range(n_labels):
            for j in range(per_label):
                k += 1
                w.writerow([f"T{k}", f"message {k} about topic {lab}", f"intent_{lab:02d}",
                            ("train", "train", "train", "val", "test")[j % 5]])
    return path


def test_init_reads_the_whole_sorted_file_and_validate_passes(tmp_path):
    data = _sorted_export(tmp_path / "export.csv")  # 6,400 rows
    runner = CliRunner()
    res = runner.invoke(app, ["init", str(data), "--out", str(tmp_path / "tunegate.yaml")])
    assert res.exit_code == 0, res.output
    spec = load_spec(tmp_path / "tunegate.yaml")
    assert len(spec.task.labels) == 40 and spec.task.label_names[-1] == "intent_39"
    assert spec.data.fields.id == "ticket_id" and spec.data.fields.split == "split"
    ds = load_examples(spec)  # what `validate` does: every row's label is in the spec
    assert len(ds.examples) == 6400
    text = (tmp_path / "tunegate.yaml").read_text()
    assert "all 6,400 rows read" in text and "(160 rows each)" in text
    assert "split: read from column 'split' (train 3,840, dev 1,280, test 1,280)" in text
    _, facts = infer_spec(data)
    assert facts["rows_read"] == 6400 and facts["split_counts"] == {"train": 3840, "dev": 1280, "test": 1280}
    assert facts["label_counts"]["intent_39"] == 160


def test_init_notes_a_missing_dev_split_and_an_id_repeated_late(tmp_path):
    p = tmp_path / "d.jsonl"
    rows = [{"key_id": f"k{i}", "text": f"t {i}", "label": "ab"[i % 2], "split": "train" if i % 3 else "test"}
            for i in range(300)]
    rows.append({**rows[0], "text": "again"})  # a repeat at the very end: key_id is not an id column
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text, facts = infer_spec(p)
    assert facts["id"] is None
    assert "NOTE: no dev rows in 'split'" in text
    yaml.safe_load(text)


def test_init_names_a_bad_row_and_refuses_a_label_column_with_too_many_values(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\nnot json\n')
    with pytest.raises(DataError, match=r"d\.jsonl:3"):
        infer_spec(p)
    p.write_text("".join(json.dumps({"text": f"t{i}", "label": f"l{i}"}) + "\n" for i in range(1500)))
    with pytest.raises(DataError, match="more than 200 distinct values"):
        infer_spec(p)


def _init_and_gate(data, tmp_path, **check_eval):
    spec_path = tmp_path / "tunegate.yaml"
    text, facts = infer_spec(data, spec_dir=tmp_path)
    spec_path.write_text(text)
    spec = load_spec(spec_path)
    if check_eval:
        spec.check_eval = spec.check_eval.model_copy(update=check_eval)
    spec.eval.bootstrap.n_resamples = 300
    return facts, spec, check_eval_stage(spec, None)


@needs_data
def test_init_defaults_pass_the_criterion_gate_on_a_sorted_banking77_slice(tmp_path):
    data = banking77_export(tmp_path / "banking77_sorted.csv", per_intent=3)  # 77 x (3 train + 3 test)
    facts, spec, art = _init_and_gate(data, tmp_path)
    assert len(facts["labels"]) == 77 and facts["rows_read"] == 462
    assert len(load_examples(spec).examples) == 462
    assert art["gate"] == "pass", art["reasons"]
    # the same defaults also pass when a generating endpoint answers (every negative type applies)
    _, _, gen = _init_and_gate(data, tmp_path, answer_method="generate")
    assert gen["gate"] == "pass", gen["reasons"]
    assert gen["discrimination"]["suite"]["by_type"]["copy_of_input"]["rate"] == 0.0


@needs_data
def test_init_defaults_pass_on_clinc150_where_a_lenient_label_match_fails(tmp_path):
    data = clinc150_export(tmp_path / "clinc.csv", per_intent=20)  # 12 banking intents; "routing" messages
    facts, spec, art = _init_and_gate(data, tmp_path, answer_method="generate")
    assert len(facts["labels"]) == 12 and facts["split_counts"] == {"train": 240, "dev": 240, "test": 240}
    assert art["gate"] == "pass", art["reasons"]
    spec.eval.scorers[0] = spec.eval.scorers[0].model_copy(update={"strict": False})
    lenient = check_eval_stage(spec, None)
    assert lenient["discrimination"]["suite"]["by_type"]["copy_of_input"]["rate"] > 0.1
    assert lenient["gate"] == "fail" and any("strict: true" in a for a in lenient["next_actions"])
