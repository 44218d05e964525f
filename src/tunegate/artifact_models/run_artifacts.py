"""What one run directory holds, as models: the stage artifacts the cost model and the verdict read, and every
evaluation run (``**/eval.json``) with the path that says what it is (a probe's run, the sprint's copy of its best
prompt, or a prompt evaluation)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tunegate.artifact_models.audit import AuditArtifact
from tunegate.artifact_models.base import validate_as
from tunegate.artifact_models.cost import CostArtifact
from tunegate.artifact_models.evalcheck import EvalCheckArtifact
from tunegate.artifact_models.probe import ProbeArtifact
from tunegate.artifact_models.sprint import SprintArtifact
from tunegate.artifacts import EvalArtifact
from tunegate.errors import InputError


@dataclass(frozen=True)
class EvalRun:
    """An ``eval.json`` and where it lies: the directory tells a prompt evaluation from a probe's run."""

    path: Path
    artifact: EvalArtifact


@dataclass
class RunArtifacts:
    """The inputs of ``tunegate cost`` and ``tunegate decide`` (None = that stage has not run here)."""

    evalcheck: EvalCheckArtifact | None = None
    audit: AuditArtifact | None = None
    sprint: SprintArtifact | None = None
    probe: ProbeArtifact | None = None
    cost: CostArtifact | None = None
    evals: list[EvalRun] = field(default_factory=list)


def load_eval(path: str | Path) -> EvalArtifact | None:
    """An ``eval.json`` validated by ``EvalArtifact`` (errors name the file and key); None when the file is some
    other tool's (its ``artifact`` key is not ``eval``)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable artifact: {exc}", file=p) from None
    if not isinstance(data, dict) or data.get("artifact") != "eval":
        return None
    return validate_as(EvalArtifact, data, source=p, what="eval.json")


def eval_runs(run_dir: str | Path) -> list[EvalRun]:
    """Every evaluation run under ``run_dir`` (any depth), in path order."""
    out = []
    for p in sorted(Path(run_dir).glob("**/eval.json")):
        art = load_eval(p)
        if art is not None:
            out.append(EvalRun(p, art))
    return out

