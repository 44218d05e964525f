"""Executors: the in-process default, Ray (local instance, 2 CPUs) giving the same answers, a worker killed
mid-task, and the install hint without Ray."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tunegate.errors import CapabilityError, SpecError
from tunegate.evals.runner import EvalOptions, run_eval
from tunegate.executors import LocalExecutor, create_executor
from tunegate.executors.sharded import sharded_backend
from tunegate.models.base import Generation, LabelScores
from tunegate.spec import load_spec

LABELS = ["billing", "shipping", "other"]


def make_task(tmp_path: Path, n: int) -> Path:
    with (tmp_path / "d.jsonl").open("w") as fh:
        for k in range(n):
            lab = LABELS[k % 3]
            fh.write(json.dumps({"id": f"x{k:03d}", "text": f"message {k} about {lab}", "intent": lab,
                                 "split": "test"}) + "\n")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text("task: {name: toy, kind: classification, labels: [billing, shipping, other]}\n"
                    "data: {path: d.jsonl, fields: {input: text, label: intent, id: id, split: split}}\n"
                    "eval: {prompt: {inline: 'Classify: {{input}}'}}\n")
    return spec


class DeterministicBackend:
    """Right on most items, wrong on every 4th; with ``die_once`` set, the first process to answer item 13 kills
    itself (as a worker lost mid-task would), leaving a marker so the retry goes through."""

    model_id = "fake:det"
    capabilities = frozenset({"generate", "label_logprobs"})
    batch_size = 4

    def __init__(self, die_once: str | None = None) -> None:
        self.die_once = die_once

    def cache_identity(self):
        return {"kind": "fake", "model": "det"}

    @staticmethod
    def _k(messages) -> int:
        return int(messages[-1]["content"].split("message ")[1].split(" ")[0])

    def _maybe_die(self, k: int) -> None:
        if self.die_once and k == 13 and not os.path.exists(self.die_once):
            Path(self.die_once).write_text(str(os.getpid()))
            os._exit(1)

    def generate(self, requests):
        for i, r in enumerate(requests):
            k = self._k(r.messages)
            self._maybe_die(k)
            truth = LABELS[k % 3]
            yield i, Generation(LABELS[(k + 1) % 3] if k % 4 == 3 else truth, 10, 2, 0.001)

    def label_logprobs(self, prompts, options):
        for i, p in enumerate(prompts):
            k = self._k(p)
            self._maybe_die(k)
            yield i, LabelScores([-0.1 * ((j - k) % 3) - 0.001 * k for j in range(len(options))], 10, 0.001)

    def close(self):
        pass


class Factory:
    def __init__(self, die_once: str | None = None) -> None:
        self.die_once = die_once

    def __call__(self, model_id, models):
        return DeterministicBackend(self.die_once)


def _results(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "results.jsonl").read_text().splitlines()]


def test_local_executor_maps_in_process_and_in_a_pool():
    with LocalExecutor() as ex:
        assert sorted(ex.map_unordered(pow, [(2, 3), (3, 2)])) == [(0, 8), (1, 9)]
    with LocalExecutor(workers=2) as ex:
        assert sorted(ex.map_unordered(pow, [(k, 2) for k in range(6)])) == [(k, k * k) for k in range(6)]


def test_unknown_executor_is_named():
    with pytest.raises(SpecError, match="unknown executor 'spark'.*local, ray"):
        create_executor("spark")


def test_without_ray_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(CapabilityError, match=r"pip install 'tunegate\[ray\]'"):
        create_executor("ray")


def test_sharded_backend_on_the_local_executor_equals_the_plain_path(tmp_path):
    spec = load_spec(make_task(tmp_path, 30))
    plain = run_eval(spec, EvalOptions(model="fake:det", out_dir=tmp_path / "a", cache_path=tmp_path / "a.db"),
                     backend=DeterministicBackend())
    builds = []

    class Counting(Factory):
        def __call__(self, model_id, models):
            builds.append(model_id)
            return super().__call__(model_id, models)

    sharded = sharded_backend(LocalExecutor(), "fake:det", factory=Counting())
    other = run_eval(spec, EvalOptions(model="fake:det", out_dir=tmp_path / "b", cache_path=tmp_path / "b.db"),
                     backend=sharded)
    assert sharded.shards_run == 4  # 30 items in shards of 2 batches of 4
    assert len(builds) == 2  # the driver's (identity only) and one per worker process, not one per shard
    assert (other.value, other.ci_low, other.ci_high) == (plain.value, plain.ci_low, plain.ci_high)


ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def ray_executor():
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    ex = create_executor("ray", workers=2)
    yield ex
    ex.close()


@pytest.mark.parametrize("method", ["generate", "label_logprobs"])
def test_ray_gives_the_same_answers_as_local(tmp_path, ray_executor, method):
    spec = load_spec(make_task(tmp_path, 40))
    local = run_eval(spec, EvalOptions(model="fake:det", method=method, out_dir=tmp_path / "local",
                                       cache_path=tmp_path / "l.db"), backend=DeterministicBackend())
    backend = sharded_backend(ray_executor, "fake:det", factory=Factory())
    remote = run_eval(spec, EvalOptions(model="fake:det", method=method, out_dir=tmp_path / "ray",
                                        cache_path=tmp_path / "r.db"), backend=backend)
    assert backend.shards_run == 5
    assert (remote.value, remote.ci_low, remote.ci_high, remote.n) == (local.value, local.ci_low, local.ci_high,
                                                                       local.n)
    assert remote.metrics == local.metrics and remote.per_label == local.per_label
    by_id = {r["id"]: r for r in _results(tmp_path / "ray")}
    assert {r["id"]: r["prediction"] for r in _results(tmp_path / "local")} == {
        i: r["prediction"] for i, r in by_id.items()}


def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(tmp_path, ray_executor):
    spec = load_spec(make_task(tmp_path, 40))
    marker = tmp_path / "died"
    local = run_eval(spec, EvalOptions(model="fake:det", out_dir=tmp_path / "local", cache_path=tmp_path / "l.db"),
                     backend=DeterministicBackend())
    backend = sharded_backend(ray_executor, "fake:det", factory=Factory(str(marker)))
    remote = run_eval(spec, EvalOptions(model="fake:det", out_dir=tmp_path / "ray", cache_path=tmp_path / "r.db"),
                      backend=backend)
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker process really died
    rows = _results(tmp_path / "ray")
    assert sorted(r["id"] for r in rows) == [f"x{k:03d}" for k in range(40)]  # each item exactly once
    assert remote.usage["total"]["backend_calls"] == 40  # the retried shard is not counted twice
    assert remote.usage["total"]["input_tokens"] == 400
    assert (remote.value, remote.ci_low, remote.ci_high) == (local.value, local.ci_low, local.ci_high)


def test_learning_curve_on_ray_equals_local(ray_executor):
    import numpy as np

    from tunegate.data.examples import Example
    from tunegate.probe.stage import embedding_head_probe

    rng = np.random.default_rng(0)
    labels = ["a", "b", "c"]
    centers = rng.normal(size=(3, 16))

    def examples(split: str, n: int) -> list[Example]:
        return [Example(id=f"{split}{k}", input=f"t{k}", label=labels[k % 3], split=split) for k in range(n)]

    train, dev, test = examples("train", 240), examples("dev", 30), examples("test", 60)
    vectors = {e.id: (centers[labels.index(e.label)] + rng.normal(scale=1.6, size=16)).astype(np.float32)
               for e in train + dev + test}
    from tunegate.spec import Spec

    spec = Spec.model_validate({"task": {"name": "t", "kind": "classification", "labels": labels}, "seed": 3,
                                "eval": {"target": 0.9}})
    runs = [embedding_head_probe(spec, train, dev, test, vectors=vectors, curve=True, progress=None, executor=ex)
            for ex in (None, ray_executor)]
    (p1, items1, curve1), (p2, items2, curve2) = runs
    assert items1 == items2 and p1["value"] == p2["value"]
    assert curve1 == curve2 and len(curve1["points"]) >= 4


@pytest.mark.integration
def test_cli_eval_with_the_local_model_on_ray_matches_local(tmp_path, ray_executor):
    from typer.testing import CliRunner

    from tunegate.cli import app

    example = Path(__file__).resolve().parents[1] / "examples" / "support-triage" / "tunegate.yaml"
    docs = []
    for name in ("local", "ray"):
        res = CliRunner().invoke(app, ["eval", str(example), "--limit", "12", "--method", "label_logprobs", "--json",
                                       "--quiet", "--executor", name, "--out", str(tmp_path / name),
                                       "--cache", str(tmp_path / f"{name}.db")])
        assert res.exit_code == 0, res.output
        docs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    local, remote = docs
    for key in ("value", "ci_low", "ci_high", "n", "metrics", "per_label"):
        assert local[key] == remote[key], key
    preds = [{r["id"]: r["prediction"] for r in _results(tmp_path / n)} for n in ("local", "ray")]
    assert preds[0] == preds[1] and len(preds[0]) == 12


@pytest.mark.parametrize("window", ["rows", "time"])
def test_monitor_on_ray_reads_parquet_row_groups_and_gives_the_same_report(tmp_path, ray_executor, window):
    import importlib.util

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tunegate.monitor.stage import monitor_stage

    root = Path(__file__).resolve().parents[1] / "examples" / "support-triage"
    mod_spec = importlib.util.spec_from_file_location("make_logs", root / "make_logs.py")
    make_logs = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(make_logs)
    rows = make_logs.make_rows(3000, "covariate", seed=5)
    rows[1500]["input"] = "  "  # one malformed row (empty input), in a row group the row windows never need
    log = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pylist(rows), log, row_group_size=250)  # 12 row groups
    spec = load_spec(root / "tunegate.yaml")
    if window == "time":
        spec.monitor.window = spec.monitor.window.model_validate(
            {"by": "time", "reference_start": "2026-09-01T00:00:00Z", "reference_end": "2026-09-02T12:00:00Z",
             "current_start": "2026-09-08T00:00:00Z"})
    docs = [monitor_stage(spec, log, embeddings=False, skip_invalid=True, executor=ex)
            for ex in (None, ray_executor)]
    local, remote = docs
    assert remote["status"] == local["status"] == "alert"
    assert remote["reference"] == local["reference"] and remote["current"] == local["current"]
    strip = ("seconds",)
    assert [{k: v for k, v in t.items() if k not in strip} for t in remote["tests"]] == [
        {k: v for k, v in t.items() if k not in strip} for t in local["tests"]]
    assert remote["performance"] == local["performance"] and remote["not_run"] == local["not_run"]
    if window == "rows":  # only the head and tail row groups were read: the malformed middle row never was
        assert remote["inputs"][0]["n_rows"] == 2000 and remote["inputs"][0]["n_skipped"] == 0
        assert remote["inputs"][0]["rows_in_file"] == 3000 and "were not read" in remote["inputs"][0]["note"]
        assert local["inputs"][0]["n_skipped"] == 1
    else:
        assert remote["inputs"][0]["n_skipped"] == local["inputs"][0]["n_skipped"] == 1


@pytest.mark.integration
def test_embedding_drift_with_texts_embedded_on_ray_workers_matches_local(tmp_path, ray_executor):
    from tunegate.config.monitor import LogColumns, MonitorSpec
    from tunegate.monitor.stage import monitor_files

    ref = [{"input": f"my card payment {k} was declined at the shop"} for k in range(40)]
    cur = [{"input": f"how do I change the delivery address of order {k}"} for k in range(40)]
    files = []
    for name, rows in (("ref", ref), ("cur", cur)):
        files.append(tmp_path / f"{name}.jsonl")
        files[-1].write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = MonitorSpec.model_validate({"columns": {"input": "input"}, "tests": ["embedding"],
                                      "embedding": {"enabled": True, "permutations": 200}})
    docs = [monitor_files(*files, cfg=cfg, columns=LogColumns(input="input"), executor=ex)
            for ex in (None, ray_executor)]
    (t_local,), (t_ray,) = [[t for t in d["tests"] if t["name"].endswith(":embedding")] for d in docs]
    assert t_local["status"] == t_ray["status"] == "alert"
    assert t_ray["statistic"] == pytest.approx(t_local["statistic"], rel=1e-4)
    assert t_ray["p_value"] == t_local["p_value"]


def test_sprint_on_ray_picks_and_reports_the_same_as_local(tmp_path, ray_executor):
    import ray.cloudpickle

    import test_sprint as ts
    from tunegate.models.cache import ResponseCache
    from tunegate.sprint.stage import sprint_stage

    ray.cloudpickle.register_pickle_by_value(ts)
    fake = ts.FakeBackend  # the class travels by value (not the whole test module)
    spec = load_spec(ts.make_task(tmp_path, sprint="sprint: {racing: {min_items: 8}}"))
    local = sprint_stage(spec, tmp_path / "local", backend_factory=lambda m: ts.FakeBackend(),
                         embedder_factory=ts.FakeEmbedder, cache=ResponseCache(tmp_path / "l.db"))
    remote = sprint_stage(spec, tmp_path / "ray", embedder_factory=ts.FakeEmbedder,
                          backend_factory=lambda m: sharded_backend(ray_executor, m,
                                                                    factory=lambda mid, models: fake()),
                          cache=ResponseCache(tmp_path / "r.db"))
    for key in ("best", "candidates", "finalists", "comparisons", "gap", "gate", "calls_used", "calls_full_grid",
                "rounds", "slices"):
        assert remote[key] == local[key], key
    assert remote["usage_by_role"]["subject"]["calls"] == local["usage_by_role"]["subject"]["calls"]
