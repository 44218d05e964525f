"""User plug-ins, one per registry (scorer, strategy, backend, drift test, executor), written outside the package
into tmp_path and loaded (a) through a spec's ``plugins:`` key and (b) through an entry point of a fake installed
distribution: each is loaded, its options validated, and it is used. A misspelt option of any of them is a
located error (file:line: dotted.key)."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tunegate import plugins
from tunegate.errors import SpecError
from tunegate.evals import scoring_base
from tunegate.executors import base as executors_base
from tunegate.models import registry
from tunegate.monitor import test_base
from tunegate.sprint import strategies
from tunegate.spec import json_schema, load_spec

LABELS = ["billing", "shipping", "other"]

PLUGIN = '''
"""A user's plug-ins: one of each kind, names suffixed with {s}."""
from pydantic import BaseModel, ConfigDict, Field

from tunegate.evals.scoring_base import ItemScore, Scorer, register_scorer
from tunegate.executors.base import register_executor
from tunegate.models.base import Generation
from tunegate.models.registry import register_backend
from tunegate.monitor.test_base import TestResult, register_test
from tunegate.sprint.strategies import Strategy, register_strategy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@register_scorer("short_{s}")
class Short(Scorer):
    class Options(_Strict):
        max_chars: int = Field(ge=1)

    def score(self, output, example):
        return ItemScore(float(len(output or "") <= self.opts.max_chars), len(output or ""))


@register_strategy("persona_{s}")
class Persona(Strategy):
    class Options(_Strict):
        persona: str = "a senior support agent"

    def apply(self, plan, item, ctx):
        plan.instruction = f"You are {{self.opts.persona}}. " + plan.instruction


class Echo:
    capabilities = frozenset({{"generate"}})

    def __init__(self, model_id, answer):
        self.model_id, self.answer = model_id, answer

    def cache_identity(self):
        return {{"kind": "echo", "model": self.model_id, "answer": self.answer}}

    def generate(self, requests):
        for i, _ in enumerate(requests):
            yield i, Generation(self.answer, 10, 1, 0.001)

    def close(self):
        pass


class EchoOptions(_Strict):
    answer: str


@register_backend("echo{s}", options=EchoOptions)
def make_echo(model_id, name, settings):
    return Echo(model_id, settings.options.answer)


@register_test("rows_{s}")
class Rows:
    class Options(_Strict):
        at_least: int = Field(1, ge=1)

    def run(self, reference, current, ctx):
        return [TestResult("rows_{s}", "input", float(len(current)), threshold=float(self.options.at_least),
                           status="ok", detail="rows in the current window")]


class Backwards:
    workers = 1

    def __init__(self, opts):
        self.name, self.reverse = "backwards_{s}", opts.reverse

    def map_unordered(self, fn, args, shared=()):
        for i in (reversed(range(len(args))) if self.reverse else range(len(args))):
            yield i, fn(*shared, *args[i])

    def close(self):
        pass


class BackwardsOptions(_Strict):
    reverse: bool = True


@register_executor("backwards_{s}", options=BackwardsOptions)
def make_backwards(opts):
    return Backwards(opts)


def register():
    """For an entry point that names a callable: importing this module has already registered everything."""
    REGISTERED.append(True)


