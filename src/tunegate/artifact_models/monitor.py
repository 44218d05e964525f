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
    message: str | None = None  # what changed, in words (monitor.explain)
    examples: list[Any] = Field(default_factory=list)  # categories whose share moved most, or bins: {bin, contribution}
    reference_summary: dict[str, Any] | None = None  # a numeric column's summary per window (n, mean, sd, p5, …)
    current_summary: dict[str, Any] | None = None


class Window(Loose):
    """One side of the comparison: where its rows came from and how many."""

    source: str | None = None
    n_rows: int | None = None
    first_line: int | None = None
    last_line: int | None = None
    start: str | None = None
    end: str | None = None
    model_versions: dict[str, int] = Field(default_factory=dict)


class MultipleTesting(Loose):
    """Holm across every p-value test: the family-wise error rate and how many tests share it."""

    method: str | None = None
    alpha: float | None = None
    family_size: int | None = None
    note: str | None = None


class NotRun(Loose):
    name: str | None = None
    reason: str | None = None


class MonitorArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "monitor.json"

    artifact: Literal["monitor"] = "monitor"
    task: str | None = None
    model: str | None = None
    status: Literal["ok", "alert"]
    alerts: list[str] = Field(default_factory=list)
    messages: list[Any] = Field(default_factory=list)  # what changed, in words: one line per changed column
    tests: list[MonitorTest] = Field(default_factory=list)
    not_run: list[NotRun] = Field(default_factory=list)
    performance: dict[str, Any] | None = None
    seconds: dict[str, Any] = Field(default_factory=dict)
    multiple_testing: MultipleTesting = Field(default_factory=MultipleTesting)
    reference: Window | None = None
    current: Window | None = None
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    webhook: dict[str, Any] | None = None
