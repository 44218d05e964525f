"""Inputs of the cost model: the ``costs:`` section of tunegate.yaml, and the ``Dist`` type for uncertain numbers.

Every numeric input may be a point (``0.15``) or a distribution, because the decision rests on numbers nobody
knows exactly (volume in a year, how often the base model changes). Forms accepted wherever a number is::

    0.15                                  # point
    {triangular: [low, mode, high]}       # a range with a most-likely value
    {lognormal: {median: m, p90: x}}      # right-skewed, e.g. volume or price; or {lognormal: {mu: .., sigma: ..}}
    {uniform: [low, high]}

Defaults are documented on each field with their source or reasoning; docs/cost-model.md collects them. Unknown
keys are errors (a misspelt key must not silently fall back to a default).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from statistics import NormalDist
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError, model_validator

Z90 = NormalDist().inv_cdf(0.9)  # 1.2816: a lognormal's p90 is exp(mu + Z90 * sigma)


# ---------------------------------------------------------------------------------------------- distributions


class Dist:
    """An uncertain input: sampled vectorised, with an analytic mean and percentiles (no scipy needed)."""

    form: ClassVar[str] = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...
    def mean(self) -> float: ...
    def ppf(self, q: float) -> float: ...
    def support(self) -> tuple[float, float]: ...

    def to_spec(self) -> Any:
        """The form a spec would write it in, e.g. ``{triangular: [1.5, 2, 2]}``."""
        return {self.form: [float(v) for v in astuple(self)]}

    def label(self) -> str:
        return f"{self.form}({', '.join(_num(v) for v in astuple(self))})"

    @property
    def is_point(self) -> bool:
        lo, hi = self.support()
        return lo == hi

    def describe(self) -> dict[str, Any]:
        """JSON-safe echo for artifacts and reports: the form, its parameters, mean and 10th/90th percentiles."""
        ends = {"mean": self.mean(), "p10": self.ppf(0.1), "p90": self.ppf(0.9)}
        return {"distribution": self.label(), "spec": self.to_spec(), **{k: _f(v) for k, v in ends.items()}}


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _num(x: float) -> str:
    return f"{x:g}"


def _r(x: float) -> float:
    """Round away float noise from exp(log(x)) so echoed specs read as written (1999.9999999999998 -> 2000)."""
    return float(f"{x:.12g}")


@dataclass(frozen=True)
class Point(Dist):
    value: float

    def sample(self, rng, n):
        return np.full(n, self.value)

    def mean(self):
        return self.value

    def ppf(self, q):
        return self.value

    def support(self):
        return (self.value, self.value)

    def to_spec(self):
        return self.value

    def label(self):
        return _num(self.value)


@dataclass(frozen=True)
class Triangular(Dist):
    low: float
    mode: float
    high: float
    form: ClassVar[str] = "triangular"

    def sample(self, rng, n):
        return rng.triangular(self.low, self.mode, self.high, n) if self.high > self.low else np.full(n, self.low)

    def mean(self):
        return (self.low + self.mode + self.high) / 3.0

    def ppf(self, q):
        lo, m, hi = self.low, self.mode, self.high
        if lo == hi:
            return lo
        if q <= (m - lo) / (hi - lo):
            return lo + math.sqrt(q * (hi - lo) * (m - lo))
        return hi - math.sqrt((1 - q) * (hi - lo) * (hi - m))

    def support(self):
        return (self.low, self.high)


@dataclass(frozen=True)
class Uniform(Dist):
    low: float
    high: float
    form: ClassVar[str] = "uniform"

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n) if self.high > self.low else np.full(n, self.low)

    def mean(self):
        return (self.low + self.high) / 2.0

    def ppf(self, q):
        return self.low + q * (self.high - self.low)

    def support(self):
        return (self.low, self.high)


@dataclass(frozen=True)
class LogNormal(Dist):
    mu: float
    sigma: float
    form: ClassVar[str] = "lognormal"

    def sample(self, rng, n):
        return rng.lognormal(self.mu, self.sigma, n) if self.sigma else np.full(n, math.exp(self.mu))

    def mean(self):
        return math.exp(self.mu + self.sigma**2 / 2)

    def ppf(self, q):
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(q)) if self.sigma else math.exp(self.mu)

    def support(self):
        return (0.0, math.inf) if self.sigma else (math.exp(self.mu),) * 2

    def to_spec(self):
        return {"lognormal": {"median": _r(math.exp(self.mu)), "p90": _r(math.exp(self.mu + Z90 * self.sigma))}}

    def label(self):
        med, p90 = self.to_spec()["lognormal"].values()
        return f"lognormal(median {_num(med)}, p90 {_num(p90)})"


_FORMS = "a number, {triangular: [low, mode, high]}, {lognormal: {median: m, p90: x}}, or {uniform: [low, high]}"


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, str)):
        raise ValueError(f"{what} must be a number, got {x!r}")
    try:
        v = float(x)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {x!r}")
    return v


def parse_dist(x: Any) -> Dist:
    """Read any accepted form (see module docstring) into a ``Dist``; a ValueError says which form was meant."""
    if isinstance(x, Dist):
        return x
    if not isinstance(x, Mapping):
        return Point(_number(x, f"expected {_FORMS}; the value"))
    if len(x) != 1:
        raise ValueError(f"expected {_FORMS}; got keys {sorted(map(str, x))}")
    ((form, args),) = x.items()
    if form in ("triangular", "uniform"):
        size = 3 if form == "triangular" else 2
        shape = "[low, mode, high]" if size == 3 else "[low, high]"
        if not isinstance(args, (list, tuple)) or len(args) != size:
            raise ValueError(f"{form} takes a list {shape}, got {args!r}")
        v = [_number(a, f"{form} value") for a in args]
        if v != sorted(v):
            raise ValueError(f"{form} needs {shape} in increasing order, got {v}")
        return Triangular(*v) if size == 3 else Uniform(*v)
    if form == "lognormal":
        if not isinstance(args, Mapping):
            raise ValueError("lognormal takes {median: m, p90: x} or {mu: .., sigma: ..}")
        keys = set(args)
        if keys == {"median", "p90"}:
            med, p90 = _number(args["median"], "lognormal median"), _number(args["p90"], "lognormal p90")
            if med <= 0 or p90 < med:
                raise ValueError(f"lognormal needs 0 < median <= p90, got median {med}, p90 {p90}")
            return LogNormal(math.log(med), (math.log(p90) - math.log(med)) / Z90)
        if keys == {"mu", "sigma"}:
            mu, sigma = _number(args["mu"], "lognormal mu"), _number(args["sigma"], "lognormal sigma")
            if sigma < 0:
                raise ValueError(f"lognormal sigma must be >= 0, got {sigma}")
            return LogNormal(mu, sigma)
        raise ValueError(f"lognormal takes {{median, p90}} or {{mu, sigma}}, got keys {sorted(map(str, keys))}")
    raise ValueError(f"unknown distribution {form!r}; expected {_FORMS}")


def _bounded(lo: float, hi: float | None = None, *, lo_open: bool = False, why: str = ""):
    """A check that the *whole support* of a Dist lies in range: a triangular reaching below 0 is an error too."""
    want = f"between {_num(lo)} and {_num(hi)}" if hi is not None else f"{'>' if lo_open else '>='} {_num(lo)}"

    def check(d: Dist) -> Dist:
        a, b = d.support()
        if (a <= lo if lo_open else a < lo) or (hi is not None and b > hi):
            raise ValueError(f"must be {want}{why}, got {d.label()}")
        return d

    return check


_DIST_SCHEMA = {
    "anyOf": [{"type": "number"}, {"type": "object", "minProperties": 1, "maxProperties": 1}],
    "description": f"{_FORMS[0].upper()}{_FORMS[1:]}.",
}


class _DistField:
    """A ``Dist`` field's pydantic type: any accepted form parsed, then each range check; serialised in spec form.
    Its core schema is built once and shared by every field of the type (~45 fields): as an Annotated stack of
    validators each field made pydantic inspect and wrap every function again."""

    def __init__(self, *checks: Any) -> None:
        self.checks = checks
        self._schema: Any = None

    def validate(self, x: Any) -> Dist:
        d = parse_dist(x)
        for check in self.checks:
            d = check(d)
        return d

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        if self._schema is None:
            from pydantic_core import core_schema as cs

            self._schema = cs.no_info_plain_validator_function(
                self.validate, serialization=cs.plain_serializer_function_ser_schema(
                    _dist_to_spec, return_schema=cs.any_schema()))
        return self._schema

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return dict(_DIST_SCHEMA)


def _dist_to_spec(d: Dist) -> Any:
    return d.to_spec()


def _dist_type(*checks):
    return Annotated[Dist, _DistField(*checks)]


NonNeg = _dist_type(_bounded(0))
Fraction = _dist_type(_bounded(0, 1))
Positive = _dist_type(_bounded(0, lo_open=True))
Growth = _dist_type(_bounded(-1, lo_open=True, why=" (a fraction per month: 0.02 is 2%)"))
Beta = _dist_type(_bounded(1, why=" (the framework assumes overhead grows at least linearly with models)"))
Real = _dist_type()  # a quality gain may be negative


def _d(default: Any, description: str) -> Any:
    """A field whose default is written in spec form (so the JSON Schema shows it) and parsed like user input."""
    return Field(default, validate_default=True, description=description)


# ---------------------------------------------------------------------------------------------- the costs: section


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenInputs(_Strict):
    """Tokens per request on each path. A fine-tune has learnt the task, so its prompt drops the examples."""

    prompt_input: NonNeg = _d(
        {"triangular": [800, 1500, 3000]},
        "Input tokens/request, prompting: instruction + 5-10 few-shot examples + input (judgement).",
    )
    prompt_output: NonNeg = _d(150, "Output tokens/request, prompting (structured answer; more with CoT).")
    finetuned_input: NonNeg = _d(
        {"triangular": [150, 300, 600]}, "Input tokens/request, fine-tuned: instruction + input (judgement)."
    )
    finetuned_output: NonNeg = _d(100, "Output tokens/request, fine-tuned (no reasoning preamble needed).")


class PriceInputs(_Strict):
    """Prices per 1M tokens. Defaults: gpt-4o-mini-class list prices; check your provider's pricing page."""

    input_per_1m: NonNeg = _d(0.15, "Base input price per 1M tokens (gpt-4o-mini list price, 2024-25).")
    output_per_1m: NonNeg = _d(0.60, "Base output price per 1M tokens (gpt-4o-mini list price, 2024-25).")
    finetuned_multiplier: Positive = _d(
        {"triangular": [1.5, 2.0, 2.0]},
        "Fine-tuned / base price per token. Hosted fine-tunes are commonly 1.5-2x base (2x gpt-4o-mini, "
        "1.5x gpt-4o); ~1 when self-hosting, with hosting_per_month > 0.",
    )
    finetuned_input_per_1m: NonNeg | None = _d(None, "Explicit fine-tuned input price; overrides it.")
    finetuned_output_per_1m: NonNeg | None = _d(None, "Explicit fine-tuned output price; overrides it.")


