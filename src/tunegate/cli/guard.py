"""Checks before a command spends anything: the model-free spec checks and the run-directory lock.

Commands call these themselves, at the top (no wrapping of registered callbacks), so reading a command shows
every check it makes.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any


def preflight(spec: Any, **kw: Any) -> Any:
    """Model-free checks before the first paid call (tunegate.evals.preflight); TunegateError on a problem.

    Returns what the checks loaded (a ``Preflight``: the examples among it), so a command need not load them
    again; None for a spec without data."""
    from tunegate.evals.preflight import preflight as run_checks

    if spec.data is None:
        return None
    return run_checks(spec, **kw)


def holding(out_dir: Path | None, command: str) -> AbstractContextManager[Any]:
    """Hold ``--out`` for the run (tunegate.runlock: a second writer refuses, naming the holder)."""
    if out_dir is None:
        return nullcontext()
    from tunegate.runlock import run_lock

    return run_lock(out_dir, command=command)
