"""Total cost of ownership of keep-prompting vs fine-tuning over the horizon, by vectorised Monte Carlo.

Pure: ``CostInputs`` (+ the probe's labels-needed and quality-gain estimates) in, ``CostResult`` out. Every draw of
every input is evaluated at once; months are summed in closed form (a geometric series for compounding growth),
so 20,000 draws cost milliseconds. Formulas and defaults: docs/cost-model.md.

Each input has its own generator keyed by its name (``inputs.input_rng``), so two runs that differ in one input
share the draws of all others ("common random numbers"): differences between scenarios are not Monte Carlo noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tunegate.config.costs import CostInputs, Dist, input_rng, parse_dist

PATHS = ("prompting", "fine_tuning")
COMPONENTS = (
    "inference", "sprint", "labeling", "training", "hosting",
    "evaluation_tax", "retraining", "portfolio_overhead", "engineering",
)
LABELS_KEY, GAIN_KEY, VOLUME_KEY, RATE_KEY = (
    "labeling.labels_needed", "quality.gain_points", "monthly_requests", "base_model_updates.per_year",
)
_EVENTS_RNG = "__base_model_update_events__"


def geometric_months(g: np.ndarray | float, n: int) -> np.ndarray:
    """Sum over months m = 0..n-1 of (1+g)^m: total requests per unit of current monthly volume."""
    g = np.asarray(g, dtype=float)
    if n <= 0:
        return np.zeros_like(g)
    small = np.abs(g) < 1e-9
    gs = np.where(small, 1.0, g)
    exact = np.expm1(n * np.log1p(gs)) / gs
    return np.where(small, n + n * (n - 1) / 2 * g, exact)


@dataclass(frozen=True)
class _Shape:
    """The non-sampled structure of a run: horizon, lead time, team size, which price form is in use."""

    horizon: int
    lead: int
    existing: int
    explicit_ft_in: bool
    explicit_ft_out: bool


def _per_request(x: Mapping[str, Any], s: _Shape) -> tuple[Any, Any]:
    """Inference cost of one request on each path: tokens x price per 1M tokens."""
    pin, pout = x["prices.input_per_1m"], x["prices.output_per_1m"]
    mult = x.get("prices.finetuned_multiplier", 1.0)
    fin = x["prices.finetuned_input_per_1m"] if s.explicit_ft_in else pin * mult
    fout = x["prices.finetuned_output_per_1m"] if s.explicit_ft_out else pout * mult
    cpr_p = (x["tokens.prompt_input"] * pin + x["tokens.prompt_output"] * pout) / 1e6
    return cpr_p, (x["tokens.finetuned_input"] * fin + x["tokens.finetuned_output"] * fout) / 1e6


def _components(x: Mapping[str, Any], events: Any, s: _Shape) -> tuple[dict, dict, Any]:
    """Cost components of both paths and the value of quality, elementwise over whatever shape ``x`` holds."""
    H, L = s.horizon, s.lead
    live = H - L  # months the fine-tune serves traffic; before that the prompt serves it on the fine-tune path
    day, hour = x["rates.engineer_day"], x["rates.reviewer_hour"]
    g, v0 = x["monthly_growth"], x[VOLUME_KEY]
    s_h, s_l = geometric_months(g, H), geometric_months(g, L)
    cpr_p, cpr_f = _per_request(x, s)

    def tax(path: str, cpr: Any) -> tuple[Any, Any]:
        e = f"evaluation.{path}."
        run = x[e + "set_size"] * (x[e + "judge_calls_per_item"] * x[e + "judge_cost_per_call"] + cpr)
        monthly = x[e + "runs_per_month"] * run + x[e + "review_hours_per_month"] * hour
        return monthly, run + x[e + "review_hours_per_reevaluation"] * hour

    tax_p, reeval_p = tax("prompting", cpr_p)
    tax_f, reeval_f = tax("finetuned", cpr_f)
    lab = "labeling."
    label_unit = x[lab + "cost_per_label"] * (
        x[lab + "annotators_per_item"] + x[lab + "adjudication_share"] * x[lab + "adjudication_cost_factor"]
    )
    labels_cost = x[LABELS_KEY] * label_unit
    run_cost = x["training.cost_per_run"]
    u = "base_model_updates."
    event_p = reeval_p + x[u + "prompting_engineer_days"] * day
    event_f = (
        x[u + "finetuned_retrain_runs"] * run_cost + x[u + "relabel_fraction"] * labels_cost
        + reeval_f + x[u + "finetuned_engineer_days"] * day
    )
    n_old = s.existing
    beta = x["portfolio.beta"]
    eng_p = x["engineering.prompting_days_per_month"] * day
    eng_f = x["engineering.finetuning_days_per_month"] * day

    zero = 0.0 * v0
    prompting = {
        "inference": v0 * s_h * cpr_p,
        "sprint": x["sprint.prompting_days"] * day + zero,
        "labeling": zero,
        "training": zero,
        "hosting": zero,
        "evaluation_tax": tax_p * H + zero,
        "retraining": events * event_p + zero,
        "portfolio_overhead": zero,
        "engineering": eng_p * H + zero,
    }
    fine_tuning = {
        "inference": v0 * (s_l * cpr_p + (s_h - s_l) * cpr_f),
        "sprint": x["sprint.finetuning_days"] * day + zero,
        "labeling": labels_cost + zero,
        "training": (x["training.initial_runs"] + x["training.runs_per_year"] * live / 12) * run_cost + zero,
        "hosting": x["hosting_per_month"] * live + zero,
        "evaluation_tax": tax_f * live + tax_p * L + zero,
        # Updates are spread evenly over the horizon: those before launch cost what they cost the prompt.
        "retraining": events * (event_f * live / H + event_p * L / H) + zero,
        "portfolio_overhead": x["portfolio.overhead_per_model_month"] * ((n_old + 1) ** beta - n_old**beta) * live
        + zero,
        "engineering": eng_f * live + eng_p * L + zero,
    }
    quality = x["quality.value_per_point_per_month"] * x.get(GAIN_KEY, 0.0) * live + zero
    return prompting, fine_tuning, quality


def monthly_evaluation_tax(costs: Any, *, seed: int = 0, n_draws: int = 4000) -> dict[str, Any]:
    """Per-month evaluation tax of one model already serving, on each path (``prompting``, ``fine_tuning``), one
    value per Monte Carlo draw, from the same seeded input draws as :func:`run_cost_model`.

    The portfolio view needs exactly this component of the 18-month model (lead time 0, no retraining events),
    so it is computed here rather than re-derived elsewhere.
    """
    dists = costs.flat_inputs()
    draws = {k: d.sample(input_rng(seed, k), n_draws) for k, d in dists.items()}
    shape = _Shape(costs.horizon_months, 0, 0, "prices.finetuned_input_per_1m" in dists,
                   "prices.finetuned_output_per_1m" in dists)
    prompting, fine_tuning, _ = _components(draws, 0.0, shape)
    return {path: np.broadcast_to(np.asarray(comp["evaluation_tax"], dtype=float) / costs.horizon_months,
                                  (n_draws,)).copy()
            for path, comp in (("prompting", prompting), ("fine_tuning", fine_tuning))}


def _poisson_inverse(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson counts by inverting the CDF at fixed uniforms, so a swung rate keeps the same underlying luck."""
    lam = np.broadcast_to(np.asarray(lam, dtype=float), u.shape)
    k = np.zeros(u.shape)
    p = np.exp(-lam)
    cdf = p.copy()
    top = float(lam.max(initial=0.0))
    for j in range(1, int(top + 12 * math.sqrt(top) + 40)):
        more = u > cdf
        if not more.any():
            break
        k += more
        p = p * lam / j
        cdf += p
    return k


