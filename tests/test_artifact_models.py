"""Typed artifacts: every model round-trips, refuses what it cannot read (naming file and key), and validates the
artifacts the stages really write — a whole pipeline on the example task with offline fakes, plus a monitoring
run — so a writer that renames a key a reader depends on fails here."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from support.fake_task import example_copy, register
from tunegate.artifact_models import ARTIFACTS, ArtifactModel, artifact_schema, load_artifact, model_for
from tunegate.errors import InputError

RUN = {"tunegate_version": "0.1.0", "python": "3.11.7", "packages": {"numpy": "2.0"}, "seed": 3,
       "config_hash": "abc", "spec_path": "t.yaml", "command": "tunegate x", "started": "2026-01-01T00:00:00+00:00",
       "finished": None, "host_note": "an extra key a newer writer added"}

# the smallest documents each model accepts, with a nested extra key that must survive a round trip
SAMPLES: dict[str, dict] = {
    "audit": {"gate": "unknown", "task": "t", "reasons": ["agreement: not measured"],
              "checks": [{"name": "leakage", "status": "pass", "value": 0, "threshold": 0, "detail": "",
                          "items": [], "n_items": 0}],
              "leakage": {"kind": "leakage", "count": 0, "items": [], "n_test_items": 0},
              "noise": {"estimated_noise_rate": 0.02, "interval": [0.01, 0.03]},
              "quantity": {"n_train": 10, "train_per_class": {"a": 5, "b": 5}, "labels_needed_from_probe": 40}},
    "evalcheck": {"gate": "pass", "auc": 0.97, "auc_ci_low": 0.95, "auc_ci_high": 0.99,
                  "checks": [{"name": "discrimination", "status": "pass", "value": 0.97, "ci_low": 0.95,
                              "required": True}], "scorers": [{"name": "label_match", "type": "label_match"}]},
    "sprint": {"metric": "accuracy", "target": 0.9, "gate": "gap",
               "best": {"candidate": "few_shot_knn ll", "value": 0.8, "ci_low": 0.7, "ci_high": 0.85, "n": 80},
               "candidates": [{"name": "few_shot_knn ll", "value": 0.8, "ci_low": 0.7, "ci_high": 0.85, "n": 80,
                               "cost_per_1000": 0.3}],
               "gap": {"value": -0.1, "ci_low": -0.2, "ci_high": -0.05}},
    "probe": {"closes_gap": "no", "probes": [{"kind": "embedding_head", "value": 0.7, "ci_low": 0.6, "ci_high": 0.8,
                                              "comparison": {"diff": -0.1, "diff_ci_low": -0.2, "mcnemar_b01": 3}}],
              "learning_curve": {"labels_needed": None, "status": "insufficient", "series": []}},
    "cost": {"horizon_months": 18, "n_draws": 100, "tco": {"prompting": {"median": 1.0, "breakdown": {"x": 1}}},
             "expected_net_value_of_finetuning": {"mean": -5.0, "p_positive": 0.1, "quality_value": {"mean": 0}}},
    "verdict": {"verdict": "KEEP_PROMPTING", "confidence": "low", "rule": "7: default",
                "conditions": {"criterion": {"status": "unknown", "source": "missing", "summary": "none",
                                             "evidence": {}}},
                "next_actions": ["run the criterion gate"], "inputs": {"evals": ["run/eval-test/eval.json"]}},
    "pipeline": {"profile": "quick", "model": "local:x",
                 "stages": {"audit": {"status": "done", "input_hash": "h", "seconds": 1.5, "gate": "pass"}}},
    "monitor": {"status": "alert", "alerts": ["chi2:channel"],
                "tests": [{"name": "chi2:channel", "status": "alert", "p_value": 0.001, "categories": {"a": 1}}]},
}


def _keeps(dumped, original) -> bool:
    """Every key and value the writer gave is in the dump (the model may add its defaults beside them)."""
    if isinstance(original, dict):
        return isinstance(dumped, dict) and all(k in dumped and _keeps(dumped[k], v) for k, v in original.items())
    if isinstance(original, list):
        return isinstance(dumped, list) and len(dumped) == len(original) and all(
            _keeps(d, o) for d, o in zip(dumped, original))
    return dumped == original and type(dumped) in (type(original), float)


def _doc(name: str) -> dict:
    """A fresh copy: tests change nested keys."""
    return copy.deepcopy({"schema_version": 1, "artifact": name, "run": RUN, **SAMPLES[name]})


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_every_model_round_trips_through_save_and_load(tmp_path, name):
    model = model_for(name)
    art = model.from_dict(_doc(name))
    path = art.save(tmp_path)
    assert path == tmp_path / model.FILENAME and path.exists()
    back = model.load(tmp_path)  # a run directory or the file itself
    assert back == art == model.load(path)
    on_disk = json.loads(path.read_text())
    assert on_disk == art.to_dict()
    assert _keeps(on_disk, _doc(name))  # nothing the writer gave is lost, nested extras included
    assert isinstance(load_artifact(path), model)


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_a_newer_schema_version_or_another_artifact_is_refused_with_file_and_key(tmp_path, name):
    model = model_for(name)
    path = tmp_path / model.FILENAME
    path.write_text(json.dumps({**_doc(name), "schema_version": 99}))
    with pytest.raises(InputError) as e:
        model.load(path)
    assert str(e.value).startswith(f"{path}: schema_version: ") and "upgrade tunegate" in str(e.value)
    other = "cost" if name != "cost" else "audit"
    path.write_text(json.dumps({**_doc(name), "artifact": other}))
    with pytest.raises(InputError, match=r": artifact: "):
        model.load(path)


def test_a_missing_required_key_names_the_dotted_path():
    doc = _doc("verdict")
    doc["conditions"]["criterion"].pop("status")
    with pytest.raises(InputError, match=r"^verdict\.json: conditions\.criterion\.status: .*Field required"):
        model_for("verdict").from_dict(doc, source="verdict.json")
    with pytest.raises(InputError, match=r"sprint\.json: best\b"):  # a bare name is no longer a best prompt
        model_for("sprint").from_dict({**_doc("sprint"), "best": "few_shot_knn ll"}, source="sprint.json")


def test_load_names_a_missing_or_broken_file(tmp_path):
    with pytest.raises(InputError, match="no verdict.json here"):
        model_for("verdict").load(tmp_path)
    (tmp_path / "probe.json").write_text("{not json")
    with pytest.raises(InputError, match=r"probe\.json: unreadable artifact"):
        load_artifact(tmp_path / "probe.json")
    (tmp_path / "x.json").write_text(json.dumps({"artifact": "eval"}))
    with pytest.raises(InputError, match="not a tunegate stage artifact"):
        load_artifact(tmp_path / "x.json")


def test_schemas_exist_for_every_artifact_and_unknown_names_are_refused():
    for name, model in ARTIFACTS.items():
        s = artifact_schema(name)
        assert s["$id"] == f"tunegate:{name}.json" and s["properties"]["artifact"]["const"] == name
        assert {"schema_version", "artifact", "run"} <= set(s["properties"])
        json.dumps(s)
    assert "verdict" in artifact_schema("verdict")["required"]
    with pytest.raises(InputError, match=r"--artifact: unknown artifact 'evals' \(artifacts: evalcheck, audit"):
        artifact_schema("evals")


def test_the_verdict_vocabulary_is_the_decision_cores():
    from typing import get_args

    from tunegate.artifact_models.verdict import CONDITIONS, Verdict
    from tunegate.verdict import VERDICTS

    assert get_args(Verdict) == VERDICTS
    doc = _doc("verdict")
    with pytest.raises(InputError, match="verdict"):
        model_for("verdict").from_dict({**doc, "verdict": "SHIP_IT"})
    assert len(CONDITIONS) == 5


def test_keys_a_writer_leaves_out_stay_out_when_saved_again():
    """sprint.json's baseline as a pointer to a finalist, a sign-flip comparison (no McNemar counts), a probe kind
    without per-item predictions, a verdict without tunegate assess's words: saving them adds no null keys."""
    from tunegate.artifact_models import ProbeArtifact, SprintArtifact, VerdictArtifact

    pointer = {"name": "zero_shot ll", "is_finalist": True}
    flip = {"comparison": "best_vs_runner_up", "a": "x", "b": "y", "metric": "per-item primary score (paired)",
            "n": 80, "value_a": 0.7, "value_b": 0.8, "diff": 0.1, "ci_low": -0.02, "ci_high": 0.2, "p": 0.2,
            "test": "sign_flip_permutation", "p_holm": 0.4, "significant": False}
    sprint = SprintArtifact.from_dict({**_doc("sprint"), "baseline": pointer, "comparisons": [flip]})
    assert sprint.to_dict()["baseline"] == pointer and sprint.to_dict()["comparisons"] == [flip]
    assert not sprint.baseline.measured and sprint.baseline.value is None
    assert sprint.comparison("best_vs_runner_up").p_holm == 0.4 and sprint.comparison("best_vs_baseline") is None
    lora = {"kind": "lora", "name": "lora (rank 8 on local:smollm2)", "metric": "accuracy", "value": 0.7,
            "ci_low": 0.6, "ci_high": 0.8, "n": 80, "train_examples": 200, "comparison": None, "closes_gap": "no",
            "diff_ci_low": None}
    probe = ProbeArtifact.from_dict({**_doc("probe"), "probes": [lora]})
    assert probe.to_dict()["probes"] == [lora] and "metric" not in probe.to_dict()
    assert probe.probes[0].items is None and probe.legacy_predictions() == []
    verdict = VerdictArtifact.from_dict(_doc("verdict"))
    assert not {"plain", "explanation"} & set(verdict.to_dict())
    words = {"headline": "Keep prompting", "why": "The prompt is close.", "conditions": {"data": "Enough labels."}}
    verdict = VerdictArtifact.from_dict({**_doc("verdict"), "plain": words})
    assert verdict.plain.why == "The prompt is close." and verdict.to_dict()["plain"] == words


