"""The Stage protocol: a stage defined outside tunegate is one module + one registration, and the pipeline runs it
in order, hashes it from its declared needs, accepts it in `run --only`, and lists it in pipeline.json."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.errors import InputError
from tunegate.pipeline import PROFILES, STAGE_REGISTRY, _stage_hash, run_pipeline
from tunegate.spec import load_spec
from tunegate.stages.base import Stage, StageRegistry, register_stage

from test_pipeline import small_task

runner = CliRunner()

# a plug-in module as a user would write it: one Stage subclass and one registration
LINT_PLUGIN = '''
import json
from pathlib import Path

from tunegate.stages.base import Stage, register_stage

RUNS = []


class LintStage(Stage):
    """Counts the data gate's failing checks (a stand-in for a real linter)."""

    name, produces, needs, needs_data = "lint", "lint.json", ("audit.json",), True

    def run(self, ctx):
        audit = json.loads((ctx.run_dir / "audit.json").read_text())
        failing = [c["name"] for c in audit["checks"] if c["status"] == "fail"]
        art = {"artifact": "lint", "gate": "fail" if failing else "pass", "failing": failing}
        (ctx.run_dir / self.produces).write_text(json.dumps(art))
        RUNS.append(ctx.run_dir)
        return art

    def summary(self, art):
        return {"gate": art["gate"], "n_failing": len(art["failing"])}

    def headline(self, info):
        return f"lint: {info['n_failing']} failing data checks"