@dataclass(frozen=True, eq=False)
class _Evaluator:
    """Costs for a mapping of input arrays, with base-model-update events drawn from fixed uniforms ``u``."""

    shape: _Shape
    mode: str
    u: np.ndarray

    def __call__(self, x: Mapping[str, Any], *, expected_events: bool = False) -> tuple[dict, dict, Any]:
        lam = np.asarray(x[RATE_KEY], dtype=float) * self.shape.horizon / 12
        poisson = self.mode == "poisson" and not expected_events
        return _components(x, _poisson_inverse(self.u, lam) if poisson else lam, self.shape)


def _total(parts: dict) -> Any:
    return sum(parts.values())


def _summary(a: np.ndarray) -> dict[str, float]:
    q05, q50, q95 = np.percentile(a, [5, 50, 95])
    return {"mean": float(a.mean()), "median": float(q50), "p05": float(q05), "p95": float(q95)}


@dataclass(frozen=True, eq=False)
class Empirical(Dist):
    """Samples handed over by another stage (e.g. a bootstrap of the quality gain); resampled with replacement."""

    samples: np.ndarray = field(repr=False)
    form: ClassVar[str] = "empirical"

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


def _as_dist(value: Any, name: str, *, nonneg: bool) -> Dist:
    """A caller's estimate as a Dist: a number, a spec-form mapping, a Dist, or samples (e.g. a bootstrap)."""
    try:
        if isinstance(value, (np.ndarray, list, tuple)):
            arr = np.asarray(value, dtype=float).ravel()
            if arr.size == 0 or not np.isfinite(arr).all():
                raise ValueError("samples must be a non-empty array of finite numbers")
            d: Dist = Empirical(arr)
        else:
            d = parse_dist(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if nonneg and d.support()[0] < 0:
        raise ValueError(f"{name} must be >= 0, got {d.label()}")
    return d


@dataclass
class CostResult:
    """What ``run_cost_model`` found. ``to_dict()`` is the JSON-safe body of cost.json; ``draws`` stay here."""

    horizon_months: int
    n_draws: int
    seed: int
    currency: str
    tco: dict[str, dict[str, Any]]
    p_finetune_cheaper: float
    net_value: dict[str, Any]
    breakeven: dict[str, Any]
    sensitivity: list[dict[str, Any]]
    inputs: dict[str, dict[str, Any]]
    draws: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def breakeven_monthly_volume(self) -> float | None:
        return self.breakeven["monthly_volume"]

    def histogram(self, bins: int = 40) -> dict[str, Any]:
        """Both TCO distributions on shared bins (0.5th-99.5th percentile), for charts without the raw draws."""
        both = np.concatenate([self.draws["prompting"], self.draws["fine_tuning"]])
        lo, hi = np.percentile(both, [0.5, 99.5])
        hi = hi if hi > lo else lo + 1.0
        edges = np.linspace(lo, hi, bins + 1)
        counts = {p: np.histogram(np.clip(self.draws[p], lo, hi), edges)[0].tolist() for p in PATHS}
        return {"bin_edges": edges.tolist(), **counts}

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "horizon_months": self.horizon_months,
            "n_draws": self.n_draws,
            "seed": self.seed,
            "tco": self.tco,
            "p_finetune_cheaper": self.p_finetune_cheaper,
            "expected_net_value_of_finetuning": self.net_value,
            "breakeven_monthly_volume": self.breakeven_monthly_volume,
            "breakeven": self.breakeven,
            "sensitivity": self.sensitivity,
            "inputs": self.inputs,
            "distribution": self.histogram() if self.draws else None,
        }


