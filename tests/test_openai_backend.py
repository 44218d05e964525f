"""OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (tests/support/openai_stub.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from support.openai_stub import CHAT, EMBEDDINGS, OpenAIStub
from tunegate.errors import BackendError
from tunegate.models.base import EMBED, GENERATE, Backend, GenerationRequest
from tunegate.models.openai_compat import (
    OpenAICompatibleBackend,
    OpenAICompatibleEmbedder,
    parse_retry_after,
)

KEY_ENV = "TUNEGATE_TEST_OPENAI_KEY"
KEY = "sk-test-SECRET-7f3a9c21"


def req(text: str, **params) -> GenerationRequest:
    return GenerationRequest(messages=({"role": "user", "content": text},), params=params)


def backend(stub: OpenAIStub, **kw) -> OpenAICompatibleBackend:
    kw.setdefault("api_key_env", None)
    kw.setdefault("backoff_base_s", 0.01)
    kw.setdefault("timeout_s", 5.0)
    return OpenAICompatibleBackend("stub-model", base_url=stub.base_url, **kw)


def run_all(b: OpenAICompatibleBackend, requests: list[GenerationRequest]) -> dict:
    try:
        return dict(b.generate(requests))
    finally:
        b.close()


def test_success_returns_text_tokens_and_passes_known_params(openai_stub):
    b = backend(openai_stub)
    assert isinstance(b, Backend) and b.capabilities == frozenset({GENERATE})
    assert b.model_id == "openai:stub-model"
    params = {"temperature": 0.2, "top_p": 0.9, "seed": 7, "stop": ["\n"], "max_tokens": 2,
              "response_format": {"type": "json_object"}, "role": "judge", "n_samples": 3}
    out = run_all(b, [req("hello world", **params), req("hi")])
    g = out[1]
    assert g.ok and g.text == "echo: hi" and g.finish_reason == "stop"
    assert (g.input_tokens, g.output_tokens, g.attempts) == (1, 2, 1)
    assert 0 < g.latency_s <= g.total_latency_s
    truncated = out[0]
    assert truncated.text == "echo: hello" and truncated.finish_reason == "length" and truncated.output_tokens == 2
    sent = next(r["body"] for r in openai_stub.requests if r["body"]["messages"][0]["content"] == "hello world")
    assert set(sent) == {"model", "messages", "temperature", "top_p", "seed", "stop", "max_tokens", "response_format"}
    assert sent["response_format"] == {"type": "json_object"} and sent["model"] == "stub-model"


def test_429_retry_after_is_honoured(openai_stub):
    openai_stub.set_script(CHAT, [{"status": 429, "retry_after": "1"}])
    start = time.perf_counter()
    out = run_all(backend(openai_stub, max_concurrency=1), [req("a")])
    elapsed = time.perf_counter() - start
    assert out[0].ok and out[0].attempts == 2
    assert elapsed >= 1.0 and out[0].total_latency_s >= 1.0
    assert openai_stub.stats()["statuses"] == {"429": 1, "200": 1}


def test_retry_after_is_capped_by_backoff_max(openai_stub):
    openai_stub.set_script(CHAT, [{"status": 503, "retry_after": "30"}])
    start = time.perf_counter()
    out = run_all(backend(openai_stub, backoff_max_s=0.2), [req("a")])
    assert out[0].ok and out[0].attempts == 2 and time.perf_counter() - start < 3


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=1445412480.0) == pytest.approx(5.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_500_is_retried_then_succeeds(openai_stub):
    openai_stub.set_script(CHAT, [500, 502])
    out = run_all(backend(openai_stub, max_concurrency=1), [req("a")])
    assert out[0].ok and out[0].text == "echo: a" and out[0].attempts == 3
    assert openai_stub.stats()["requests"][CHAT] == 3


@pytest.mark.parametrize("status", [408, 409, 503])
def test_other_retryable_statuses(openai_stub, status):
    openai_stub.set_script(CHAT, [status])
    out = run_all(backend(openai_stub, max_concurrency=1), [req("a")])
    assert out[0].ok and out[0].attempts == 2


def test_retries_exhausted_sets_error_and_run_continues(openai_stub):
    out = run_all(backend(openai_stub, max_retries=2), [req("x [[stub:status=500]]"), req("fine")])
    bad = out[0]
    assert not bad.ok and bad.text == "" and bad.attempts == 3
    assert "HTTP 500" in bad.error and "stub fault 500" in bad.error and "3 attempts" in bad.error
    assert out[1].ok and out[1].text == "echo: fine"


def test_hang_beyond_timeout_is_retried_then_succeeds(openai_stub):
    openai_stub.set_script(CHAT, [{"hang_s": 1.0}])
    out = run_all(backend(openai_stub, timeout_s=0.3, max_concurrency=1), [req("a")])
    assert out[0].ok and out[0].attempts == 2 and out[0].latency_s < 0.3 <= out[0].total_latency_s


def test_hang_that_persists_errors_clearly(openai_stub):
    start = time.perf_counter()
    out = run_all(backend(openai_stub, timeout_s=0.3, max_retries=2), [req("slow [[stub:sleep=3]]")])
    g = out[0]
    assert not g.ok and g.attempts == 3 and "timed out after 0.3 s" in g.error
    assert time.perf_counter() - start < 2.5


@pytest.mark.parametrize("status", [400, 404, 422])
def test_non_retryable_4xx_fails_once(openai_stub, status):
    openai_stub.set_script(CHAT, [status])
    out = run_all(backend(openai_stub, max_concurrency=1), [req("a"), req("b")])
    failed = [g for g in out.values() if not g.ok]
    assert len(failed) == 1 and failed[0].attempts == 1 and f"HTTP {status}" in failed[0].error
    assert openai_stub.stats()["requests"][CHAT] == 2


def test_connection_refused_is_retried_then_errors():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = OpenAICompatibleBackend("m", base_url=f"http://127.0.0.1:{port}/v1", api_key_env=None,
                                max_retries=1, backoff_base_s=0.01)
    out = run_all(b, [req("a")])
    assert not out[0].ok and out[0].attempts == 2 and "ConnectError" in out[0].error


def test_401_without_key_names_the_variable(openai_stub, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    openai_stub.api_key = KEY
    with pytest.raises(BackendError, match=f"environment variable {KEY_ENV} is not set"):
        run_all(backend(openai_stub, api_key_env=KEY_ENV), [req("a")])
    with pytest.raises(BackendError, match="no api_key_env is configured"):
        run_all(backend(openai_stub, api_key_env=None), [req("a")])


def test_wrong_key_names_the_variable_not_the_value(openai_stub, monkeypatch):
    openai_stub.api_key = KEY
    monkeypatch.setenv(KEY_ENV, "sk-wrong-value-123")
    with pytest.raises(BackendError) as info:
        run_all(backend(openai_stub, api_key_env=KEY_ENV), [req("a")])
    assert KEY_ENV in str(info.value) and "sk-wrong-value-123" not in str(info.value)


def test_key_is_read_at_request_time_and_sent_only_when_set(openai_stub, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    b = backend(openai_stub, api_key_env=KEY_ENV)
    assert dict(b.generate([req("a")]))[0].ok and openai_stub.requests[-1]["auth"] is False
    openai_stub.api_key = KEY
    monkeypatch.setenv(KEY_ENV, KEY)  # set after construction: read per request
    assert dict(b.generate([req("b")]))[0].ok and openai_stub.requests[-1]["auth"] is True
    b.close()


def test_key_never_in_logs_errors_or_identity(openai_stub, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, KEY)
    openai_stub.api_key = KEY
    echo = json.dumps({"error": {"message": f"bad request from key {KEY}"}})  # a server that echoes the key
    openai_stub.set_script(CHAT, [{"status": 429, "retry_after": "0"}, 500, {"status": 400, "body": echo}])
    b = backend(openai_stub, api_key_env=KEY_ENV, max_concurrency=1, extra_headers={"X-Org": "org-1"})
    out = run_all(b, [req("a"), req("b")])
    errors = [g.error for g in out.values() if g.error]
    assert len(errors) == 1 and "400" in errors[0] and "***" in errors[0]
    assert "retrying" in caplog.text and "HTTP 429" in caplog.text  # retries were logged...
    assert KEY not in caplog.text and all(KEY not in e for e in errors)  # ...without the key
    identity = b.cache_identity()
    assert identity == {"kind": "openai", "model": "stub-model", "base_url": openai_stub.base_url}
    assert KEY not in repr(identity) + repr(b) and "org-1" not in repr(identity)


def test_cache_identity_normalises_base_url():
    b = OpenAICompatibleBackend("gpt-x", base_url="HTTPS://user:pw@API.Example.com:443/v1/?key=abc")
    assert b.cache_identity() == {"kind": "openai", "model": "gpt-x", "base_url": "https://api.example.com/v1"}
    assert OpenAICompatibleBackend("m", base_url="http://h:8000/v1/", model_id="vllm:m").cache_identity()[
        "base_url"] == "http://h:8000/v1"
    with pytest.raises(BackendError, match="base_url"):
        OpenAICompatibleBackend("m", base_url="localhost:8000")


def test_concurrency_bound_is_respected(openai_stub):
    openai_stub.delay_s = 0.05
    out = run_all(backend(openai_stub, max_concurrency=4), [req(f"q{i}") for i in range(40)])
    assert len(out) == 40 and all(g.ok for g in out.values())
    assert openai_stub.stats()["max_in_flight"] == 4


def test_concurrency_bound_holds_across_threads(openai_stub):
    """Two generate calls from two threads share one backend, so they share its bound and its pool."""
    openai_stub.delay_s = 0.05
    b = backend(openai_stub, max_concurrency=3)
    results: list[dict] = []

    def call(k: int) -> None:
        results.append(dict(b.generate([req(f"{k}-{i}") for i in range(12)])))

    threads = [threading.Thread(target=call, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b.close()
    assert [len(r) for r in results] == [12, 12]
    assert openai_stub.stats()["max_in_flight"] <= 3


def test_results_are_yielded_as_they_complete(openai_stub):
    b = backend(openai_stub, max_concurrency=4)
    requests = [req("slow [[stub:sleep=1.5]]")] + [req(f"fast {i}") for i in range(7)]
    start = time.perf_counter()
    seen: list[tuple[int, float]] = []
    for i, g in b.generate(requests):
        assert g.ok
        seen.append((i, time.perf_counter() - start))
    b.close()
    assert [i for i, _ in seen][-1] == 0 and sorted(i for i, _ in seen) == list(range(8))
    assert seen[-2][1] < 1.0 <= seen[-1][1]  # every fast one came out before the slow one finished


def test_closing_the_generator_early_cancels_the_rest(openai_stub):
    openai_stub.delay_s = 0.05
    b = backend(openai_stub, max_concurrency=2)
    gen = b.generate([req(f"q{i}") for i in range(40)])
    next(gen)
    gen.close()
    start = time.perf_counter()
    b.close()
    assert time.perf_counter() - start < 1.0
    assert openai_stub.stats()["requests"][CHAT] < 10


def test_works_when_called_inside_a_running_event_loop(openai_stub):
    b = backend(openai_stub)

    async def caller() -> dict:
        return dict(b.generate([req("a"), req("b")]))  # synchronous use from async code (e.g. a notebook)

    out = asyncio.run(caller())
    b.close()
    assert {g.text for g in out.values()} == {"echo: a", "echo: b"}
    assert dict(backend(openai_stub).generate([])) == {}


def test_embeddings_shape_normalisation_and_batching(openai_stub):
    openai_stub.embedding_dim = 16
    e = OpenAICompatibleEmbedder("emb", openai_stub.base_url, None, batch_size=128)
    assert e.capabilities == frozenset({EMBED}) and e.model_id == "openai:emb"
    texts = [f"text number {i}" for i in range(300)]
    vectors = e.embed(texts)
    assert vectors.shape == (300, 16) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert openai_stub.stats()["requests"][EMBEDDINGS] == math.ceil(300 / 128)
    assert [len(r["body"]["input"]) for r in openai_stub.requests] == [128, 128, 44] or sorted(
        len(r["body"]["input"]) for r in openai_stub.requests) == [44, 128, 128]
    single = e.embed([texts[250], texts[3]])  # same text, same vector, in input order across batches
    assert np.allclose(single, vectors[[250, 3]], atol=1e-6)
    assert e.embed([]).shape[0] == 0
    e.close()


def test_embeddings_share_the_retry_logic_and_fail_loudly(openai_stub):
    openai_stub.set_script(EMBEDDINGS, [500, 400])
    e = OpenAICompatibleEmbedder("emb", openai_stub.base_url, None, batch_size=2, max_concurrency=1,
                                 backoff_base_s=0.01)
    with pytest.raises(BackendError, match=r"embedding texts 0\.\.1: .*HTTP 400"):
        e.embed(["a", "b", "c"])  # 500 is retried, then 400 is final
    assert e.embed(["a", "b", "c"]).shape == (3, 8)
    e.close()


def test_stub_runs_as_a_script():
    script = Path(__file__).parent / "support" / "openai_stub.py"
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0", "--print-port", "--script", "[503]"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/v1/models").json()["data"][0]["id"] == "stub-model"
        b = OpenAICompatibleBackend("m", base_url=f"{base}/v1", api_key_env=None, backoff_base_s=0.01)
        out = run_all(b, [req("a")])
        assert out[0].ok and out[0].attempts == 2
        stats = httpx.get(f"{base}/_stats").json()
        assert stats["requests"]["/v1/chat/completions"] == 2 and stats["statuses"] == {"503": 1, "200": 2}
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/", "https://API.OpenAI.com/v1", "http://localhost",
    "http://localhost/", "https://example.com:443/v1", "http://example.com:80", "http://example.com:8080/a_b~c/d-e",
    "http://10.0.0.255:1/x", "http://1.2.3.4", "https://my-host.internal:65535/openai/v1",
    "http://EXAMPLE.com/V1", "http://a.b.c.d.e/x.y/z",
])
def test_plain_url_fast_path_equals_httpx(url):
    """The httpx-free canonical form is taken only where it equals what httpx.URL gives (cache keys hold it)."""
    from tunegate.models.http_helpers import _plain_base_url

    parsed = httpx.URL(url)
    default = {"http": 80, "https": 443}[parsed.scheme]
    port = f":{parsed.port}" if parsed.port not in (None, default) else ""
    assert _plain_base_url(url) == f"{parsed.scheme}://{parsed.host.lower()}{port}{parsed.path.rstrip('/')}"


@pytest.mark.parametrize("url", [
    "HTTP://example.com/v1", "http://user:pw@example.com/v1", "http://example.com/v1?api-version=1",
    "http://example.com/a/../b", "http://example.com/./v1", "http://01.2.3.4/v1", "http://256.1.1.1/v1",
    "http://example.com:99999/v1", "http://example.com/a%20b", "http://exämple.com/v1", "http://[::1]:8000/v1",
    "http://example.com/a b", "ftp://example.com/v1", "http://example.com:0/v1",
])
def test_other_urls_go_through_httpx(url):
    from tunegate.models.http_helpers import _plain_base_url

    assert _plain_base_url(url) is None


def test_no_http_import_until_the_first_call():
    """A fully cached run builds the backend for its identity but never calls it: httpx and asyncio stay
    unimported (they were ~0.1 s of a warm run)."""
    code = ("import sys; from tunegate.models.openai_compat import OpenAICompatibleBackend as B; "
            "b = B('m', base_url='http://127.0.0.1:9/v1', api_key_env=None); b.cache_identity(); b.close(); "
            "print(sorted(m for m in ('httpx', 'asyncio', 'httpcore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_sniffio_is_marked_once(monkeypatch):
    """Where sniffio is absent, its import fails from sys.modules instead of a sys.path search per lock."""
    from tunegate.models import openai_compat

    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(openai_compat.importlib.util, "find_spec", lambda name: None)
    openai_compat._skip_missing_sniffio()
    assert "sniffio" in sys.modules and sys.modules["sniffio"] is None
    with pytest.raises(ImportError):
        import sniffio  # noqa: F401
    monkeypatch.setitem(sys.modules, "sniffio", "installed")  # present: left alone
    openai_compat._skip_missing_sniffio()
    assert sys.modules["sniffio"] == "installed"


def test_one_connection_per_client_at_most_max_concurrency_clients(openai_stub):
    """Requests in flight each hold a single-connection client (issue 19); clients are reused, never more than
    the concurrency bound, and keep their connection between calls."""
    openai_stub.delay_s = 0.01
    b = backend(openai_stub, max_concurrency=4)
    try:
        assert len(dict(b.generate([req(f"a{i}") for i in range(40)]))) == 40
        clients = b._http._clients
        assert 1 <= len(clients.all) <= 4 and len(clients.free) == len(clients.all)
        first = list(clients.all)
        assert len(dict(b.generate([req(f"b{i}") for i in range(40)]))) == 40
        assert clients.all == first  # the same clients (and their keep-alive connections) served the second call
        assert all(c._transport._pool._max_connections == 1 for c in clients.all)
        assert len({id(c._transport._pool._ssl_context) for c in clients.all}) == 1
    finally:
        b.close()