def test_an_older_sprint_files_cost_per_1k_reads_as_cost_per_1000():
    from tunegate.artifact_models import SprintArtifact

    doc = _doc("sprint")
    doc["candidates"] = [{"name": "a", "cost_per_1k": 0.25}, {"name": "b", "cost_per_1000": 0.5}, {"name": "c"}]
    sprint = SprintArtifact.from_dict(doc)
    assert [c.cost_per_1000 for c in sprint.candidates] == [0.25, 0.5, None]
    assert [c.baseline for c in sprint.candidates] == [False, False, False]


@pytest.mark.parametrize(("name", "patch", "key"), [
    ("sprint", {"comparisons": [{"comparison": "best_vs_baseline", "n": "eighty"}]}, r"comparisons\.0\.n"),
    ("sprint", {"baseline": {"name": "z", "value": "high"}}, r"baseline\.value"),
    ("probe", {"learning_curve": {"points": [{"n": 20, "error": "low"}]}}, r"learning_curve\.points\.0\.error"),
    ("cost", {"sensitivity": [{"input": "x", "swing": "big"}]}, r"sensitivity\.0\.swing"),
    ("cost", {"inputs": {"monthly_requests": {"mean": "many"}}}, r"inputs\.monthly_requests\.mean"),
    ("verdict", {"plain": {"why": ["a", "list"]}}, r"plain\.why"),
])
def test_a_typed_block_of_the_wrong_shape_names_file_and_key(name, patch, key):
    with pytest.raises(InputError, match=rf"^{name}\.json: {key}: "):
        model_for(name).from_dict({**_doc(name), **patch}, source=f"{name}.json")


