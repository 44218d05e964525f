"""``pipeline.json``: the manifest of ``tunegate run`` (written by ``pipeline.run_pipeline``): per stage its
status, seconds, input hash (unchanged = skipped next time) and the numbers it printed."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, Loose


class StageEntry(Loose):
    status: str
    input_hash: str | None = None
    seconds: float | None = None
    finished: str | None = None
    skipped: bool = False
    usage: dict[str, Any] | None = None


class PipelineArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "pipeline.json"

    artifact: Literal["pipeline"] = "pipeline"
    task: str = ""
    profile: str
    model: str | None = None
    config_hash: str | None = None
    stages: dict[str, StageEntry] = Field(default_factory=dict)
    stages_run: list[str] = Field(default_factory=list, description="The stages the last `run` ran or found "
                                  "unchanged, in pipeline order (plug-in stages included).")
    usage_by_stage_and_role: dict[str, Any] = Field(default_factory=dict)
