"""A real OpenAI-compatible HTTP/1.1 server for tests and benchmarks, on the standard library only.

Tests talk to it over 127.0.0.1 so the backend's real HTTP path (pooling, keep-alive, timeouts, retries) is
exercised, not a mock. It is a raw asyncio server with keep-alive so that it is not the bottleneck of a
throughput benchmark.

Faults are injected two ways:
- a *script* per endpoint: the k-th request to arrive at ``chat`` (or ``embeddings``) gets ``script[k]``
  (a ``Fault``, an int status, a dict of Fault fields, or None for a normal answer); requests past the end
  of the script are normal. Deterministic when the client runs one request at a time.
- a *directive* inside a message or input text, ``[[stub:status=500 times=2 retry_after=1 sleep=0.5]]``:
  applies to the first ``times`` arrivals of that exact request body (all arrivals if ``times`` is absent).
  Deterministic under concurrency.

In-process: ``with OpenAIStub(api_key="k") as stub: stub.base_url`` (a background thread, ephemeral port).
As a script: ``python tests/support/openai_stub.py --port 0 --print-port`` prints the port, then serves.
``GET /_stats`` (and ``stub.stats()``) report requests per path, statuses and the peak of in-flight requests.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
MODELS = "/v1/models"
_DIRECTIVE = re.compile(r"\[\[stub:([^\]]*)\]\]")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            408: "Request Timeout", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass
class Fault:
    """What to do to one request: wait ``hang_s`` first, then answer ``status`` (None = the normal answer)."""

    status: int | None = None
    retry_after: str | None = None
    hang_s: float = 0.0
    body: str | None = None

    @classmethod
    def of(cls, spec: Any) -> Fault | None:
        if spec is None or isinstance(spec, Fault):
            return spec
        if isinstance(spec, int):
            return cls(status=spec)
        if isinstance(spec, dict):
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in spec.items() if k in known})
        raise TypeError(f"cannot make a Fault from {spec!r}")


def default_reply(body: dict) -> str:
    """Deterministic answer: echo the last user message."""
    users = [m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user"]
    return "echo: " + (users[-1] if users else "")


def pseudo_embedding(text: str, dim: int) -> list[float]:
    """Deterministic, unnormalised vector from a hash of the text (same text, same vector)."""
    rng = random.Random(hashlib.blake2b(text.encode(), digest_size=8).digest())
    return [rng.gauss(0.0, 1.0) * 3.0 for _ in range(dim)]


def _tokens(text: str) -> int:
    return len(text.split())


class OpenAIStub:
    """The server. Attributes (``api_key``, ``delay_s``, ``reply``, ``embedding_dim``) may be changed while it runs."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        script: list | None = None,
        embeddings_script: list | None = None,
        delay_s: float = 0.0,
        embedding_dim: int = 8,
        reply: Callable[[dict], str] | None = None,
        models: tuple[str, ...] = ("stub-model",),
        record: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.api_key = api_key
        self.delay_s = delay_s
        self.embedding_dim = embedding_dim
        self.reply = reply or default_reply
        self.models = models
        self.record = record
        self.requests: deque[dict] = deque(maxlen=100_000)  # {"path", "body", "auth"} per API request
        self._scripts: dict[str, list] = {}
        self.set_script(CHAT, script or [])
        self.set_script(EMBEDDINGS, embeddings_script or [])
        self.reset()
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[asyncio.Task] = set()
        self._chat_id = 0

    # -- configuration and counters ----------------------------------------------------------------------

    def set_script(self, path: str, faults: list) -> None:
        """Faults for the next arrivals at ``path`` (CHAT or EMBEDDINGS), counted from the last reset."""
        self._scripts[path] = [Fault.of(f) for f in faults]

    def reset(self) -> None:
        """Zero the counters and arrival numbers (scripts restart from their first entry)."""
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._seen: Counter[str] = Counter()
        self.requests.clear()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.counts),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- request handling ----------------------------------------------------------------------------------

    def _fault_for(self, path: str, body: dict, texts: list[str]) -> Fault | None:
        arrival = self.counts[path] - 1
        script = self._scripts.get(path, [])
        if arrival < len(script) and script[arrival] is not None:
            return script[arrival]
        for text in texts:
            match = _DIRECTIVE.search(text)
            if match:
                opts = dict(p.split("=", 1) for p in match.group(1).split() if "=" in p)
                key = path + json.dumps(body, sort_keys=True)
                self._seen[key] += 1
                if "times" in opts and self._seen[key] > int(opts["times"]):
                    return None
                return Fault(status=int(opts["status"]) if "status" in opts else None,
                             retry_after=opts.get("retry_after"), hang_s=float(opts.get("sleep", 0)))
        return None

    async def _api(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict, Any]:
        if path in ("/_stats", "/_reset"):
            if path == "/_reset":
                self.reset()
            return 200, {}, self.stats()
        self.counts[path] += 1
        if path not in (CHAT, EMBEDDINGS, MODELS):
            return 404, {}, _error(f"no route {path}", "not_found")
        if method != ("GET" if path == MODELS else "POST"):
            return 405, {}, _error(f"{method} not allowed on {path}", "method_not_allowed")
        auth = headers.get("authorization")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {}, _error("body is not JSON", "invalid_request_error")
        if self.record:
            self.requests.append({"path": path, "body": body, "auth": auth is not None})
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return 401, {}, _error("Incorrect or missing API key", "invalid_api_key")
        if path == MODELS:
            return 200, {}, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}
        if path == CHAT:
            texts = [m.get("content") or "" for m in body.get("messages", []) if isinstance(m, dict)]
        else:
            inp = body.get("input", [])
            texts = [inp] if isinstance(inp, str) else [str(t) for t in inp]
        fault = self._fault_for(path, body, texts)
        delay = self.delay_s + (fault.hang_s if fault else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if fault and fault.status:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            payload = json.loads(fault.body) if fault.body else _error(f"stub fault {fault.status}", "stub_fault")
            return fault.status, extra, payload
        if path == EMBEDDINGS:
            return 200, {}, self._embeddings(body, texts)
        return 200, {}, self._chat(body, texts)

    def _chat(self, body: dict, texts: list[str]) -> dict:
        text = self.reply(body)
        finish = "stop"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if limit is not None and _tokens(text) > int(limit):
            text, finish = " ".join(text.split()[: int(limit)]), "length"
        self._chat_id += 1
        prompt, completion = sum(_tokens(t) for t in texts), _tokens(text)
        return {
            "id": f"chatcmpl-stub-{self._chat_id}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    def _embeddings(self, body: dict, texts: list[str]) -> dict:
        dim = int(body.get("dimensions") or self.embedding_dim)
        data = [{"object": "embedding", "index": i, "embedding": pseudo_embedding(t, dim)}
                for i, t in enumerate(texts)]
        n = sum(_tokens(t) for t in texts)
        return {"object": "list", "data": data, "model": body.get("model", ""),
                "usage": {"prompt_tokens": n, "total_tokens": n}}

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._conns.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                raw = await reader.readexactly(int(headers.get("content-length") or 0))
                path = target.split("?", 1)[0]
                api = path not in ("/_stats", "/_reset")
                if api:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    status, extra, payload = await self._api(method, path, headers, raw)
                finally:
                    if api:
                        self.in_flight -= 1
                if api:
                    self.statuses[status] += 1
                data = json.dumps(payload).encode()
                keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                head_out = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                            "Content-Type: application/json", f"Content-Length: {len(data)}"]
                head_out += [f"{k}: {v}" for k, v in extra.items()]
                if not keep:
                    head_out.append("Connection: close")
                writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode("latin-1") + data)
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # swallowing the stop()-time cancel: Python 3.11's stream callback logs cancelled handlers
        finally:
            self._conns.discard(task)
            writer.close()

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start_async(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def start(self) -> OpenAIStub:
        """Serve from a daemon thread; returns once the port is bound."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openai-stub", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start_async(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "code": kind}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--print-port", action="store_true", help="print the bound port on stdout's first line")
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before every API answer")
    parser.add_argument("--dim", type=int, default=8, help="embedding dimension")
    parser.add_argument("--script", default="[]", help="JSON list of faults for chat, e.g. '[429, {\"status\": 500}]'")
    parser.add_argument("--embeddings-script", default="[]", help="JSON list of faults for embeddings")
    args = parser.parse_args(argv)
    stub = OpenAIStub(host=args.host, port=args.port, api_key=args.api_key, delay_s=args.delay,
                      embedding_dim=args.dim, script=json.loads(args.script),
                      embeddings_script=json.loads(args.embeddings_script), record=False)

    async def serve() -> None:
        await stub.start_async()
        if args.print_port:
            print(stub.port, flush=True)
        else:
            print(f"serving {stub.base_url}", file=sys.stderr, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
