"""The command line as a user meets it: help, exit codes, one-line errors, --json output, init, compare."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate import __version__
from tunegate.cli import app
from tunegate.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support-triage" / "tunegate.yaml"
runner = CliRunner()

sys.path.insert(0, str(Path(__file__).parent))
from test_runner import _stub_reply, _stub_spec, expected_counts  # noqa: E402


def test_version_and_help_explain_themselves():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("eval", "compare", "schema", "init", "validate"):
        assert cmd in r.output
    for cmd in ("eval", "compare", "schema", "init", "validate"):
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, cmd


def test_schema_is_valid_json_schema():
    from jsonschema.validators import Draft202012Validator

    r = runner.invoke(app, ["schema"])
    assert r.exit_code == 0
    schema = json.loads(r.stdout)
    Draft202012Validator.check_schema(schema)
    assert "task" in schema["required"]


def test_validate_example_and_bad_spec(tmp_path):
    r = runner.invoke(app, ["validate", str(EXAMPLE), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["n"] == 485 and summary["annotators"] == 3 and summary["splits"]["test"] == 121
    bad = tmp_path / "tunegate.yaml"
    bad.write_text(EXAMPLE.read_text().replace("  metric: accuracy", "  metric: accuracy\n  tagret: 0.9"))
    r = runner.invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2
    assert "eval.tagret: unknown key" in r.output and "tunegate.yaml:" in r.output


def test_eval_bad_input_is_one_line_nonzero(tmp_path):
    r = runner.invoke(app, ["eval", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2
    assert r.output.strip().startswith("error:") and "spec file not found" in r.output
    r = runner.invoke(app, ["eval", str(EXAMPLE), "--split", "holdout", "--cache", str(tmp_path / "c.sqlite")])
    assert r.exit_code == 2 and "--split must be train, dev or test" in r.output
    r = runner.invoke(app, ["eval", str(EXAMPLE), "--model", "nonsense", "--cache", str(tmp_path / "c.sqlite")])
    assert r.exit_code == 2 and "scheme:name" in r.output


def test_init_infers_a_valid_spec_from_user_data(tmp_path):
    data = tmp_path / "tickets.csv"
    rows = ["ticket_id,message,category,source,split"]
    for k in range(40):
        cat = ["billing", "tech", "other"][k % 3]
        rows.append(f"T{k},\"Message number {k}, about {cat} things\",{cat},{'web' if k % 2 else 'mail'},"
                    f"{['train', 'dev', 'test', 'train', 'train'][k % 5]}")
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "spec" / "tunegate.yaml"
    out.parent.mkdir()
    r = runner.invoke(app, ["init", str(data), "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("# tunegate task spec, inferred")
    spec = load_spec(out)
    f = spec.data.fields
    assert (f.input, f.label, f.id, f.split, f.slices) == ("message", "category", "ticket_id", "split", ["source"])
    assert spec.task.label_names == ["billing", "other", "tech"]
    assert spec.resolve(spec.data.path).resolve() == data.resolve()
    r = runner.invoke(app, ["init", str(data), "--out", str(out)])
    assert r.exit_code == 2 and "--force" in r.output


def test_eval_json_and_compare_against_real_http_server(tmp_path, openai_stub, monkeypatch):
    monkeypatch.setenv("TUNEGATE_TEST_KEY", "k")
    openai_stub.reply = _stub_reply
    spec = _stub_spec(tmp_path, openai_stub.base_url, 45)
    cache = tmp_path / "c.sqlite"
    r = runner.invoke(app, ["eval", str(spec), "--json", "--quiet", "--out", str(tmp_path / "a"), "--cache", str(cache)])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    for key in ("metric", "value", "ci_low", "ci_high", "n", "n_unscored", "usage"):
        assert key in res
    scored, unscored, wrong = expected_counts(45)
    assert (res["n"], res["n_unscored"]) == (scored, unscored)
    assert res["ci_low"] <= res["value"] <= res["ci_high"]

    # a second "model": the stub now always answers the truth
    openai_stub.reply = lambda body: body["messages"][-1]["content"].rsplit("about ", 1)[1]
    spec_b = tmp_path / "b.yaml"
    spec_b.write_text(spec.read_text().replace("max_tokens: 8", "max_tokens: 9"))  # new cache entries
    r = runner.invoke(app, ["eval", str(spec_b), "--json", "--quiet", "--out", str(tmp_path / "b"), "--cache",
                            str(cache)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"])
    assert r.exit_code == 0, r.output
    cmp = json.loads(r.stdout)
    assert cmp["n_shared"] == scored and cmp["value_b"] == 1.0
    assert cmp["mcnemar"]["b10"] == 0 and cmp["mcnemar"]["b01"] == wrong
    assert cmp["diff_ci_low"] > 0  # B is better, and the paired interval says so
    r = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert "exact McNemar" in r.output and "B − A" in r.output


def test_console_script_entry_point_runs():
    exe = Path(sys.executable).parent / "tunegate"
    if not exe.exists():
        pytest.skip("tunegate console script not installed in this environment")
    done = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"tunegate {__version__}"
