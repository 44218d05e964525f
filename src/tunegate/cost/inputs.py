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
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic import ValidationError, model_validator

Z90 = NormalDist().inv_cdf(0.9)  # 1.2816: the lognormal p90 sits at exp(mu + Z90 * sigma)


# ---------------------------------------------------------------------------------------------- distributions


class Dist:
    """An uncertain input: sampled vectorised, with an analytic mean and percentiles (no scipy needed)."""

    kind = "dist"

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...
    def mean(self) -> float: ...
    def ppf(self, q: float) -> float: ...
    def support(self) -> tuple[float, float]: ...
    def to_spec(self) -> Any: ...
    def label(self) -> str: ...

    @property
    def is_point(self) -> bool:
        lo, hi = self.support()
        return lo == hi

    def describe(self) -> dict[str, Any]:
        """JSON-safe echo for artifacts and reports: the form, its parameters, mean and 10th/90th percentiles."""
        return {
            "distribution": self.label(),
            "spec": self.to_spec(),
            "mean": _f(self.mean()),
            "p10": _f(self.ppf(0.1)),
            "p90": _f(self.ppf(0.9)),
        }


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
    kind = "point"

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
    kind = "triangular"

    def sample(self, rng, n):
        if self.low == self.high:
            return np.full(n, self.low)
        return rng.triangular(self.low, self.mode, self.high, n)

    def mean(self):
        return (self.low + self.mode + self.high) / 3.0

    def ppf(self, q):
        lo, m, hi = self.low, self.mode, self.high
        if lo == hi:
            return lo
        fc = (m - lo) / (hi - lo)
        if q <= fc:
            return lo + math.sqrt(q * (hi - lo) * (m - lo))
        return hi - math.sqrt((1 - q) * (hi - lo) * (hi - m))

    def support(self):
        return (self.low, self.high)

    def to_spec(self):
        return {"triangular": [self.low, self.mode, self.high]}

    def label(self):
        return f"triangular({_num(self.low)}, {_num(self.mode)}, {_num(self.high)})"


@dataclass(frozen=True)
class LogNormal(Dist):
    mu: float
    sigma: float
    kind = "lognormal"

    def sample(self, rng, n):
        if self.sigma == 0:
            return np.full(n, math.exp(self.mu))
        return rng.lognormal(self.mu, self.sigma, n)

    def mean(self):
        return math.exp(self.mu + self.sigma**2 / 2)

    def ppf(self, q):
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(q)) if self.sigma else math.exp(self.mu)

    def support(self):
        return (0.0, math.inf) if self.sigma else (math.exp(self.mu),) * 2

    def to_spec(self):
        return {"lognormal": {"median": _r(math.exp(self.mu)), "p90": _r(math.exp(self.mu + Z90 * self.sigma))}}

    def label(self):
        return f"lognormal(median {_num(math.exp(self.mu))}, p90 {_num(math.exp(self.mu + Z90 * self.sigma))})"


@dataclass(frozen=True)
class Uniform(Dist):
    low: float
    high: float
    kind = "uniform"

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n) if self.high > self.low else np.full(n, self.low)

    def mean(self):
        return (self.low + self.high) / 2.0

    def ppf(self, q):
        return self.low + q * (self.high - self.low)

    def support(self):
        return (self.low, self.high)

    def to_spec(self):
        return {"uniform": [self.low, self.high]}

    def label(self):
        return f"uniform({_num(self.low)}, {_num(self.high)})"


@dataclass(frozen=True, eq=False)
class Empirical(Dist):
    """Samples handed over by another stage (e.g. a bootstrap of the quality gain); resampled with replacement."""

    samples: np.ndarray = field(repr=False)
    kind = "empirical"

    def sample(self, rng, n):
        return self.samples[rng.integers(0, len(self.samples), n)]

    def mean(self):
        return float(self.samples.mean())

    def ppf(self, q):
        return float(np.quantile(self.samples, q))

    def support(self):
        return (float(self.samples.min()), float(self.samples.max()))

    def to_spec(self):
        return {"empirical": {"n": int(len(self.samples)), "mean": self.mean()}}

    def label(self):
        return f"empirical({len(self.samples)} samples)"


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
    if isinstance(x, np.ndarray):
        arr = np.asarray(x, dtype=float).ravel()
        if arr.size == 0 or not np.isfinite(arr).all():
            raise ValueError("samples must be a non-empty array of finite numbers")
        return Empirical(arr)
    if not isinstance(x, Mapping):
        return Point(_number(x, f"expected {_FORMS}; the value"))
    if len(x) != 1:
        raise ValueError(f"expected {_FORMS}; got keys {sorted(map(str, x))}")
    ((form, args),) = x.items()
    if form == "point":
        return Point(_number(args, "point"))
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