REGISTERED = []
'''


@pytest.fixture(autouse=True)
def clean_registries():
    """Registries, the options catalog and the entry-point state as they were: a plug-in of one test must not
    run in another (a registered drift test would join every monitor run)."""
    plugins.catalog()  # the built-ins registered before the snapshot, so restoring keeps them
    import tunegate.monitor.drift  # noqa: F401  (and the drift tests it imports)

    tunegate.monitor.drift.registered_tests()
    saved = [(t, dict(t)) for t in (scoring_base.SCORERS, strategies.STRATEGIES, registry._BACKENDS,
                                    registry._EMBEDDERS, registry._OPTIONS, test_base._TESTS, test_base._CLASSES,
                                    executors_base._EXECUTORS)]
    catalog = {k: dict(v) for k, v in plugins._catalog.items()}
    state = dict(plugins._entry_points_state)
    path = list(sys.path)
    yield
    for table, before in saved:
        table.clear()
        table.update(before)
    plugins._catalog.clear()
    plugins._catalog.update(catalog)
    sys.path[:] = path
    plugins._entry_points_state.update(state)


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def _task(tmp_path: Path, s: str, extra: str = "") -> Path:
    """A small classification task beside a plug-in file ``my_plugins.py``; returns the spec path."""
    (tmp_path / "my_plugins.py").write_text(PLUGIN.format(s=s))
    with (tmp_path / "d.jsonl").open("w") as fh:
        for k in range(24):
            lab = LABELS[k % 3]
            fh.write(json.dumps({"id": f"x{k:03d}", "text": f"message {k} about {lab}", "intent": lab,
                                 "split": "train" if k < 12 else "test" if k < 18 else "dev"}) + "\n")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text("task: {name: toy, kind: classification, labels: [billing, shipping, other]}\n"
                    "data: {path: d.jsonl, fields: {input: text, label: intent, id: id, split: split}}\n"
                    + extra)
    return spec


def _install(tmp_path: Path, s: str, value: str | None = None) -> None:
    """A fake installed distribution: the plug-in module and a dist-info whose entry_points.txt names it in the
    tunegate.plugins group, on sys.path; the entry points are then forgotten so the next lookup loads them."""
    site = tmp_path / "site"
    site.mkdir()
    (site / f"tgplug_{s}.py").write_text(PLUGIN.format(s=s))
    info = site / f"tgplug_{s}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tgplug-{s}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[tunegate.plugins]\nmine = {value or f'tgplug_{s}'}\n")
    sys.path.insert(0, str(site))
    plugins._entry_points_state.update(done=False, error=None, loaded=[])


# ------------------------------------------------------------------------------------------------ scorer


class _Answers:
    """An offline backend answering a fixed text, for runs that test a scorer."""

    model_id = "fake:answers"
    capabilities = frozenset({"generate"})

    def __init__(self, answers):
        self.answers = answers

    def cache_identity(self):
        return {"kind": "fake", "model": "answers"}

    def generate(self, requests):
        from tunegate.models.base import Generation

        for i, r in enumerate(requests):
            k = int(r.messages[-1]["content"].split("message ")[1].split(" ")[0])
            yield i, Generation(self.answers(k), 10, 1, 0.001)

    def close(self):
        pass


def _eval(spec, tmp_path, backend=None, model=None):
    from tunegate.evals.runner import EvalOptions, run_eval

    return run_eval(spec, EvalOptions(model=model or "fake:answers", out_dir=tmp_path / "run",
                                      cache_path=tmp_path / "c.db", method="generate"), backend=backend)


SCORER_EVAL = "eval: {{prompt: {{inline: 'Classify: {{{{input}}}}'}}, metric: short_{s}, scorers: [{{type: short_{s}, max_chars: {n}}}]}}\n"


@pytest.mark.parametrize("via", ["spec", "entry_point"])
def test_a_user_scorer_is_loaded_validated_and_scores_an_eval_run(tmp_path, via):
    s = _suffix()
    if via == "entry_point":
        _install(tmp_path, s)
        spec = load_spec(_task(tmp_path, s, SCORER_EVAL.format(s=s, n=7)))
    else:
        spec = load_spec(_task(tmp_path, s, f"plugins: [my_plugins.py]\n" + SCORER_EVAL.format(s=s, n=7)))
    assert f"short_{s}" in scoring_base.SCORERS
    # even items get "billing" (7 chars: short), odd ones "shipping!" (9: too long)
    art = _eval(spec, tmp_path, _Answers(lambda k: "billing" if k % 2 == 0 else "shipping!"))
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    expected = sum(int(r["id"][1:]) % 2 == 0 for r in rows) / len(rows)
    assert art.metric == f"short_{s}" and art.value == pytest.approx(expected) and 0 < expected < 1


def test_a_misspelt_user_scorer_option_is_located(tmp_path):
    s = _suffix()
    path = _task(tmp_path, s, "plugins: [my_plugins.py]\neval:\n  scorers:\n    - type: short_" + s
                 + "\n      max_chras: 5\n")
    from tunegate.evals.scorers import build_scorers

    with pytest.raises(SpecError) as exc:
        build_scorers(load_spec(path))
    assert str(exc.value).startswith(f"{path.resolve()}:7: eval.scorers.0.max_chras: unknown short_{s} option "
                                      "'max_chras' (did you mean 'max_chars'?)")
    bad_type = _task(tmp_path, s, f"plugins: [my_plugins.py]\neval: {{scorers: [{{type: short_{s}, "
                     "max_chars: none}]}\n")
    with pytest.raises(SpecError, match=r":4: eval\.scorers\.0\.max_chars: .*valid integer"):
        build_scorers(load_spec(bad_type))


# ---------------------------------------------------------------------------------------------- strategy


def _candidates(spec):
    from tunegate.sprint.candidates import Instruction, build_candidates

    return build_candidates(spec.sprint, "classification", [Instruction("task", "Classify the message.")],
                            ["fake:m"], {}, {"fake:m": frozenset({"generate"})})


@pytest.mark.parametrize("via", ["spec", "entry_point"])
def test_a_user_strategy_is_loaded_validated_and_becomes_a_sprint_candidate(tmp_path, via):
    from tunegate.sprint.strategies import Plan

    s = _suffix()
    sprint = f"sprint: {{strategies: [zero_shot, {{type: persona_{s}, persona: a pirate}}]}}\n"
    if via == "entry_point":
        _install(tmp_path, s)
        path = _task(tmp_path, s, sprint)
        spec = load_spec(path)
        plugins._entry_points_state.update(done=False, error=None, loaded=[])  # lazily, at the registry's lookup
        assert f"persona_{s}" in strategies.STRATEGIES  # already there: importing is registering
    else:
        spec = load_spec(_task(tmp_path, s, "plugins: [my_plugins.py]\n" + sprint))
    cands = _candidates(spec)
    persona = next(c for c in cands if c.name.startswith(f"persona_{s}"))
    assert persona.name == f"persona_{s}-personaa pirate gen"
    plan = Plan(instruction="Classify the message.")
    persona.strategies[0].apply(plan, None, None)
    assert plan.instruction == "You are a pirate. Classify the message."


def test_a_misspelt_user_strategy_option_is_located(tmp_path):
    s = _suffix()
    path = _task(tmp_path, s, "plugins: [my_plugins.py]\nsprint:\n  strategies:\n    - zero_shot\n"
                 f"    - type: persona_{s}\n      persnoa: a pirate\n")
    spec = load_spec(path)
    entry = spec.sprint.strategies[1]
    with pytest.raises(SpecError) as exc:
        strategies.make_strategy(entry, "sprint.strategies.1", spec=spec)
    assert str(exc.value).startswith(f"{path.resolve()}:8: sprint.strategies.1.persnoa: unknown strategy "
                                      f"'persona_{s}' option 'persnoa' (did you mean 'persona'?)")
    with pytest.raises(SpecError, match=r"^sprint\.strategies\.1\.0\.persnoa: unknown"):
        _candidates(spec)  # candidates.py does not pass the spec yet: the key (of the stack's item), no line


# ----------------------------------------------------------------------------------------------- backend


def _backend_spec(s: str, answer_key: str = "answer") -> str:
    return (f"eval: {{prompt: {{inline: 'Classify: {{{{input}}}}'}}}}\n"
            f"models:\n  default: echo{s}:one\n  backends:\n    echo{s}:one:\n      options:\n"
            f"        {answer_key}: shipping\n")


@pytest.mark.parametrize("via", ["spec", "entry_point"])
def test_a_user_backend_is_loaded_validated_and_answers_an_eval(tmp_path, via):
    s = _suffix()
    if via == "entry_point":
        _install(tmp_path, s)
        path = _task(tmp_path, s, _backend_spec(s))
        plugins._entry_points_state.update(done=False, error=None, loaded=[])
        spec = load_spec(path)
    else:
        spec = load_spec(_task(tmp_path, s, "plugins: [my_plugins.py]\n" + _backend_spec(s)))
    art = _eval(spec, tmp_path, model=f"echo{s}:one")
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert {r["output"] for r in rows} == {"shipping"}
    assert art.value == pytest.approx(sum(r["gold"] == "shipping" for r in rows) / len(rows))


def test_a_misspelt_user_backend_option_is_located(tmp_path):
    s = _suffix()
    path = _task(tmp_path, s, "plugins: [my_plugins.py]\n" + _backend_spec(s, "answre"))
    spec = load_spec(path)
    with pytest.raises(SpecError) as exc:
        registry.check_models(spec.models, source=spec.source)
    assert str(exc.value).startswith(f"{path.resolve()}:10: models.backends.echo{s}:one.options.answre: "
                                      f"unknown backend 'echo{s}' option 'answre' (did you mean 'answer'?)")
    with pytest.raises(SpecError, match=r"yaml:10: models\.backends\..*answre"):
        _eval(spec, tmp_path, model=f"echo{s}:one")  # the runner's check, before any backend is made
    with pytest.raises(SpecError, match=r"^models\.backends\..*answre"):
        registry.create_backend(f"echo{s}:one", spec.models)  # made without the spec: the key, no file


# -------------------------------------------------------------------------------------------- drift test


def _monitor_spec(s: str) -> str:
    return ("monitor:\n  columns: {input: text, output: out, timestamp: null, model_version: null, label: null}\n"
            "  window: {by: rows, reference_rows: 30, current_rows: 30, min_rows: 10}\n"
            f"  tests: [text_length, rows_{s}]\n")


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"text": f"message {k} " + "x" * (k % 7), "out": "billing"}) + "\n"
                           for k in range(60)))
    return log


@pytest.mark.parametrize("via", ["spec", "entry_point"])
def test_a_user_drift_test_is_loaded_and_appears_in_monitor_json(tmp_path, via):
    from tunegate.monitor.stage import monitor_stage

    s = _suffix()
    if via == "entry_point":
        _install(tmp_path, s)
        path = _task(tmp_path, s, _monitor_spec(s))
        spec = load_spec(path)
        plugins._entry_points_state.update(done=False, error=None, loaded=[])
    else:
        spec = load_spec(_task(tmp_path, s, "plugins: [my_plugins.py]\n" + _monitor_spec(s)))
    monitor_stage(spec, _log(tmp_path), out_dir=tmp_path / "mon", embeddings=False, webhook=False)
    doc = json.loads((tmp_path / "mon" / "monitor.json").read_text())
    mine = next(t for t in doc["tests"] if t["name"] == f"rows_{s}")
    assert mine["statistic"] == 30.0 and mine["threshold"] == 1.0 and mine["status"] == "ok"


def test_drift_test_options_are_validated_and_located(tmp_path):
    from tunegate.monitor.drift import registered_tests

    s = _suffix()
    path = _task(tmp_path, s, "plugins: [my_plugins.py]\n")
    load_spec(path)
    tests = test_base.configure_tests(["text_length", {"type": f"rows_{s}", "at_least": 5}],
                                      registry=registered_tests())
    assert tests[f"rows_{s}"].options.at_least == 5 and list(tests) == ["text_length", f"rows_{s}"]
    # without the spec object, the entry's location comes from re-reading the file
    entries = tmp_path / "entries.yaml"
    entries.write_text(f"monitor:\n  tests:\n    - type: rows_{s}\n      at_lest: 5\n")
    with pytest.raises(SpecError) as exc:
        test_base.configure_tests([{"type": f"rows_{s}", "at_lest": 5}], registry=registered_tests(),
                                  source=entries)
    assert str(exc.value).startswith(f"{entries}:4: monitor.tests.0.at_lest: unknown drift test 'rows_{s}' "
                                      "option 'at_lest' (did you mean 'at_least'?)")
    with pytest.raises(SpecError, match=r"monitor\.tests\.0: unknown drift test 'nope'"):
        test_base.configure_tests(["nope"], registry=registered_tests())


def test_drift_test_options_from_a_spec_reach_the_test_and_a_misspelt_one_names_the_spec_line(tmp_path):
    """monitor.tests takes {type: name, option: value}: the stage validates it against the test's Options."""
    from tunegate.monitor.stage import monitor_stage

    s = _suffix()
    body = _monitor_spec(s).replace(f"tests: [text_length, rows_{s}]",
                                    f"tests: [text_length, {{type: rows_{s}, at_least: 40}}]")
    spec = load_spec(_task(tmp_path, s, "plugins: [my_plugins.py]\n" + body))
    monitor_stage(spec, _log(tmp_path), out_dir=tmp_path / "mon", embeddings=False, webhook=False)
    doc = json.loads((tmp_path / "mon" / "monitor.json").read_text())
    mine = next(t for t in doc["tests"] if t["name"] == f"rows_{s}")
    assert mine["threshold"] == 40.0  # the option, not the default of 1
    bad = _task(tmp_path, s, "plugins: [my_plugins.py]\n" + body.replace("at_least: 40", "at_lest: 40"))
    with pytest.raises(SpecError) as exc:
        monitor_stage(load_spec(bad), _log(tmp_path), out_dir=tmp_path / "mon2", embeddings=False, webhook=False)
    msg = str(exc.value)
    assert "monitor.tests.1.at_lest" in msg and "did you mean 'at_least'" in msg and str(bad.name) in msg, msg


# ---------------------------------------------------------------------------------------------- executor


@pytest.mark.parametrize("via", ["spec", "entry_point"])
def test_a_user_executor_is_loaded_validated_and_runs_a_map(tmp_path, via):
    s = _suffix()
    if via == "entry_point":
        _install(tmp_path, s)  # nothing loaded yet: create_executor's lookup of an unknown name loads it
        assert f"backwards_{s}" not in executors_base._EXECUTORS
    else:
        load_spec(_task(tmp_path, s, "plugins: [my_plugins.py]\n"))
    ex = executors_base.create_executor(f"backwards_{s}")
    assert list(ex.map_unordered(pow, [(2, 1), (2, 2), (2, 3)])) == [(2, 8), (1, 4), (0, 2)]
    forward = executors_base.create_executor(f"backwards_{s}", reverse=False)
    assert list(forward.map_unordered(pow, [(2, 1), (2, 2)])) == [(0, 2), (1, 4)]


def test_a_misspelt_executor_option_names_the_key(tmp_path):
    s = _suffix()
    load_spec(_task(tmp_path, s, "plugins: [my_plugins.py]\n"))
    with pytest.raises(SpecError, match=rf"executor\.revrse: unknown executor 'backwards_{s}' option 'revrse' "
                                        r"\(did you mean 'reverse'\?\)"):
        executors_base.create_executor(f"backwards_{s}", revrse=True)
    with pytest.raises(SpecError, match=r"executor\.wrkers: unknown executor 'local' option 'wrkers'"):
        executors_base.create_executor("local", wrkers=2)
    with pytest.raises(SpecError, match=r"executor\.workers: .*greater than or equal to 1"):
        executors_base.create_executor("local", workers=0)


# ------------------------------------------------------------------------------------------ load failures


def test_a_plugin_that_fails_to_import_names_the_spec_line_and_the_exception(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text("task: {name: t, kind: generation}\nplugins:\n  - json\n  - broken.py\n")
    with pytest.raises(SpecError) as exc:
        load_spec(spec)
    assert str(exc.value) == (f"{spec.resolve()}:4: plugins.1: the plug-in 'broken.py' failed to import: "
                              "RuntimeError: boom at import")
    spec.write_text("task: {name: t, kind: generation}\nplugins: [no_such_module_xyz]\n")
    with pytest.raises(SpecError, match=r":2: plugins\.0: the plug-in 'no_such_module_xyz' failed to import: "
                                        "ModuleNotFoundError"):
        load_spec(spec)
    spec.write_text("task: {name: t, kind: generation}\nplugins: [missing.py]\n")
    with pytest.raises(SpecError, match=r":2: plugins\.0: plug-in file not found"):
        load_spec(spec)


def test_an_entry_point_that_fails_is_named_and_keeps_failing(tmp_path):
    s = _suffix()
    _install(tmp_path, s, value=f"tgplug_{s}:no_such_function")
    with pytest.raises(plugins.PluginError, match=rf"entry point 'mine = tgplug_{s}:no_such_function' "
                                                  rf"\(distribution tgplug-{s}\) in group tunegate.plugins "
                                                  "failed to load: AttributeError"):
        executors_base.create_executor("not_registered_anywhere")
    with pytest.raises(plugins.PluginError, match="no_such_function"):
        plugins.load_entry_points()  # not silently half-loaded on the next call


def test_an_entry_point_may_name_a_callable_and_loads_once(tmp_path):
    s = _suffix()
    _install(tmp_path, s, value=f"tgplug_{s}:register")
    assert plugins.load_entry_points() == ["mine"]
    assert plugins.load_entry_points() == ["mine"]
    assert sys.modules[f"tgplug_{s}"].REGISTERED == [True]  # called once, not per lookup
    assert f"rows_{s}" in test_base._TESTS and f"echo{s}" in registry._BACKENDS


# ------------------------------------------------------------------------------------------------ schema


def test_the_schema_lists_every_builtin_plugins_options_and_loaded_user_ones(tmp_path):
    s = _suffix()
    load_spec(_task(tmp_path, s, "plugins: [my_plugins.py]\n"))
    full = json_schema()
    block = {kind: v["properties"] for kind, v in full["$defs"]["plugins"]["properties"].items()}
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(full)
    assert {"scorer", "strategy", "backend", "embedder", "drift_test", "executor"} <= set(block)
    assert block["scorer"]["regex"]["required"] == ["pattern"]
    assert set(block["scorer"]["llm_judge"]["properties"]) >= {"rubric", "scale", "repeats", "allow_self_judge"}
    assert block["scorer"]["label_match"]["additionalProperties"] is False
    assert block["strategy"]["self_consistency"]["properties"]["n"]["minimum"] == 2
    assert set(block["executor"]["ray"]["properties"]) == {"address", "workers", "max_retries"}
    assert {"local", "openai"} <= set(block["backend"])
    assert {"numeric", "embedding", "text_length", "performance"} <= set(block["drift_test"])
    assert block["scorer"][f"short_{s}"]["required"] == ["max_chars"]
    assert block["backend"][f"echo{s}"]["required"] == ["answer"]
    assert "plugins" in json_schema()["properties"]


def test_the_user_strategy_in_docs_sprint_md_works_as_written(tmp_path):
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "sprint.md").read_text(encoding="utf-8")
    part = doc[doc.index("A user strategy"):]
    code = re.search(r"```python\n(.*?)```", part, re.S).group(1)
    yaml_block = re.search(r"```yaml\n(.*?)```", part, re.S).group(1)
    name = re.search(r"plugins: \[(.+?)\]", yaml_block).group(1)
    s = _suffix()
    path = _task(tmp_path, s, yaml_block)
    (tmp_path / name).write_text(code)
    spec = load_spec(path)
    persona = next(c for c in _candidates(spec) if c.name.startswith("expert_persona"))
    from tunegate.sprint.strategies import Plan

    plan = Plan(instruction="Classify.")
    persona.strategies[0].apply(plan, None, None)
    assert plan.instruction == "You are a billing specialist. Classify."
