"""Errors a user can act on.

Every error tunegate raises for bad input names *where* the problem is (file, line or row, field), because
"invalid input" without a location costs the user an afternoon. The CLI prints ``str(error)`` on one line and
exits non-zero.
"""

from __future__ import annotations

from pathlib import Path


class TunegateError(Exception):
    """Base class for errors that are the user's to fix (bad spec, bad data, unreachable endpoint)."""


class InputError(TunegateError):
    """Bad input at a known place: ``file:line: field: message``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class SpecError(InputError):
    """The task spec (tunegate.yaml) is invalid; ``field`` is the dotted key path."""


class DataError(InputError):
    """A data file (examples, annotations, logs) holds a malformed row."""


class BackendError(TunegateError):
    """A model backend failed in a way retries could not fix (auth, unreachable, unsupported capability)."""


class CapabilityError(BackendError):
    """A strategy asked a backend for a capability it does not declare."""
