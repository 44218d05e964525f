"""The ``monitor:`` section of the spec. Imports nothing from tunegate.spec (which imports this).

Every knob that changes an alert lives here, with a default whose false-alarm consequence is documented in
docs/monitoring.md: a monitor that cries wolf gets switched off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class LogColumns(_Strict):
    """Which log column plays which role. Optional roles are used only when the column is named (or, for the
    defaults, present in the log)."""

    timestamp: str | None = Field("timestamp", description="ISO-8601 time or Unix seconds; needed for time windows.")
    input: str = Field("input", description="The model input text.")
    output: str | None = Field("output", description="The model's answer (parsed into a label for classification).")
    model_version: str | None = Field("model_version", description="Which model/prompt version answered.")
    label: str | None = Field("label", description="Gold label, where someone labeled the row.")
    feedback: str | None = Field(None, description="User feedback: 1/0, true/false, up/down, good/bad, "
                                 "correct/incorrect; counts as correct/wrong when there is no label.")
    confidence: str | None = Field(None, description="The model's probability for its answer (0..1).")
    logprob: str | None = Field(None, description="The log-probability of the model's answer (<= 0).")
    numeric: list[str] = Field(default_factory=list, description="Numeric metadata columns (PSI + KS).")
    categorical: list[str] = Field(default_factory=list, description="Categorical metadata columns "
                                   "(PSI + chi-square).")


class WindowSpec(_Strict):
    """Reference and current windows, by row count or by time.

    ``by: rows``: the reference is the first ``reference_rows`` rows of the log (or the training data with
    ``reference: training``); the current window is the last ``current_rows`` rows after it.
    ``by: time``: each window is the rows whose timestamp lies in ``[start, end)``.
    """

    by: Literal["rows", "time"] = "rows"
    reference: Literal["log", "training"] = Field(
        "log", description="log: a window of the log; training: the spec's training examples.")
    reference_rows: int = Field(1000, ge=10)
    current_rows: int = Field(1000, ge=10)
    reference_start: datetime | None = None
    reference_end: datetime | None = None
    current_start: datetime | None = None
    current_end: datetime | None = None
    min_rows: int = Field(30, ge=2, description="Fewer rows than this in a window is an error, not a report.")

    @model_validator(mode="after")
    def _times(self) -> WindowSpec:
        if self.by == "time":
            if self.current_start is None:
                raise ValueError("window.by: time needs window.current_start (and optionally current_end)")
            if self.reference == "log" and self.reference_start is None and self.reference_end is None:
                raise ValueError("window.by: time needs window.reference_start and/or reference_end")
        return self


class EmbeddingDriftSpec(_Strict):
    enabled: bool = Field(True, description="Embed a sample of inputs and test for drift in meaning.")
    model: str | None = Field(None, description="Embedding model id; defaults to models.embedding.")
    method: Literal["mmd", "classifier"] = Field(
        "mmd", description="mmd: kernel two-sample test; classifier: domain-classifier AUC (slower).")
    max_items: int = Field(300, ge=20, description="Texts sampled per window (CPU MiniLM: ~200 texts/s).")
    permutations: int = Field(1000, ge=50, description="Permutations for the p-value (floor 1/(B+1)).")
    examples: int = Field(5, ge=0, description="Current items most responsible for the drift, listed.")


class Thresholds(_Strict):
    alpha: float = Field(0.01, gt=0, lt=0.5, description="Family-wise false-alarm rate for all p-value tests "
                         "together (Holm correction across them).")
    psi: float = Field(0.25, gt=0, description="PSI above this is a major shift (industry rule: <0.1 none, "
                       "0.1-0.25 moderate, >0.25 major). Alerts only when the binned chi-square agrees "
                       "(significant after Holm), so small windows do not alert on noise.")
    psi_bins: int = Field(10, ge=2, le=100, description="Quantile bins fixed on the reference.")
    # Effect-size floors: a KS / chi-square test alerts only when it is significant after Holm AND its effect
    # reaches a floor, so 250,000-row windows alert on shifts that matter, not on every detectable wobble.
    min_ks_d: float = Field(0.1, ge=0, le=1, description="Numeric columns: KS alerts only when D (the largest "
                            "gap between the two cumulative distributions) is at least this, or |SMD| reaches "
                            "min_smd, or PSI reaches psi. 0.1 is about a 0.25-SD shift of a normal column.")
    min_smd: float = Field(0.2, ge=0, description="Numeric columns: standardized mean difference (mean shift in "
                           "pooled SDs; Cohen's 'small' effect is 0.2) that counts as an effect for KS.")
    min_tvd: float = Field(0.1, ge=0, le=1, description="Categories (metadata columns, predicted and gold labels): "
                           "chi-square alerts only when the total variation distance, the share of traffic that "
                           "changed category, is at least this (50/30/20 -> 30/30/40 is 0.2), or PSI reaches psi.")
    min_accuracy_drop: float = Field(0.05, ge=0, le=1, description="Accuracy drop the CUSUM is tuned to "
                                     "detect, and the tolerance of the label-free estimate.")
    cusum_false_alarm: float = Field(0.01, gt=0, lt=0.5, description="Simulated probability that the CUSUM "
                                     "alarms on one window of unchanged performance.")
    max_ece: float = Field(0.05, ge=0, le=1, description="Confidences count as calibrated (label-free "
                           "estimate) when their expected calibration error on reference labels is below this.")


class MonitorSpec(_Strict):
    """How `tunegate monitor CONFIG --log FILE` reads logs, cuts windows, tests and alerts."""

    log: str | None = Field(None, description="Default log file (JSONL, CSV or Parquet); --log overrides.")
    format: Literal["auto", "jsonl", "csv", "parquet"] = "auto"
    columns: LogColumns = Field(default_factory=LogColumns)
    window: WindowSpec = Field(default_factory=WindowSpec)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    embedding: EmbeddingDriftSpec = Field(default_factory=EmbeddingDriftSpec)
    tests: list[str | dict[str, Any]] | None = Field(
        None, description="Drift tests to run: registry names, or {type: name, option: value} to set a test's "
        "options (see `tunegate schema`, $defs.plugins.drift_test); all when absent.")
    webhook_url_env: str | None = Field(None, description="NAME of the environment variable holding the "
                                        "webhook URL (it may carry a secret, so it is never in the spec).")
    webhook_on: Literal["alert", "always"] = Field("alert", description="POST on alerts only, or after "
                                                  "every run.")
    portfolio_model: str | None = Field(None, description="Name of this model in the portfolio store; each "
                                        "monitor run is recorded there.")
    seed: int | None = Field(None, description="Seed for sampling and permutations; defaults to the spec seed.")

    @field_validator("webhook_url_env")
    @classmethod
    def _a_name(cls, v: str | None) -> str | None:
        if v is not None and (not v.replace("_", "").isalnum() or "://" in v):
            raise ValueError("webhook_url_env takes the NAME of an environment variable, not the URL itself")
        return v