class RateInputs(_Strict):
    engineer_day: NonNeg = _d(800, "Fully loaded engineer cost per day (~200k/year over ~250 days; judgement).")
    reviewer_hour: NonNeg = _d(60, "Domain-expert reviewer cost per hour (judgement).")


class SprintInputs(_Strict):
    """One-off build effort. Leave out what is already spent: a finished prompt sprint is sunk on both paths."""

    prompting_days: NonNeg = _d({"triangular": [2, 5, 10]}, "Engineer days to ship the prompt (judgement).")
    finetuning_days: NonNeg = _d(
        {"triangular": [10, 15, 30]}, "Engineer days to build data pipeline, training, eval, serving (judgement)."
    )


class LabelingInputs(_Strict):
    """Training labels: labels x cost per label x (annotators + adjudicated share x adjudication factor)."""

    labels_needed: NonNeg = _d(
        {"lognormal": {"median": 2000, "p90": 6000}}, "Labels needed; the probe's estimate replaces it."
    )
    cost_per_label: NonNeg = _d(
        {"lognormal": {"median": 1.0, "p90": 3.0}},
        "One label by a domain expert (crowd labels ~0.05-0.2, experts ~1-5; judgement).",
    )
    annotators_per_item: NonNeg = _d(2, "Two, so agreement can be measured (the data gate needs it).")
    adjudication_share: Fraction = _d(0.15, "Share of items whose labels disagree (judgement; use the audit's).")
    adjudication_cost_factor: NonNeg = _d(2.0, "Adjudicating one item, in labels (reads item and both labels).")