register_stage(LintStage(), after="audit")
'''


@pytest.fixture
def lint(tmp_path, monkeypatch):
    """The plug-in imported from its own file; unregistered afterwards so other tests see the built-ins only."""
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "tunegate_lint_plugin.py").write_text(LINT_PLUGIN)
    monkeypatch.syspath_prepend(str(plugin_dir))
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    sys.modules.pop("tunegate_lint_plugin", None)
    try:
        yield importlib.import_module("tunegate_lint_plugin")
    finally:
        STAGE_REGISTRY.unregister("lint")
        sys.modules.pop("tunegate_lint_plugin", None)


def test_a_registered_stage_runs_in_order_and_is_hashed_from_its_needs(tmp_path, lint):
    import tunegate.pipeline as pipeline

    assert pipeline.STAGES[:3] == ("check-eval", "audit", "lint")  # STAGES is read from the registry
    spec = load_spec(small_task(tmp_path))
    run = tmp_path / "run"
    said: list[str] = []
    done: list[tuple[str, str]] = []
    m = run_pipeline(spec, run, only=["decide", "lint", "audit"], progress=said.append,
                     stage_done=lambda s, info: done.append((s, pipeline.stage_summary(s, info))))
    assert [s for s, _ in done] == ["audit", "lint", "decide"] == m["stages_run"]  # pipeline order, not --only's
    assert [x for x in said if x.endswith("running")] == ["audit: running", "lint: running", "decide: running"]
    audit = json.loads((run / "audit.json").read_text())
    n_fail = sum(c["status"] == "fail" for c in audit["checks"])
    assert json.loads((run / "lint.json").read_text())["failing"] == \
        [c["name"] for c in audit["checks"] if c["status"] == "fail"]
    assert m["stages"]["lint"]["n_failing"] == n_fail and dict(done)["lint"] == f"lint: {n_fail} failing data checks"
    assert json.loads((run / "pipeline.json").read_text())["stages_run"] == ["audit", "lint", "decide"]
    assert len(lint.RUNS) == 1

    # unchanged needs: skipped; a file it does not need changes decide's hash but not lint's
    prof = PROFILES["quick"]
    before = {s: _stage_hash(spec, s, run, prof, spec.models.default) for s in ("lint", "decide")}
    (run / "imported").mkdir()
    (run / "imported" / "eval.json").write_text("{}")  # decide reads **/eval.json, as collect_artifacts does
    assert _stage_hash(spec, "lint", run, prof, spec.models.default) == before["lint"]
    assert _stage_hash(spec, "decide", run, prof, spec.models.default) != before["decide"]
    m = run_pipeline(spec, run, only=["lint"])
    assert m["stages"]["lint"]["skipped"] is True and len(lint.RUNS) == 1 and m["stages_run"] == ["lint"]

    # the upstream it needs changes (the audit re-run, its file rewritten later): lint runs again
    run_pipeline(spec, run, only=["audit"], force=True)
    t = (run / "audit.json").stat().st_mtime + 5
    os.utime(run / "audit.json", (t, t))  # the fingerprint's mtime is in whole seconds
    m = run_pipeline(spec, run, only=["lint"])
    assert m["stages"]["lint"]["skipped"] is False and len(lint.RUNS) == 2


def test_run_only_accepts_a_registered_stage_and_dry_run_lists_it(tmp_path, lint):
    spec = small_task(tmp_path)
    run = tmp_path / "run"
    r = runner.invoke(app, ["run", str(spec), "--out", str(run), "--only", "lint", "--only", "audit", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads((run / "pipeline.json").read_text())["stages_run"] == ["audit", "lint"]
    r = runner.invoke(app, ["run", str(spec), "--dry-run", "--json", "--profile", "quick"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["stages"]
    assert [x["stage"] for x in rows][:3] == ["check-eval", "audit", "lint"]
    assert rows[2]["calls"] == 0 and "without an estimator" in rows[2]["note"]
    STAGE_REGISTRY.unregister("lint")
    r = runner.invoke(app, ["run", str(spec), "--out", str(run), "--only", "lint"])
    assert r.exit_code == 2 and "unknown stage" in r.output


def test_the_manifest_is_validated_before_it_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))

    class BadUsage(Stage):
        name, produces = "bad-usage", "bad.json"

        def run(self, ctx):
            return {}

        def summary(self, art):
            return {"usage": "not a usage block"}

    register_stage(BadUsage())
    try:
        spec = load_spec(small_task(tmp_path))
        with pytest.raises(InputError, match="pipeline.json") as exc:
            run_pipeline(spec, tmp_path / "run", only=["bad-usage"])
        assert exc.value.field == "stages.bad-usage.usage"
    finally:
        STAGE_REGISTRY.unregister("bad-usage")
    assert not (tmp_path / "run" / "pipeline.json").exists()


def test_the_builtin_hashes_read_what_the_readers_read(tmp_path):
    """Eval runs anywhere in the run directory count for decide and report (as collect_artifacts reads them);
    the probe's own evaluation (probe-lora/) does not change the probe's hash, or it would never be skipped."""
    spec = load_spec(small_task(tmp_path))
    run = tmp_path / "run"
    run.mkdir()
    prof, model = PROFILES["full"], spec.models.default

    def hashes() -> dict[str, str]:
        return {s: _stage_hash(spec, s, run, prof, model) for s in STAGE_REGISTRY.names()}

    h0 = hashes()
    (run / "sprint-best").mkdir()
    (run / "sprint-best" / "eval.json").write_text("{}")
    h1 = hashes()
    assert {s for s in h0 if h0[s] != h1[s]} == {"probe", "cost", "decide", "report"}
    (run / "probe-lora").mkdir()
    (run / "probe-lora" / "eval.json").write_text("{}")
    h2 = hashes()
    assert {s for s in h1 if h1[s] != h2[s]} == {"cost", "decide", "report"}
    (run / "audit.json").write_text("{}")
    h3 = hashes()
    assert {s for s in h2 if h2[s] != h3[s]} == {"cost", "decide", "report"}


def test_registry_order_anchors_and_errors():
    reg = StageRegistry()

    def stage(name: str) -> Stage:
        return type(name.title(), (Stage,), {"name": name, "produces": f"{name}.json"})()

    for n in ("a", "b", "c"):
        reg.register(stage(n))
    reg.register(stage("x"), after="a")
    reg.register(stage("y"), after="a")  # behind x, which was anchored to a first
    reg.register(stage("z"), after="x")
    assert reg.names() == ["a", "x", "z", "y", "b", "c"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register(stage("b"))
    with pytest.raises(ValueError, match="name must be"):
        reg.register(stage("two words"))
    reg.register(stage("late"), after="missing")
    with pytest.raises(ValueError, match="'late' is registered after 'missing'"):
        reg.names()
    reg.register(stage("missing"))  # the anchor arriving later resolves it
    assert reg.names()[-2:] == ["missing", "late"]
    reg.unregister("a")
    with pytest.raises(ValueError, match="after 'a'"):
        reg.names()


def test_the_registry_module_is_a_leaf():
    """A plug-in can import the protocol without loading any stage, pydantic or numpy."""
    code = textwrap.dedent("""
        import sys, tunegate.stages.base
        print(sorted(m for m in sys.modules if m.startswith("tunegate")), "pydantic" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent).stdout
    assert out.strip() == "['tunegate', 'tunegate.stages', 'tunegate.stages.base'] False"


def test_a_stage_plugin_named_in_the_spec_plugins_key_is_loaded_and_run(tmp_path, monkeypatch):
    """The one plug-in loader serves stages too: a spec's `plugins:` entry imports the module, which registers the
    stage, and `run --only audit --only lint` runs it."""
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    spec_path = small_task(tmp_path, extra="plugins: [lint_stage_plugin.py]\n")
    (tmp_path / "lint_stage_plugin.py").write_text(LINT_PLUGIN)
    try:
        res = runner.invoke(app, ["run", str(spec_path), "--out", str(tmp_path / "run"), "--only", "audit",
                                  "--only", "lint", "--json"])
        assert res.exit_code in (0, 3, 4), res.output
        assert json.loads((tmp_path / "run" / "lint.json").read_text())["artifact"] == "lint"
        manifest = json.loads((tmp_path / "run" / "pipeline.json").read_text())
        assert manifest["stages_run"] == ["audit", "lint"] and manifest["stages"]["lint"]["status"] == "done"
    finally:
        STAGE_REGISTRY.unregister("lint")
