"""``probe.json``: the fine-tune probe (``tunegate probe``; written by ``probe.stage``).

Two curve blocks are written today: ``curve`` (the full learning-curve analysis, its shape still moving) and
``learning_curve`` (the compact shape the verdict, cost model and report read: ``labels_needed`` as one number,
``None`` = unknown, with its band)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, ValidationError

from tunegate.artifact_models.base import ArtifactModel, Loose
from tunegate.artifact_models.base import Recorded

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


class ProbeItem(Loose):
    """One test item's prediction (older hand-written files say ``pred``)."""

    id: str | int | None = None
    prediction: Any = Field(None, validation_alias=AliasChoices("prediction", "pred"))


class ProbeResult(Recorded):
    """One probe on the test split; ``items`` (its per-item predictions, for the report's item viewer) only when
    the probe kind stores them (the embedding head does)."""

    OPTIONAL: ClassVar[frozenset[str] | None] = frozenset({"items"})

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
    items: list[ProbeItem] | None = None


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


class CurvePoint(Loose):
    """Mean test error at one training-set size, and the error of each seed (subset) behind it."""

    n: int | None = None
    error: float | None = None
    seeds: list[float | None] | None = None


class CurveFit(Loose):
    """The fitted ``error(n) = a + b·n^(-c)`` (the family and goodness of fit kept as written)."""

    a: float | None = None
    b: float | None = None
    c: float | None = None


class LearningCurve(Loose):
    points: list[CurvePoint] = Field(default_factory=list)
    fit: CurveFit | None = None
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


class ProbeArtifact(ArtifactModel, Recorded):
    FILENAME: ClassVar[str] = "probe.json"
    OPTIONAL: ClassVar[frozenset[str] | None] = frozenset({"metric"})

    artifact: Literal["probe"] = "probe"
    task: str = ""
    target: float | None = None
    best_prompt: str | None = None
    metric: str | None = None  # hand-written files may name the probes' metric here; the probes carry their own
    probes: list[ProbeResult] = Field(default_factory=list)
    closes_gap: ClosesGap = "unknown"
    curve: CurveAnalysis | None = None
    learning_curve: LearningCurve | None = None

    def legacy_predictions(self) -> list[ProbeItem]:
        """Per-item predictions written beside the probes (``items`` / ``predictions`` / ``test_predictions``: a
        list of ``{id, prediction}`` or an ``{id: prediction}`` map), as older hand-written files did."""
        extra = self.model_extra or {}
        raw = next((extra[k] for k in ("items", "predictions", "test_predictions") if extra.get(k) is not None), None)
        if isinstance(raw, dict):
            return [ProbeItem(id=str(k), prediction=v) for k, v in raw.items()]
        out = []
        for r in raw if isinstance(raw, list) else []:
            try:
                out.append(ProbeItem.model_validate(r))
            except ValidationError:  # an entry of another shape: not a prediction this reader knows
                continue
        return [p for p in out if "id" in p.model_fields_set]