def run_cost_model(
    costs: CostInputs,
    *,
    labels_needed: Dist | float | np.ndarray | None = None,
    quality_gain: Dist | float | np.ndarray | None = None,
    seed: int = 0,
    n_draws: int = 20000,
) -> CostResult:
    """Monte Carlo TCO of both paths over ``costs.horizon_months``.

    ``labels_needed`` (from the probe's learning curve) and ``quality_gain`` (fine-tune minus prompt, in metric
    points; a Dist, a number or bootstrap samples) replace the spec's values when given. Deterministic per seed.
    """
    if int(n_draws) < 2:
        raise ValueError(f"n_draws must be at least 2, got {n_draws}")
    n = int(n_draws)
    dists = costs.flat_inputs()
    explicit = costs.explicit_keys()
    sources = {k: ("spec" if k in explicit else "default") for k in dists}
    if labels_needed is not None:
        dists[LABELS_KEY], sources[LABELS_KEY] = _as_dist(labels_needed, "labels_needed", nonneg=True), "caller"
    if quality_gain is not None:
        dists[GAIN_KEY], sources[GAIN_KEY] = _as_dist(quality_gain, "quality_gain", nonneg=False), "caller"
    shape = _Shape(
        costs.horizon_months, costs.lead_time_months, costs.portfolio.existing_finetuned_models,
        "prices.finetuned_input_per_1m" in dists, "prices.finetuned_output_per_1m" in dists,
    )
    if shape.explicit_ft_in and shape.explicit_ft_out:
        dists.pop("prices.finetuned_multiplier")  # unused: keep it out of the echo and the tornado
    H = costs.horizon_months
    draws = {k: d.sample(input_rng(seed, k), n) for k, d in dists.items()}
    evaluate = _Evaluator(shape, costs.base_model_updates.events, input_rng(seed, _EVENTS_RNG).random(n))

    comp_p, comp_f, quality = evaluate(draws)
    tco_p, tco_f = _total(comp_p), _total(comp_f)
    net = tco_p - tco_f + quality

    tco = {}
    for path, comp, total in (("prompting", comp_p, tco_p), ("fine_tuning", comp_f, tco_f)):
        tco[path] = {**_summary(total), "breakdown": {c: float(np.mean(comp[c])) for c in COMPONENTS}}
    priced = bool(np.any(quality != 0))
    net_value = {
        **_summary(net),
        "p_positive": float(np.mean(net > 0)),
        "tco_difference_mean": float(np.mean(tco_p - tco_f)),
        "quality_value": _summary(quality) if priced else None,
        "quality_priced": priced,
    }
    return CostResult(
        horizon_months=H,
        n_draws=n,
        seed=seed,
        currency=costs.currency,
        tco=tco,
        p_finetune_cheaper=float(np.mean(tco_f < tco_p)),
        net_value=net_value,
        breakeven=_breakeven(draws, evaluate, costs.currency),
        sensitivity=_sensitivity(dists, draws, evaluate),
        inputs={k: {**d.describe(), "source": sources[k]} for k, d in dists.items()},
        draws={"prompting": tco_p, "fine_tuning": tco_f, "net_value": net, "quality_value": quality},
    )


