"""Typed artifacts: one pydantic model per stage artifact, shared by the stage that writes it and the stages and
report that read it.

``ARTIFACTS`` maps each name (the ``artifact`` field, and ``tunegate schema --artifact NAME``) to its model;
``load_artifact(path)`` picks the model from the file's ``artifact`` key or its name. This package imports no stage
module (only ``tunegate.artifacts`` and ``tunegate.errors``), so every stage and reader can import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.artifact_models.audit import AuditArtifact
from tunegate.artifact_models.base import ArtifactModel, CheckResult, RunBlock
from tunegate.artifact_models.cost import CostArtifact
from tunegate.artifact_models.evalcheck import EvalCheckArtifact
from tunegate.artifact_models.monitor import MonitorArtifact
from tunegate.artifact_models.pipeline import PipelineArtifact
from tunegate.artifact_models.probe import ProbeArtifact
from tunegate.artifact_models.run_artifacts import EvalRun, RunArtifacts, eval_runs, load_eval
from tunegate.artifact_models.sprint import SprintArtifact
from tunegate.artifact_models.verdict import VerdictArtifact
from tunegate.errors import InputError

ARTIFACTS: dict[str, type[ArtifactModel]] = {
    "evalcheck": EvalCheckArtifact, "audit": AuditArtifact, "sprint": SprintArtifact, "probe": ProbeArtifact,
    "cost": CostArtifact, "verdict": VerdictArtifact, "pipeline": PipelineArtifact, "monitor": MonitorArtifact,
}

__all__ = [
    "ARTIFACTS", "ArtifactModel", "AuditArtifact", "CheckResult", "CostArtifact", "EvalCheckArtifact", "EvalRun",
    "MonitorArtifact", "PipelineArtifact", "ProbeArtifact", "RunArtifacts", "RunBlock", "SprintArtifact",
    "VerdictArtifact", "artifact_schema", "eval_runs", "load_artifact", "load_eval", "model_for",
]


def model_for(name: str) -> type[ArtifactModel]:
    """The model of artifact ``name``; an unknown name is an error listing the known ones."""
    try:
        return ARTIFACTS[name]
    except KeyError:
        raise InputError(f"unknown artifact '{name}' (artifacts: {', '.join(ARTIFACTS)})",
                         field="--artifact") from None


def artifact_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one artifact (``tunegate schema --artifact NAME``)."""
    schema = model_for(name).model_json_schema()
    schema["$id"] = f"tunegate:{name}.json"
    return schema


def load_artifact(path: str | Path) -> ArtifactModel:
    """Read any artifact file, validated by the model its ``artifact`` key (or its file name) names."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable artifact: {exc}", file=p) from None
    declared = data.get("artifact") if isinstance(data, dict) else None
    name = declared if declared in ARTIFACTS else p.stem
    if name not in ARTIFACTS:
        raise InputError(f"not a tunegate stage artifact (artifact: {declared!r}; known: {', '.join(ARTIFACTS)})",
                         file=p, field="artifact")
    return ARTIFACTS[name].from_dict(data, source=p)
