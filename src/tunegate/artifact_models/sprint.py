"""``sprint.json``: the prompting gate (``tunegate sprint``; written by ``sprint.stage``).

``best`` is always an object here (the verdict also accepted a bare name from hand-built fixtures): the best
finalist's name, its test value and interval, chosen on dev."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field

from tunegate.artifact_models.base import ArtifactModel, Loose, Recorded


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
    # spend per 1,000 test requests; files from before the rename say cost_per_1k
    cost_per_1000: float | None = Field(None, validation_alias=AliasChoices("cost_per_1000", "cost_per_1k"))
    baseline: bool = False  # the zero-shot baseline (it is on test even when it is not a finalist)


class SprintBaseline(SprintCandidate, Recorded):
    """``baseline``: the zero-shot baseline's test record when it is not a finalist, else ``{name, is_finalist}``
    pointing at the finalist (hand-built files may give neither, so the name is optional too)."""

    name: str | None = None  # type: ignore[assignment]
    is_finalist: bool | None = None

    @property
    def measured(self) -> bool:
        """Whether this block holds the baseline's own test value (not just a pointer to a finalist)."""
        return "value" in self.model_fields_set


class SprintComparison(Recorded):
    """A paired comparison on the same test items (``b - a``), Holm-adjusted across the sprint's comparisons."""

    OPTIONAL: ClassVar[frozenset[str] | None] = frozenset({"b01", "b10", "p_midp"})  # McNemar's only

    comparison: str | None = None  # best_vs_baseline | best_vs_runner_up
    a: str | None = None
    b: str | None = None
    metric: str | None = None
    n: int | None = None
    value_a: float | None = None
    value_b: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None
    test: str | None = None  # mcnemar_exact or sign_flip_permutation
    b01: int | None = None  # discordant pairs: a wrong and b right, and the reverse
    b10: int | None = None
    p_midp: float | None = None
    p_holm: float | None = None
    significant: bool | None = None


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
    baseline: SprintBaseline = Field(default_factory=SprintBaseline)
    tried: list[dict[str, Any]] = Field(default_factory=list)
    rounds: list[dict[str, Any]] = Field(default_factory=list)
    stopped_by_budget: bool = False
    selection: dict[str, Any] = Field(default_factory=dict)
    comparisons: list[SprintComparison] = Field(default_factory=list)
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

    def comparison(self, what: str) -> SprintComparison | None:
        """The comparison named ``what`` (``best_vs_baseline``, ``best_vs_runner_up``), None when not run."""
        return next((c for c in self.comparisons if c.comparison == what), None)
