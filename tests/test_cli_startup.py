"""What a command costs before it does anything (issue 19, the warm eval): one command imports and builds only its
own module, rich only when something is printed, the examples are read once, package versions without
importlib.metadata's scan per name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from typer.testing import CliRunner

from support.hardening import write_task
from tunegate.cli import app

runner = CliRunner()
OFFLINE = "models:\n  default: openai:never\n  backends:\n    openai:never: {base_url: 'http://127.0.0.1:9/v1', " \
          "api_key_env: null, max_retries: 0, timeout_s: 1}\n"

PROBE = """
import json, os, sys
from tunegate.cli import app
sys.argv = ["tunegate", *json.loads(sys.argv[1])]
try:
    app()
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if m.startswith("tunegate.cli."))
rich = any(m == "rich" or m.startswith("rich.") for m in sys.modules)
n_registered = len(app.registered_commands)  # a look at the app: every command
with open({report!r}, "w") as fh:
    json.dump({{"code": code, "loaded": loaded, "rich": rich, "n_registered": n_registered,
               "blas": os.environ.get("OPENBLAS_NUM_THREADS"), "numpy": "numpy" in sys.modules}}, fh)
"""


def _run_probe(tmp_path: Path, argv: list[str], env: dict[str, str] | None = None) -> dict:
    report = tmp_path / "probe.json"
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                                                              "OMP_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", PROBE.format(report=str(report)), json.dumps(argv)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**clean, **(env or {})})
    assert report.exists(), done.stderr[-2000:]
    return {**json.loads(report.read_text()), "stdout": done.stdout, "stderr": done.stderr}


def test_one_command_imports_only_its_own_module_and_no_rich_with_json(tmp_path):
    from tunegate.cli.main import COMMAND_TABLE, GROUP_TABLE

    spec = write_task(tmp_path, 20, OFFLINE)
    r = _run_probe(tmp_path, ["validate", str(spec), "--json"])
    assert r["code"] in (0, None), r["stderr"]
    assert json.loads(r["stdout"])["n"] == 20
    groups = {f"tunegate.cli.{mod}" for _, mod, _ in COMMAND_TABLE} | {f"tunegate.cli.{m}" for _, m in GROUP_TABLE}
    assert [m for m in r["loaded"] if m in groups] == ["tunegate.cli.setup"]
    assert r["rich"] is False  # nothing went through the console
    assert r["n_registered"] == len(COMMAND_TABLE)  # asking the app for its commands still gets all of them


def test_the_same_command_prints_through_rich_without_json(tmp_path):
    spec = write_task(tmp_path, 20, OFFLINE)
    r = _run_probe(tmp_path, ["validate", str(spec)])
    assert r["code"] in (0, None), r["stderr"]
    assert r["stdout"].startswith("ok ") and r["rich"] is True


def test_an_unknown_command_and_no_command_get_the_full_app(tmp_path):
    r = _run_probe(tmp_path, ["evall"])
    assert r["code"] == 2 and "No such command" in r["stderr"]
    assert "tunegate.cli.decision" in r["loaded"]  # every command was built to answer
    r = _run_probe(tmp_path, [])
    assert "check-eval" in r["stdout"] and "portfolio" in r["stdout"]


def test_eval_runs_numpy_with_one_blas_thread_unless_the_user_chose(tmp_path):
    """A cached eval's numerics are bootstrap counts: OpenBLAS's thread pool only burned CPU (~0.1 s on 2 cores)."""
    r = _run_probe(tmp_path, ["eval", "--help"])
    assert r["code"] in (0, None) and r["blas"] == "1"
    assert _run_probe(tmp_path, ["eval", "--help"], {"OMP_NUM_THREADS": "2"})["blas"] is None
    assert _run_probe(tmp_path, ["eval", "--help"], {"OPENBLAS_NUM_THREADS": "3"})["blas"] == "3"
    assert _run_probe(tmp_path, ["sprint", "--help"])["blas"] is None  # other commands keep the default


def test_eval_reads_the_examples_once(tmp_path, monkeypatch, openai_stub):
    import tunegate.data.examples as examples
    import tunegate.evals.preflight as preflight
    import tunegate.evals.runner as runner_mod

    calls = []
    real = examples.load_examples

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(preflight, "load_examples", counted)
    monkeypatch.setattr(runner_mod, "load_examples", counted)
    openai_stub.reply = lambda body: "billing"
    spec = write_task(tmp_path, 20, f"models:\n  default: openai:stub\n  backends:\n    openai:stub: "
                                    f"{{base_url: '{openai_stub.base_url}', api_key_env: null}}\n")
    r = runner.invoke(app, ["eval", str(spec), "--json", "--out", str(tmp_path / "run"), "--cache",
                            str(tmp_path / "c.sqlite")])
    assert r.exit_code == 0, r.output
    assert len(calls) == 1 and json.loads(r.stdout)["n_total"] == 16


def test_package_versions_match_importlib_metadata():
    from tunegate.artifacts import package_versions

    names = ("numpy", "scipy", "torch", "transformers", "httpx", "pydantic", "PyYAML", "typing-extensions",
             "pydantic_core", "no-such-distribution-here")
    expected = {}
    for n in names:
        try:
            expected[n] = version(n)
        except PackageNotFoundError:
            continue
    assert package_versions(names) == expected and "no-such-distribution-here" not in expected
    assert package_versions() == {k: v for k, v in expected.items()
                                  if k in ("numpy", "scipy", "torch", "transformers", "httpx")}
