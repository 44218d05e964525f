"""Stages through the CLI: cost, decide, run (skip-unchanged, --only), and the demo on its quick profile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "examples" / "support-triage"
runner = CliRunner()


def small_task(tmp_path: Path, extra: str = "") -> Path:
    """The example task, copied, with embeddings off so that audits take a second."""
    for name in ("data.jsonl", "annotations.csv"):
        shutil.copy(EXAMPLE_DIR / name, tmp_path / name)
    text = (EXAMPLE_DIR / "tunegate.yaml").read_text().replace("template: prompts/zero_shot.txt",
                                                               "inline: 'Intent of: {{input}}'")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text(text + "audit: {use_embeddings: false}\n" + extra)
    return spec


def test_cost_json_carries_the_documented_keys(tmp_path):
    r = runner.invoke(app, ["cost", str(small_task(tmp_path)), "--out", str(tmp_path / "run"), "--json",
                            "--draws", "5000"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    for path in ("prompting", "fine_tuning"):
        assert {"median", "p05", "p95"} <= set(d["tco"][path])
        assert d["tco"][path]["p05"] <= d["tco"][path]["median"] <= d["tco"][path]["p95"]
    assert 0 <= d["p_finetune_cheaper"] <= 1
    assert "breakeven_monthly_volume" in d and d["sensitivity"]
    assert (tmp_path / "run" / "cost.json").exists()


def test_decide_on_an_empty_run_directory_defaults_to_prompting(tmp_path):
    r = runner.invoke(app, ["decide", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["verdict"] == "KEEP_PROMPTING" and d["rule"].startswith("7")
    assert set(d["conditions"]) >= {"criterion", "data", "prompting_gap", "economics"}
    assert d["next_actions"]


def test_declared_evidence_reaches_the_verdict(tmp_path):
    extra = """evidence:
  criterion: {auc: 0.93, note: reviewed by support leads}
  data: {alpha: 0.84}
  prompting: {best_value: 0.78, ci_low: 0.74, ci_high: 0.82, n: 300, after_sprint: true}
  finetune: {value: 0.92, ci_low: 0.89, ci_high: 0.95}
"""
    spec = small_task(tmp_path, extra)
    r = runner.invoke(app, ["decide", str(tmp_path / "run"), "--spec", str(spec), "--json"])
    d = json.loads(r.stdout)
    assert d["conditions"]["criterion"]["source"] == "declared"
    assert d["conditions"]["prompting_gap"]["status"] == "held"
    assert d["verdict"] == "KEEP_PROMPTING" and d["conditions"]["economics"]["status"] == "unknown"


def test_run_skips_unchanged_stages_and_reruns_changed_ones(tmp_path):
    spec = small_task(tmp_path)
    run_dir = tmp_path / "run"
    args = ["run", str(spec), "--out", str(run_dir), "--only", "audit", "--only", "cost", "--only", "decide",
            "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    m = json.loads((run_dir / "pipeline.json").read_text())
    assert {s: v["skipped"] for s, v in m["stages"].items()} == {"audit": False, "cost": False, "decide": False}
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["conditions"]["data"]["source"] == "measured"
    r = runner.invoke(app, args)
    m = json.loads((run_dir / "pipeline.json").read_text())
    assert all(v["skipped"] for v in m["stages"].values())
    spec.write_text(spec.read_text().replace("seed: 0\n", "seed: 1\n"))  # config hash changes
    runner.invoke(app, args)
    m = json.loads((run_dir / "pipeline.json").read_text())
    assert not any(v["skipped"] for v in m["stages"].values())
    r = runner.invoke(app, ["run", str(spec), "--out", str(run_dir), "--only", "nonsense"])
    assert r.exit_code == 2 and "unknown stage" in r.output


@pytest.mark.integration
def test_demo_runs_end_to_end_on_its_quick_profile(tmp_path):
    """The README's demo: real local models, every built stage, a verdict and a self-contained report."""
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--quiet"])
    assert r.exit_code == 0, r.output
    d = tmp_path / "demo"
    verdict = json.loads((d / "verdict.json").read_text())
    assert verdict["verdict"] in ("FIX_EVAL_FIRST", "SHIP_PROMPT", "IMPROVE_DATA_FIRST", "KEEP_PROMPTING", "FINE_TUNE")
    assert verdict["conditions"]["data"]["source"] == "measured"
    assert verdict["conditions"]["economics"]["source"] == "measured"
    ev = json.loads((d / "sprint-best" / "eval.json").read_text())  # quick: the sprint's best prompt, no lone eval
    assert ev["split"] == "test" and ev["ci_low"] <= ev["value"] <= ev["ci_high"]
    html = (d / "report.html").read_text()
    from tunegate.report.viewer import SCRIPT

    assert verdict["verdict"] in html and html.lower().count("<script") == 1 and f"<script>{SCRIPT}</script>" in html
    assert "report:" in r.output and verdict["verdict"] in r.output
    manifest = json.loads((d / "pipeline.json").read_text())
    assert set(manifest["stages"]) == {"check-eval", "audit", "sprint", "probe", "cost", "decide", "report"}
    assert verdict["conditions"]["criterion"]["source"] == "measured"
    assert verdict["conditions"]["prompting_gap"]["source"] == "measured"
    assert verdict["conditions"]["prompting_gap"]["evidence"]["after_sprint"] is True
    sprint = json.loads((d / "sprint.json").read_text())
    assert sprint["calls_used"] < sprint["calls_full_grid"] and sprint["gate"] in ("met", "gap", "unknown")
    assert "Prompt sprint leaderboard" in html
    probe = json.loads((d / "probe.json").read_text())
    assert probe["probes"][0]["kind"] == "embedding_head" and probe["probes"][0]["value"] > 0.5
    assert probe["curve"]["status"] in ("ok", "unreliable", "insufficient")
