"""OpenAI-compatible HTTP backends (OpenAI, vLLM, Ollama, llama.cpp server, TGI).

The caller's code is synchronous, but paid calls should overlap: each backend owns a private asyncio loop in a
daemon thread with keep-alive ``httpx.AsyncClient``s (``_Clients``), and ``generate`` hands results back through a
queue in completion order, so the runner can persist each one before consuming the next. Keeping the loop alive
between calls keeps the connections warm, and works from any thread (also from inside a running event loop).

Keys are read from the environment variable *named* by ``api_key_env`` at request time; they are never stored
on the object, logged, put in error messages or in ``cache_identity``.

httpx and asyncio are imported at the first call: a run answered from the cache builds the backend (for its cache
identity) but never calls it, and those imports were a tenth of such a run (issue 19).
"""

from __future__ import annotations

import importlib.util
import os
import queue
import random
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tunegate.errors import BackendError
from tunegate.models.base import EMBED, GENERATE, Generation, GenerationRequest
from tunegate.models.http_helpers import normalise_base_url, parse_retry_after  # noqa: F401  (re-exported)
from tunegate.redact import redact as _redact
from tunegate.redact import redact_excerpt, register_secret, register_secret_env

if TYPE_CHECKING:
    import asyncio

    import httpx


def _log() -> Any:
    """The module's logger, on first use (only retries and failures log; a cached run never imports logging)."""
    import logging

    return logging.getLogger("tunegate.models.openai")


T = TypeVar("T")

# Sampling parameters sent to the server as they are; other keys in ``params`` are tunegate's own and are dropped.
PASSTHROUGH_PARAMS = frozenset({"temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop",
                                "response_format", "presence_penalty", "frequency_penalty", "logit_bias",
                                "reasoning_effort"})
_RETRY_STATUSES = frozenset({408, 409, 429})  # plus every 5xx
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_AUTH_STATUSES = frozenset({401, 403})
_EXCERPT_CHARS = 200
_ERROR = object()  # queue markers
_DONE = object()


