"""One mapping from errors to exit codes, applied to every command when cli/main.py registers it.

Commands raise (tunegate.errors, library ``ValueError``, ``fail``) and return; they never catch to print. So a
user meets the same ending everywhere: one ``error:`` line on stderr naming the file, line and key, the same exit
code for the same kind of failure, and with ``--json`` a JSON error object on stdout instead of a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer

from tunegate.cli.output import err, escape, warn
from tunegate.errors import TunegateError
from tunegate.status import exit_code

EXIT_BAD_INPUT = 2  # gates exit 0 / 3 / 4: tunegate.status.EXIT_CODES
EXIT_FAILED_CALLS = 5  # the run finished, but too many model calls failed for its numbers to stand
EXIT_INTERRUPTED = 130

INTERRUPTED = "interrupted. Finished model calls are cached: run the same command again to resume."

F = TypeVar("F", bound=Callable[..., Any])


class CommandError(Exception):
    """A user-fixable problem found by the command layer itself (a bad flag combination)."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Stop the command with ``message``; the command_errors wrapper prints it and exits ``code``."""
    raise CommandError(message, code)


def exit_for_gate(gate: str) -> NoReturn:
    """End a gate command: 0 pass (met, ok), 3 fail (gap, alert), 4 unknown."""
    try:
        code = exit_code(gate)
    except ValueError as exc:
        raise TunegateError(f"gate: {exc}") from None
    raise typer.Exit(code)


def renamed(value: Any, old_value: Any, old: str, new: str, *, quiet: bool = False, default: Any = None) -> Any:
    """The value of ``new``, or of its deprecated spelling ``old`` (with a warning); both given is an error."""
    if old_value is None or old_value == default:
        return value
    if value is not None and value != default:
        fail(f"give {new} or its old spelling {old}, not both")
    warn(f"{old} is deprecated here; use {new}", quiet)
    return old_value


def on_interrupt(message: str) -> Callable[[F], F]:
    """Mark a command with the line to print when the user interrupts it (how to resume)."""
    def mark(fn: F) -> F:
        fn.interrupted_message = message  # type: ignore[attr-defined]
        return fn
    return mark


def _exit_code(exc: TunegateError) -> int:
    from tunegate.evals.runner import FailedCallsError

    if isinstance(exc, FailedCallsError):
        return EXIT_FAILED_CALLS
    return int(getattr(exc, "exit_code", EXIT_BAD_INPUT))  # BackendError: its own code where it sets one


def _end(message: str, code: int, as_json: bool, result: Any = None) -> NoReturn:
    from tunegate.redact import redact

    text = redact(message) or ""
    err.print(f"[bold red]error:[/] {escape(text)}", soft_wrap=True)
    if as_json:
        doc: dict[str, Any] = {"error": text, "exit_code": code}
        if result is not None:  # e.g. the eval artifact written before too many calls failed
            doc["result"] = json.loads(result.model_dump_json()) if hasattr(result, "model_dump_json") else result
        sys.stdout.write(json.dumps(doc, default=str) + "\n")
    raise typer.Exit(code)


def command_errors(fn: F) -> F:
    """Run a command and map what it raises to its exit code (docs/cli.md has the table)."""
    if getattr(fn, "command_errors", False):
        return fn

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except CommandError as exc:
            _end(str(exc), exc.code, as_json)
        except TunegateError as exc:
            _end(str(exc), _exit_code(exc), as_json, getattr(exc, "artifact", None))
        except ValueError as exc:  # the library refuses impossible input (e.g. no item rated twice)
            _end(str(exc), EXIT_BAD_INPUT, as_json)
        except KeyboardInterrupt:
            _end(getattr(fn, "interrupted_message", INTERRUPTED), EXIT_INTERRUPTED, as_json)

    run.command_errors = True  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]