def test_eval_usage_is_checked_and_read_typed_but_stays_a_dict():
    """eval.json's usage: its shape checked on load (the failing key named), read per role through usage_counts,
    and still the plain dict that the stages and the CLI take apart."""
    from tunegate.artifact_models.base import validate_as
    from tunegate.artifacts import EvalArtifact

    doc = {"task": "t", "model": "m", "split": "test", "method": "generate", "prompt_source": "p", "prompt_sha": "0",
           "metric": "accuracy", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "confidence": 0.95,
           "ci_method": "bca", "n": 10, "n_total": 10, "n_unscored": 0, "n_errors": 0,
           "usage": {"total": {"calls": 12, "cost": 0.02, "cost_saved": 0.01},
                     "by_role": {"subject": {"calls": 10, "cost": 0.01, "cost_saved": 0.01}, "judge": {}}}}
    e = validate_as(EvalArtifact, doc, source="eval.json")
    assert isinstance(e.usage, dict) and e.usage["total"]["calls"] == 12
    assert e.usage_counts("subject").calls == 10 and e.usage_counts("judge").calls == 12  # nothing recorded: total
    assert validate_as(EvalArtifact, {**doc, "usage": {"tokens": {}, "cost": 0.5}}).usage_counts() is None  # imported
    bad = {**doc, "usage": {"by_role": {"subject": {"calls": "ten"}}}}
    with pytest.raises(InputError, match=r"^eval\.json: usage\.by_role\.subject\.calls: "):
        validate_as(EvalArtifact, bad, source="eval.json")


