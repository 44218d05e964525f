"""Repeated judgments (issue 15) and bad annotation files (issue 17), checked against Dawid & Skene (1979).

The 1979 paper's Table 1: 45 patients, 5 clinicians, clinician 1 examined every patient three times
(tests/data/dawid_skene_1979.csv, long format). Published estimates (the paper's Tables 2 and 4, as reproduced by
open-source implementations): class priors 0.40 / 0.42 / 0.11 / 0.07; clinician 1's error-rate rows
(0.89 0.11 0 0 | 0.07 0.88 0.05 0 | 0 0.34 0.66 0 | 0 0 0.56 0.44); every patient's class near-certain except
patient 7 (class 1 at 0.98), 35 (class 2 at 0.95) and 38 (class 3 at 0.98).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.data.aggregation import dawid_skene, encode
from tunegate.data.annotations import Annotation, load_annotations
from tunegate.data.repeats import one_per_annotator, resolve, summarize
from tunegate.errors import DataError
from tunegate.spec import AnnotationFieldMap

DS1979 = Path(__file__).parent / "data" / "dawid_skene_1979.csv"
# MAP class of patients 1..45 in the paper's Table 4
PUBLISHED_MAP = "142222132243121111222222112111131224233111212"
runner = CliRunner()


def _ds1979() -> list[Annotation]:
    with DS1979.open() as fh:
        return [Annotation(r["patient"], f"clinician{r['clinician']}", r["diagnosis"], None, f"{DS1979}:{n}")
                for n, r in enumerate(csv.DictReader(fh), start=2)]


def test_dawid_skene_1979_uses_every_repeat_and_gives_the_published_estimates():
    anns = _ds1979()
    assert len(anns) == 45 * 7
    enc = encode(anns, labels=["1", "2", "3", "4"])
    assert enc.n_rows == 315 and enc.n_superseded == 0  # clinician 1's three examinations all used
    res = dawid_skene(enc, tol=1e-10, max_iter=1000)
    assert res.converged
    assert "".join(res.labels) == PUBLISHED_MAP
    np.testing.assert_allclose(res.priors, [0.40, 0.42, 0.11, 0.07], atol=0.006)
    c1 = res.confusion[res.annotators.index("clinician1")]
    np.testing.assert_allclose(c1, [[0.89, 0.11, 0, 0], [0.07, 0.88, 0.05, 0], [0, 0.34, 0.66, 0],
                                    [0, 0, 0.56, 0.44]], atol=0.015)
    post = dict(zip(res.item_ids, res.posteriors))
    assert post["7"][0] == pytest.approx(0.98, abs=0.01) and post["35"][1] == pytest.approx(0.95, abs=0.01)
    assert post["38"][2] == pytest.approx(0.98, abs=0.01)
    # using only one examination of clinician 1 is a different model: the repeats matter
    first = dawid_skene(encode(one_per_annotator(anns), labels=["1", "2", "3", "4"]), tol=1e-10, max_iter=1000)
    assert not np.allclose(first.priors, res.priors, atol=1e-3)


def test_dawid_skene_1979_audits_without_error_from_the_cli(tmp_path):
    r = runner.invoke(app, ["audit", "--annotations", str(DS1979), "--item-col", "patient", "--annotator-col",
                            "clinician", "--label-col", "diagnosis", "--json", "--export-labels",
                            str(tmp_path / "labels.csv"), "--export-findings", str(tmp_path / "findings.csv")])
    assert r.exit_code in (0, 3, 4), r.output
    d = json.loads(r.stdout)
    rep = d["repeated_judgments"]
    assert rep["n_repeated_pairs"] == 45 and rep["n_extra_judgments"] == 90 and rep["by_annotator"] == {"1": 90}
    # clinician 1 disagrees with themself on these patients (Table 1)
    conflicting = {c["item_id"] for c in rep["conflicts"]}
    assert conflicting == {"3", "7", "10", "15", "24", "27", "30", "36", "37", "38", "42", "43", "44"}
    assert rep["n_conflicting"] == 13 and "first judgment" in d["agreement"]["repeats"]
    assert d["aggregation"]["n_judgments_used"] == 315
    checks = {c["name"]: c for c in d["checks"]}
    assert checks["repeated_judgments"]["status"] == "warn" and checks["repeated_judgments"]["value"] == 13
    labels = {row["item_id"]: row["label"] for row in csv.DictReader((tmp_path / "labels.csv").open())}
    assert "".join(labels[str(p)] for p in range(1, 46)) == PUBLISHED_MAP
    rows = list(csv.DictReader((tmp_path / "findings.csv").open()))
    assert sum(r["finding"] == "repeated_judgments" for r in rows) == 13


def test_repeat_policies():
    anns = [Annotation("x", "a", "pos", "2024-01-02T10:00:00Z", "f.csv:2"),
            Annotation("x", "a", "neg", "1704103200", "f.csv:3"),  # 2024-01-01T10:00Z as epoch seconds
            Annotation("x", "b", "neg", None, "f.csv:4")]
    kept, dropped = resolve(anns, "all")
    assert kept == anns and dropped == 0
    kept, dropped = resolve(anns, "latest")  # the timestamp decides only when asked
    assert [a.source for a in kept] == ["f.csv:2", "f.csv:4"] and dropped == 1
    assert [a.source for a in one_per_annotator(anns)] == ["f.csv:2", "f.csv:4"]  # first in file order
    s = summarize(anns)
    assert (s["n_repeated_pairs"], s["n_conflicting"], s["self_agreement"]) == (1, 1, 0.0)
    assert s["conflicts"][0]["labels"] == ["pos", "neg"] and s["conflicts"][0]["sources"] == ["f.csv:2", "f.csv:3"]
    no_ts = anns + [Annotation("x", "b", "pos", None, "f.csv:5")]
    with pytest.raises(DataError, match="no timestamp") as exc:
        resolve(no_ts, "latest")
    assert (exc.value.file, exc.value.line) == ("f.csv", 4)
    assert encode(no_ts).n_rows == 4  # 'all' never refuses a repeat


def test_latest_policy_from_the_spec(tmp_path):
    from tunegate.data.audit import audit_annotations
    from tunegate.spec import AuditSpec

    anns = [Annotation(str(i), a, "x" if (i + j) % 3 else "y", f"2024-01-0{j + 1}T00:00:00", f"f:{i}")
            for i in range(6) for j, a in enumerate(("a", "b", "c"))]
    anns += [Annotation("0", "a", "y", "2025-01-01T00:00:00", "f:99")]
    rep, _, res = audit_annotations(anns, AuditSpec(repeated_judgments="latest"))
    assert rep["repeated_judgments"]["n_set_aside"] == 1 and rep["aggregation"]["n_judgments_used"] == 18
    rep, _, _ = audit_annotations(anns, AuditSpec())
    assert rep["repeated_judgments"]["n_set_aside"] == 0 and rep["aggregation"]["n_judgments_used"] == 19


@pytest.mark.parametrize("content, match, line", [
    ("item_id,annotator,label,ts\n1,a,x,2024-01-01\n2,a,x,yesterday\n", "unparseable timestamp 'yesterday'", 3),
    ("item_id,annotator,label,ts\n", "empty or holds only a header", None),
    ("", "empty or holds only a header", None),
    (b"item_id,annotator,label,ts\n1,a,x,2024-01-01\n2,Jos\xe9,x,2024-01-02\n", "not UTF-8", 3),
    (b"\x00\x01\x02PK\x03\x04\xff\xfe binary", "UTF-8", 1),
])
def test_bad_annotation_files_name_file_line_and_field(tmp_path, content, match, line):
    p = tmp_path / "ann.csv"
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    with pytest.raises(DataError, match=match) as exc:
        load_annotations(p, AnnotationFieldMap(timestamp="ts"))
    assert exc.value.file == str(p) and exc.value.line == line
    if "timestamp" in match:
        assert exc.value.field == "ts"


def test_bad_annotation_files_exit_2_from_the_cli(tmp_path):
    p = tmp_path / "ann.csv"
    for content in (b"item_id,annotator,label\n", b"item_id,annotator,label\n1,Jos\xe9,x\n"):
        p.write_bytes(content)
        r = runner.invoke(app, ["audit", "--annotations", str(p)])
        assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit), r.output
        assert str(p) in r.output and "Traceback" not in r.output
