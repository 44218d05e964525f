"""The response cache: SQLite in WAL mode, keyed by a hash of canonical JSON.

Why a cache at all: every finished call is written here before the run moves on, so an interrupted run
(Ctrl-C, kill, crash) resumes without repeating paid calls, and a re-run of the same evaluation costs nothing.

What the key holds: the backend's identity (kind, model, endpoint URL — never a key), the operation, the
messages, the sampling parameters and the sample/epoch index. The epoch index is what keeps repeated samples
(self-consistency, judge test-retest) from collapsing onto one entry. Failed calls are never cached, so a
resume retries them.

Several processes may share one cache file. A call in flight is visible to the others as a *lease* row (key,
owner, pid, host, expiry): a second process that finds a lease waits for the answer instead of paying for the
same call again, and takes the call over when the lease is released without an answer (the call failed), has
expired, or belongs to a process on this host that no longer exists (killed). Creating and migrating a fresh
file is serialised with an ``flock`` on a side file, because SQLite's busy handler does not cover switching a
new database to WAL (three processes opening a fresh file at once made one fail with "database is locked").
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tunegate.errors import InputError
from tunegate.paths import tunegate_home

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    model TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    expires REAL NOT NULL
);
"""
LEASE_TTL_S = 900.0  # renewed by the holder's writes, so only a silent holder's lease runs out
# How often a writing holder pushes its leases' expiry forward. Renewing on every commit rewrote every lease row
# of the owner each time (the leases table has no owner index): ~1,000 commits x ~1,000 rows on a 2,000-item run.
LEASE_RENEW_S = LEASE_TTL_S / 30
_ROWS_PER_STATEMENT = 150  # 5 parameters a row: under SQLite's oldest limit of 999 parameters per statement

# Parameters that never change what a model answers and must never be stored.
_NON_SEMANTIC_PARAMS = frozenset({"api_key", "api_key_env", "headers", "timeout", "timeout_s"})


# One encoder for every call: ``json.dumps`` with options builds a new encoder each time, which was half the
# cost of a cache key (a warm run computes one per item).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal content gives equal text, whatever the dict order."""
    return _CANONICAL.encode(obj)


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


def cache_keys(identity: dict[str, Any], op: str, calls: Iterable[tuple[Iterable[dict[str, str]],
               dict[str, Any] | None, int]], *, extra: dict[str, Any] | None = None) -> list[str]:
    """``cache_key`` for many ``(messages, params, epoch)`` calls that share identity, op and extra, equal to it
    key for key (tested). The canonical JSON of the shared parts (and of each distinct params dict) is written
    once and the payload's sorted keys are laid out by hand: a warm run computes a key per item."""
    head = '{"backend":' + canonical_json(identity) + ',"epoch":'
    tail_extra = ',"extra":' + canonical_json(extra or {}) + ',"messages":'
    op_part = ',"op":' + canonical_json(op) + ',"params":'
    params_json: dict[int, tuple[Any, str]] = {}  # id -> (the dict, kept alive so the id stays its own; json)
    keys = []
    for messages, params, epoch in calls:
        p = params_json.get(id(params))
        if p is None or p[0] is not params:
            clean = {k: v for k, v in (params or {}).items() if k not in _NON_SEMANTIC_PARAMS}
            p = params_json[id(params)] = (params, canonical_json(clean))
        text = (head + canonical_json(epoch) + tail_extra + canonical_json(list(messages)) + op_part + p[1] + "}")
        keys.append(hashlib.sha256(text.encode("utf-8")).hexdigest())
    return keys


def default_cache_path() -> Path:
    return tunegate_home() / "cache" / "responses.sqlite"