def _breakeven(draws: dict[str, np.ndarray], evaluate: _Evaluator, currency: str) -> dict[str, Any]:
    """The current monthly volume V* at which the *expected* TCOs are equal, in closed form.

    Given every other input's draw, each path's TCO is exactly linear in the volume, TCO = A·V + B, so
    E[TCO] = E[A]·V + E[B] and V* = (E[B_ft] - E[B_p]) / (E[A_p] - E[A_ft]). Volume's own uncertainty is
    replaced by the point V; everything else stays integrated over its distribution.
    """
    at = {}
    v_ref = 1e6  # a large reference volume: the slope from it loses less to cancellation than from V = 1
    for v in (0.0, v_ref):
        p, f, q = evaluate({**draws, VOLUME_KEY: v})
        at[v] = (float(np.mean(_total(p))), float(np.mean(_total(f))), float(np.mean(q)))
    b_p, b_f, q = at[0.0]
    # expected cost over the horizon per unit of current monthly volume
    a_p, a_f = (at[v_ref][0] - b_p) / v_ref, (at[v_ref][1] - b_f) / v_ref
    gap_a, gap_b = a_p - a_f, b_f - b_p
    cpr = _per_request(draws, evaluate.shape)
    out: dict[str, Any] = {
        "monthly_volume": None,
        "monthly_volume_with_quality_value": None,
        "reason": "",
        # Horizon cost per request/month of current volume (growth and lead time included): the slope in V.
        "cost_per_unit_monthly_volume": {"prompting": a_p, "fine_tuning": a_f},
        "fixed_cost": {"prompting": b_p, "fine_tuning": b_f},
        "inference_cost_per_1k_requests": {p: float(np.mean(c)) * 1000 for p, c in zip(PATHS, cpr)},
    }
    if gap_a <= 0:
        out["reason"] = (
            "fine-tuning never breaks even on cost: over the horizon each unit of monthly volume costs "
            f"{a_f:.4g} {currency} on the fine-tuned path vs {a_p:.4g} on prompting (its per-request cost is not "
            "lower), so more volume only widens the gap"
            if gap_b >= 0 else
            "fine-tuning is cheaper at low volume only: its fixed costs are lower but its per-request cost is not"
        )
        return out
    out["monthly_volume"] = max(gap_b / gap_a, 0.0)
    out["monthly_volume_with_quality_value"] = max((gap_b - q) / gap_a, 0.0)
    out["reason"] = (
        "fine-tuning is cheaper at any volume: its fixed costs are not higher"
        if gap_b <= 0 else
        "below this monthly volume prompting is cheaper in expectation; above it, fine-tuning"
    )
    return out


def _sensitivity(dists: dict[str, Dist], draws: dict[str, np.ndarray], evaluate: _Evaluator) -> list[dict]:
    """Tornado: swing each uncertain input between its 10th and 90th percentile.

    Expected net value is computed with every other input at its draws' mean (the classic one-at-a-time
    tornado); P(net value > 0) with every other input still drawn, on the same draws. That probability is
    P(fine-tune cheaper) when quality is unpriced, and the decision-relevant one when it is priced.
    """
    swung = [k for k, d in dists.items() if not d.is_point]
    if not swung:
        return []
    means = {k: float(v.mean()) for k, v in draws.items()}
    m = 2 * len(swung)
    batch = {k: np.full(m, v) for k, v in means.items()}
    ends = {}
    for i, k in enumerate(swung):
        ends[k] = (dists[k].ppf(0.1), dists[k].ppf(0.9))
        batch[k][2 * i], batch[k][2 * i + 1] = ends[k]
    # At the means, base-model updates count at their expected rate (no Poisson noise in a tornado).
    p, f, q = evaluate(batch, expected_events=True)
    nv = _total(p) - _total(f) + q
    rows = []
    for i, k in enumerate(swung):
        p_ends = []
        for val in ends[k]:
            pp, ff, qq = evaluate({**draws, k: val})
            p_ends.append(float(np.mean(_total(pp) - _total(ff) + qq > 0)))
        lo, hi = float(nv[2 * i]), float(nv[2 * i + 1])
        rows.append({
            "input": k,
            "distribution": dists[k].label(),
            "low": float(ends[k][0]),
            "high": float(ends[k][1]),
            "net_value_at_low": lo,
            "net_value_at_high": hi,
            "swing": abs(hi - lo),
            "p_positive_at_low": p_ends[0],
            "p_positive_at_high": p_ends[1],
            "p_swing": abs(p_ends[1] - p_ends[0]),
        })
    rows.sort(key=lambda r: (-r["swing"], -r["p_swing"], r["input"]))
    return rows
