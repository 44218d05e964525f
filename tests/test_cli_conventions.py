"""The CLI's conventions (issue 18 part 5, docs/cli.md): one error-to-exit mapping on every command, --json and
--quiet on every stage command, gates exit 0/3/4 (the sprint included), deprecated spellings still work."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from support.hardening import write_task
from tunegate.cli import app
from tunegate.cli.main import COMMANDS, GROUPS, STAGE_COMMANDS

sys.path.insert(0, str(Path(__file__).parent))
from test_sprint import FakeBackend, make_task  # noqa: E402

runner = CliRunner()
NOWHERE = "models:\n  default: openai:never\n  backends:\n    openai:never: {base_url: 'http://127.0.0.1:9/v1', " \
          "api_key_env: null, max_retries: 0, timeout_s: 1}\n"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))


def _click_commands() -> dict[str, object]:
    root = typer.main.get_command(app)
    found = {}
    for name, cmd in root.commands.items():
        for sub, c in (getattr(cmd, "commands", None) or {name: cmd}).items():
            found[name if sub == name else f"{name} {sub}"] = c
    return found


def test_every_registered_command_goes_through_command_errors():
    infos = list(app.registered_commands)
    infos += [c for g in app.registered_groups for c in g.typer_instance.registered_commands]
    assert len(infos) == len(COMMANDS) + sum(len(cmds) for _, _, cmds in GROUPS) >= 26
    unwrapped = [i.name for i in infos if not getattr(i.callback, "command_errors", False)]
    assert unwrapped == []


def test_stage_commands_take_json_and_quiet_and_help_is_in_pipeline_order():
    cmds = _click_commands()
    for name in STAGE_COMMANDS:
        opts = {o for p in cmds[name].params for o in getattr(p, "opts", [])}
        assert {"--json", "--quiet"} <= opts, name
    root = typer.main.get_command(app)
    listed = root.list_commands(None)
    order = ["init", "validate", "check-eval", "audit", "eval", "compare", "sprint", "probe", "cost", "decide",
             "report", "run", "demo", "assess", "monitor", "portfolio"]
    assert [n for n in listed if n in order] == order and len(listed) == len(COMMANDS) + len(GROUPS)
    for name in listed:  # a one-line summary each (docstring line breaks would break the --help table)
        summary = root.commands[name].short_help or root.commands[name].help
        assert summary and "\n" not in summary, name


def test_one_meaning_per_visible_flag_name():
    """--model, --method, --text-col, --history: the clashes the issue found are gone from what users see."""
    seen: dict[str, set[str]] = {}
    for name, cmd in _click_commands().items():
        for p in cmd.params:
            if getattr(p, "param_type_name", "") == "option" and not p.hidden:
                for o in p.opts:
                    seen.setdefault(o, set()).add(name)
    assert "--model" not in {o for o, cmds in seen.items() if "monitor" in cmds}
    assert "--method" not in {o for o, cmds in seen.items() if "audit" in cmds}
    assert "--text-col" not in seen and {"audit", "monitor"} <= seen["--input-col"]
    assert "--out" not in {o for o, cmds in seen.items() if cmds & {"init", "schema", "import-annotations"}}


def _bad_spec(tmp: Path) -> Path:
    spec = write_task(tmp, 20, NOWHERE)
    spec.write_text(spec.read_text().replace("  metric: accuracy\n", "  metric: accuracy\n  tagret: 0.9\n"))
    return spec


BAD = {  # command -> argv after it (SPEC: a spec with a misspelt key; TMP: the test's directory), located words
    "eval": (["SPEC"], ["tunegate.yaml", "eval.tagret"]),
    "check-eval": (["SPEC"], ["tunegate.yaml", "eval.tagret"]),
    "audit": (["SPEC"], ["tunegate.yaml", "eval.tagret"]),
    "sprint": (["SPEC", "--out", "TMP/o"], ["tunegate.yaml", "eval.tagret"]),
    "probe": (["SPEC", "--out", "TMP/o"], ["tunegate.yaml", "eval.tagret"]),
    "cost": (["SPEC", "--out", "TMP/o"], ["tunegate.yaml", "eval.tagret"]),
    "run": (["SPEC", "--out", "TMP/o"], ["tunegate.yaml", "eval.tagret"]),
    "monitor": (["SPEC", "--log", "TMP/log.jsonl"], ["tunegate.yaml", "eval.tagret"]),
    "decide": (["TMP/o", "--spec", "SPEC"], ["tunegate.yaml", "eval.tagret"]),
    "compare": (["TMP/nope-a", "TMP/nope-b"], ["nope-a"]),
    "report": (["TMP/nope"], ["nope", "not found"]),
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("command", STAGE_COMMANDS)
def test_bad_input_exits_2_with_the_location_on_every_stage_command(command, as_json, tmp_path):
    args, words = BAD[command]
    spec = _bad_spec(tmp_path)
    argv = [command] + [a.replace("SPEC", str(spec)).replace("TMP", str(tmp_path)) for a in args]
    r = runner.invoke(app, argv + (["--json"] if as_json else []))
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(w in errors[0] for w in words), r.stderr
    if as_json:
        doc = json.loads(r.stdout)
        assert doc["exit_code"] == 2 and all(w in doc["error"] for w in words)
    else:
        assert r.stdout == ""


def test_json_prints_only_the_result_on_stdout(tmp_path):
    spec = write_task(tmp_path, 30, NOWHERE)
    (tmp_path / "ref.csv").write_text("input,latency\n" + "".join(f"hello {k},{k}\n" for k in range(30)))
    (tmp_path / "cur.csv").write_text("input,latency\n" + "".join(f"hello {k},{k + 50}\n" for k in range(30)))
    (tmp_path / "a.csv").write_text("item_id,annotator,label\n" + "".join(
        f"i{k},{a},{'x' if (k + (a == 'c')) % 2 else 'y'}\n" for k in range(20) for a in "abc"))
    cases = {
        "cost": (["cost", str(spec), "--out", str(tmp_path / "run"), "--draws", "500", "--json"], 0, "tco"),
        "decide": (["decide", str(tmp_path / "run"), "--spec", str(spec), "--json"], 0, "verdict"),
        "run --dry-run": (["run", str(spec), "--dry-run", "--json"], 0, "stages"),
        "monitor": (["monitor", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "cur.csv"),
                     "--numeric-col", "latency", "--no-embeddings", "--json"], 3, "tests"),
        "audit": (["audit", "--annotations", str(tmp_path / "a.csv"), "--no-embeddings", "--json"], None, "gate"),
    }
    for name, (argv, code, key) in cases.items():
        r = runner.invoke(app, argv)
        assert code is None or r.exit_code == code, (name, r.output)
        assert r.exit_code in (0, 3, 4), (name, r.output)
        lines = r.stdout.strip().splitlines()
        assert len(lines) == 1 and key in json.loads(lines[0]), (name, r.stdout[:300])
        assert r.stderr == "", (name, r.stderr)  # --json implies --quiet


def _sprint_task(tmp_path: Path) -> Path:
    from tunegate.models.registry import register_backend

    register_backend("fakeconv")(lambda model_id, name, settings: FakeBackend())
    spec = make_task(tmp_path, sprint="sprint: {strategies: [zero_shot, few_shot_random], racing: {min_items: 8}}")
    spec.write_text(spec.read_text().replace("default: fake:toy", "default: fakeconv:toy"))
    return spec


def test_a_sprint_whose_gate_fails_exits_3(tmp_path):
    spec = _sprint_task(tmp_path)
    r = runner.invoke(app, ["sprint", str(spec), "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c.sqlite"),
                            "--json"])
    art = json.loads(r.stdout)
    assert art["gate"] == "gap" and r.exit_code == 3, r.output
    # the same sprint with a target the fake reaches: met -> 0
    spec.write_text(spec.read_text().replace("target: 0.9", "target: 0.3"))
    r = runner.invoke(app, ["sprint", str(spec), "--out", str(tmp_path / "o2"), "--cache", str(tmp_path / "c.sqlite"),
                            "--quiet"])
    assert r.exit_code == 0 and "gate: met" in r.stdout, r.output
    assert "0 met" in runner.invoke(app, ["sprint", "--help"]).output


def test_deprecated_spellings_still_work_and_warn(tmp_path):
    from tunegate.monitor.store import PortfolioStore

    with PortfolioStore() as st:
        st.add_model("triage", path="prompt", base_model="openai:x")
    r = runner.invoke(app, ["monitor", "--history", "--model", "triage"])
    assert r.exit_code == 0 and "history of triage" in r.stdout, r.output
    assert "--model is deprecated" in r.stderr and "--portfolio-model" in r.stderr
    r = runner.invoke(app, ["monitor", "--history", "--portfolio-model", "triage"])
    assert r.exit_code == 0 and r.stderr == "", r.output
    r = runner.invoke(app, ["monitor", "--history", "--portfolio-model", "a", "--model", "b"])
    assert r.exit_code == 2 and "not both" in r.stderr
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"message {k},{'ab'[k % 2]}\n" for k in range(30)))
    r = runner.invoke(app, ["init", str(data), "--out", str(tmp_path / "s.yaml")])
    assert r.exit_code == 0 and (tmp_path / "s.yaml").exists() and "--out-file" in r.stderr, r.output


def test_interrupt_and_library_value_errors_have_their_codes(tmp_path, monkeypatch):
    import tunegate.decision_stages as stages

    spec = write_task(tmp_path, 20, NOWHERE)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(stages, "cost_stage", interrupted)
    r = runner.invoke(app, ["cost", str(spec), "--out", str(tmp_path / "c")])
    assert r.exit_code == 130 and "interrupted" in r.stderr
    monkeypatch.setattr(stages, "cost_stage", lambda *a, **k: (_ for _ in ()).throw(ValueError("no item rated twice")))
    r = runner.invoke(app, ["cost", str(spec), "--out", str(tmp_path / "c"), "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout) == {"error": "no item rated twice", "exit_code": 2}


def test_demo_finds_the_example_task_from_any_working_directory(tmp_path, monkeypatch):
    """`tunegate demo` run outside the checkout still finds examples/support-triage beside the package source."""
    from tunegate.cli.run import _find_example

    monkeypatch.chdir(tmp_path)
    found = _find_example()
    assert found.name == "tunegate.yaml" and found.parent.name == "support-triage" and found.is_file()


def test_validate_checks_drift_test_options_with_the_spec_line(tmp_path):
    """`tunegate validate` refuses a misspelt drift-test option as `tunegate monitor` would, naming file and line."""
    spec = make_task(tmp_path, sprint="monitor:\n  tests:\n    - type: numeric\n      min_ks_dd: 0.1\n")
    res = CliRunner().invoke(app, ["validate", str(spec)])
    assert res.exit_code == 2, res.output
    line = next(i for i, t in enumerate(spec.read_text().splitlines(), 1) if "min_ks_dd" in t)
    assert f"tunegate.yaml:{line}: monitor.tests.0.min_ks_dd" in res.output, res.output
    (tmp_path / "ok").mkdir()
    ok = make_task(tmp_path / "ok", sprint="monitor:\n  tests: [numeric, categorical]\n")
    res = CliRunner().invoke(app, ["validate", str(ok)])
    assert "monitor" not in res.output, res.output  # (make_task's fake model is refused later, by preflight)
