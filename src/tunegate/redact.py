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
_version = 0  # bumped by every registration: the cached secret list below is then rebuilt


def register_secret_env(name: str | None) -> None:
    """Treat the value of environment variable ``name`` (read at redaction time) as a secret."""
    global _version
    if name:
        with _lock:
            if name not in _envs:
                _envs.add(name)
                _version += 1


def register_secret(value: str | None) -> None:
    """Treat ``value`` itself as a secret (e.g. extra header values)."""
    global _version
    if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
        with _lock:
            if value not in _values:
                _values.add(value)
                _version += 1


_scan: tuple[Any, list[str]] = (None, [])
# (registrations version, env-name stamp, values of the secret variables) -> the sorted secret list
_cached: tuple[Any, list[str]] = (None, [])


def _env_stamp() -> Any:
    """Changes when a variable is added or removed. The raw (bytes) name table when the platform has one:
    hashing it skips decoding every name, which was most of the cost of a call."""
    data = getattr(os.environ, "_data", None)
    names = tuple(data) if isinstance(data, dict) else tuple(os.environ)
    return len(names), hash(names)


def _env_scan(stamp: Any) -> list[str]:
    """Names of variables that look secret; rescanned only when the set of variable names changes."""
    global _scan
    if _scan[0] != stamp:
        _scan = (stamp, [k for k in os.environ if _SECRET_NAME.search(k)])
    return _scan[1]


def secrets() -> list[str]:
    """The current secret values, longest first (so a key that contains another is masked whole).

    Called twice per model call (the answer, then the results line), so the list is cached: it is rebuilt when
    a secret is registered, a variable is added or removed, or the value of any secret variable changes (the
    values are re-read on every call, so a key set after start-up is always masked)."""
    global _cached
    stamp = _env_stamp()
    with _lock:
        version = _version
        names = _envs.union(_env_scan(stamp))
        found = set(_values)
    current = tuple(sorted((n, os.environ.get(n)) for n in names))
    key = (version, stamp, current)
    cached = _cached
    if cached[0] == key:
        return cached[1]
    for _, v in current:
        if v and len(v) >= MIN_SECRET_CHARS:
            found.add(v)
    result = sorted(found, key=len, reverse=True)
    _cached = (key, result)
    return result


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
