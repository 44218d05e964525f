"""`tunegate run` as a person meets it: each stage's result as it finishes, --dry-run before paying, --limit,
and --resume into the directory the run was given."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.pipeline import stage_summary

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "examples" / "support-triage"
runner = CliRunner()


def small_task(tmp_path: Path) -> Path:
    for name in ("data.jsonl", "annotations.csv"):
        shutil.copy(EXAMPLE_DIR / name, tmp_path / name)
    text = (EXAMPLE_DIR / "tunegate.yaml").read_text().replace("template: prompts/zero_shot.txt",
                                                               "inline: 'Intent of: {{input}}'")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text(text + "audit: {use_embeddings: false}\n")
    return spec


def test_dry_run_estimates_every_stage_and_calls_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    spec = small_task(tmp_path)
    r = runner.invoke(app, ["run", str(spec), "--dry-run", "--json", "--profile", "quick", "--out",
                            str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    est = json.loads(r.stdout)
    by = {s["stage"]: s for s in est["stages"]}
    assert list(by) == ["check-eval", "audit", "sprint", "probe", "cost", "decide", "report"]
    assert by["sprint"]["calls"] > 0 and by["sprint"]["input_tokens"] > by["sprint"]["calls"] * 10
    assert est["total"]["calls"] == sum(s["calls"] for s in est["stages"]) and est["total"]["seconds"] > 0
    assert any("tokens = characters" in a for a in est["assumptions"])
    assert not (tmp_path / "run").exists() and not (tmp_path / "home").exists()  # nothing ran, nothing cached
    limited = json.loads(runner.invoke(app, ["run", str(spec), "--dry-run", "--json", "--profile", "quick",
                                             "--limit", "10"]).stdout)
    assert {s["stage"]: s for s in limited["stages"]}["sprint"]["calls"] < by["sprint"]["calls"]


def test_run_prints_each_stage_result_as_it_finishes_and_resumes_its_out_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    spec = small_task(tmp_path)
    custom = tmp_path / "elsewhere" / "my-run"
    args = ["run", str(spec), "--only", "audit", "--only", "cost", "--only", "decide"]
    r = runner.invoke(app, [*args, "--out", str(custom)])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("✓")]
    assert [ln.split(":")[0] for ln in lines] == ["✓ data gate", "✓ cost", "✓ verdict"]
    gate = json.loads((custom / "audit.json").read_text())
    assert lines[0].startswith(f"✓ data gate: {gate['gate']} — {gate['reasons'][0]}")  # the first reason at once
    verdict = json.loads((custom / "verdict.json").read_text())
    assert lines[2].startswith(f"✓ verdict: {verdict['verdict']} ({verdict['confidence']} confidence)")
    # --resume without --out finds the directory this spec last ran into, not a new runs/ directory
    r = runner.invoke(app, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    assert "unchanged since the last run, skipped" in r.output and not (tmp_path / "runs").exists()
    assert str(custom.resolve()) in r.output.replace("\n", "")


def test_stage_summaries_name_the_numbers():
    assert stage_summary("check-eval", {"gate": "fail", "reason": "the suite accepts copy_of_input (0.18)"}) == \
        "criterion gate: fail — the suite accepts copy_of_input (0.18)"
    assert stage_summary("sprint", {"best": "knn", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "gate": "gap",
                                    "calls_used": 12}) == \
        "sprint: best knn 0.500 (95% CI 0.400–0.600); gap to target: gap (12 calls)"
    assert "embedding_head 0.884" in stage_summary("probe", {"probes": [{"kind": "embedding_head", "value": 0.884}],
                                                             "closes_gap": "no"})
