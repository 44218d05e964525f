"""Checks that run before a command spends anything: model-free spec checks and the run-directory lock.

Kept apart from cli.py (a thin parse-call-print layer) because they also wrap commands that other modules
register (``sprint``, ``monitor``): those get the same guarantees as ``eval`` without their modules knowing.
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from typing import Any

import typer

from tunegate.cli_output import fail
from tunegate.errors import TunegateError


def preflight(spec: Any, **kw: Any) -> None:
    """Model-free checks before the first paid call (tunegate.evals.preflight); TunegateError on a problem."""
    from tunegate.evals.preflight import preflight as run_checks

    if spec.data is not None:
        run_checks(spec, **kw)


def _guard(app: typer.Typer, name: str, check: Any) -> None:
    """Wrap a registered command: ``check(kwargs)`` runs first (bad flag combinations, model-free spec checks),
    then its ``--out`` directory is held for the run (tunegate.runlock)."""
    for info in app.registered_commands:
        if info.name == name and info.callback is not None:
            original = info.callback

            @functools.wraps(original)
            def guarded(*args: Any, __original: Any = original, __name: str = name, **kwargs: Any) -> Any:
                from tunegate.runlock import run_lock

                try:
                    check(kwargs)
                    out_dir = kwargs.get("out_dir")
                    held = run_lock(out_dir, command=__name) if out_dir else nullcontext()
                    held.__enter__()
                except TunegateError as exc:
                    fail(str(exc))
                try:
                    return __original(*args, **kwargs)
                finally:
                    held.__exit__(None, None, None)

            info.callback = guarded


def _sprint_check(kw: dict[str, Any]) -> None:
    from tunegate.spec import load_spec

    if kw.get("config") is not None:
        preflight(load_spec(kw["config"]))


def _monitor_check(kw: dict[str, Any]) -> None:
    if kw.get("history") and (kw.get("log") or kw.get("reference") or kw.get("current")):
        raise TunegateError("--history shows the stored history and reads no log: drop --log / --reference / "
                            "--current, or drop --history")


def guard_commands(app: typer.Typer) -> None:
    """Install the guards on the commands other modules registered."""
    _guard(app, "sprint", _sprint_check)
    _guard(app, "monitor", _monitor_check)
