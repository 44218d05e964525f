"""The evaluation runner end to end: against a fake backend, and against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunegate.evals.runner import EvalOptions, run_eval
from tunegate.models.base import Generation
from tunegate.models.cache import ResponseCache
from tunegate.spec import load_spec

LABELS = ["billing", "shipping", "other"]
SECRET = "sk-test-9f8e7d6c5b4a-DO-NOT-LEAK"


def make_task(tmp_path: Path, n: int = 60, extra: str = "") -> Path:
    with (tmp_path / "d.jsonl").open("w") as fh:
        for k in range(n):
            lab = LABELS[k % 3]
            fh.write(json.dumps({"id": f"x{k:03d}", "text": f"message {k} about {lab}", "intent": lab,
                                 "channel": "chat" if k % 2 else "email", "split": "test"}) + "\n")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text(f"""\
task:
  name: toy
  kind: classification
  labels: [billing, shipping, other]
data:
  path: d.jsonl
  fields: {{input: text, label: intent, id: id, split: split, slices: [channel]}}
eval:
  metric: accuracy
  prompt:
    inline: "Classify: {{{{input}}}}"
{extra}
""")
    return spec


def answer_for(prompt: str) -> str:
    """A deterministic 'model': right on most items, wrong on every 5th, unparseable on every 7th."""
    k = int(prompt.split("message ")[1].split(" ")[0])
    truth = prompt.rsplit("about ", 1)[1].strip()
    if k % 7 == 6:
        return "I cannot decide"
    if k % 5 == 4:
        return LABELS[(LABELS.index(truth) + 1) % 3]
    return f"Answer: {truth}"


class FakeBackend:
    model_id = "fake:toy"
    capabilities = frozenset({"generate"})

    def __init__(self, fail_ids: tuple[int, ...] = ()) -> None:
        self.calls = 0
        self.fail_ids = fail_ids

    def cache_identity(self):
        return {"kind": "fake", "model": "toy"}

    def generate(self, requests):
        for i, r in enumerate(requests):
            self.calls += 1
            prompt = r.messages[-1]["content"]
            k = int(prompt.split("message ")[1].split(" ")[0])
            if k in self.fail_ids:
                yield i, Generation("", error="HTTP 500 after 5 attempts")
            else:
                yield i, Generation(answer_for(prompt), 12, 3, 0.01)

    def close(self):
        pass


def expected_counts(n: int) -> tuple[int, int, int]:
    unscored = sum(1 for k in range(n) if k % 7 == 6)
    wrong = sum(1 for k in range(n) if k % 7 != 6 and k % 5 == 4)
    return n - unscored, unscored, wrong


def test_metric_ci_unscored_and_usage(tmp_path):
    spec = load_spec(make_task(tmp_path, 60))
    cache = ResponseCache(tmp_path / "c.sqlite")
    art = run_eval(spec, EvalOptions(model="fake:toy", out_dir=tmp_path / "run"), backend=FakeBackend(), cache=cache)
    scored, unscored, wrong = expected_counts(60)
    assert (art.n, art.n_unscored, art.n_total) == (scored, unscored, 60)
    assert art.value == pytest.approx((scored - wrong) / scored, abs=1e-6)
    assert art.ci_low < art.value < art.ci_high
    assert art.value_unscored_as_wrong == pytest.approx((scored - wrong) / 60, abs=1e-6)
    assert art.unscored_reasons == {"no single label found in the output": unscored}
    assert art.usage["total"]["backend_calls"] == 60 and art.usage["total"]["input_tokens"] == 720
    assert set(art.per_slice["channel"]) == {"chat", "email"}
    assert set(art.per_label) == set(LABELS)
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 60
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["n"] == scored


def test_rerun_is_served_from_cache_and_flags_hits(tmp_path):
    spec = load_spec(make_task(tmp_path, 30))
    cache = ResponseCache(tmp_path / "c.sqlite")
    first = run_eval(spec, EvalOptions(model="fake:toy"), backend=FakeBackend(), cache=cache)
    again = FakeBackend()
    second = run_eval(spec, EvalOptions(model="fake:toy", out_dir=tmp_path / "r2"), backend=again, cache=cache)
    assert again.calls == 0
    assert second.usage["total"]["cache_hits"] == 30
    assert (second.value, second.ci_low, second.ci_high) == (first.value, first.ci_low, first.ci_high)
    assert all(json.loads(x)["cached"] for x in (tmp_path / "r2" / "results.jsonl").read_text().splitlines())


def test_failed_calls_are_reported_not_cached_and_retried_on_resume(tmp_path):
    spec = load_spec(make_task(tmp_path, 30))
    cache = ResponseCache(tmp_path / "c.sqlite")
    art = run_eval(spec, EvalOptions(model="fake:toy"), backend=FakeBackend(fail_ids=(0, 1)), cache=cache)
    assert art.n_errors == 2 and art.n_total == 30
    assert art.n + art.n_unscored == 28
    retry = FakeBackend()
    art2 = run_eval(spec, EvalOptions(model="fake:toy"), backend=retry, cache=cache)
    assert retry.calls == 2 and art2.n_errors == 0


def test_limit_and_empty_split_errors(tmp_path):
    spec = load_spec(make_task(tmp_path, 30))
    art = run_eval(spec, EvalOptions(model="fake:toy", limit=10), backend=FakeBackend(),
                   cache=ResponseCache(tmp_path / "c.sqlite"))
    assert art.n_total == 10
    from tunegate.errors import TunegateError

    with pytest.raises(TunegateError, match="'dev' split is empty"):
        run_eval(spec, EvalOptions(model="fake:toy", split="dev"), backend=FakeBackend(),
                 cache=ResponseCache(tmp_path / "c.sqlite"))


def _stub_spec(tmp_path: Path, base_url: str, n: int = 40) -> Path:
    extra = f"""models:
  default: openai:stub-model
  params: {{temperature: 0, max_tokens: 8}}
  backends:
    openai:stub-model:
      base_url: {base_url}
      api_key_env: TUNEGATE_TEST_KEY
      max_concurrency: 4
      max_retries: 3
      timeout_s: 5
      price: {{input_per_1m: 1.0, output_per_1m: 2.0}}
