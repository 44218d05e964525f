"""The response cache: SQLite in WAL mode, keyed by a hash of canonical JSON.

Why a cache at all: every finished call is written here before the run moves on, so an interrupted run
(Ctrl-C, kill, crash) resumes without repeating paid calls, and a re-run of the same evaluation costs nothing.

What the key holds: the backend's identity (kind, model, endpoint URL — never a key), the operation, the
messages, the sampling parameters and the sample/epoch index. The epoch index is what keeps repeated samples
(self-consistency, judge test-retest) from collapsing onto one entry. Failed calls are never cached, so a
resume retries them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tunegate.paths import tunegate_home

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    model TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
);
"""

# Parameters that never change what a model answers and must never be stored.
_NON_SEMANTIC_PARAMS = frozenset({"api_key", "api_key_env", "headers", "timeout", "timeout_s"})


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal content gives equal text, whatever the dict order."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cache_key(
    identity: dict[str, Any],
    op: str,
    *,
    messages: Iterable[dict[str, str]] = (),
    params: dict[str, Any] | None = None,
    epoch: int = 0,
    extra: dict[str, Any] | None = None,
) -> str:
    """The sha256 of the canonical JSON of everything that determines an answer."""
    clean_params = {k: v for k, v in (params or {}).items() if k not in _NON_SEMANTIC_PARAMS}
    payload = {
        "backend": identity,
        "op": op,
        "messages": list(messages),
        "params": clean_params,
        "epoch": epoch,
        "extra": extra or {},
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    return tunegate_home() / "cache" / "responses.sqlite"


class ResponseCache:
    """A small key-value store over SQLite (WAL). Safe to share between threads of one process; several
    processes may use the same file (SQLite's locking, with a busy timeout)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed write survives a process kill; only an OS crash can lose the tail.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """Look up many keys at once (one query per 500 keys): the warm-cache path must be fast."""
        found: dict[str, Any] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for k, v in self._conn.execute(
                    f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk
                ):
                    found[k] = json.loads(v)
        self.hits += len(found)
        self.misses += len(set(keys)) - len(found)
        return found

    def put(self, key: str, value: Any, *, op: str, model: str) -> None:
        """Write and commit one entry before returning: the resumability guarantee rests on this."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (key, op, model, value, created) VALUES (?, ?, ?, ?, ?)",
                (key, op, model, canonical_json(value), time.time()),
            )

    def put_many(self, entries: list[tuple[str, Any]], *, op: str, model: str) -> None:
        """Write several entries in one transaction (committed before returning): the same guarantee as ``put``
        for each of them, at the cost of one commit."""
        if not entries:
            return
        now = time.time()
        rows = [(k, op, model, canonical_json(v), now) for k, v in entries]
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO responses (key, op, model, value, created) VALUES (?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