def _bounded(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, why: str = ""):
    """A check that the *whole support* of a Dist lies in range: a triangular reaching below 0 is an error too."""

    def check(d: Dist) -> Dist:
        a, b = d.support()
        bad_lo = lo is not None and (a <= lo if lo_open else a < lo)
        bad_hi = hi is not None and b > hi
        if bad_lo or bad_hi:
            rng = (f"> {_num(lo)}" if lo_open else f">= {_num(lo)}") if lo is not None else ""
            if hi is not None:
                rng = f"between {_num(lo)} and {_num(hi)}" if lo is not None else f"<= {_num(hi)}"
            got = d.label() if not d.is_point else _num(a)
            raise ValueError(f"must be {rng}{why}, got {got}")
        return d

    return check


_DIST_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {"type": "object", "additionalProperties": False, "required": ["triangular"],
         "properties": {"triangular": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}}},
        {"type": "object", "additionalProperties": False, "required": ["uniform"],
         "properties": {"uniform": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}},
        {"type": "object", "additionalProperties": False, "required": ["lognormal"],
         "properties": {"lognormal": {"type": "object", "additionalProperties": False,
                                      "properties": {k: {"type": "number"} for k in ("median", "p90", "mu", "sigma")}}}},
    ],
}


def _dist_type(*checks):
    return Annotated[
        Dist,
        PlainValidator(parse_dist),
        *(AfterValidator(c) for c in checks),
        PlainSerializer(lambda d: d.to_spec(), return_type=Any),
        WithJsonSchema(_DIST_SCHEMA),
    ]


NonNeg = _dist_type(_bounded(0))
Fraction = _dist_type(_bounded(0, 1))
Positive = _dist_type(_bounded(0, lo_open=True))
Growth = _dist_type(_bounded(-1, lo_open=True, why=" (a fraction per month: 0.02 is 2%)"))
Beta = _dist_type(_bounded(1, why=" (the framework assumes overhead grows at least linearly with models)"))
Real = _dist_type()


def _d(default: Any, description: str) -> Any:
    """A field whose default is written in spec form (so the JSON Schema shows it) and parsed like user input."""
    return Field(default, validate_default=True, description=description)


# ---------------------------------------------------------------------------------------------- the costs: section


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenInputs(_Strict):
    """Tokens per request on each path. A fine-tune learns the task, so its prompt drops the few-shot examples."""

    prompt_input: NonNeg = _d({"triangular": [800, 1500, 3000]}, "Input tokens per request, prompting path. Default: instruction + 5-10 few-shot examples + input (judgement; measure from sprint usage).")
    prompt_output: NonNeg = _d(150, "Output tokens per request, prompting path (structured answer; more with chain-of-thought).")
    finetuned_input: NonNeg = _d({"triangular": [150, 300, 600]}, "Input tokens per request, fine-tuned path: short instruction + input, no examples (judgement).")
    finetuned_output: NonNeg = _d(100, "Output tokens per request, fine-tuned path (no reasoning preamble needed).")


class PriceInputs(_Strict):
    """Prices per 1M tokens. Defaults are gpt-4o-mini-class list prices; check your provider's pricing page."""

    input_per_1m: NonNeg = _d(0.15, "Base model input price per 1M tokens (gpt-4o-mini list price, 2024-25).")
    output_per_1m: NonNeg = _d(0.60, "Base model output price per 1M tokens (gpt-4o-mini list price, 2024-25).")
    finetuned_multiplier: Positive = _d({"triangular": [1.5, 2.0, 2.0]}, "Fine-tuned inference price / base price. Hosted fine-tunes are commonly 1.5-2x base per token (e.g. 2x for gpt-4o-mini, 1.5x for gpt-4o); ~1 when self-hosting, with hosting_per_month > 0.")
    finetuned_input_per_1m: NonNeg | None = Field(None, description="Explicit fine-tuned input price per 1M tokens; overrides the multiplier.")
    finetuned_output_per_1m: NonNeg | None = Field(None, description="Explicit fine-tuned output price per 1M tokens; overrides the multiplier.")


