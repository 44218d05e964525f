"""`tunegate run` on the extraction and generation examples with the real local model (SmolLM2-135M) on small
subsets: each ends with a verdict whose conditions come from the task's primary scorer (json_fields; the judge,
here a deterministic stand-in on 127.0.0.1 that grades by its rubric)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tunegate.demo_tasks import demo_raw, example_dir
from tunegate.pipeline import run_pipeline
from tunegate.spec import parse_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_generation_task import stand_in_judge  # noqa: E402

STAGES = ["check-eval", "audit", "sprint", "cost", "decide"]


def _tiny(raw: dict) -> dict:
    """Two dev items, three test items, 48 new tokens: SmolLM2 decodes ~1 token per step on a CPU, so generated
    answers cost far more than the classification demo's label likelihoods (one forward pass per item)."""
    raw["sprint"]["racing"] = {"min_items": 2, "finalists": 1, "dev_items": 2}
    raw["sprint"]["test_items"] = 3
    raw["models"]["params"]["max_tokens"] = 48
    raw["sprint"]["max_tokens"] = 48
    raw["check_eval"]["items"] = 30
    raw["eval"]["bootstrap"]["n_resamples"] = 500
    return raw


def _check_primary(run_dir: Path, primary: str) -> dict:
    sprint = json.loads((run_dir / "sprint.json").read_text())
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["verdict"] in ("FIX_EVAL_FIRST", "SHIP_PROMPT", "IMPROVE_DATA_FIRST", "KEEP_PROMPTING", "FINE_TUNE")
    results = [json.loads(x) for x in (run_dir / "sprint_results.jsonl").read_text().splitlines()]
    assert results and all(primary in (r.get("scores") or {}) for r in results)
    assert json.loads((run_dir / "evalcheck.json").read_text())["primary_scorer"] == primary
    return {"verdict": verdict["verdict"], "confidence": verdict.get("confidence"), "best": sprint.get("best")}


@pytest.mark.integration
@pytest.mark.timeout(1800)  # minutes on an idle 2-core CPU; a loaded machine needs far longer
def test_run_extraction_example_with_smollm2(tmp_path):
    raw = _tiny(demo_raw("extraction"))
    raw["sprint"]["strategies"] = [[{"type": "zero_shot"}, {"type": "json_output", "repairs": 1, "max_tokens": 48}]]
    spec = parse_spec(yaml.safe_dump(raw), source=example_dir("extraction") / "it.yaml")
    m = run_pipeline(spec, tmp_path / "run", only=STAGES)
    assert m["stages"]["check-eval"]["gate"] == "pass"
    out = _check_primary(tmp_path / "run", "json_fields")
    print("extraction:", out, {k: v.get("seconds") for k, v in m["stages"].items()})


@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_run_generation_example_with_smollm2_and_a_stand_in_judge(tmp_path, openai_stub):
    openai_stub.reply = stand_in_judge
    raw = yaml.safe_load((example_dir("generation") / "tunegate.yaml").read_text())
    raw["models"]["backends"]["openai:gpt-4o-mini"] = {"base_url": openai_stub.base_url, "model": "stub"}
    raw["sprint"]["strategies"] = ["zero_shot"]
    spec = parse_spec(yaml.safe_dump(_tiny(raw)), source=example_dir("generation") / "it.yaml")
    m = run_pipeline(spec, tmp_path / "run", only=STAGES)
    assert m["stages"]["check-eval"]["gate"] == "pass"
    out = _check_primary(tmp_path / "run", "llm_judge")
    print("generation:", out, {k: v.get("seconds") for k, v in m["stages"].items()})


def test_offline_generation_demo_fails_the_gate_honestly(tmp_path):
    raw = demo_raw("generation")
    spec = parse_spec(yaml.safe_dump(raw), source=example_dir("generation") / "it.yaml")
    m = run_pipeline(spec, tmp_path / "run", only=["check-eval", "decide"])
    assert m["stages"]["check-eval"]["gate"] == "fail"
    verdict = json.loads((tmp_path / "run" / "verdict.json").read_text())
    assert verdict["verdict"] == "FIX_EVAL_FIRST"
    reasons = " ".join(json.loads((tmp_path / "run" / "evalcheck.json").read_text())["reasons"])
    assert "rouge_l" in reasons and "unsafe_promise" in reasons
