"""The ``sprint:`` section of the spec: which candidates the prompt sprint tries and how it selects among them.

Imports nothing from tunegate.spec (which imports this). Every key has a default, so a spec without a
``sprint:`` section runs a small, CPU-friendly default sprint; docs/sprint.md explains each choice.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

StrategyEntry = str | dict[str, Any]  # "few_shot_knn" or {type: few_shot_knn, k: 8}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstructionVariant(_Strict):
    """One wording of the task instruction. ``text`` or ``file`` (relative to the spec), not both."""

    name: str = Field(min_length=1, description="Short name, used in candidate names.")
    text: str | None = Field(None, description="The instruction text.")
    file: str | None = Field(None, description="A file holding the instruction text (relative to the spec).")
    label_descriptions: bool = Field(
        True, description="Show each label's description in the prompt (false: names only; shorter, faster).")

    @model_validator(mode="after")
    def _one_source(self) -> InstructionVariant:
        if (self.text is None) == (self.file is None):
            raise ValueError("give exactly one of text or file")
        return self


class RacingSpec(_Strict):
    """Budgeted racing on paired dev items (every surviving candidate sees the same new items): cuts planned over the
    whole budget, then the survivors finish dev and the best on all of it wins (sprint.racing.race)."""

    min_items: int = Field(16, ge=2, description="Dev items each candidate sees at least in the first round.")
    eta: int = Field(2, ge=2, description="A round cuts at most 1 - 1/eta of the survivors by rank (the plan "
                     "cuts one or two at a time).")
    budget_share: float = Field(1 / 3, gt=0, le=1, description="Selection may spend this share of the full grid's "
                                "calls (every candidate on every dev item); 1 = the grid's budget.")
    alpha: float = Field(0.05, gt=0, lt=1, description="Error rate of the paired test that eliminates a candidate "
                         "worse than the leader (Bonferroni over candidates and rounds).")
    finalists: int = Field(2, ge=1, description="Candidates that go on to the test split (best and runner-up).")
    dev_items: int | None = Field(None, ge=2, description="Use at most this many dev items (default: all).")


class SprintSpec(_Strict):
    """The prompt sprint (``tunegate sprint``): strategies x instruction variants x models x parameters."""

    strategies: list[StrategyEntry | list[StrategyEntry]] | None = Field(
        None, description="Candidate strategy stacks: a name, {type: name, option: value}, or a list of them that "
        "compose (e.g. [few_shot_knn, cot, self_consistency]). Default by task kind: zero_shot, few_shot_random, "
        "few_shot_knn.")
    instructions: list[InstructionVariant] = Field(
        default_factory=list, description="Extra instruction variants besides task.instruction.")
    include_task_instruction: bool = Field(True, description="Also try task.instruction as variant 'task'.")
    paraphrases: int = Field(0, ge=0, le=10, description="Instruction paraphrases a proposer model writes (usage "
                             "role 'proposer').")
    proposer: str | None = Field(None, description="Model id that writes paraphrases (default: models.default).")
    models: list[str] = Field(default_factory=list, description="Subject model ids (default: [models.default]).")
    params: list[dict[str, Any]] = Field(
        default_factory=list, description="Sampling-parameter sets tried, each merged over models.params "
        "(default: one set, models.params).")
    method: Literal["auto", "generate", "label_likelihood"] = Field(
        "auto", description="auto: label-likelihood for classification on backends that can score labels, unless a "
        "strategy needs generated text (cot, json_output, self_consistency).")
    shots: int = Field(4, ge=1, le=64, description="Default k for few-shot strategies.")
    max_tokens: int = Field(16, ge=1, description="Cap on new tokens for plain answers (cot/json set their own).")
    racing: RacingSpec = Field(default_factory=RacingSpec)
    test_items: int | None = Field(None, ge=2, description="Evaluate finalists on at most this many test items "
                                   "(default: all; a cap widens the intervals and is recorded).")
    budget_calls: int | None = Field(None, ge=1, description="Cap on subject-model calls for the whole sprint.")
    seed: int | None = Field(None, description="Seed for racing order and random few-shot (default: spec seed).")

    @field_validator("models")
    @classmethod
    def _model_ids(cls, v: list[str]) -> list[str]:
        for m in v:
            if ":" not in m:
                raise ValueError(f"model id '{m}' must look like scheme:name (e.g. local:smollm2)")
        if len(set(v)) != len(v):
            raise ValueError("models lists a model twice")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> SprintSpec:
        names = [i.name for i in self.instructions]
        if len(set(names)) != len(names) or (self.include_task_instruction and "task" in names):
            raise ValueError("instruction variant names must be unique ('task' is taken by task.instruction)")
        if not self.include_task_instruction and not self.instructions and not self.paraphrases:
            raise ValueError("no instruction variant left: keep include_task_instruction or add instructions")
        return self
