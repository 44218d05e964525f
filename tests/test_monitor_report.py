"""`tunegate report` on a monitoring run: the drift report (status, what changed, before/after distributions, the
test table, history) from a monitor.json built through its model and from the real monitor stage's output, and a
monitor.json the model refuses, reported with its file and key."""

from __future__ import annotations

import json
import random
from pathlib import Path

from test_report import IMG, SCRIPT
from typer.testing import CliRunner

from tunegate.artifact_models import MonitorArtifact
from tunegate.report import render_report

RLO = "\u202e"


def monitor_doc(status: str = "alert", finished: str = "2026-03-02T10:00:00+00:00") -> MonitorArtifact:
    return MonitorArtifact.from_dict({
        "schema_version": 1, "artifact": "monitor", "task": "support-triage", "model": f"triage-{RLO}prod",
        "status": status, "alerts": ["psi:label", "chi2:label"] if status == "alert" else [],
        "messages": [f"2 labels unseen in the reference now carry 40.6% of traffic: new_intent, {SCRIPT}"],
        "tests": [
            {"name": "psi:label", "kind": "output", "statistic": 0.93, "p_value": None, "p_adjusted": None,
             "threshold": 0.2, "status": status, "detail": "12 categories", "n_reference": 5000, "n_current": 5000,
             "examples": [{"value": "new_intent", "reference_share": 0.0, "current_share": 0.3},
                          {"value": SCRIPT, "reference_share": 0.0, "current_share": 0.106},
                          {"value": f"{RLO}dnuf" + "er" * 40, "reference_share": 0.25, "current_share": 0.1}]},
            {"name": "chi2:label", "kind": "output", "statistic": 2311.0, "p_value": 1e-300, "p_adjusted": 1e-299,
             "threshold": None, "status": status, "detail": "dof 11", "n_reference": 5000, "n_current": 5000},
            {"name": "psi:latency_ms", "kind": "input", "statistic": 0.01, "p_value": None, "p_adjusted": None,
             "threshold": 0.2, "status": "ok", "detail": "10 bins fixed on the reference", "n_reference": 5000,
             "n_current": 5000, "examples": [{"bin": [None, 120.5], "contribution": 0.004}],
             "reference_summary": {"mean": 210.0, "p50": 180.0}, "current_summary": {"mean": 212.0, "p50": 181.0}},
            {"name": "ks:latency_ms", "kind": "input", "statistic": 0.012, "p_value": 0.4, "p_adjusted": 1.0,
             "threshold": None, "status": "ok", "detail": f"mean 210 -> 212 {IMG}", "n_reference": 5000,
             "n_current": 5000},
        ],
        "not_run": [{"name": "performance", "reason": "no labels or feedback in the current window"}],
        "performance": None, "seconds": {"categorical": 0.1},
        "multiple_testing": {"method": "holm", "alpha": 0.05, "family_size": 2, "note": "Holm across 2 tests"},
        "reference": {"source": "log.jsonl", "n_rows": 5000, "first_line": 1, "last_line": 5000,
                      "start": None, "end": None, "model_versions": {"v1": 5000}, "n_labeled": 0},
        "current": {"source": "log.jsonl", "n_rows": 5000, "first_line": 5001, "last_line": 10000,
                    "start": None, "end": None, "model_versions": {"v2": 5000}, "n_labeled": 0},
        "inputs": [{"file": "log.jsonl", "rows": 10000, "skipped": 0}],
        "run": {"tunegate_version": "0.1.0", "seed": 0, "command": "tunegate monitor", "finished": finished},
    }, source="monitor fixture")


def put(d: Path, doc: MonitorArtifact) -> Path:
    """monitor.json as the stage writes it (every field)."""
    return doc.save(d)


def test_monitor_run_directory_gets_a_drift_report(tmp_path):
    put(tmp_path, monitor_doc())
    old = tmp_path / "2026-03-01"
    old.mkdir()
    put(old, monitor_doc("ok", "2026-03-01T10:00:00+00:00"))
    html_path, md_path = render_report(tmp_path, store=tmp_path / "none.sqlite")
    page, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    assert html_path.name == "report.html"
    for heading in ("What changed", "Distributions before and after", "Tests", "History"):
        assert f"## {heading}" in md, heading
    assert "## Drift alert" in md and "40.6% of traffic" in md
    assert "| new_intent | 0.0% | 30.0% | +30.0\u00a0pp |" in md
    assert "2 run(s) on record, 1 with an alert" in md  # this run and the one in the sub-directory
    assert page.index("2026-03-01T10") < page.index("2026-03-02T10")  # oldest first
    assert "<svg" in page and "<script" not in page.lower()
    for raw in (SCRIPT, IMG, RLO):
        assert raw not in page and raw not in md
    assert "⟨U+202E⟩" in page and "⟨U+202E⟩" in md
    assert "| mean | 210 | 212 |" in md