def _skip_missing_sniffio() -> None:
    """httpcore tries ``import sniffio`` for every lock (~10 per request); uninstalled, each try searches sys.path:
    ~15% of a client's CPU (issue 19). A ``None`` in sys.modules fails it at once, with the same ImportError."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


@dataclass
class _Outcome:
    """Result of one logical call after retries: the decoded JSON, or an error message."""

    data: Any
    error: str | None
    attempts: int
    latency_s: float
    total_s: float


class _HTTPCore:
    """The parts both backends share: the loop thread, the pooled client, the retry loop and result streaming."""

    def __init__(
        self, *, base_url: str, api_key_env: str | None, timeout_s: float, max_concurrency: int,
        max_retries: int, backoff_base_s: float, backoff_max_s: float, extra_headers: dict | None,
    ) -> None:
        if max_concurrency < 1:
            raise BackendError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_retries < 0:
            raise BackendError(f"max_retries must be >= 0, got {max_retries}")
        if timeout_s <= 0:
            raise BackendError(f"timeout_s must be > 0, got {timeout_s}")
        self.safe_base_url = normalise_base_url(base_url)
        self._base_text = base_url.strip()
        self._urls: dict[str, str] = {}
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.max_concurrency = int(max_concurrency)
        self.max_retries = int(max_retries)
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self._extra_headers = dict(extra_headers or {})
        register_secret_env(api_key_env)
        for value in self._extra_headers.values():
            register_secret(value if isinstance(value, str) else None)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._clients: _Clients | None = None
        self._finalizer: weakref.finalize | None = None

    def url(self, path: str) -> str:
        """``base_url`` + path, keeping any query string of the base (e.g. Azure's api-version)."""
        if path not in self._urls:
            import httpx

            base = httpx.URL(self._base_text)
            self._urls[path] = str(base.copy_with(path=base.path.rstrip("/") + path))
        return self._urls[path]

    def _key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None if self.api_key_env else None

    def redact(self, text: str) -> str:
        """Remove the current key, extra header values and any other known secret (tunegate.redact) from text
        bound for logs/errors."""
        for secret in (self._key(), *self._extra_headers.values()):
            if isinstance(secret, str) and len(secret) >= 4 and secret in text:
                text = text.replace(secret, "***")
        return _redact(text) or ""

    # -- loop thread ---------------------------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                import asyncio

                import httpx

                _skip_missing_sniffio()
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="tunegate-openai-http", daemon=True)
                thread.start()
                timeout = httpx.Timeout(self.timeout_s, pool=None)  # the semaphore bounds pool waits
                self._clients = _Clients(self.max_concurrency, timeout, dict(self._extra_headers))
                self._loop, self._thread = loop, thread
                # Also stops the thread when the backend is dropped without close(), and at interpreter exit.
                self._finalizer = weakref.finalize(self, _stop_loop, loop, thread, self._clients)
            return self._loop

    def close(self) -> None:
        """Cancel outstanding calls, close the connection pool and stop the loop thread (idempotent)."""
        with self._lock:
            finalizer, self._finalizer = self._finalizer, None
            self._loop = self._thread = self._clients = None
        if finalizer is not None:
            finalizer()

    # -- streaming results to the synchronous caller ---------------------------------------------------------

    def stream(self, n: int, job: Callable[[int], Awaitable[T]]) -> Iterator[tuple[int, T]]:
        """Run ``job(i)`` for i in range(n), at most ``max_concurrency`` at a time, yielding ``(i, result)`` as
        each finishes. An exception from a job (e.g. an auth BackendError) is raised here and stops the rest;
        closing the generator early cancels what is still running."""
        for batch in self.stream_batches(n, job):
            yield from batch

    def stream_batches(self, n: int, job: Callable[[int], Awaitable[T]]) -> Iterator[list[tuple[int, T]]]:
        """As ``stream``, but yields the results that finished together as one list, so the caller can persist
        them in one transaction (one hand-off between threads instead of one per result)."""
        if n == 0:
            return
        import asyncio

        loop = self._ensure_loop()
        results: queue.SimpleQueue = queue.SimpleQueue()  # batches of (i, value), handed to the caller's thread
        pending: list[tuple[Any, Any]] = []

        def flush() -> None:  # one hand-off per loop iteration, not per result: fewer thread wake-ups
            results.put(pending.copy())
            pending.clear()

        async def run_all() -> None:
            indices = iter(range(n))  # shared by the workers: a pool of workers, not n tasks behind a semaphore

            async def worker() -> None:
                for i in indices:
                    try:
                        value = await job(i)
                    except asyncio.CancelledError:
                        raise
                    except BaseException as exc:  # surfaced to the caller, which stops the run
                        if pending:
                            flush()
                        results.put([(_ERROR, exc)])
                        raise
                    if not pending:
                        loop.call_soon(flush)
                    pending.append((i, value))

            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(min(n, self.max_concurrency)):
                        group.create_task(worker())
            except BaseExceptionGroup:
                pass  # already handed to the consumer, which raises it

        future = asyncio.run_coroutine_threadsafe(run_all(), loop)
        future.add_done_callback(lambda _: results.put([(_DONE, None)]))
        received = 0
        try:
            while received < n:
                batch = []
                arrived = results.get()
                while True:  # take whatever else has finished meanwhile: bigger lists, fewer commits downstream
                    try:
                        arrived = arrived + results.get_nowait()
                    except queue.Empty:
                        break
                closed = False
                for i, value in arrived:
                    if i is _ERROR:
                        raise value
                    if i is _DONE:  # the run finished: any results already drained above are still delivered
                        closed = True
                        continue
                    batch.append((i, value))
                if closed and received + len(batch) < n:
                    raise BackendError(f"{self.safe_base_url}: backend was closed while calls were running")
                received += len(batch)
                if batch:
                    yield batch
        finally:
            if received < n:  # stopped early or failed: cancel the rest (not a run that is just finishing)
                future.cancel()

    # -- one logical call with retries -----------------------------------------------------------------------

    def _auth_error(self, status: int, response: httpx.Response) -> BackendError:
        where = f"{self.safe_base_url} answered HTTP {status}"
        if not self.api_key_env:
            return BackendError(
                f"{where}: it requires an API key, but no api_key_env is configured "
                "(give the name of the environment variable that holds the key)"
            )
        if self._key() is None:
            return BackendError(
                f"{where}: it requires an API key, but environment variable {self.api_key_env} is not set"
            )
        return BackendError(
            f"{where}: the key in environment variable {self.api_key_env} was rejected: {self._excerpt(response)}"
        )

    def _excerpt(self, response: httpx.Response) -> str:
        text = self.redact(" ".join(response.text.split()))  # redact before cutting: half a key is still a leak
        if len(text) > _EXCERPT_CHARS:
            text = text[:_EXCERPT_CHARS] + "..."
        return text or "(empty body)"

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (AWS architecture blog): spreads retries of many workers."""
        return random.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)))

    async def post(self, path: str, payload: dict[str, Any]) -> _Outcome:
        """POST JSON, retrying 408/409/429/5xx, timeouts and connection errors; raise BackendError on 401/403."""
        import asyncio

        import httpx

        clients = self._clients
        if clients is None:
            raise BackendError(f"{self.safe_base_url}: backend is closed")
        sem, free = clients.sem, clients.free
        url = self.url(path)
        where = self.safe_base_url + path
        start = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            key = self._key()
            headers = {"Authorization": f"Bearer {key}"} if key else None
            wait: float | None = None
            t0 = time.perf_counter()
            try:
                async with sem:
                    client = free.pop() if free else clients.new()
                    try:
                        response = await client.post(url, json=payload, headers=headers)
                    finally:
                        free.append(client)
            except httpx.TimeoutException as exc:
                problem, retry = f"timed out after {self.timeout_s:g} s ({type(exc).__name__})", True
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                problem, retry = f"{type(exc).__name__}: {self.redact(str(exc)) or 'connection failed'}", True
            except httpx.TransportError as exc:  # proxy or protocol misuse: retrying will not help
                problem, retry = f"{type(exc).__name__}: {self.redact(str(exc))}", False
            else:
                status = response.status_code
                if status < 300:
                    now = time.perf_counter()
                    try:
                        data = response.json()
                    except ValueError:
                        return _Outcome(None, f"HTTP {status} from {where} with a body that is not JSON: "
                                        f"{self._excerpt(response)}", attempt, now - t0, now - start)
                    return _Outcome(data, None, attempt, now - t0, now - start)
                if status in _AUTH_STATUSES:
                    raise self._auth_error(status, response)
                problem = f"HTTP {status}: {self._excerpt(response)}"
                retry = status in _RETRY_STATUSES or status >= 500
                if status in _RETRY_AFTER_STATUSES:
                    ms = parse_retry_after(response.headers.get("retry-after-ms"))
                    wait = ms / 1000.0 if ms is not None else parse_retry_after(response.headers.get("retry-after"))
            if not retry or attempt > self.max_retries:
                now = time.perf_counter()
                tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                message = f"{where} failed after {tries}: {problem}"
                _log().warning("%s", message)
                return _Outcome(None, message, attempt, now - t0, now - start)
            delay = self._backoff(attempt) if wait is None else min(wait, self.backoff_max_s)
            _log().info("retrying %s in %.2f s (attempt %d of %d failed: %s)",
                     where, delay, attempt, self.max_retries + 1, problem)
            await asyncio.sleep(delay)


class _Clients:
    """Up to ``n`` clients of one keep-alive connection each, one lent per request in flight (``sem`` bounds them
    across threads: the loop is shared); they share one SSL context (~20 ms to build each).

    Why not one client with ``n`` connections: httpcore re-checks every pooled connection (a ``poll()`` each) when
    a request starts or ends, ~45 checks per request at 16: ~40% of the loop thread's time against a fast server
    (issue 19). One connection per client does the same requests with one check."""

    def __init__(self, n: int, timeout: httpx.Timeout, headers: dict[str, str]) -> None:
        import asyncio

        self.sem = asyncio.Semaphore(n)
        self.free: list[httpx.AsyncClient] = []  # idle, the last used on top
        self.all: list[httpx.AsyncClient] = []
        self._timeout, self._headers = timeout, headers
        self._ssl: Any = None

    def new(self) -> httpx.AsyncClient:
        import httpx

        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()  # what each client would build: certifi, or SSL_CERT_FILE/DIR
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                                   timeout=self._timeout, headers=self._headers, verify=self._ssl)
        self.all.append(client)
        return client


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread, clients: _Clients) -> None:
    """Cancel what still runs on the loop, close the clients, stop the thread (module-level: a finalizer's)."""
    import asyncio

    async def shutdown() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(client.aclose() for client in clients.all))

    if threading.current_thread() is thread:  # dropped from inside the loop: just stop it
        loop.call_soon(loop.stop)
        return
    try:
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not loop.is_running():
            loop.close()


