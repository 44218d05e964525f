"""``audit.json``: the data gate (``tunegate audit``; written by ``audit_stage.build_audit`` / ``audit_stage``)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, CheckResult, Loose

Gate = Literal["pass", "fail", "unknown"]


Name = str | int  # annotator names and item ids: as the data file gave them
Label = Any  # a gold label, or a JSON / text target for extraction and generation tasks


class Interval(Loose):
    low: float | None = None
    high: float | None = None
    confidence: float | None = 0.95


class AnnotatorAgreement(Loose):
    """One annotator against the majority."""

    annotator: Name | None = None
    n_labeled: int | None = None
    agreement_with_majority: float | None = None
    kappa_vs_majority: float | None = None


class PairAgreement(Loose):
    annotator_a: Name | None = None
    annotator_b: Name | None = None
    n_shared: int | None = None
    kappa: float | None = None
    agreement: float | None = None


class Agreement(Loose):
    """Krippendorff alpha with its bootstrap interval, plus the other agreement figures (kept as written)."""

    level: str | None = None
    krippendorff_alpha: float | None = None
    alpha_ci: Interval | None = None
    alpha_note: str | None = None
    fleiss_kappa: float | None = None
    n_items: int | None = None
    n_annotators: int | None = None
    n_ratings: int | None = None
    per_annotator: list[AnnotatorAgreement] = Field(default_factory=list)
    pairwise: list[PairAgreement] = Field(default_factory=list)
    per_class: dict[str, float | None] = Field(default_factory=dict)


class Aggregation(Loose):
    """How the labels were aggregated (majority vote or Dawid-Skene) and how many items people adjudicated."""

    method: str | None = None
    n_adjudicated: int | None = None
    mean_confidence: float | None = None
    accuracy_vs_gold: float | None = None
    n_gold: int | None = None


class Confusion(Loose):
    true: Label = None
    given: Label = None
    rate: float | None = None


class AnnotatorReliability(Loose):
    """One annotator's estimated accuracy (Dawid-Skene) and most frequent confusion."""

    annotator: Name | None = None
    n_labeled: int | None = None
    estimated_accuracy: float | None = None
    top_confusion: Confusion | None = None
    unreliable: bool | None = None


class QueueItem(Loose):
    """A contested item for people to adjudicate: the votes, the current label and why it is queued."""

    item_id: Name | None = None
    text: str | None = None
    votes: dict[str, Any] = Field(default_factory=dict)
    label: Label = None
    confidence: float | None = None
    reason: str | None = None


class FindingItem(Loose):
    id: Name | None = None
    split: str | None = None
    label: Label = None
    text: Any = None


class FindingRecord(Loose):
    """A pair or group of items behind one finding, with their texts."""

    items: list[FindingItem] = Field(default_factory=list)
    how: str | None = None
    similarity: float | None = None
    labels: list[Label] | None = None


class Findings(Loose):
    """Duplicates, conflicts or leakage: how many, and the items (with their texts in ``records``); exact and
    normalised duplicates are sub-blocks of ``duplicates``."""

    count: int = 0
    items: list[Any] = Field(default_factory=list)
    records: list[FindingRecord] = Field(default_factory=list)
    threshold: float | None = None
    exact: Findings | None = None
    normalized: Findings | None = None


class NoiseIssue(Loose):
    """An item whose label the out-of-fold probe doubts."""

    id: Name | None = None
    text: str | None = None
    given: Label = None
    suggested: Label = None
    self_confidence: float | None = None
    suggested_probability: float | None = None
    split: str | None = None


class Noise(Loose):
    estimated_noise_rate: float | None = None
    oof_accuracy: float | None = None
    n_issues: int | None = None
    issues: list[NoiseIssue] = Field(default_factory=list)
    note: str | None = None


class RepeatConflict(Loose):
    item_id: Name | None = None
    text: str | None = None
    annotator: Name | None = None
    labels: list[Label] = Field(default_factory=list)


class Repeats(Loose):
    """Items an annotator judged more than once, and the repeats that disagree."""

    rule: str | None = None
    n_repeated_pairs: int | None = None
    n_extra_judgments: int | None = None
    self_agreement: float | None = None
    conflicts: list[RepeatConflict] = Field(default_factory=list)


class LongTail(Loose):
    imbalance_ratio: float | None = None
    rare_classes: list[Any] | None = None


class Coverage(Loose):
    """Counts per class and split, per slice value and split, and the classes below the minimum."""

    per_class: dict[str, dict[str, int]] = Field(default_factory=dict)
    per_slice: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict)
    classes_below_min: list[Any] = Field(default_factory=list)
    required_slices: list[Any] = Field(default_factory=list)
    long_tail: LongTail | None = None


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
    aggregation: Aggregation | None = None
    annotators: list[AnnotatorReliability] = Field(default_factory=list)
    adjudication_queue: list[QueueItem] = Field(default_factory=list)
    repeated_judgments: Repeats | None = None
    duplicates: Findings = Field(default_factory=_empty)
    near_duplicates: Findings = Field(default_factory=_empty)
    near_conflicts: Findings = Field(default_factory=_empty)
    conflicts: Findings = Field(default_factory=_empty)
    leakage: Findings = Field(default_factory=_empty)
    gold: str = "label"  # what the gold is: "label", or for extraction / generation what a target is compared as
    noise: Noise | None = None
    coverage: Coverage | None = None
    quantity: Quantity | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    skipped_rows: list[dict[str, Any]] = Field(default_factory=list)
