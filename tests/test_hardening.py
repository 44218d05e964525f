"""Issue 17: one test per defect class (secrets, run-dir lock, cache leases and creation, failed calls, preflight,
resource bounds, silently accepted input). Real HTTP servers on 127.0.0.1, real processes where it matters."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.hardening import EchoServer, count_in_tree, models_block, write_task
from tunegate.cli import app
from tunegate.errors import InputError, SpecError
from tunegate.evals.runner import EvalOptions, FailedCallsError, run_eval
from tunegate.models.base import Generation
from tunegate.models.cache import ResponseCache
from tunegate.spec import load_spec, parse_spec

runner = CliRunner()
KEY_ENV = "TUNEGATE_HARDEN_KEY"
KEY = "sk-harden-MARKER-5e1f0c9a77"
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ 1 secrets


@pytest.mark.parametrize("mode", ["no_choices", "error", "content"])
def test_no_secret_in_any_artifact_or_output_against_an_echoing_endpoint(tmp_path, monkeypatch, mode):
    monkeypatch.setenv(KEY_ENV, KEY)
    with EchoServer(mode) as server:
        spec = write_task(tmp_path, 30, models_block(server.base_url))
        r = runner.invoke(app, ["eval", str(spec), "--out", str(tmp_path / "run"), "--cache",
                                str(tmp_path / "cache.sqlite"), "--quiet"])
        assert server.calls > 0
    assert "Traceback" not in r.output
    assert r.exit_code == (0 if mode == "content" else 5), r.output
    assert (tmp_path / "run" / "results.jsonl").exists()
    assert count_in_tree(tmp_path, KEY) == 0
    assert KEY not in r.output


def test_malformed_answer_excerpt_is_redacted_before_it_is_cut():
    from tunegate.models.openai_compat import _Outcome, _to_generation
    from tunegate.redact import register_secret

    register_secret(KEY)
    body = {"echo": "x" * 180 + f"Bearer {KEY}"}  # the key straddles the 200-character cut
    gen = _to_generation(_Outcome(body, None, 1, 0.1, 0.1))
    assert gen.error and "sk-harden" not in gen.error and "MARKER" not in gen.error


def test_webhook_failure_record_holds_no_url(monkeypatch):
    from tunegate.monitor.alerts import send_webhook

    doc = {"status": "alert", "tests": []}
    with EchoServer("error") as server:
        monkeypatch.setenv("TUNEGATE_HOOK", f"{server.base_url}/hook/{KEY}")
        rec = send_webhook(doc, "TUNEGATE_HOOK")
    assert rec["sent"] is False and KEY not in json.dumps(rec)


def test_cli_error_line_masks_known_secrets(monkeypatch):
    from tunegate.redact import redact, register_secret_env

    register_secret_env(KEY_ENV)
    monkeypatch.setenv(KEY_ENV, KEY)
    assert KEY not in redact(f"failed: Authorization: Bearer {KEY}; echoed {KEY}")
    assert Generation("", error=f"boom {KEY}").error == "boom ***"


# ------------------------------------------------------------------------------------- 2 run-dir lock


def _hold_lock(path: str, ready, release) -> None:  # in another process
    from tunegate.runlock import run_lock

    with run_lock(path, command="eval"):
        ready.set()
        release.wait(20)


def test_second_run_into_a_held_directory_refuses_with_a_clear_message(tmp_path):
    spec = write_task(tmp_path, 15, "models:\n  default: openai:never-called\n")
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path / "run"), ready, release))
    proc.start()
    try:
        assert ready.wait(30)
        r = runner.invoke(app, ["eval", str(spec), "--out", str(tmp_path / "run"), "--quiet"])
        assert r.exit_code == 2 and "another tunegate process" in r.output and "pid" in r.output, r.output
        assert not (tmp_path / "run" / "results.jsonl").exists()
    finally:
        release.set()
        proc.join(20)
    from tunegate.runlock import run_lock

    with run_lock(tmp_path / "run"):  # released when the holder ended
        with run_lock(tmp_path / "run"):  # re-entrant in one process (run -> its eval stage)
            pass


@pytest.mark.parametrize("command", ["eval", "run", "sprint", "probe", "monitor"])
def test_every_writing_command_refuses_a_held_run_directory(tmp_path, command):
    spec = write_task(tmp_path, 15, "models:\n  default: openai:never-called\n")
    held = tmp_path / "run"
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(held), ready, release))
    proc.start()
    try:
        assert ready.wait(30)
        if command == "monitor":
            (tmp_path / "ref.csv").write_text("input\n" + "".join(f"a{k}\n" for k in range(20)))
            args = ["monitor", "--reference", str(tmp_path / "ref.csv"), "--current", str(tmp_path / "ref.csv"),
                    "--no-embeddings"]
        else:
            args = [command, str(spec)] + (["--quiet"] if command in ("eval", "run") else [])
        r = runner.invoke(app, args + ["--out", str(held)])
        assert r.exit_code == 2 and "another tunegate process" in r.output, r.output
        assert sorted(p.name for p in held.iterdir()) == [".tunegate.lock"]  # nothing written
    finally:
        release.set()
        proc.join(20)


def test_two_concurrent_cli_evals_into_one_out_never_interleave(tmp_path, monkeypatch):
    """The reported corruption: two runs into one --out. Now one finishes, the other refuses; results intact."""
    monkeypatch.setenv(KEY_ENV, KEY)
    with EchoServer("ok") as server:
        spec = write_task(tmp_path, 150, models_block(server.base_url))
        cmd = [sys.executable, "-m", "tunegate.cli", "eval", str(spec), "--out", str(tmp_path / "run"), "--quiet",
               "--cache"]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        procs = [subprocess.Popen(cmd + [str(tmp_path / f"c{i}.sqlite")], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert all(json.loads(x) for x in lines)  # every line valid JSON
    if codes == [0, 2]:
        assert any("another tunegate process" in e for _, e in outs)
    else:  # the first finished before the second started: both complete, one after the other
        assert codes == [0, 0]
    assert len(lines) == 120 and json.loads((tmp_path / "run" / "eval.json").read_text())["n_total"] == 120


def test_out_pointing_at_a_file_is_exit_2(tmp_path):
    spec = write_task(tmp_path, 15, "models:\n  default: openai:never-called\n")
    (tmp_path / "afile").write_text("x")
    r = runner.invoke(app, ["eval", str(spec), "--out", str(tmp_path / "afile"), "--quiet"])
    assert r.exit_code == 2 and "afile" in r.output and "--out" in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------------------- 3 cache leases, creation

_TWO_PROCESS_SCRIPT = textwrap.dedent("""
    import sys
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.spec import load_spec
    spec = load_spec(sys.argv[1])
    art = run_eval(spec, EvalOptions(cache_path=sys.argv[2], max_failed_share=1.0))
    print(art.usage["total"]["backend_calls"], art.n_total)
