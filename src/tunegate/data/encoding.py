"""Turn a UTF-8 decoding failure into an error that names the file, line and column.

Why: a latin-1 export or a binary file passed by mistake otherwise surfaces as a ``UnicodeDecodeError``
traceback with a byte offset nobody can act on. The readers stream text, so the failure carries no line; this
module re-reads the raw bytes once, only on failure, to find the first line that is not UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from tunegate.errors import DataError

T = TypeVar("T")


def decode_error(path: str | Path, exc: UnicodeDecodeError | None = None) -> DataError:
    """A DataError for the first undecodable line of ``path`` (a NUL byte marks it as binary)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        return DataError(f"unreadable file: {err.strerror or err}", file=p)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            binary = b"\x00" in raw[:8192]
            what = ("this looks like a binary file, not text" if binary else
                    "the file is not UTF-8 (a latin-1 / Windows-1252 export?); re-save it as UTF-8")
            return DataError(f"byte 0x{line[err.start]:02x} at column {err.start + 1} cannot be decoded: {what}",
                             file=p, line=lineno)
    reason = exc.reason if exc is not None else "invalid UTF-8"
    return DataError(f"the file is not valid UTF-8 ({reason}); re-save it as UTF-8", file=p)


def utf8_guard(path: str | Path, rows: Iterator[T]) -> Iterator[T]:
    """Yield from ``rows``; a UnicodeDecodeError on the way becomes ``decode_error(path)``."""
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise decode_error(path, exc) from None
