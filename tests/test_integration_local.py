"""Integration: the real local model (SmolLM2-135M) through the whole `tunegate eval` path, on 20 example items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "support-triage" / "tunegate.yaml"
runner = CliRunner()
pytestmark = pytest.mark.integration


def test_eval_local_smollm2_label_logprobs_on_20_items(tmp_path):
    args = ["eval", str(EXAMPLE), "--model", "local:smollm2", "--split", "test", "--limit", "20", "--json",
            "--quiet", "--cache", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "run")]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["model"] == "local:smollm2" and res["method"] == "label_logprobs"
    assert res["n_total"] == 20 and res["n"] + res["n_unscored"] == 20 and res["n_unscored"] == 0
    assert 0.0 <= res["ci_low"] <= res["value"] <= res["ci_high"] <= 1.0
    assert res["usage"]["total"]["backend_calls"] == 20 and res["usage"]["total"]["input_tokens"] > 20 * 100
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 20
    assert all(len(r["label_logprobs"]) == 10 and 0 < r["confidence"] <= 1 for r in rows)
    # the second run is served from the cache: same numbers, no model calls
    again = json.loads(runner.invoke(app, args).stdout)
    assert again["usage"]["total"]["cache_hits"] == 20 and again["value"] == res["value"]


def test_eval_local_smollm2_generation_counts_unscored(tmp_path):
    r = runner.invoke(app, ["eval", str(EXAMPLE), "--model", "local:smollm2", "--method", "generate", "--limit", "6",
                            "--json", "--quiet", "--cache", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["method"] == "generate" and res["n_total"] == 6
    assert res["n"] + res["n_unscored"] == 6
    assert sum(res["unscored_reasons"].values()) == res["n_unscored"]
    assert res["usage"]["total"]["output_tokens"] > 0