class OpenAICompatibleBackend:
    """Chat completions from any OpenAI-compatible server; capability ``generate``."""

    capabilities = frozenset({GENERATE})

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_concurrency: int = 8,
        max_retries: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        extra_headers: dict | None = None,
        model_id: str | None = None,
    ) -> None:
        self.model = model
        self.model_id = model_id or f"openai:{model}"
        self._http = _HTTPCore(
            base_url=base_url, api_key_env=api_key_env, timeout_s=timeout_s, max_concurrency=max_concurrency,
            max_retries=max_retries, backoff_base_s=backoff_base_s, backoff_max_s=backoff_max_s,
            extra_headers=extra_headers,
        )
        self.base_url = self._http.safe_base_url

    def __repr__(self) -> str:
        return f"OpenAICompatibleBackend(model={self.model!r}, base_url={self.base_url!r})"

    def cache_identity(self) -> dict[str, Any]:
        return {"kind": "openai", "model": self.model, "base_url": self.base_url}

    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body for one request: known sampling params pass through, ``extra_body`` is merged as is."""
        body: dict[str, Any] = {"model": self.model, "messages": request.messages}
        body.update((k, v) for k, v in request.params.items() if k in PASSTHROUGH_PARAMS and v is not None)
        body.update(request.params.get("extra_body") or {})
        return body

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index, Generation)`` in completion order. A failed call is a Generation with ``error`` set
        and the run goes on; an authentication failure (401/403) raises BackendError, as every call would fail."""
        requests = list(requests)

        async def one(i: int) -> Generation:
            return _to_generation(await self._http.post("/chat/completions", self.payload(requests[i])))

        return self._http.stream(len(requests), one)

    def generate_batches(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, Generation]]]:
        """As ``generate``, in lists of results that finished together (the runner persists each list in one
        transaction before using any of its results)."""
        requests = list(requests)

        async def one(i: int) -> Generation:
            return _to_generation(await self._http.post("/chat/completions", self.payload(requests[i])))

        return self._http.stream_batches(len(requests), one)

    def close(self) -> None:
        self._http.close()


