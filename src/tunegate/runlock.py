"""One writer per run directory.

Why: two runs writing into the same ``--out`` interleave their lines in ``results.jsonl`` and each writes an
``eval.json`` that describes only its own half, both exiting 0. A run takes an exclusive, non-blocking
``flock`` on ``<dir>/.tunegate.lock`` for as long as it writes; a second run refuses at once with a message
naming the directory and the holder. The kernel drops the lock when the process dies (even with kill -9), so
a stale lock file never blocks anyone. Re-entrant within a process: ``tunegate run`` holds its directory and
the stages it calls (``run_eval`` into the same directory) take the lock again without deadlocking.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tunegate.errors import InputError

LOCK_NAME = ".tunegate.lock"

_held: dict[str, tuple[int, int]] = {}  # resolved dir -> (fd, depth) for this process
_mutex = threading.Lock()


class RunDirBusy(InputError):
    """Another process is writing into this run directory."""


def prepare_dir(path: str | Path, *, flag: str = "--out") -> Path:
    """Create the run directory, or raise InputError when the path is a file or cannot be created."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError("is a file, not a directory: give a run directory", file=p, field=flag)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError("a parent of this path is a file, not a directory", file=p, field=flag) from None
    except PermissionError:
        raise InputError("permission denied creating the run directory", file=p, field=flag) from None
    return p


@contextmanager
def run_lock(path: str | Path, *, command: str = "tunegate", flag: str = "--out") -> Iterator[Path]:
    """Hold the run directory ``path`` (created if missing) for the duration; RunDirBusy if another process
    holds it."""
    p = prepare_dir(path, flag=flag)
    key = str(p.resolve())
    with _mutex:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if not reentered:
        lock_file = p / LOCK_NAME
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunDirBusy(
                f"another tunegate process ({holder}) is writing into this run directory; wait for it to finish "
                "or give a different --out", file=p, field=flag) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode())
        with _mutex:
            _held[key] = (fd, 1)
    try:
        yield p
    finally:
        with _mutex:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"{info.get('command', 'tunegate')}, pid {info.get('pid', '?')} on {info.get('host', '?')}"
    except (OSError, ValueError):
        return "unknown holder"
