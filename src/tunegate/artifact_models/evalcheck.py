"""``evalcheck.json``: the criterion gate (``tunegate check-eval``; written by ``evals.evalcheck``).

Files written before the writer built this model have no ``artifact`` key; the model fills it in on load."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, CheckResult, Loose


class ScorerInfo(Loose):
    name: str
    type: str
    stochastic: bool = False
    accept_at: float | None = None
    model: str | None = None


class EvalCheckArtifact(ArtifactModel):
    FILENAME: ClassVar[str] = "evalcheck.json"

    artifact: Literal["evalcheck"] = "evalcheck"
    gate: Literal["pass", "fail", "unknown"]
    task: str = ""
    reasons: list[str] = Field(default_factory=list)
    next_actions: list[str] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    auc: float | None = None
    auc_ci_low: float | None = None
    auc_ci_high: float | None = None
    judge_human_kappa: float | None = None
    judge_human_kappa_ci_low: float | None = None
    judge_human_kappa_ci_high: float | None = None
    judge_human_kappa_of: str | None = None
    human_human_kappa: float | None = None
    human_human_kappa_ci_low: float | None = None
    human_human_kappa_ci_high: float | None = None
    flip_rate: float | None = None
    flip_rate_ci_low: float | None = None
    flip_rate_ci_high: float | None = None
    minimal_detectable_difference: float | None = None
    primary_scorer: str | None = None
    scorers: list[ScorerInfo] = Field(default_factory=list)
    discrimination: dict[str, Any] = Field(default_factory=dict)
    answer_method: dict[str, Any] | None = None
    negatives: dict[str, Any] = Field(default_factory=dict)
    consistency: dict[str, Any] = Field(default_factory=dict)
    human_agreement: dict[str, Any] | None = None
    power: dict[str, Any] = Field(default_factory=dict)
    criterion_diff: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, Any] = Field(default_factory=dict)
