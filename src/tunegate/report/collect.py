"""Find and read a run directory's artifacts, tolerating every one of them being absent or unreadable.

The report is rebuilt from artifacts alone (DESIGN.md §3), and stages run independently, so any artifact may be
missing, from an older schema, or half-written by a crashed tool. Reading never raises for one bad file: the
file is listed as unreadable and its section says "not measured", so one broken stage cannot hide the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Stage artifacts at the top of a run directory, in pipeline order, with the command that writes each.
STAGES: dict[str, str] = {
    "evalcheck": "tunegate check-eval",
    "audit": "tunegate audit",
    "sprint": "tunegate sprint",
    "probe": "tunegate probe",
    "cost": "tunegate cost",
    "verdict": "tunegate decide",
}
MAX_EVALS = 200  # a sprint may leave many eval.json files; the report lists at most this many
KNOWN_SCHEMA_VERSIONS = {None, 1}


@dataclass
class RunArtifacts:
    """What the report has to work with: parsed artifacts by stage name, eval runs, and what went wrong."""

    run_dir: Path
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    evals: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    n_evals_found: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # relative path -> reason

    def get(self, name: str) -> dict[str, Any] | None:
        return self.data.get(name)

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            return str(path)

    @property
    def empty(self) -> bool:
        return not self.data and not self.evals


def _read(path: Path, arts: RunArtifacts) -> dict[str, Any] | None:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        arts.unreadable[arts.rel(path)] = f"{type(exc).__name__}: {exc}"
        return None
    if not isinstance(obj, dict):
        arts.unreadable[arts.rel(path)] = f"expected a JSON object, found {type(obj).__name__}"
        return None
    return obj


def _declared_path(run_dir: Path, verdict: dict[str, Any] | None, name: str) -> Path | None:
    """Where verdict.json's ``inputs`` says an artifact came from, if that file exists."""
    inputs = verdict.get("inputs") if isinstance(verdict, dict) else None
    raw = inputs.get(name) if isinstance(inputs, dict) else None
    if not isinstance(raw, str) or not raw:
        return None
    p = Path(raw)
    for cand in ((p,) if p.is_absolute() else (run_dir / p, p)):
        if cand.is_file():
            return cand
    return None


def collect(run_dir: str | Path) -> RunArtifacts:
    """Read every known artifact under ``run_dir``; raises only when ``run_dir`` is not a directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    arts = RunArtifacts(run_dir=run_dir)
    order = ["verdict", *[s for s in STAGES if s != "verdict"]]  # verdict first: its inputs locate the others
    for name in order:
        path = run_dir / f"{name}.json"
        if not path.is_file():
            path = _declared_path(run_dir, arts.data.get("verdict"), name) or path
        if path.is_file():
            obj = _read(path, arts)
            if obj is not None:
                arts.data[name], arts.paths[name] = obj, path
    found = sorted(p for p in run_dir.rglob("eval.json")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(run_dir).parts))
    arts.n_evals_found = len(found)
    for p in found[:MAX_EVALS]:
        obj = _read(p, arts)
        if obj is not None:
            arts.evals.append((p, obj))
    return arts