class RateInputs(_Strict):
    engineer_day: NonNeg = _d(800, "Fully loaded engineer cost per day (about 200k/year over ~250 working days; judgement).")
    reviewer_hour: NonNeg = _d(60, "Domain-expert reviewer cost per hour, for human review of eval results (judgement).")


class SprintInputs(_Strict):
    """One-off build effort. Exclude what is already spent (a finished prompt sprint is sunk on both paths)."""

    prompting_days: NonNeg = _d({"triangular": [2, 5, 10]}, "Engineer days to productionise the prompt (the prompting path pays a sprint too; judgement).")
    finetuning_days: NonNeg = _d({"triangular": [10, 15, 30]}, "Engineer days to build the fine-tune: data pipeline, training, eval, serving (judgement).")


class LabelingInputs(_Strict):
    """Labels for training: labels x cost per label x (annotators + adjudicated share x adjudication factor)."""

    labels_needed: NonNeg = _d({"lognormal": {"median": 2000, "p90": 6000}}, "Training labels needed; the probe's learning-curve estimate replaces this when available (judgement).")
    cost_per_label: NonNeg = _d({"lognormal": {"median": 1.0, "p90": 3.0}}, "Cost of one label by a domain expert (crowd labels cost ~0.05-0.2; experts ~1-5; judgement).")
    annotators_per_item: NonNeg = _d(2, "Annotators per item: two, so agreement can be measured (the data gate needs it).")
    adjudication_share: Fraction = _d(0.15, "Share of items whose labels disagree and need adjudication (judgement; use the audit's).")
    adjudication_cost_factor: NonNeg = _d(2.0, "Cost of adjudicating one item, in labels (a senior reviewer reads item and both labels).")


class TrainingInputs(_Strict):
    cost_per_run: NonNeg = _d({"lognormal": {"median": 25, "p90": 150}}, "Compute cost of one training run. ~3M training tokens (2,000 examples x 500 tokens x 3 epochs) cost ~9 at gpt-4o-mini's 3 per 1M training tokens, ~75 at gpt-4o's 25 (judgement).")
    initial_runs: NonNeg = _d(3, "Runs to get the first model (data and hyperparameter iterations; judgement).")
    runs_per_year: NonNeg = _d(2, "Scheduled retrains per year on fresh data, against input drift (judgement).")


class EvalTaxInputs(_Strict):
    """The evaluation tax of one model: scheduled eval runs (subject + judge calls) and human review."""

    runs_per_month: NonNeg
    set_size: NonNeg = _d(500, "Items in the monitoring eval set (enough to detect a few points of change; judgement).")
    judge_calls_per_item: NonNeg = _d(1, "LLM-judge calls per item (0 for exact-match scoring).")
    judge_cost_per_call: NonNeg = _d({"lognormal": {"median": 0.002, "p90": 0.01}}, "Cost per judge call (~1k tokens in, 200 out: ~0.0003 on gpt-4o-mini, ~0.005 on gpt-4o).")
    review_hours_per_month: NonNeg
    review_hours_per_reevaluation: NonNeg


class FinetunedEvalTax(EvalTaxInputs):
    runs_per_month: NonNeg = _d(4, "Scheduled eval runs per month for the fine-tuned model (weekly: drift, data and 'good' change; judgement).")
    review_hours_per_month: NonNeg = _d(4, "Human review hours per month (spot checks, failure triage; judgement).")
    review_hours_per_reevaluation: NonNeg = _d(8, "Human review hours per forced re-evaluation (regression diff review; judgement).")


