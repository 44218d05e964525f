"""``cost.json``: the 18-month economics (``tunegate cost``; written by ``decision_stages.cost_stage`` from
``cost.model.CostResult.to_dict``)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, Loose


class Summary(Loose):
    """A Monte Carlo distribution's summary (the TCO of one path)."""

    mean: float | None = None
    median: float | None = None
    p05: float | None = None
    p95: float | None = None


class PathTco(Summary):
    """One path's total cost of ownership, with its mean cost per component (inference, labeling, ...)."""

    breakdown: dict[str, float] = Field(default_factory=dict)


class NetValue(Summary):
    """Fine-tuning's expected net value over the horizon (TCO difference plus the value of quality)."""

    p_positive: float | None = None
    tco_difference_mean: float | None = None  # prompting's TCO minus fine-tuning's, mean over draws
    quality_value: Summary | float | None = None  # the value of the quality gain (None: not priced)
    quality_priced: bool | None = None


class Breakeven(Loose):
    """The monthly volume at which the expected TCOs are equal (None: no break-even), why, and the per-request
    inference cost of each path."""

    monthly_volume: float | None = None
    monthly_volume_with_quality_value: float | None = None
    reason: str | None = None
    cost_per_unit_monthly_volume: dict[str, float | None] | None = None  # per path: the TCO's slope in the volume
    fixed_cost: dict[str, float | None] | None = None  # per path: the TCO at zero volume
    inference_cost_per_1k_requests: dict[str, float | None] | None = None


class SensitivityRow(Loose):
    """One tornado bar: the input at its 10th (``low``) and 90th (``high``) percentile, the others at their means."""

    input: str | None = None
    distribution: str | None = None
    low: float | None = None
    high: float | None = None
    net_value_at_low: float | None = None
    net_value_at_high: float | None = None
    swing: float | None = None
    p_positive_at_low: float | None = None
    p_positive_at_high: float | None = None


class CostInput(Loose):
    """One cost-model input as it was drawn: its distribution in words, mean, 10th / 90th percentiles and where it
    came from (``default``, ``spec``, or ``caller``: measured by an earlier stage)."""

    distribution: str | None = None
    spec: Any = None  # the form the spec would write it in, e.g. {triangular: [1.5, 2, 2]}
    mean: float | None = None
    p10: float | None = None
    p90: float | None = None
    source: str | None = None


class Histogram(Loose):
    """Both paths' TCO draws counted on shared bins (``len(bin_edges) == len(counts) + 1``)."""

    bin_edges: list[float | None] | None = None
    prompting: list[int | None] | None = None
    fine_tuning: list[int | None] | None = None


class CostArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "cost.json"

    artifact: Literal["cost"] = "cost"
    currency: str = "USD"
    horizon_months: int
    n_draws: int
    seed: int = 0
    tco: dict[str, PathTco]
    p_finetune_cheaper: float | None = None
    expected_net_value_of_finetuning: NetValue | None = None
    breakeven_monthly_volume: float | None = None
    breakeven: Breakeven | None = None
    sensitivity: list[SensitivityRow] = Field(default_factory=list)
    inputs: dict[str, CostInput] = Field(default_factory=dict)
    distribution: Histogram | None = None
    caller_inputs: dict[str, Any] = Field(default_factory=dict)

    def path_tco(self, path: str) -> PathTco | None:
        """``prompting`` or ``fine_tuning``'s TCO, None when the cost model did not price that path."""
        return self.tco.get(path)