def _to_generation(out: _Outcome) -> Generation:
    if out.error is not None:
        return Generation(text="", error=out.error, latency_s=out.latency_s, attempts=out.attempts,
                          total_latency_s=out.total_s)
    try:
        choice = out.data["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = out.data.get("usage") or {}
        return Generation(text=text, input_tokens=int(usage.get("prompt_tokens") or 0),
                          output_tokens=int(usage.get("completion_tokens") or 0), latency_s=out.latency_s,
                          finish_reason=choice.get("finish_reason"), attempts=out.attempts,
                          total_latency_s=out.total_s)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        excerpt = redact_excerpt(str(out.data), _EXCERPT_CHARS)  # the body may echo the request headers
        return Generation(text="", error=f"malformed chat completion response: {excerpt}",
                          latency_s=out.latency_s, attempts=out.attempts, total_latency_s=out.total_s)


class OpenAICompatibleEmbedder:
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint; capability ``embed``.

    Vectors are returned float32 and L2-normalised so cosine similarity is a dot product, whatever the server
    does. A batch that still fails after retries raises BackendError: embeddings have no per-item error slot.
    """

    capabilities = frozenset({EMBED})

    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key_env: str | None = "OPENAI_API_KEY",
        *,
        batch_size: int = 128,
        dimensions: int | None = None,
        timeout_s: float = 60.0,
        max_concurrency: int = 4,
        max_retries: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        extra_headers: dict | None = None,
        model_id: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise BackendError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.model_id = model_id or f"openai:{model}"
        self.batch_size = int(batch_size)
        self.dimensions = dimensions
        self._http = _HTTPCore(
            base_url=base_url, api_key_env=api_key_env, timeout_s=timeout_s, max_concurrency=max_concurrency,
            max_retries=max_retries, backoff_base_s=backoff_base_s, backoff_max_s=backoff_max_s,
            extra_headers=extra_headers,
        )
        self.base_url = self._http.safe_base_url

    def __repr__(self) -> str:
        return f"OpenAICompatibleEmbedder(model={self.model!r}, base_url={self.base_url!r})"

    def cache_identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"kind": "openai", "model": self.model, "base_url": self.base_url}
        if self.dimensions is not None:
            ident["dimensions"] = self.dimensions
        return ident

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        starts = list(range(0, len(texts), self.batch_size))
        if not starts:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)

        async def one(b: int) -> np.ndarray:
            chunk = texts[starts[b]: starts[b] + self.batch_size]
            body: dict[str, Any] = {"model": self.model, "input": chunk}
            if self.dimensions is not None:
                body["dimensions"] = self.dimensions
            out = await self._http.post("/embeddings", body)
            where = f"embedding texts {starts[b]}..{starts[b] + len(chunk) - 1}"
            if out.error is not None:
                raise BackendError(f"{where}: {out.error}")
            try:
                rows = sorted(out.data["data"], key=lambda d: d["index"])
                vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
            except (KeyError, TypeError, ValueError):
                raise BackendError(f"{where}: malformed embeddings response: "
                                   f"{redact_excerpt(str(out.data), _EXCERPT_CHARS)}") from None
            if vectors.ndim != 2 or len(vectors) != len(chunk):
                raise BackendError(f"{where}: server returned {len(vectors)} vectors for {len(chunk)} texts")
            return vectors

        parts: list[Any] = [None] * len(starts)
        for b, vectors in self._http.stream(len(starts), one):
            parts[b] = vectors
        dims = {p.shape[1] for p in parts}
        if len(dims) != 1:
            raise BackendError(f"{self.base_url}: embedding dimension changed between batches: {sorted(dims)}")
        matrix = np.concatenate(parts, axis=0)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)

    def close(self) -> None:
        self._http.close()
