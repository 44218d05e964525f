"""``sprint.json``: the prompting gate (``tunegate sprint``; written by ``sprint.stage``).

``best`` is always an object here (the verdict also accepted a bare name from hand-built fixtures): the best
finalist's name, its test value and interval, chosen on dev."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, Loose


class SprintBest(Loose):
    candidate: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    selected_on: str = "dev"


class SprintCandidate(Loose):
    """A candidate measured on test (finalists, and the baseline when it is not one): its description, value,
    interval, counts, cost and latency per request, slices."""

    name: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    model: str | None = None
    method: str | None = None
    strategy: str | None = None


class Gap(Loose):
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class SprintArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "sprint.json"

    artifact: Literal["sprint"] = "sprint"
    task: str = ""
    metric: str
    primary_scorer: str | None = None
    target: float | None = None
    mode: str = "racing"
    seed: int = 0
    best: SprintBest
    candidates: list[SprintCandidate] = Field(default_factory=list)
    finalists: list[str] = Field(default_factory=list)
    baseline: dict[str, Any] = Field(default_factory=dict)
    tried: list[dict[str, Any]] = Field(default_factory=list)
    rounds: list[dict[str, Any]] = Field(default_factory=list)
    stopped_by_budget: bool = False
    selection: dict[str, Any] = Field(default_factory=dict)
    comparisons: list[dict[str, Any]] = Field(default_factory=list)
    slices: dict[str, Any] = Field(default_factory=dict)
    gap: Gap | None = None
    gate: Literal["met", "gap", "unknown"]
    gate_rule: str | None = None
    gate_reason: str | None = None
    more_items_needed: int | None = None
    calls_used: int = 0
    calls_selection: int = 0
    calls_test: int = 0
    calls_full_grid: int | None = None
    calls_full_grid_exact: bool = False
    calls_saved_share: float | None = None
    budget_calls: int | None = None
    split_sizes: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    usage_by_role: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    seconds: float | None = None

    def best_candidate(self) -> SprintCandidate | None:
        """The best finalist's full record (the verdict's "best prompt" when a sprint ran)."""
        return next((c for c in self.candidates if c.name == self.best.candidate), None)
