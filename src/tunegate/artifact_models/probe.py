"""``probe.json``: the fine-tune probe (``tunegate probe``; written by ``probe.stage``).

Two curve blocks are written today: ``curve`` (the full learning-curve analysis, its shape still moving) and
``learning_curve`` (the compact shape the verdict, cost model and report read: ``labels_needed`` as one number,
``None`` = unknown, with its band)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, Loose

ClosesGap = Literal["yes", "no", "unknown"]


class Comparison(Loose):
    """The probe against the best prompt on shared test items: paired-bootstrap CI and the exact paired test."""

    n_shared: int | None = None
    prompt_value: float | None = None
    probe_value: float | None = None
    diff: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    test: dict[str, Any] | None = None
    significant: bool | None = None
    mcnemar_p: float | None = None
    primary_scorer: str | None = None


class ProbeResult(Loose):
    kind: str
    metric: str | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    train_examples: int | None = None
    comparison: Comparison | None = None
    closes_gap: ClosesGap = "unknown"
    diff_ci_low: float | None = None


class LearningCurve(Loose):
    points: list[dict[str, Any]] = Field(default_factory=list)
    fit: Any = None
    labels_needed: float | None = None
    labels_needed_band: dict[str, Any] | None = None
    flags: list[Any] = Field(default_factory=list)
    status: str | None = None
    target_error: float | None = None


class ProbeArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "probe.json"

    artifact: Literal["probe"] = "probe"
    task: str = ""
    target: float | None = None
    best_prompt: str | None = None
    probes: list[ProbeResult] = Field(default_factory=list)
    closes_gap: ClosesGap = "unknown"
    curve: dict[str, Any] | None = None
    learning_curve: LearningCurve | None = None