class TrainingInputs(_Strict):
    cost_per_run: NonNeg = _d(
        {"lognormal": {"median": 25, "p90": 150}},
        "Compute per run: ~3M training tokens (2,000 x 500 tokens x 3 epochs) cost ~9 at gpt-4o-mini's 3/1M, "
        "~75 at gpt-4o's 25/1M (judgement).",
    )
    initial_runs: NonNeg = _d(3, "Runs to the first model: data and hyperparameter iterations (judgement).")
    runs_per_year: NonNeg = _d(2, "Scheduled retrains per year on fresh data, against drift (judgement).")


class EvalTaxInputs(_Strict):
    """One model's evaluation tax: scheduled eval runs (subject + judge calls) and human review."""

    runs_per_month: NonNeg
    set_size: NonNeg = _d(500, "Items in the monitoring eval set (detects a few points of change; judgement).")
    judge_calls_per_item: NonNeg = _d(1, "LLM-judge calls per item (0 for exact-match scoring).")
    judge_cost_per_call: NonNeg = _d(
        {"lognormal": {"median": 0.002, "p90": 0.01}},
        "Per judge call, ~1k tokens in and 200 out: ~0.0003 on gpt-4o-mini, ~0.005 on gpt-4o.",
    )
    review_hours_per_month: NonNeg
    review_hours_per_reevaluation: NonNeg


