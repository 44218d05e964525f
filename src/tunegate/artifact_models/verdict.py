"""``verdict.json``: the decision (``tunegate decide``; written by ``decision_stages.decide_stage`` from
``verdict.decide``)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from tunegate.artifact_models.base import ArtifactModel, Loose
from tunegate.artifact_models.base import Recorded

# the five verdicts, as tunegate.verdict.VERDICTS (a test holds the two equal; this package imports no stage)
Verdict = Literal["FIX_EVAL_FIRST", "SHIP_PROMPT", "IMPROVE_DATA_FIRST", "KEEP_PROMPTING", "FINE_TUNE"]
CONDITIONS = ("criterion", "data", "prompting_gap", "finetune_probe", "economics")


class ConditionResult(Loose):
    status: Literal["held", "not_held", "unknown"]
    source: str
    certainty: str | None = None
    summary: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)


class VerdictInputs(Loose):
    """The artifact files the verdict read (None = the stage has not run)."""

    evalcheck: str | None = None
    audit: str | None = None
    sprint: str | None = None
    probe: str | None = None
    cost: str | None = None
    evals: list[str] = Field(default_factory=list)


class PlainWords(Loose):
    """The verdict in a product team's words (``tunegate assess``: ``assess_plain.explain``): a headline, why, and
    one sentence per condition."""

    headline: str | None = None
    why: str | None = None
    conditions: dict[str, str | None] = Field(default_factory=dict)


class VerdictArtifact(ArtifactModel, Recorded):
    FILENAME: ClassVar[str] = "verdict.json"
    OPTIONAL: ClassVar[frozenset[str] | None] = frozenset({"plain", "explanation"})  # not every writer gives them

    artifact: Literal["verdict"] = "verdict"
    verdict: Verdict
    confidence: str
    rule: str
    summary: str = ""
    conditions: dict[str, ConditionResult]
    next_actions: list[str] = Field(default_factory=list)
    inputs: VerdictInputs = Field(default_factory=VerdictInputs)
    plain: PlainWords | None = None  # written by tunegate assess
    explanation: str | list[str] | None = None  # the verdict's reason, when a writer spells it out (one or more lines)