def test_history_from_the_portfolio_store(tmp_path):
    from tunegate.monitor.store import PortfolioStore

    store = tmp_path / "portfolio.sqlite"
    doc = monitor_doc()
    doc.model = "triage"
    with PortfolioStore(store) as st:
        st.add_model("triage", path="prompt", base_model="gpt-x")
        st.record_monitor_run("triage", monitor_doc("ok", "2026-02-01T00:00:00+00:00").to_dict())
        st.record_monitor_run("triage", monitor_doc("alert", "2026-02-15T00:00:00+00:00").to_dict())
    run = tmp_path / "run"
    run.mkdir()
    put(run, doc)
    md = render_report(run, store=store)[1].read_text(encoding="utf-8")
    assert "3 run(s) on record, 2 with an alert" in md and "portfolio store" in md
    assert md.index("2026-02-01") < md.index("2026-02-15") < md.index("2026-03-02")


def test_malformed_monitor_json_is_reported_with_file_and_key_not_fatal(tmp_path):
    bad = monitor_doc().to_dict()
    bad["tests"] = [None, 3, {"name": SCRIPT, "examples": "x"}, {"examples": [{"bin": "x"}, 5]}]
    bad["reference"], bad["messages"], bad["run"] = [], [{"message": None}, 7], "x"
    (tmp_path / "monitor.json").write_text(json.dumps(bad), encoding="utf-8")
    html_path, md_path = render_report(tmp_path, store=tmp_path / "none.sqlite")
    md = md_path.read_text(encoding="utf-8")
    assert html_path.name == "report.html" and "could not be rendered" not in md
    assert "## Drift report: monitor.json could not be read" in md
    assert "Not measured: monitor.json: run: not a valid monitor.json: Input should be a valid dictionary" in md
    assert "## Tests" not in md and SCRIPT not in md  # nothing from the refused file is shown as measured
    # loose blocks the model keeps as written still render when the typed keys are valid
    ok = monitor_doc().to_dict()
    ok["tests"][0]["examples"] = [{"bin": "x"}, 5, {"value": None, "reference_share": "x"}]
    ok["messages"] = [{"message": None}, 7, {"text": "words"}]
    ok["performance"] = {"value": [1, {"a": None}]}
    (tmp_path / "monitor.json").write_text(json.dumps(ok), encoding="utf-8")
    md = render_report(tmp_path, store=tmp_path / "none.sqlite")[1].read_text(encoding="utf-8")
    assert "could not be rendered" not in md and "## Tests" in md and "words" in md


def test_decision_run_with_monitor_json_gets_both_reports(tmp_path):
    from test_report import write_run

    write_run(tmp_path)
    put(tmp_path, monitor_doc())
    html_path, _ = render_report(tmp_path, store=tmp_path / "none.sqlite")
    assert html_path.name == "report.html" and "KEEP_PROMPTING" in html_path.read_text(encoding="utf-8")
    assert "Drift alert" in (tmp_path / "monitor-report.html").read_text(encoding="utf-8")


def _log(path: Path, n: int, labels: list[str], seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"input": "x" * rng.randint(5, 60), "output": rng.choice(labels),
                                 "channel": rng.choice(["chat", "email"])}) + "\n")


def test_real_monitor_output_renders_and_cli_report_works(tmp_path):
    from tunegate.cli import app
    from tunegate.config.monitor import LogColumns, MonitorSpec
    from tunegate.monitor.stage import monitor_files

    ref, cur = tmp_path / "ref.jsonl", tmp_path / "cur.jsonl"
    _log(ref, 600, ["a", "b", "c"], 1)
    _log(cur, 600, ["a", "b", "new_intent"], 2)
    out = tmp_path / "mon"
    cols = LogColumns(timestamp=None, model_version=None, label=None, categorical=["channel"])
    monitor_files(ref, cur, columns=cols, cfg=MonitorSpec(tests=["categorical", "text_length", "output_label"]),
                  labels=["a", "b", "c", "new_intent"], out_dir=out)
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Drift alert" in md and "2 of 6 tests alerted: psi:output_label, chi2:output_label" in md
    assert "| c | 35.7% | 0.0% | −35.7\u00a0pp |" in md  # the label that vanished from the current window
    assert "could not be rendered" not in md
    assert "Distributions before and after" in md and "### psi:output_label" in md