""")


def test_two_processes_on_one_cache_pay_each_call_once(tmp_path, openai_stub):
    """150 prompts, two processes started together on one cache: repeated calls at the server must be 0."""
    openai_stub.delay_s = 0.02
    spec = write_task(tmp_path, 188, f"""models:
  default: openai:stub-model
  params: {{max_tokens: 8}}
  backends:
    openai:stub-model: {{base_url: "{openai_stub.base_url}", api_key_env: null, max_concurrency: 4}}
""")
    assert sum(1 for k in range(188) if k % 5) == 150  # test items (every 5th row is train)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-c", _TWO_PROCESS_SCRIPT, str(spec), str(tmp_path / "shared.sqlite")]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paid = [int(o.split()[0]) for o, _ in outs]
    requests = openai_stub.stats()["requests"].get("/v1/chat/completions", 0)
    repeated = requests - 150
    print(f"two processes, one cache: {requests} requests for 150 prompts, repeated {repeated}, paid per "
          f"process {paid}")
    assert repeated == 0 and sum(paid) == 150


def test_lease_of_a_killed_process_is_taken_over(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    cache._conn.execute("INSERT INTO leases VALUES ('k1', 'other', ?, ?, ?)", (dead.pid, cache._host,
                                                                               time.time() + 900))
    cache._conn.execute("INSERT INTO leases VALUES ('k2', 'other', ?, ?, ?)", (os.getppid(), cache._host,
                                                                               time.time() + 900))
    assert cache.claim(["k1", "k2", "k3"]) == {"k1", "k3"}  # k2's holder is alive: wait for it
    cache.close()


def _open_fresh(path: str, barrier, results) -> None:
    try:
        barrier.wait(10)
        ResponseCache(path).close()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the test counts any failure
        results.put(f"{type(exc).__name__}: {exc}")


def test_three_processes_creating_a_fresh_cache_never_crash(tmp_path):
    ctx = mp.get_context("fork")
    failures = 0
    for attempt in range(8):
        path = str(tmp_path / f"fresh{attempt}.sqlite")
        barrier, results = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_open_fresh, args=(path, barrier, results)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        got = [results.get(timeout=5) for _ in procs]
        failures += sum(g != "ok" for g in got)
    assert failures == 0


@pytest.mark.parametrize("what", ["dir", "text", "binary"])
def test_cache_that_is_not_a_cache_file_is_exit_2(tmp_path, what):
    bad = tmp_path / "cache"
    if what == "dir":
        bad.mkdir()
    else:
        bad.write_bytes(b"just some text\n" * 10 if what == "text" else os.urandom(2048))
    with pytest.raises(InputError, match="--cache"):
        ResponseCache(bad)
    spec = write_task(tmp_path, 15, "models:\n  default: openai:never-called\n")
    r = runner.invoke(app, ["eval", str(spec), "--cache", str(bad), "--out", str(tmp_path / "r"), "--quiet"])
    assert r.exit_code == 2 and "--cache" in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------------------------- 4 failed calls


class _Flaky:
    model_id = "fake:flaky"
    capabilities = frozenset({"generate"})

    def __init__(self, fail_every: int | None) -> None:
        self.fail_every = fail_every

    def cache_identity(self):
        return {"kind": "fake", "fail_every": self.fail_every}

    def generate(self, requests):
        for i, r in enumerate(requests):
            truth = r.messages[-1]["content"].rsplit("about ", 1)[1]
            if self.fail_every is not None and i % self.fail_every == 0:
                yield i, Generation("", error="HTTP 500 after 1 attempt")
            else:
                yield i, Generation(truth, 5, 1)

    def close(self):
        pass


def test_failed_calls_enter_the_lower_bound_and_over_threshold_raises(tmp_path):
    spec = load_spec(write_task(tmp_path, 50))
    # 40 test items, every 3rd call fails (14 of 40 = 35%): accuracy over the answered items is 1.0
    with pytest.raises(FailedCallsError, match=r"14 of 40 model calls failed \(35.0%\)") as info:
        run_eval(spec, EvalOptions(model="fake:flaky", out_dir=tmp_path / "run"), backend=_Flaky(3),
                 cache=ResponseCache(tmp_path / "c.sqlite"))
    art = info.value.artifact
    assert art.value == 1.0 and art.n_errors == 14
    assert art.value_unscored_as_wrong == pytest.approx(26 / 40)  # failed calls counted as wrong
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["n_errors"] == 14
    # an explicit, looser threshold lets the same run through
    ok = run_eval(spec, EvalOptions(model="fake:flaky", max_failed_share=0.5), backend=_Flaky(3),
                  cache=ResponseCache(tmp_path / "c2.sqlite"))
    assert ok.value_unscored_as_wrong == pytest.approx(26 / 40)


def test_every_call_failed_always_raises_even_in_memory(tmp_path):
    spec = load_spec(write_task(tmp_path, 20))
    with pytest.raises(FailedCallsError, match="16 of 16 model calls failed"):
        run_eval(spec, EvalOptions(model="fake:flaky", max_failed_share=1.0), backend=_Flaky(1),
                 cache=ResponseCache(tmp_path / "c.sqlite"))


def test_cli_eval_exits_5_with_a_summary_when_calls_fail(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with EchoServer("error") as server:
        spec = write_task(tmp_path, 20, models_block(server.base_url))
        r = runner.invoke(app, ["eval", str(spec), "--out", str(tmp_path / "run"), "--cache",
                                str(tmp_path / "c.sqlite"), "--quiet"])
    assert r.exit_code == 5 and "16 of 16 model calls failed" in r.output, r.output
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["n_errors"] == 16


# ------------------------------------------------------------------------------------ 5 preflight


def test_misspelt_metric_fails_validate_and_eval_before_any_call(tmp_path):
    with EchoServer("ok") as server:
        spec = write_task(tmp_path, 20, models_block(server.base_url), metric="acuracy")
        r = runner.invoke(app, ["validate", str(spec)])
        assert r.exit_code == 2 and "eval.metric" in r.output and "acuracy" in r.output, r.output
        r = runner.invoke(app, ["eval", str(spec), "--out", str(tmp_path / "run"), "--cache",
                                str(tmp_path / "c.sqlite"), "--quiet"])
        assert r.exit_code == 2 and "eval.metric" in r.output
        assert server.calls == 0


@pytest.mark.parametrize("extra, words", [
    ("models:\n  default: gpt4\n", "models.default"),
    ("models:\n  default: nosuch:model\n", "unknown model scheme 'nosuch'"),
    ("models:\n  embedding: nosuch:e\n", "models.embedding"),
])
def test_model_ids_are_checked_by_validate(tmp_path, extra, words):
    r = runner.invoke(app, ["validate", str(write_task(tmp_path, 20, extra))])
    assert r.exit_code == 2 and words in r.output, r.output


def test_python_scorer_without_opt_in_and_empty_test_split_fail_validate(tmp_path):
    spec = write_task(tmp_path, 20)
    text = spec.read_text().replace("  metric: accuracy", "  metric: accuracy\n  scorers:\n"
                                    "    - {type: python, function: 's.py:f'}")
    spec.write_text(text)
    r = runner.invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2 and "allow_python_scorers" in r.output
    spec = write_task(tmp_path, 20)
    rows = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({**x, "split": "train"}) + "\n" for x in rows))
    r = runner.invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2 and "'test' split is empty" in r.output


# ------------------------------------------------------------------------------- 6 resource bounds


def test_alias_bomb_and_huge_n_resamples_are_refused_at_load(tmp_path):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    start = time.perf_counter()
    with pytest.raises(SpecError, match="expands to .* YAML nodes"):
        parse_spec(bomb, "bomb.yaml")
    assert time.perf_counter() - start < 2
    spec = write_task(tmp_path, 20, "")
    spec.write_text(spec.read_text().replace("  metric: accuracy", "  metric: accuracy\n  bootstrap: "
                                             "{n_resamples: 1000000000000}"))
    with pytest.raises(SpecError, match=r"tunegate.yaml:\d+: eval.bootstrap.n_resamples"):
        load_spec(spec)


# ------------------------------------------------------------------------------- 8 silently accepted


@pytest.mark.parametrize("value, words", [("-0.5", "fraction in (0, 1]"), ("90", "looks like a percent: write 0.9"),
                                          ("0", "fraction in (0, 1]"), (".nan", "fraction")])
def test_target_must_be_a_fraction(tmp_path, value, words):
    spec = write_task(tmp_path, 20)
    spec.write_text(spec.read_text().replace("  metric: accuracy", f"  metric: accuracy\n  target: {value}"))
    with pytest.raises(SpecError, match=r"eval.target") as info:
        load_spec(spec)
    assert words in str(info.value)


def test_duplicate_yaml_keys_and_string_booleans_are_refused(tmp_path):
    with pytest.raises(SpecError, match=r"x.yaml:5: task: duplicate key \(first at line 1"):
        parse_spec("task:\n  name: a\n  kind: generation\nseed: 1\ntask:\n  name: b\n", "x.yaml")
    spec = write_task(tmp_path, 20)
    spec.write_text(spec.read_text().replace("  metric: accuracy", "  metric: accuracy\n  allow_python_scorers: "
                                             '"yes"'))
    with pytest.raises(SpecError, match="eval.allow_python_scorers"):
        load_spec(spec)


def test_jsonl_with_bom_is_accepted_and_nan_input_is_refused(tmp_path):
    spec = write_task(tmp_path, 20)
    data = tmp_path / "d.jsonl"
    data.write_bytes(b"\xef\xbb\xbf" + data.read_bytes())
    r = runner.invoke(app, ["validate", str(spec), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["n"] == 20, r.output
    lines = data.read_bytes().splitlines()
    lines[3] = b'{"id": "nan1", "text": NaN, "intent": "billing", "split": "test"}'
    data.write_bytes(b"\n".join(lines) + b"\n")
    r = runner.invoke(app, ["validate", str(spec)])
    assert r.exit_code == 2 and "d.jsonl:4" in r.output and "NaN is not valid JSON" in r.output


def test_nan_in_monitor_logs_is_counted_not_dropped(tmp_path):
    from tunegate.config.monitor import LogColumns
    from tunegate.monitor.logs import ReadStats, read_log

    log = tmp_path / "log.csv"
    log.write_text("input,latency\nhello,1.5\nworld,nan\nagain,2\n")
    cols = LogColumns(input="input", numeric=["latency"])
    with pytest.raises(InputError, match=r"log.csv:3: latency: not a number"):
        list(read_log(log, cols))
    stats = ReadStats(str(log), "csv")
    recs = list(read_log(log, cols, skip_invalid=True, stats=stats))
    assert len(recs) == 2 and stats.n_skipped == 1 and stats.skipped[0]["line"] == 3


def test_history_with_log_is_refused(tmp_path):
    r = runner.invoke(app, ["monitor", "--history", "--model", "m", "--log", str(tmp_path / "x.jsonl")])
    assert r.exit_code == 2 and "--history" in r.output and "--log" in r.output
