"""Find a run directory's artifacts and read each through its model, tolerating any of them being absent or bad.

The report is rebuilt from artifacts alone (DESIGN.md §3), and stages run independently, so any artifact may be
missing, from an older or newer schema, or half-written by a crashed tool. Each file is validated by its model
(``tunegate.artifact_models.ARTIFACTS``, ``EvalArtifact`` for ``eval.json``); reading never raises for one bad
file: it is listed as unreadable with the model's located message (file and dotted key), and its section says
"not measured", so one broken stage cannot hide the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tunegate.artifact_models import (
    ARTIFACTS,
    ArtifactModel,
    AuditArtifact,
    CostArtifact,
    EvalCheckArtifact,
    ProbeArtifact,
    SprintArtifact,
    VerdictArtifact,
)
from tunegate.artifact_models.verdict import VerdictInputs
from tunegate.artifacts import EvalArtifact
from tunegate.errors import InputError

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


@dataclass
class RunArtifacts:
    """What the report has to work with: validated artifacts by stage name, eval runs, and what went wrong."""

    run_dir: Path
    data: dict[str, ArtifactModel] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    evals: list[tuple[Path, EvalArtifact]] = field(default_factory=list)
    n_evals_found: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # relative path -> reason (file: key: message)
    failed: dict[str, str] = field(default_factory=dict)  # stage name -> the same reason, for its section

    def get(self, name: str) -> ArtifactModel | None:
        return self.data.get(name)

    # typed views, so a section reads fields its model declares
    @property
    def verdict(self) -> VerdictArtifact | None:
        return self.data.get("verdict")  # type: ignore[return-value]

    @property
    def evalcheck(self) -> EvalCheckArtifact | None:
        return self.data.get("evalcheck")  # type: ignore[return-value]

    @property
    def audit(self) -> AuditArtifact | None:
        return self.data.get("audit")  # type: ignore[return-value]

    @property
    def sprint(self) -> SprintArtifact | None:
        return self.data.get("sprint")  # type: ignore[return-value]

    @property
    def probe(self) -> ProbeArtifact | None:
        return self.data.get("probe")  # type: ignore[return-value]

    @property
    def cost(self) -> CostArtifact | None:
        return self.data.get("cost")  # type: ignore[return-value]

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            return str(path)

    @property
    def empty(self) -> bool:
        return not self.data and not self.evals


def given(model: BaseModel | None, *keys: str) -> Any:
    """The first of ``keys`` the file wrote (a field it set, or an extra key) with a value, else None: never a
    model's filled-in default, which the report must not show as if it had been recorded."""
    if model is None:
        return None
    extra = model.model_extra or {}
    for key in keys:
        value = getattr(model, key) if key in model.model_fields_set else extra.get(key)
        if value is not None:
            return value
    return None


def present(block: BaseModel | None) -> bool:
    """Whether the file wrote this block with anything in it (a model fills absent blocks with empty defaults)."""
    return block is not None and bool(block.model_fields_set or block.model_extra)


def validate(model: type[BaseModel], data: Any, source: str) -> Any:
    """``model`` from ``data``; an ``InputError`` naming ``source`` and the dotted key (as ``ArtifactModel.from_dict``
    does, for ``EvalArtifact`` too, which is not an ``ArtifactModel``)."""
    if issubclass(model, ArtifactModel):
        return model.from_dict(data, source=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"not a valid {Path(source).name}: {e['msg']}{more}", file=source,
                         field=".".join(str(p) for p in e["loc"]) or None) from None


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


def _load(model: type[BaseModel], path: Path, arts: RunArtifacts) -> tuple[Any, dict[str, Any] | None]:
    """(validated model or None, the raw object or None); a failure is recorded in ``arts.unreadable``."""
    obj = _read(path, arts)
    if obj is None:
        return None, None
    try:
        return validate(model, obj, arts.rel(path)), obj
    except InputError as exc:
        arts.unreadable[arts.rel(path)] = str(exc)
        return None, obj


def _declared_path(run_dir: Path, inputs: VerdictInputs | None, name: str) -> Path | None:
    """Where verdict.json's ``inputs`` says an artifact came from, if that file exists."""
    raw = getattr(inputs, name, None) if inputs is not None else None
    if not isinstance(raw, str) or not raw:
        return None
    p = Path(raw)
    for cand in ((p,) if p.is_absolute() else (run_dir / p, p)):
        if cand.is_file():
            return cand
    return None


def _verdict_inputs(verdict: VerdictArtifact | None, raw: dict[str, Any] | None) -> VerdictInputs | None:
    """The verdict's ``inputs``; from the raw file when the verdict itself failed validation (the other artifacts
    can still be found)."""
    if verdict is not None:
        return verdict.inputs
    try:
        return VerdictInputs.model_validate(raw["inputs"]) if raw is not None and "inputs" in raw else None
    except ValidationError:
        return None


def collect(run_dir: str | Path) -> RunArtifacts:
    """Read every known artifact under ``run_dir``; raises only when ``run_dir`` is not a directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    arts = RunArtifacts(run_dir=run_dir)
    inputs: VerdictInputs | None = None
    order = ["verdict", *[s for s in STAGES if s != "verdict"]]  # verdict first: its inputs locate the others
    for name in order:
        path = run_dir / f"{name}.json"
        if not path.is_file():
            path = _declared_path(run_dir, inputs, name) or path
        if not path.is_file():
            continue
        n_bad = len(arts.unreadable)
        art, raw = _load(ARTIFACTS[name], path, arts)
        if art is not None:
            arts.data[name], arts.paths[name] = art, path
        elif len(arts.unreadable) > n_bad:
            arts.failed[name] = arts.unreadable[arts.rel(path)]
        if name == "verdict":
            inputs = _verdict_inputs(art, raw)
    found = sorted(p for p in run_dir.rglob("eval.json")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(run_dir).parts))
    arts.n_evals_found = len(found)
    for p in found[:MAX_EVALS]:
        ev, _ = _load(EvalArtifact, p, arts)
        if ev is not None:
            arts.evals.append((p, ev))
    return arts
