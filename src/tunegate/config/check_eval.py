"""The ``check_eval:`` section of the spec: criterion-gate thresholds and inputs, with documented defaults.

Why these defaults (docs/criterion-gate.md has the longer story):
- ``min_auc`` 0.9: a suite that ranks a known-good output above a known-bad one less than 9 times in 10 mislabels
  enough outputs to hide a few-point gain.
- ``min_judge_kappa`` 0.6 and ``max_kappa_shortfall`` 0.1: Landis & Koch's "substantial" agreement, and a judge
  should not agree with people much less than people agree with each other.
- ``max_accept_rate`` 0.1: at most one known-bad output in ten of any kind may pass.
- ``max_flip_rate`` 0.1 and ``min_retest_alpha`` 0.8: Krippendorff's "reliable" level, applied to a judge re-run.
- ``answer_method`` auto: a known-bad output only counts if the answer method can produce it (label likelihood
  can only answer with a label); auto follows the sprint's own choice of method.
- ``gap_that_matters`` 0.1: the eval set must be big enough to see a 10-point difference (paired, alpha 0.05,
  power 0.8); set it to the difference that changes your decision.

Imports nothing from tunegate.spec (which imports this module).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NegativeType = Literal["wrong_label", "near_miss", "truncation", "broken_format", "empty", "copy_of_input",
                       "other_item", "missing_field", "hallucinated_value", "off_topic", "unsafe_promise",
                       "wrong_language"]
# the kind-specific types (extraction: missing_field, hallucinated_value; generation: off_topic, unsafe_promise,
# wrong_language) are added to the defaults by the criterion gate for those kinds; listing them is also allowed
NEGATIVE_TYPES: tuple[str, ...] = ("wrong_label", "near_miss", "truncation", "broken_format", "empty",
                                   "copy_of_input", "other_item")


class RatingsFieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field("item_id", description="Column naming the rated output (an id in rated_outputs).")
    rater: str = Field("rater", description="Column naming the person who rated it.")
    rating: str = Field("rating", description="Column with the rating: pass/fail (good/bad, 1/0) or 1-5.")


class CheckEvalSpec(BaseModel):
    """Thresholds and inputs of the criterion gate (``tunegate check-eval``)."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["train", "dev", "test"] = Field("test", description="Items the known-good/known-bad outputs "
                                                   "are built from, and whose size the power check uses.")
    items: int = Field(60, ge=2, description="Items (from `split`) used for discrimination by deterministic "
                       "scorers; each gives its gold answer plus one output per negative type.")
    judge_items: int = Field(12, ge=2, description="Items used for stochastic scorers (LLM judges), which cost "
                             "one model call per output and repeat: keep small on a CPU.")
    negatives: list[NegativeType] = Field(default_factory=lambda: list(NEGATIVE_TYPES),
                                          description="Known-bad output types to generate.")
    answer_method: Literal["auto", "generate", "label_likelihood"] = Field(
        "auto", description="How the answers the suite scores are produced. label_likelihood answers only with a "
        "label, so known-bad outputs it cannot produce (truncation, broken_format, empty, copy_of_input) are "
        "reported as not applicable. auto: label_likelihood when the task is classification, every subject "
        "model scores labels and no sprint strategy needs generated text; else generate.")
    repeats: int | None = Field(None, ge=2, description="Re-runs of each stochastic scorer for test-retest "
                                "(default: the scorer's own `repeats`, else 3).")
    accept_threshold: float = Field(0.5, ge=0, le=1, description="A score at or above this counts as accepting "
                                    "the output (scorers that define their own pass mark, e.g. a 1-5 judge, "
                                    "use theirs).")
    min_auc: float = Field(0.9, ge=0.5, le=1, description="Lowest ROC AUC (known-good vs known-bad) to pass.")
    max_accept_rate: float = Field(0.1, ge=0, le=1, description="Highest share of any known-bad type the suite "
                                   "may accept.")
    max_flip_rate: float = Field(0.1, ge=0, le=1, description="Highest share of outputs whose verdict changes "
                                 "across repeats.")
    min_retest_alpha: float = Field(0.8, ge=-1, le=1, description="Lowest test-retest Krippendorff alpha.")
    min_judge_kappa: float = Field(0.6, ge=-1, le=1, description="Lowest Cohen kappa between the scorer's "
                                   "verdict and human raters.")
    max_kappa_shortfall: float = Field(0.1, ge=0, le=2, description="How far judge-human kappa may fall below "
                                       "the human-human kappa (the ceiling).")
    gap_that_matters: float = Field(0.1, gt=0, lt=1, description="The smallest difference in the primary metric "
                                    "that would change a decision; the minimal detectable difference must not "
                                    "exceed it.")
    baseline_accuracy: float | None = Field(None, gt=0, lt=1, description="Expected accuracy for the power "
                                            "calculation (default: eval.target, else 0.5, the worst case).")
    human_ratings: str | None = Field(None, description="Human ratings of outputs, long format: item_id, rater, "
                                      "rating (CSV / JSONL).")
    ratings_fields: RatingsFieldMap = Field(default_factory=RatingsFieldMap)
    rated_outputs: str | None = Field(None, description="The outputs the humans rated (JSONL: id, item_id, "
                                      "output): item_id is the example the output answers.")
    human_good_at: float = Field(4, description="On a numeric scale, ratings at or above this count as good.")
