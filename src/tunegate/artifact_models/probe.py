"""``probe.json``: the fine-tune probe (``tunegate probe``; written by ``probe.stage``).

Two curve blocks are written today: ``curve`` (the full learning-curve analysis, its shape still moving) and
``learning_curve`` (the compact shape the verdict, cost model and report read: ``labels_needed`` as one number,
``None`` = unknown, with its band)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, Loose

ClosesGap = Literal["yes", "no", "unknown"]


class PairedTest(Loose):
    """The exact paired test of the per-item scores (McNemar for 0/1, sign-flip otherwise)."""

    method: str | None = None
    pvalue: float | None = None
    n: int | None = None


class Comparison(Loose):
    """The probe against the best prompt on shared test items: paired-bootstrap CI and the exact paired test."""

    n_shared: int | None = None
    prompt_value: float | None = None
    probe_value: float | None = None
    diff: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    test: PairedTest | None = None
    significant: bool | None = None
    mcnemar_p: float | None = None
    primary_scorer: str | None = None


class ProbeResult(Loose):
    kind: str
    name: str | None = None
    metric: str | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    train_examples: int | None = None
    comparison: Comparison | None = None
    closes_gap: ClosesGap = "unknown"
    diff_ci_low: float | None = None


class LabelsNeeded(Loose):
    """Labels needed for the target (the whole count, labels on hand included) with its band; ``status`` ok,
    unreachable (more labels of this kind are not predicted to reach it), or why it is unknown."""

    value: int | None = None
    low: int | None = None
    high: int | None = None
    times_largest: float | None = None
    status: str | None = None
    reason: str | None = None
    band_level: float | None = None
    n_train: int | None = None


class LearningCurve(Loose):
    points: list[dict[str, Any]] = Field(default_factory=list)
    fit: Any = None
    labels_needed: int | None = None
    labels_needed_band: LabelsNeeded | None = None
    flags: list[Any] = Field(default_factory=list)
    status: str | None = None
    target_error: float | None = None

    def needed(self) -> LabelsNeeded | None:
        """The band when the probe wrote one, else the bare estimate as an ``ok`` point, else None (unknown)."""
        if self.labels_needed_band is not None:
            return self.labels_needed_band
        return None if self.labels_needed is None else LabelsNeeded(value=self.labels_needed, status="ok")


class CurveAnalysis(Loose):
    """The full learning-curve analysis (``probe.curve``); its other keys are still moving and kept as written."""

    status: str | None = None
    n_train: int | None = None
    labels_needed: LabelsNeeded | None = None


class ProbeArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "probe.json"

    artifact: Literal["probe"] = "probe"
    task: str = ""
    target: float | None = None
    best_prompt: str | None = None
    probes: list[ProbeResult] = Field(default_factory=list)
    closes_gap: ClosesGap = "unknown"
    curve: CurveAnalysis | None = None
    learning_curve: LearningCurve | None = None