class FinetunedEvalTax(EvalTaxInputs):
    runs_per_month: NonNeg = _d(4, "Weekly: input drift, data and 'good' change (judgement).")
    review_hours_per_month: NonNeg = _d(4, "Spot checks and failure triage (judgement).")
    review_hours_per_reevaluation: NonNeg = _d(8, "Reviewing the regression diff per forced update (judgement).")


class PromptingEvalTax(EvalTaxInputs):
    runs_per_month: NonNeg = _d(2, "Lower than fine-tuned: no training data to drift away from (judgement).")
    review_hours_per_month: NonNeg = _d(1, "Spot checks (judgement).")
    review_hours_per_reevaluation: NonNeg = _d(4, "Review per base-model update (judgement).")


class EvaluationInputs(_Strict):
    finetuned: FinetunedEvalTax = Field(default_factory=FinetunedEvalTax)
    prompting: PromptingEvalTax = Field(default_factory=PromptingEvalTax)


class BaseModelUpdateInputs(_Strict):
    """Base-model updates/deprecations: a fine-tune retrains, relabels some, re-evaluates; a prompt re-checks."""

    per_year: NonNeg = _d(
        {"triangular": [0.4, 1.0, 2.0]},
        "Forced updates per year. Hosted fine-tunes die with their base snapshot; gpt-4o-class fine-tunes lived "
        "~18-30 months (0.4-0.7/yr), plus snapshot updates worth adopting (judgement).",
    )
    events: Literal["poisson", "expected"] = Field(
        "poisson", description="poisson: a whole number of events per draw; expected: rate x years."
    )
    finetuned_retrain_runs: NonNeg = _d(2, "Training runs per forced retrain (judgement).")
    relabel_fraction: Fraction = _d(0.2, "Share of labels refreshed per forced retrain (judgement).")
    finetuned_engineer_days: NonNeg = _d(
        {"triangular": [2, 4, 8]}, "Engineer days per forced retrain: data, training, review, rollout (judgement)."
    )
    prompting_engineer_days: NonNeg = _d(1, "Engineer days per update to re-tune the prompt (judgement).")


class PortfolioInputs(_Strict):
    """Team overhead c * N**beta for N fine-tuned models; this one adds c * ((N+1)**beta - N**beta) a month."""

    existing_finetuned_models: int = Field(0, ge=0, description="Fine-tuned models the team maintains now (N).")
    overhead_per_model_month: NonNeg = _d(
        {"triangular": [200, 500, 1500]}, "c: monthly overhead of the first fine-tuned model (~0.5 engineer-day)."
    )
    beta: Beta = _d(
        {"triangular": [1.1, 1.3, 1.5]},
        "How fast overhead outgrows the model count: an explicit assumption, not a measurement (mean 1.3).",
    )