"""
    return make_task(tmp_path, n, extra)


def _stub_reply(body: dict) -> str:
    return answer_for(body["messages"][-1]["content"])


def test_openai_backend_eval_keeps_the_key_out_of_everything(tmp_path, openai_stub, monkeypatch):
    openai_stub.reply = _stub_reply
    openai_stub.api_key = SECRET
    openai_stub.set_script("/v1/chat/completions", [{"status": 429, "retry_after": "0"}, 500])
    monkeypatch.setenv("TUNEGATE_TEST_KEY", SECRET)
    spec = load_spec(_stub_spec(tmp_path, openai_stub.base_url))
    cache_path = tmp_path / "cache.sqlite"
    art = run_eval(spec, EvalOptions(out_dir=tmp_path / "run", cache_path=cache_path))
    scored, unscored, wrong = expected_counts(40)
    assert (art.n, art.n_unscored, art.n_errors) == (scored, unscored, 0)
    assert art.value == pytest.approx((scored - wrong) / scored, abs=1e-6)
    assert art.usage["total"]["cost"] > 0
    assert openai_stub.stats()["statuses"].get("429") == 1
    # the key is in none of: the SQLite file (with its WAL), the results, the artifact
    for path in [*tmp_path.glob("cache.sqlite*"), tmp_path / "run" / "results.jsonl", tmp_path / "run" / "eval.json"]:
        assert SECRET.encode() not in path.read_bytes(), path
    rows = sqlite3.connect(cache_path).execute("SELECT key, value FROM responses").fetchall()
    assert len(rows) == 40 and not any(SECRET in k or SECRET in v for k, v in rows)


@pytest.mark.integration
def test_killed_run_resumes_without_repeating_calls(tmp_path, openai_stub):
    """Kill `tunegate eval` mid-run (SIGKILL), run it again: nothing persisted is requested twice."""
    n = 120
    openai_stub.reply = _stub_reply
    openai_stub.delay_s = 0.03
    spec = _stub_spec(tmp_path, openai_stub.base_url, n)
    cache_path = tmp_path / "cache.sqlite"
    cmd = [sys.executable, "-m", "tunegate.cli", "eval", str(spec), "--cache", str(cache_path), "--quiet",
           "--out", str(tmp_path / "run"), "--json"]
    env = {**os.environ, "TUNEGATE_TEST_KEY": "unused"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while openai_stub.stats()["requests"].get("/v1/chat/completions", 0) < n // 3 and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first_requests = openai_stub.stats()["requests"]["/v1/chat/completions"]
    assert first_requests < n, "the run finished before it could be killed"
    persisted = sqlite3.connect(cache_path).execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert persisted >= n // 3 - 4  # all but the in-flight calls (max_concurrency 4) were committed
    openai_stub.reset()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    second_requests = openai_stub.stats()["requests"]["/v1/chat/completions"]
    assert second_requests == n - persisted  # nothing persisted was asked again
    assert result["usage"]["total"]["cache_hits"] == persisted
    assert result["n"] + result["n_unscored"] == n


def test_a_run_where_no_answer_parses_reports_an_empty_interval_not_a_crash(tmp_path):
    spec = load_spec(make_task(tmp_path, 12))

    class Mute(FakeBackend):
        def generate(self, requests):
            for i, _ in enumerate(requests):
                yield i, Generation("I cannot decide", 5, 3, 0.01)

    art = run_eval(spec, EvalOptions(model="fake:toy"), backend=Mute(), cache=ResponseCache(tmp_path / "c.sqlite"))
    assert art.value is None and art.n == 0 and art.n_unscored == 12
    assert art.value_unscored_as_wrong == 0.0
