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
    quality_priced: bool | None = None


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
    breakeven: dict[str, Any] | None = None
    sensitivity: list[dict[str, Any]] = Field(default_factory=list)
    inputs: dict[str, Any] = Field(default_factory=dict)
    distribution: dict[str, Any] | None = None
    caller_inputs: dict[str, Any] = Field(default_factory=dict)

    def path_tco(self, path: str) -> PathTco | None:
        """``prompting`` or ``fine_tuning``'s TCO, None when the cost model did not price that path."""
        return self.tco.get(path)
