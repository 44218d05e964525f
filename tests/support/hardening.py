"""Helpers for the hardening tests: a small task on disk and an endpoint that echoes the request headers.

The echo server is a real HTTP server on 127.0.0.1 (standard library only). Its modes reproduce how a key
could reach an artifact: ``no_choices`` answers 200 with the request headers and no ``choices`` (the path that
leaked); ``error`` answers 500 with the headers; ``content`` answers a normal completion whose text is the
headers (a model or proxy that repeats what it was sent).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LABELS = ["billing", "shipping", "other"]


def write_task(tmp: Path, n: int = 30, extra: str = "", *, metric: str = "accuracy", name: str = "tunegate.yaml",
               data_name: str = "d.jsonl") -> Path:
    """A classification task of ``n`` test items; ``extra`` is appended to the spec (models:, etc.)."""
    with (tmp / data_name).open("w") as fh:
        for k in range(n):
            lab = LABELS[k % 3]
            fh.write(json.dumps({"id": f"x{k:03d}", "text": f"message {k} about {lab}", "intent": lab,
                                 "split": "test" if k % 5 else "train"}) + "\n")
    spec = tmp / name
    spec.write_text(f"""\
task:
  name: toy
  kind: classification
  labels: [billing, shipping, other]
data:
  path: {data_name}
  fields: {{input: text, label: intent, id: id, split: split}}
eval:
  metric: {metric}
  prompt:
    inline: "Classify: {{{{input}}}}"
{extra}""")
    return spec


def models_block(base_url: str, key_env: str = "TUNEGATE_HARDEN_KEY", *, retries: int = 0) -> str:
    return f"""models:
  default: openai:echo
  params: {{temperature: 0, max_tokens: 8}}
  backends:
    openai:echo:
      base_url: {base_url}
      api_key_env: {key_env}
      max_concurrency: 4
      max_retries: {retries}
      timeout_s: 5
"""


class EchoServer:
    """``mode``: no_choices | error | content | ok (a right answer). ``calls`` counts POSTs."""

    def __init__(self, mode: str = "no_choices") -> None:
        self.mode = mode
        self.calls = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                with outer._lock:
                    outer.calls += 1
                # the credential first, as a proxy that reports "what you sent" would: within any excerpt
                headers = {"authorization": self.headers.get("authorization"), **dict(self.headers.items())}
                status, payload = 200, {"echo": headers, "id": "x"}
                if outer.mode == "error":
                    status = 500
                elif outer.mode == "content":
                    payload = {"choices": [{"message": {"content": json.dumps(headers)}, "finish_reason": "stop"}]}
                elif outer.mode == "ok":
                    text = body["messages"][-1]["content"].rsplit("about ", 1)[-1]
                    payload = {"choices": [{"message": {"content": text}, "finish_reason": "stop"}]}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> EchoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def count_in_tree(root: Path, marker: str) -> int:
    """Occurrences of ``marker`` in every file under ``root`` (bytes, so binary files such as SQLite count)."""
    needle = marker.encode()
    return sum(p.read_bytes().count(needle) for p in root.rglob("*") if p.is_file())