class EngineeringInputs(_Strict):
    prompting_days_per_month: NonNeg = _d(0.5, "Engineer days a month on the prompted feature (judgement).")
    finetuning_days_per_month: NonNeg = _d(1.5, "Engineer days a month for pipelines and serving (judgement).")


class QualityInputs(_Strict):
    value_per_point_per_month: NonNeg = _d(0, "Money per metric point per month; 0 leaves quality unpriced.")
    gain_points: Real | None = _d(None, "Fine-tune minus prompt, in metric points; the probe's replaces it.")


class CostInputs(_Strict):
    """The ``costs:`` section. Every field has a default; docs/cost-model.md has the formulas and sources."""

    currency: str = Field("USD", description="Label for all money amounts; nothing is converted.")
    horizon_months: int = Field(18, ge=1, le=120, description="Decision horizon: the framework's 18 months.")
    lead_time_months: int = Field(1, ge=0, description="Months before the fine-tune serves (the prompt does).")
    monthly_requests: NonNeg = _d(10000, "Requests per month now. A placeholder: set yours (it often decides).")
    monthly_growth: Growth = _d(
        {"triangular": [0.0, 0.02, 0.05]}, "Request growth per month, compounding: 0.02 = 2%/month (judgement)."
    )
    hosting_per_month: NonNeg = _d(0, "Fine-tuned hosting: 0 if billed per token; dedicated endpoints cost more.")
    tokens: TokenInputs = Field(default_factory=TokenInputs)
    prices: PriceInputs = Field(default_factory=PriceInputs)
    rates: RateInputs = Field(default_factory=RateInputs)
    sprint: SprintInputs = Field(default_factory=SprintInputs)
    labeling: LabelingInputs = Field(default_factory=LabelingInputs)
    training: TrainingInputs = Field(default_factory=TrainingInputs)
    evaluation: EvaluationInputs = Field(default_factory=EvaluationInputs)
    base_model_updates: BaseModelUpdateInputs = Field(default_factory=BaseModelUpdateInputs)
    portfolio: PortfolioInputs = Field(default_factory=PortfolioInputs)
    engineering: EngineeringInputs = Field(default_factory=EngineeringInputs)
    quality: QualityInputs = Field(default_factory=QualityInputs)

    @model_validator(mode="after")
    def _lead_within_horizon(self) -> CostInputs:
        if self.lead_time_months >= self.horizon_months:
            lead, h = self.lead_time_months, self.horizon_months
            raise ValueError(f"lead_time_months ({lead}) must be shorter than horizon_months ({h})")
        return self

    def flat_inputs(self) -> dict[str, Dist]:
        """Every Dist-valued input by dotted key (``prices.finetuned_multiplier``), unset optionals left out."""
        return {k: d for k, (d, _) in self._walk().items()}

    def explicit_keys(self) -> set[str]:
        """Dotted keys the spec set itself (the rest are defaults): the report marks which numbers are assumed."""
        return {k for k, (_, explicit) in self._walk().items() if explicit}

    def _walk(self) -> dict[str, tuple[Dist, bool]]:
        out: dict[str, tuple[Dist, bool]] = {}

        def walk(m: BaseModel, prefix: str, explicit: bool) -> None:
            for name in type(m).model_fields:
                v, here = getattr(m, name), explicit and name in m.model_fields_set
                if isinstance(v, Dist):
                    out[prefix + name] = (v, here)
                elif isinstance(v, BaseModel):
                    walk(v, f"{prefix}{name}.", here)

        walk(self, "", True)
        return out


def parse_costs(raw: Mapping[str, Any] | None, *, key: str = "costs") -> CostInputs:
    """Validate a ``costs:`` mapping; a SpecError names the dotted key (``costs.monthly_requests``)."""
    from tunegate.errors import SpecError

    try:
        return CostInputs.model_validate(dict(raw or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in (key, *err["loc"]) if p != "")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; `tunegate schema` lists the valid keys)"
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise SpecError(msg + more, field=loc) from None


def input_rng(seed: int, name: str) -> np.random.Generator:
    """One generator per input, keyed by its name: adding an input never changes the draws of the others."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])
