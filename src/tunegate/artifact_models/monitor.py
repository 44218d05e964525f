"""``monitor.json``: a monitoring run (``tunegate monitor``; written by ``monitor.stage``): the drift and
performance tests, Holm-corrected together, and the windows they compared."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, Loose


class MonitorTest(Loose):
    name: str
    kind: str | None = None
    statistic: Any = None
    p_value: float | None = None
    p_adjusted: float | None = None
    threshold: Any = None
    status: str
    detail: str = ""
    n_reference: int | None = None
    n_current: int | None = None


class MonitorArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "monitor.json"

    artifact: Literal["monitor"] = "monitor"
    task: str | None = None
    model: str | None = None
    status: Literal["ok", "alert"]
    alerts: list[str] = Field(default_factory=list)
    tests: list[MonitorTest] = Field(default_factory=list)
    not_run: list[dict[str, Any]] = Field(default_factory=list)
    performance: dict[str, Any] | None = None
    seconds: dict[str, Any] = Field(default_factory=dict)
    multiple_testing: dict[str, Any] = Field(default_factory=dict)
    reference: dict[str, Any] = Field(default_factory=dict)
    current: dict[str, Any] = Field(default_factory=dict)
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    webhook: dict[str, Any] | None = None
