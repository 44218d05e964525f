"""In-memory inputs for the public API: a spec mapping plus examples and annotations as lists of dicts or a
DataFrame give the same spec, the same audit and located errors, as the files do."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from tunegate.errors import InputError, SpecError
from tunegate.inputs import spec_from_mapping

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support-triage"


def _example() -> tuple[dict, list[dict], list[dict]]:
    doc = yaml.safe_load((EXAMPLE / "tunegate.yaml").read_text())
    doc["eval"]["prompt"] = {"inline": "Intent of: {{input}}"}
    doc["audit"] = {"use_embeddings": False}
    rows = [json.loads(line) for line in (EXAMPLE / "data.jsonl").read_text().splitlines() if line.strip()]
    with (EXAMPLE / "annotations.csv").open(newline="") as f:
        anns = list(csv.DictReader(f))
    return doc, rows, anns


def test_lists_of_dicts_give_the_same_audit_as_the_files(tmp_path):
    import tunegate

    doc, rows, anns = _example()
    spec = tunegate.load_spec(doc, data=rows, annotations=anns, workdir=tmp_path / "mem")
    assert spec.source == tmp_path / "mem" / "tunegate.yaml"
    files = yaml.safe_load((EXAMPLE / "tunegate.yaml").read_text())
    files["eval"]["prompt"] = {"inline": "Intent of: {{input}}"}
    files["audit"] = {"use_embeddings": False}
    (tmp_path / "f").mkdir()
    for name in ("data.jsonl", "annotations.csv"):
        (tmp_path / "f" / name).write_bytes((EXAMPLE / name).read_bytes())
    (tmp_path / "f" / "tunegate.yaml").write_text(yaml.safe_dump(files))
    from_files = tunegate.audit(tunegate.load_spec(tmp_path / "f" / "tunegate.yaml"))
    in_memory = tunegate.audit(spec)
    assert in_memory.gate == from_files.gate
    assert [(c.name, c.status, c.value) for c in in_memory.checks] == \
        [(c.name, c.status, c.value) for c in from_files.checks]


def test_a_dataframe_is_accepted_and_missing_values_become_null(tmp_path):
    pd = pytest.importorskip("pandas")
    doc, rows, _ = _example()
    frame = pd.DataFrame(rows)
    frame.loc[0, "channel"] = float("nan")
    spec = spec_from_mapping(doc, data=frame, workdir=tmp_path)
    first = json.loads((tmp_path / "data.jsonl").read_text().splitlines()[0])
    assert first["channel"] is None and first["id"] == rows[0]["id"]
    assert len((tmp_path / "data.jsonl").read_text().splitlines()) == len(rows)  # nothing dropped
    assert spec.data.path == "data.jsonl"


def test_a_bad_record_names_its_index_and_a_bad_key_names_file_line_and_key(tmp_path):
    doc, rows, _ = _example()
    with pytest.raises(InputError, match=r"data\[3\] must be a dict"):
        spec_from_mapping(doc, data=rows[:3] + ["not a record"], workdir=tmp_path / "a")
    with pytest.raises(InputError, match=r"data\[1\] cannot be written as JSON"):
        spec_from_mapping(doc, data=[rows[0], {**rows[1], "text": object()}], workdir=tmp_path / "b")
    bad = {**doc, "eval": {**doc["eval"], "targett": 0.9}}
    with pytest.raises(SpecError) as exc:
        spec_from_mapping(bad, data=rows, workdir=tmp_path / "c")
    msg = str(exc.value)
    assert "tunegate.yaml:" in msg and "eval.targett" in msg, msg
