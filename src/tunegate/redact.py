"""One place that removes secrets from text bound for artifacts, logs and the terminal.

Why one place: a key leaked through the one path nobody redacted (a 200 answer without ``choices`` that echoed
the request headers) is leaked all the same. Every backend, the runner's ``results.jsonl``, the CLI's error
line and the monitor webhook pass text through ``redact`` before it is stored or printed.

What counts as a secret: the values of the environment variables a backend or webhook *names* (registered with
``register_secret_env``), any value registered directly, and the values of environment variables whose names
look secret (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*WEBHOOK*``). Error texts also lose
``Authorization``/``Bearer`` header values whatever they hold.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

MASK = "***"
MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|WEBHOOK|CREDENTIAL)", re.IGNORECASE)
_HEADER_VALUE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_AUTH_FIELD = re.compile(r"(?i)(['\"]?(?:authorization|api[-_]?key|x-api-key)['\"]?\s*[:=]\s*['\"]?)([^'\",}\s]{4,})")

_lock = threading.Lock()
_envs: set[str] = set()
_values: set[str] = set()


def register_secret_env(name: str | None) -> None:
    """Treat the value of environment variable ``name`` (read at redaction time) as a secret."""
    if name:
        with _lock:
            _envs.add(name)


def register_secret(value: str | None) -> None:
    """Treat ``value`` itself as a secret (e.g. extra header values)."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
        with _lock:
            _values.add(value)


_scan: tuple[Any, list[str]] = (None, [])


def _env_scan() -> list[str]:
    """Values of variables whose names look secret; rescanned when the set of variable names changes (the
    registered variables below are read on every call, so a key set after start-up is always masked)."""
    global _scan
    stamp = (len(os.environ), hash(tuple(os.environ)))  # names only: cheap enough per call
    if _scan[0] != stamp:
        _scan = (stamp, [k for k in os.environ if _SECRET_NAME.search(k)])
    return _scan[1]


def secrets() -> list[str]:
    """The current secret values, longest first (so a key that contains another is masked whole)."""
    with _lock:
        found = set(_values)
        names = set(_envs)
    names.update(_env_scan())
    for name in names:
        v = os.environ.get(name)
        if v and len(v) >= MIN_SECRET_CHARS:
            found.add(v)
    return sorted(found, key=len, reverse=True)


def redact(text: str | None, *, headers: bool = True, known: list[str] | None = None) -> str | None:
    """``text`` with every known secret replaced by ``***``; with ``headers``, also Authorization/Bearer values
    (error texts; model answers are left alone there, as a label may legitimately read "basic ...")."""
    if not text:
        return text
    for secret in secrets() if known is None else known:
        if secret in text:
            text = text.replace(secret, MASK)
    if headers:
        text = _HEADER_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)
        text = _AUTH_FIELD.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_excerpt(text: str, limit: int) -> str:
    """Redact first, then cut: cutting first could leave half a key behind, which no later pass recognises."""
    text = redact(text) or ""
    return text if len(text) <= limit else text[:limit] + "..."


def redact_obj(obj: Any, known: list[str] | None = None) -> Any:
    """Every string inside a JSON-like object redacted (values only; keys are the program's own)."""
    if known is None:
        known = secrets()
    if isinstance(obj, str):
        return redact(obj, headers=False, known=known)
    if isinstance(obj, dict):
        return {k: redact_obj(v, known) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v, known) for v in obj]
    return obj
