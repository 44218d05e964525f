"""The public API as a notebook uses it: ``import tunegate`` and one verb per stage, each returning a typed
artifact. The fast test runs on the example task with offline fakes (registering them is the only non-public
step); the integration test runs the real local models with the cheapest settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "examples" / "support-triage"


def test_import_tunegate_loads_no_stage_and_no_heavy_library():
    code = ("import sys, tunegate; mods = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tunegate', 'numpy', 'pydantic', 'torch', 'typer')); print(mods)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['tunegate']"


def test_verbs_share_names_with_subpackages_without_breaking_them():
    import tunegate
    import tunegate.report.charts as charts
    import tunegate.sprint.stage

    for verb in ("load_spec", "evaluate", "check_eval", "audit", "sprint", "probe", "cost", "decide", "report",
                 "monitor"):
        assert callable(getattr(tunegate, verb)) and verb in tunegate.__all__ and verb in dir(tunegate)
    assert tunegate.sprint.stage.sprint_stage is tunegate.sprint.stage.sprint_stage and charts.__name__.endswith(
        "charts")
    from tunegate.probe import stage  # a from-import of a submodule still works on a callable package

    assert stage.__name__ == "tunegate.probe.stage"
    with pytest.raises(AttributeError, match="no attribute 'decidee'"):
        tunegate.decidee  # noqa: B018


def _notebook(spec_path: Path, run: Path, log_rows: list[dict] | None, *, eval_limit: int, draws: int) -> dict:
    """What a notebook would do, in public API calls only."""
    import tunegate

    spec = tunegate.load_spec(spec_path)
    out: dict = {"criterion": tunegate.check_eval(spec), "data": tunegate.audit(spec, out_dir=run)}
    out["eval"] = tunegate.evaluate(spec, limit=eval_limit, out_dir=run / "eval-test")
    out["sprint"] = tunegate.sprint(spec, run)
    out["probe"] = tunegate.probe(spec, run, curve=False)
    out["cost"] = tunegate.cost(spec, run, n_draws=draws)
    out["verdict"] = tunegate.decide(run, spec)
    out["report"] = tunegate.report(run)
    if log_rows is not None:
        log = run / "log.jsonl"
        log.write_text("".join(json.dumps(r) + "\n" for r in log_rows), encoding="utf-8")
        out["monitor"] = tunegate.monitor(spec, log, embeddings=False)
    return out


def _check(out: dict, run: Path) -> None:
    from tunegate.artifact_models import load_artifact
    from tunegate.artifacts import EvalArtifact

    assert out["criterion"].gate in ("pass", "fail", "unknown") and not (run / "evalcheck.json").exists()
    assert out["data"].gate in ("pass", "fail", "unknown") and out["data"].quantity.n_train > 0
    assert isinstance(out["eval"], EvalArtifact) and out["eval"].n_total == out["eval"].n
    best = out["sprint"].best_candidate()
    assert best is not None and best.ci_low <= best.value <= best.ci_high
    assert out["probe"].probes[0].kind == "embedding_head" and out["probe"].closes_gap in ("yes", "no", "unknown")
    assert 0 <= out["cost"].p_finetune_cheaper <= 1
    v = out["verdict"]
    assert v.verdict in ("FIX_EVAL_FIRST", "SHIP_PROMPT", "IMPROVE_DATA_FIRST", "KEEP_PROMPTING", "FINE_TUNE")
    assert v.conditions["prompting_gap"].source == "measured" and v.inputs.sprint and v.inputs.probe
    html, md = out["report"]
    assert html.exists() and v.verdict in md.read_text(encoding="utf-8")
    # what the verbs returned is what they wrote
    for name in ("audit", "sprint", "probe", "cost", "verdict"):
        key = {"audit": "data"}.get(name, name)
        assert load_artifact(run / f"{name}.json") == out[key]


def _make_logs(task_dir: Path):
    import importlib.util

    s = importlib.util.spec_from_file_location("make_logs", task_dir / "make_logs.py")
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


def test_the_public_api_end_to_end_on_the_example_with_fakes(tmp_path, monkeypatch):
    from support.fake_task import example_copy, register

    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    register()
    spec = example_copy(tmp_path / "task")
    run = tmp_path / "run"
    rows = _make_logs(tmp_path / "task").make_rows(1200, "label", seed=3)
    out = _notebook(spec, run, rows, eval_limit=30, draws=2000)
    _check(out, run)
    assert out["monitor"].status == "alert" and "chi2:label_distribution" in out["monitor"].alerts


@pytest.mark.integration
def test_the_public_api_end_to_end_on_the_example_with_the_local_models(tmp_path, monkeypatch):
    """SmolLM2 and MiniLM offline; the cheapest settings: 20 eval items, a two-candidate sprint racing on 16 dev
    items with 20 test items, an audit without embeddings, the embedding-head probe without its learning curve,
    2,000 cost draws."""
    shutil.copytree(EXAMPLE_DIR, tmp_path / "task")
    spec = tmp_path / "task" / "tunegate.yaml"
    text = spec.read_text(encoding="utf-8")
    cheap = {"test_items: 80": "test_items: 20",
             "racing: {min_items: 8, eta: 2, finalists: 2}":
                 "racing: {min_items: 8, eta: 2, finalists: 2, dev_items: 16}",
             "strategies: [zero_shot, {type: few_shot_random, k: 3}, {type: few_shot_knn, k: 3}]":
                 "strategies: [zero_shot, {type: few_shot_random, k: 3}]"}
    for old, new in cheap.items():
        assert old in text, old
        text = text.replace(old, new)
    spec.write_text(text + "audit: {use_embeddings: false}\n", encoding="utf-8")
    run = tmp_path / "run"
    out = _notebook(spec, run, None, eval_limit=20, draws=2000)
    _check(out, run)