# ------------------------------------------------------------------------ what the stages really write


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """check-eval, audit, eval, sprint, probe, cost and decide through ``run_pipeline`` on the example task (fake
    backend and embedder: seconds, offline), and a monitoring run on the example's simulated log."""
    import importlib.util

    from tunegate.monitor.stage import monitor_stage
    from tunegate.pipeline import run_pipeline
    from tunegate.spec import load_spec

    base = tmp_path_factory.mktemp("artifacts")
    old = os.environ.get("TUNEGATE_HOME")
    os.environ["TUNEGATE_HOME"] = str(base / "home")  # the response cache of the fakes stays here
    try:
        register()
        spec = load_spec(example_copy(base / "task"))
        run = base / "run"
        run_pipeline(spec, run, only=["check-eval", "audit", "eval", "sprint", "probe", "cost", "decide"])
        mod_spec = importlib.util.spec_from_file_location("make_logs", base / "task" / "make_logs.py")
        make_logs = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(make_logs)
        log = base / "log.jsonl"
        log.write_text("".join(json.dumps(r) + "\n" for r in make_logs.make_rows(2000, "label", seed=3)))
        monitor_stage(spec, log, out_dir=run / "monitoring", embeddings=False, webhook=False)
    finally:
        if old is None:
            os.environ.pop("TUNEGATE_HOME", None)
        else:
            os.environ["TUNEGATE_HOME"] = old
    return run


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_the_artifacts_the_stages_write_validate_and_keep_every_key(real_run, name):
    model = model_for(name)
    path = real_run / ("monitoring" if name == "monitor" else "") / model.FILENAME
    written = json.loads(path.read_text())
    art = load_artifact(path)
    assert type(art) is model
    dumped = art.to_dict()
    assert _keeps(dumped, written)  # typed fields read exactly what was written, every nested key kept
    assert model.from_dict(dumped) == art


def test_the_typed_fields_carry_what_the_readers_use(real_run):
    """The keys the verdict and cost model read, through the models instead of .get chains."""
    from tunegate.artifact_models import (
        AuditArtifact,
        CostArtifact,
        PipelineArtifact,
        ProbeArtifact,
        SprintArtifact,
        VerdictArtifact,
    )

    sprint = SprintArtifact.load(real_run)
    best = sprint.best_candidate()
    assert best is not None and best.name == sprint.best.candidate and best.ci_low <= best.value <= best.ci_high
    assert all(c.cost_per_1000 is not None and c.cost_per_1000 >= 0 for c in sprint.candidates)
    flagged = {c.name for c in sprint.candidates if c.baseline}  # the baseline: a finalist, or measured beside them
    assert (sprint.baseline.is_finalist and flagged == {sprint.baseline.name}) or (
        not flagged and sprint.baseline.measured and sprint.baseline.baseline)
    assert sprint.comparisons and all(c.n > 0 and c.p_holm >= c.p and c.comparison in (
        "best_vs_baseline", "best_vs_runner_up") for c in sprint.comparisons)
    audit = AuditArtifact.load(real_run)
    assert audit.agreement.krippendorff_alpha is not None and audit.quantity.n_train > 0
    probe = ProbeArtifact.load(real_run)
    assert probe.probes[0].kind == "embedding_head" and probe.probes[0].comparison.n_shared > 0
    head = probe.probes[0]
    assert len(head.items) == head.n and len({i.id for i in head.items}) == head.n and head.name and head.metric
    lc = probe.learning_curve
    assert lc.points and all(p.n > 0 and 0 <= p.error <= 1 and p.seeds for p in lc.points)
    assert [p.n for p in lc.points] == sorted(p.n for p in lc.points) and lc.fit.b is not None
    cost = CostArtifact.load(real_run)
    assert cost.tco["prompting"].p05 <= cost.tco["prompting"].median <= cost.tco["prompting"].p95
    nv, be, hist = cost.expected_net_value_of_finetuning, cost.breakeven, cost.distribution
    assert nv.tco_difference_mean == pytest.approx(cost.tco["prompting"].mean - cost.tco["fine_tuning"].mean)
    assert (nv.quality_value is None) != nv.quality_priced
    assert be.reason and set(be.inference_cost_per_1k_requests) == {"prompting", "fine_tuning"}
    assert cost.sensitivity and [r.swing for r in cost.sensitivity] == sorted((r.swing for r in cost.sensitivity),
                                                                             reverse=True)
    assert all(r.low <= r.high and r.input in cost.inputs for r in cost.sensitivity)
    assert {d.source for d in cost.inputs.values()} <= {"default", "spec", "caller"}
    assert len(hist.bin_edges) == len(hist.prompting) + 1 == len(hist.fine_tuning) + 1
    assert sum(hist.prompting) == sum(hist.fine_tuning) == cost.n_draws
    verdict = VerdictArtifact.load(real_run)
    assert set(verdict.conditions) == {"criterion", "data", "prompting_gap", "finetune_probe", "economics"}
    assert verdict.inputs.sprint and verdict.inputs.probe and verdict.inputs.evals
    pipe = PipelineArtifact.load(real_run)
    assert [s for s, e in pipe.stages.items() if e.status == "done"] == [
        "check-eval", "audit", "eval", "sprint", "probe", "cost", "decide"]