class ResponseCache:
    """A small key-value store over SQLite (WAL). Safe to share between threads of one process; several
    processes may use the same file (SQLite's locking, with a busy timeout)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        if self.path.is_dir():
            raise InputError("is a directory; give a cache file path (e.g. cache.sqlite)", file=self.path,
                             field="--cache")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError("a parent of the cache path is a file", file=self.path, field="--cache") from None
        self._lock = threading.Lock()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._host = socket.gethostname()
        try:
            with _init_lock(self.path):
                self._conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False,
                                             isolation_level=None)
                self._conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode: a committed write survives a process kill; only an OS crash loses the tail.
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a usable SQLite response cache ({exc})", file=self.path,
                             field="--cache") from None
        self.hits = 0
        self.misses = 0
        self._renewed = time.time()

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
            self._conn.execute("DELETE FROM leases WHERE owner = ? AND key = ?", (self.owner, key))

    def put_many(self, entries: list[tuple[str, Any]], *, op: str, model: str) -> None:
        """Write several entries atomically (committed before returning): the same guarantee as ``put`` for each
        of them, at the cost of one commit.

        Why one multi-row statement per step, not ``executemany`` inside BEGIN/COMMIT: every SQLite step releases
        the GIL, and the backend's event loop thread takes it each time; 2 steps per batch instead of 2 + 2 per
        row cut the thread hand-offs of a cold run (issue 19). The lease delete may land in a second commit: a
        lease on an answered key is inert (``claim`` and the waiters read the answers first)."""
        if not entries:
            return
        now = time.time()
        rows = [(k, op, model, canonical_json(v), now) for k, v in entries]
        with self._lock:
            several = len(rows) > _ROWS_PER_STATEMENT
            if several:
                self._conn.execute("BEGIN")
            try:
                for i in range(0, len(rows), _ROWS_PER_STATEMENT):
                    chunk = rows[i: i + _ROWS_PER_STATEMENT]
                    self._conn.execute(
                        "INSERT OR REPLACE INTO responses (key, op, model, value, created) VALUES "
                        + ",".join(["(?, ?, ?, ?, ?)"] * len(chunk)), [x for row in chunk for x in row])
            except BaseException:
                if several:
                    self._conn.execute("ROLLBACK")
                raise
            if several:
                self._conn.execute("COMMIT")
            # answered: drop their leases; the holder is alive, so its other leases get a new expiry (every
            # LEASE_RENEW_S, far inside the TTL: a per-commit renewal rewrote all of them on every commit)
            keys = [k for k, _ in entries]
            for i in range(0, len(keys), 500):
                chunk = keys[i: i + 500]
                self._conn.execute(f"DELETE FROM leases WHERE owner = ? AND key IN ({','.join('?' * len(chunk))})",
                                   [self.owner, *chunk])
            if now - self._renewed >= LEASE_RENEW_S:
                self._conn.execute("UPDATE leases SET expires = ? WHERE owner = ?", (now + LEASE_TTL_S, self.owner))
                self._renewed = now

    # -- leases: calls in flight, visible to other processes ------------------------------------------------

    def claim(self, keys: list[str], *, ttl_s: float = LEASE_TTL_S) -> set[str]:
        """Take a lease on each key that has no answer and no live lease of another owner; return the keys
        taken (the caller makes those calls; it waits for the others with ``wait_for``)."""
        if not keys:
            return set()
        now = time.time()
        taken: set[str] = set()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for i in range(0, len(keys), 500):
                    chunk = list(dict.fromkeys(keys[i: i + 500]))
                    marks = ",".join("?" * len(chunk))
                    answered = {k for (k,) in self._conn.execute(
                        f"SELECT key FROM responses WHERE key IN ({marks})", chunk)}
                    held = {k: (o, pid, host, exp) for k, o, pid, host, exp in self._conn.execute(
                        f"SELECT key, owner, pid, host, expires FROM leases WHERE key IN ({marks})", chunk)}
                    rows = []
                    for k in chunk:
                        if k in answered:
                            continue
                        lease = held.get(k)
                        if lease is not None and lease[0] != self.owner and not self._stale(lease, now):
                            continue
                        rows.append((k, self.owner, os.getpid(), self._host, now + ttl_s))
                        taken.add(k)
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO leases (key, owner, pid, host, expires) VALUES (?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return taken

    def _stale(self, lease: tuple[str, int, str, float], now: float) -> bool:
        _, pid, host, expires = lease
        if expires < now:
            return True
        if host == self._host:
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return True  # its holder died (kill -9) without releasing it
            except PermissionError:
                return False
        return False

    def release(self, keys: list[str]) -> None:
        """Drop this owner's leases on ``keys`` (answered or failed: a waiting process then takes over)."""
        if not keys:
            return
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i: i + 500]
                marks = ",".join("?" * len(chunk))
                self._conn.execute(f"DELETE FROM leases WHERE owner = ? AND key IN ({marks})", [self.owner, *chunk])

    def peek_many(self, keys: list[str]) -> dict[str, Any]:
        """``get_many`` without counting hits and misses (polling for another process's answers)."""
        hits, misses = self.hits, self.misses
        try:
            return self.get_many(keys)
        finally:
            self.hits, self.misses = hits, misses

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.execute("DELETE FROM leases WHERE owner = ?", (self.owner,))
            except sqlite3.Error:
                pass
            self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _init_lock:
    """An exclusive ``flock`` on ``<cache>.init-lock`` while a connection creates or migrates the file."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".init-lock")
        self.fd: int | None = None

    def __enter__(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                return  # a read-only place: fall back on SQLite's own locking
            raise
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