class PromptingEvalTax(EvalTaxInputs):
    runs_per_month: NonNeg = _d(2, "Scheduled eval runs per month for the prompted model (lower: no training data to drift from; judgement).")
    review_hours_per_month: NonNeg = _d(1, "Human review hours per month (judgement).")
    review_hours_per_reevaluation: NonNeg = _d(4, "Human review hours per re-evaluation after a base-model update (judgement).")


class EvaluationInputs(_Strict):
    finetuned: FinetunedEvalTax = Field(default_factory=FinetunedEvalTax)
    prompting: PromptingEvalTax = Field(default_factory=PromptingEvalTax)


class BaseModelUpdateInputs(_Strict):
    """Base-model updates and deprecations: a fine-tune retrains, relabels a share and re-evaluates; a prompt re-evaluates."""

    per_year: NonNeg = _d({"triangular": [0.4, 1.0, 2.0]}, "Forced updates per year. Hosted fine-tunes die with their base snapshot; gpt-4o-class fine-tunes lived ~18-30 months (0.4-0.7/yr), plus snapshot updates worth adopting (judgement).")
    events: Literal["poisson", "expected"] = Field("poisson", description="'poisson': sample a whole number of events per draw; 'expected': use rate x years.")
    finetuned_retrain_runs: NonNeg = _d(2, "Training runs per forced retrain (judgement).")
    relabel_fraction: Fraction = _d(0.2, "Share of labels refreshed per forced retrain (new failure modes, drifted inputs; judgement).")
    finetuned_engineer_days: NonNeg = _d({"triangular": [2, 4, 8]}, "Engineer days per forced retrain (data, training, regression review, rollout; judgement).")
    prompting_engineer_days: NonNeg = _d(1, "Engineer days per base update on the prompting path (re-check and re-tune the prompt; judgement).")


class PortfolioInputs(_Strict):
    """Team overhead c * N**beta for N fine-tuned models; this model adds c * ((N+1)**beta - N**beta) per month."""

    existing_finetuned_models: int = Field(0, ge=0, description="Fine-tuned models the team already maintains (N).")
    overhead_per_model_month: NonNeg = _d({"triangular": [200, 500, 1500]}, "c: monthly platform and coordination overhead of the first fine-tuned model (~0.5 engineer-day; judgement).")
    beta: Beta = _d({"triangular": [1.1, 1.3, 1.5]}, "beta > 1: how fast overhead outgrows model count. An explicit assumption, not a measurement (mean 1.3); shown in the sensitivity ranking.")


class EngineeringInputs(_Strict):
    prompting_days_per_month: NonNeg = _d(0.5, "Engineer days per month keeping the prompted feature healthy (judgement).")
    finetuning_days_per_month: NonNeg = _d(1.5, "Engineer days per month for the fine-tuned feature: data and training pipelines, serving (judgement).")


class QualityInputs(_Strict):
    value_per_point_per_month: NonNeg = _d(0, "Money per metric point per month of better quality; 0 leaves quality unpriced (net value = cost only).")
    gain_points: Real | None = Field(None, description="Quality gain of fine-tune over prompt in metric points; the probe's measured gain replaces it.")


class CostInputs(_Strict):
    """The ``costs:`` section. Every field has a default; see docs/cost-model.md for formulas and sources."""

    currency: str = Field("USD", description="Label for all money amounts; no conversion is done.")
    horizon_months: int = Field(18, ge=1, le=120, description="Decision horizon: the framework's 18 months, not the first demo.")
    lead_time_months: int = Field(1, ge=0, description="Months from decision to the fine-tune serving traffic; meanwhile the prompt serves it (judgement).")
    monthly_requests: NonNeg = _d(10000, "Requests per month now. A placeholder: usually the input that matters most, so set yours.")
    monthly_growth: Growth = _d({"triangular": [0.0, 0.02, 0.05]}, "Request growth per month, compounding (0.02 = 2%/month; judgement).")
    hosting_per_month: NonNeg = _d(0, "Fine-tuned hosting per month: 0 for serverless per-token fine-tunes; a dedicated endpoint or GPU costs hundreds to thousands.")
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
            raise ValueError(
                f"lead_time_months ({self.lead_time_months}) must be shorter than horizon_months ({self.horizon_months})"
            )
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