def test_schema_command_prints_an_artifacts_schema():
    import json as _json

    from typer.testing import CliRunner

    from tunegate.cli import app

    r = CliRunner().invoke(app, ["schema", "--artifact", "verdict"])
    assert r.exit_code == 0, r.output
    schema = _json.loads(r.stdout)
    assert "verdict" in schema["properties"] and "conditions" in schema["properties"]
    bad = CliRunner().invoke(app, ["schema", "--artifact", "nope"])
    assert bad.exit_code == 2 and "unknown artifact" in bad.output


# ------------------------------------------------------------------ the decision stages read models


def test_collect_artifacts_returns_the_models_and_the_eval_runs_with_their_paths(real_run):
    from tunegate.artifact_models import EvalCheckArtifact, ProbeArtifact, RunArtifacts, SprintArtifact
    from tunegate.artifacts import EvalArtifact
    from tunegate.decision_stages import collect_artifacts

    arts = collect_artifacts(real_run)
    assert isinstance(arts, RunArtifacts)
    assert isinstance(arts.evalcheck, EvalCheckArtifact) and isinstance(arts.sprint, SprintArtifact)
    assert isinstance(arts.probe, ProbeArtifact) and arts.cost is not None and arts.audit is not None
    dirs = {e.path.parent.name for e in arts.evals}
    assert {"eval-test", "sprint-best"} <= dirs and all(isinstance(e.artifact, EvalArtifact) for e in arts.evals)
    # the probe's typed curve: labels on hand and the labels-needed band the verdict and cost model read
    assert arts.probe.curve.n_train == arts.probe.probes[0].train_examples > 0
    needed = arts.probe.learning_curve.needed()
    assert needed is not None and needed.status in ("ok", "unreachable", "unknown", "insufficient", "unreliable")
    assert json.loads((real_run / "evalcheck.json").read_text())["artifact"] == "evalcheck"
    assert arts.cost.path_tco("fine_tuning").breakdown["labeling"] >= 0


def test_a_file_that_does_not_match_its_model_stops_the_decision_naming_file_and_key(real_run, tmp_path):
    import shutil

    from tunegate.decision_stages import collect_artifacts, decide_stage

    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    probe = json.loads((run / "probe.json").read_text())
    probe["probes"][0]["closes_gap"] = "maybe"
    (run / "probe.json").write_text(json.dumps(probe))
    with pytest.raises(InputError, match=r"probe\.json: probes\.0\.closes_gap: "):
        decide_stage(run)
    (run / "probe.json").write_text(json.dumps({k: v for k, v in probe.items() if k != "probes"}))
    collect_artifacts(run)  # probes default to none: a probe.json without probes is still readable
    ev = json.loads((run / "eval-test" / "eval.json").read_text())
    ev.pop("n")
    (run / "eval-test" / "eval.json").write_text(json.dumps(ev))
    with pytest.raises(InputError, match=r"eval-test/eval\.json: n: .*Field required"):
        collect_artifacts(run)


def test_a_writer_that_drifts_from_its_model_fails_before_writing(real_run, tmp_path, monkeypatch):
    import shutil

    import tunegate.cost.model as cost_model
    from tunegate.decision_stages import cost_stage
    from tunegate.spec import load_spec

    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    (run / "cost.json").unlink()
    real = cost_model.run_cost_model

    class Renamed:
        def __init__(self, res):
            self.res = res

        def to_dict(self):  # a writer that renamed tco -> total_cost
            d = self.res.to_dict()
            d["total_cost"] = d.pop("tco")
            return d

    monkeypatch.setattr(cost_model, "run_cost_model", lambda *a, **k: Renamed(real(*a, **k)))
    spec = load_spec(real_run.parent / "task" / "tunegate.yaml")
    with pytest.raises(InputError, match=r"cost\.json: tco: .*Field required"):
        cost_stage(spec, run, n_draws=200)
    assert not (run / "cost.json").exists()
