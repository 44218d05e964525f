"""``audit.json``: the data gate (``tunegate audit``; written by ``audit_stage.build_audit`` / ``audit_stage``)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, CheckResult, Loose

Gate = Literal["pass", "fail", "unknown"]


class Interval(Loose):
    low: float | None = None
    high: float | None = None


class Agreement(Loose):
    """Krippendorff alpha with its bootstrap interval, plus the other agreement figures (kept as written)."""

    level: str | None = None
    krippendorff_alpha: float | None = None
    alpha_ci: Interval | None = None
    n_items: int | None = None


class Findings(Loose):
    """Duplicates, conflicts or leakage: how many, and the items (with their texts in ``details``)."""

    count: int = 0
    items: list[Any] = Field(default_factory=list)


class Noise(Loose):
    estimated_noise_rate: float | None = None
    oof_accuracy: float | None = None
    n_issues: int | None = None
    issues: list[dict[str, Any]] = Field(default_factory=list)


class Quantity(Loose):
    """Labels on hand per class (train split) and, once the probe ran, the labels its learning curve needs."""

    min_per_class: int | None = None
    train_per_class: dict[str, int] = Field(default_factory=dict)
    n_train: int | None = None
    labels_needed_from_probe: Any = None
    note: str | None = None


def _empty() -> Findings:
    return Findings()


class AuditArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "audit.json"

    artifact: Literal["audit"] = "audit"
    gate: Gate
    task: str = ""
    reasons: list[str] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    agreement: Agreement | None = None
    aggregation: dict[str, Any] | None = None
    annotators: list[dict[str, Any]] = Field(default_factory=list)
    adjudication_queue: list[dict[str, Any]] = Field(default_factory=list)
    duplicates: Findings = Field(default_factory=_empty)
    near_duplicates: Findings = Field(default_factory=_empty)
    near_conflicts: Findings = Field(default_factory=_empty)
    conflicts: Findings = Field(default_factory=_empty)
    leakage: Findings = Field(default_factory=_empty)
    noise: Noise | None = None
    coverage: dict[str, Any] | None = None
    quantity: Quantity | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    skipped_rows: list[dict[str, Any]] = Field(default_factory=list)
