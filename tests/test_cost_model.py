"""Cost model: closed-form totals on point inputs, Monte Carlo convergence, the super-linear portfolio term,
break-even consistency, sensitivity ranking, validation errors that name the key."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from pydantic import ValidationError

from tunegate.config.costs import (
    CostInputs,
    LogNormal,
    Triangular,
    Uniform,
    input_rng,
    parse_costs,
    parse_dist,
)
from tunegate.cost.model import COMPONENTS, PATHS, geometric_months, run_cost_model
from tunegate.errors import SpecError

# Every cost switched off, prices and tokens as points: each test switches on what it checks.
ZERO: dict = {
    "horizon_months": 12,
    "lead_time_months": 0,
    "monthly_requests": 10000,
    "monthly_growth": 0,
    "hosting_per_month": 0,
    "tokens": {"prompt_input": 1000, "prompt_output": 100, "finetuned_input": 200, "finetuned_output": 100},
    "prices": {"input_per_1m": 1.0, "output_per_1m": 2.0, "finetuned_multiplier": 2.0},
    "rates": {"engineer_day": 1000, "reviewer_hour": 50},
    "sprint": {"prompting_days": 0, "finetuning_days": 0},
    "labeling": {"labels_needed": 0, "cost_per_label": 0},
    "training": {"cost_per_run": 0, "initial_runs": 0, "runs_per_year": 0},
    "evaluation": {
        p: {"runs_per_month": 0, "set_size": 0, "judge_cost_per_call": 0, "review_hours_per_month": 0,
            "review_hours_per_reevaluation": 0}
        for p in ("finetuned", "prompting")
    },
    "base_model_updates": {"per_year": 0, "events": "expected", "finetuned_engineer_days": 0,
                           "prompting_engineer_days": 0},
    "portfolio": {"overhead_per_model_month": 0, "beta": 1.3},
    "engineering": {"prompting_days_per_month": 0, "finetuning_days_per_month": 0},
}


def spec(**over) -> CostInputs:
    """ZERO with nested overrides: spec(prices={"finetuned_multiplier": 3}) keeps the other price keys."""
    raw = copy.deepcopy(ZERO)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(raw.get(k), dict):
            raw[k].update(v)
        else:
            raw[k] = v
    return parse_costs(raw)


def breakdown(result, path):
    return result.tco[path]["breakdown"]


# ---------------------------------------------------------------------------------------------- closed form


def test_inference_cost_exact_without_growth():
    r = run_cost_model(spec(), n_draws=100)
    # prompting: 10,000 req/month x 12 months x (1000 x 1.0 + 100 x 2.0) / 1e6 = 120,000 x 0.0012
    assert breakdown(r, "prompting")["inference"] == pytest.approx(144.0, rel=1e-12)
    # fine-tuned prices 2x: (200 x 2.0 + 100 x 4.0) / 1e6 = 0.0008 per request
    assert breakdown(r, "fine_tuning")["inference"] == pytest.approx(96.0, rel=1e-12)
    assert r.tco["prompting"]["p05"] == r.tco["prompting"]["p95"] == pytest.approx(144.0)
    per_1k = r.breakeven["inference_cost_per_1k_requests"]
    assert (per_1k["prompting"], per_1k["fine_tuning"]) == pytest.approx((1.2, 0.8))


def test_inference_cost_with_compounding_growth_is_the_geometric_sum():
    g, h = 0.05, 18
    r = run_cost_model(spec(horizon_months=h, monthly_growth=g), n_draws=50)
    total_requests = sum(10000 * (1 + g) ** m for m in range(h))
    assert total_requests == pytest.approx(10000 * ((1 + g) ** h - 1) / g)
    assert breakdown(r, "prompting")["inference"] == pytest.approx(total_requests * 0.0012, rel=1e-10)
    assert geometric_months(np.array([0.0, 1e-12]), 18) == pytest.approx([18.0, 18.0])


def test_lead_time_serves_the_prompt_until_the_finetune_ships():
    r = run_cost_model(spec(lead_time_months=2, hosting_per_month=100), n_draws=50)
    assert breakdown(r, "fine_tuning")["inference"] == pytest.approx(10000 * (2 * 0.0012 + 10 * 0.0008))
    assert breakdown(r, "fine_tuning")["hosting"] == pytest.approx(100 * 10)


FULL = dict(
    sprint={"prompting_days": 2, "finetuning_days": 10},
    labeling={"labels_needed": 1000, "cost_per_label": 1, "annotators_per_item": 2, "adjudication_share": 0.1,
              "adjudication_cost_factor": 2},
    training={"cost_per_run": 100, "initial_runs": 2, "runs_per_year": 1},
    hosting_per_month=100,
    evaluation={
        "finetuned": {"runs_per_month": 4, "set_size": 100, "judge_calls_per_item": 1, "judge_cost_per_call": 0.01,
                      "review_hours_per_month": 2, "review_hours_per_reevaluation": 4},
        "prompting": {"runs_per_month": 1, "set_size": 100, "judge_calls_per_item": 1, "judge_cost_per_call": 0.01,
                      "review_hours_per_month": 1, "review_hours_per_reevaluation": 2},
    },
    base_model_updates={"per_year": 1, "events": "expected", "finetuned_retrain_runs": 1, "relabel_fraction": 0.5,
                        "finetuned_engineer_days": 2, "prompting_engineer_days": 0.5},
    portfolio={"existing_finetuned_models": 0, "overhead_per_model_month": 300, "beta": 1.5},
    engineering={"prompting_days_per_month": 0.25, "finetuning_days_per_month": 1},
    quality={"value_per_point_per_month": 100, "gain_points": 2},
)


def test_full_example_matches_hand_computation():
    r = run_cost_model(spec(**FULL), n_draws=100)
    # Eval run = set size x (judge + subject call): ft 100 x (0.01 + 0.0008) = 1.08, prompt 100 x 0.0112 = 1.12.
    # Re-evaluation = one run + review hours x 50: ft 1.08 + 200, prompt 1.12 + 100. One update in 12 months.
    expected_p = {
        "inference": 144.0, "sprint": 2 * 1000, "labeling": 0, "training": 0, "hosting": 0,
        "evaluation_tax": (1 * 1.12 + 1 * 50) * 12,            # 613.44
        "retraining": 1 * (101.12 + 0.5 * 1000),                 # 601.12
        "portfolio_overhead": 0, "engineering": 0.25 * 1000 * 12,
    }
    labels = 1000 * 1 * (2 + 0.1 * 2)                            # 2200
    expected_f = {
        "inference": 96.0, "sprint": 10 * 1000, "labeling": labels,
        "training": (2 + 1 * 12 / 12) * 100, "hosting": 100 * 12,
        "evaluation_tax": (4 * 1.08 + 2 * 50) * 12,             # 1251.84
        "retraining": 1 * (1 * 100 + 0.5 * labels + 201.08 + 2 * 1000),  # 3401.08
        "portfolio_overhead": 300 * (1**1.5 - 0**1.5) * 12, "engineering": 1 * 1000 * 12,
    }
    for c in COMPONENTS:
        assert breakdown(r, "prompting")[c] == pytest.approx(expected_p[c], rel=1e-9, abs=1e-9), c
        assert breakdown(r, "fine_tuning")[c] == pytest.approx(expected_f[c], rel=1e-9, abs=1e-9), c
    tco_p, tco_f = sum(expected_p.values()), sum(expected_f.values())
    assert (tco_p, tco_f) == pytest.approx((6358.56, 34048.92))
    assert r.tco["prompting"]["mean"] == pytest.approx(tco_p)
    assert r.net_value["mean"] == pytest.approx(tco_p - tco_f + 100 * 2 * 12)
    assert r.p_finetune_cheaper == 0.0


def test_explicit_finetuned_prices_override_the_multiplier():
    r = run_cost_model(spec(prices={"finetuned_input_per_1m": 0.5, "finetuned_output_per_1m": 1.0}), n_draws=10)
    assert breakdown(r, "fine_tuning")["inference"] == pytest.approx(120000 * (200 * 0.5 + 100 * 1.0) / 1e6)
    assert "prices.finetuned_multiplier" not in r.inputs


# ---------------------------------------------------------------------------------------------- Monte Carlo


@pytest.mark.parametrize(
    "d, mean",
    [
        (Triangular(1.0, 2.0, 6.0), 3.0),
        (Uniform(2.0, 4.0), 3.0),
        (LogNormal(math.log(100.0), 0.5), 100.0 * math.exp(0.125)),
    ],
)
def test_distribution_sample_mean_and_percentiles_match_analytic(d, mean):
    x = d.sample(input_rng(1, "x"), 200_000)
    assert d.mean() == pytest.approx(mean)
    assert x.mean() == pytest.approx(mean, rel=0.01)
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(x, q) == pytest.approx(d.ppf(q), rel=0.02)


def test_lognormal_from_median_and_p90():
    d = parse_dist({"lognormal": {"median": 2000, "p90": 6000}})
    assert d.ppf(0.5) == pytest.approx(2000) and d.ppf(0.9) == pytest.approx(6000)
    assert d.to_spec() == {"lognormal": {"median": 2000.0, "p90": 6000.0}}


def test_monte_carlo_mean_converges_to_analytic_mean():
    vol = {"triangular": [5000, 10000, 30000]}  # mean 15,000
    r = run_cost_model(spec(monthly_requests=vol, sprint={"prompting_days": 2}), n_draws=20000)
    assert r.tco["prompting"]["mean"] == pytest.approx(15000 * 12 * 0.0012 + 2000, rel=0.005)
    lab = {"lognormal": {"median": 1000, "p90": 3000}}
    r = run_cost_model(spec(labeling={"labels_needed": lab, "cost_per_label": 1}), n_draws=20000)
    analytic = parse_dist(lab).mean() * (2 + 0.15 * 2)  # heavy tail: the sample mean's s.e. is ~0.75%
    assert breakdown(r, "fine_tuning")["labeling"] == pytest.approx(analytic, rel=0.03)


def test_poisson_update_events_average_to_the_rate():
    upd = {"per_year": 2, "events": "poisson", "prompting_engineer_days": 1}
    r = run_cost_model(spec(base_model_updates=upd), n_draws=20000)
    assert breakdown(r, "prompting")["retraining"] == pytest.approx(2 * 1000, rel=0.03)  # 2 events in 12 months
    draws = (r.draws["prompting"] - 144.0) / 1000  # minus inference
    assert np.allclose(draws, np.round(draws))  # whole events per draw


def test_results_are_seeded_and_deterministic():
    c = CostInputs()
    a = run_cost_model(c, seed=3, n_draws=2000).to_dict()
    b = run_cost_model(c, seed=3, n_draws=2000).to_dict()
    assert a == b
    assert run_cost_model(c, seed=4, n_draws=2000).to_dict()["tco"] != a["tco"]


def test_caller_estimates_replace_spec_values():
    gain = np.array([1.0, 2.0, 3.0])
    c = spec(labeling={"cost_per_label": 1}, quality={"value_per_point_per_month": 10})
    r = run_cost_model(c, labels_needed=500, quality_gain=gain, n_draws=20000)
    assert breakdown(r, "fine_tuning")["labeling"] == pytest.approx(500 * 2.3)
    assert r.net_value["quality_value"]["mean"] == pytest.approx(10 * 2.0 * 12, rel=0.02)
    assert r.inputs["labeling.labels_needed"]["source"] == "caller"
    assert r.inputs["quality.gain_points"]["distribution"] == "empirical(3 samples)"
    with pytest.raises(ValueError, match="labels_needed"):
        run_cost_model(c, labels_needed=-1)


# ---------------------------------------------------------------------------------------------- portfolio


@pytest.mark.parametrize("beta", [1.0, 1.3, 2.0])
def test_portfolio_increment_equals_c_for_the_first_model(beta):
    r = run_cost_model(spec(portfolio={"overhead_per_model_month": 100, "beta": beta}), n_draws=10)
    assert breakdown(r, "fine_tuning")["portfolio_overhead"] == pytest.approx(100 * 12)
    assert breakdown(r, "prompting")["portfolio_overhead"] == 0


def test_portfolio_increment_grows_with_team_size_when_beta_above_one():
    def increment(n, beta):
        port = {"existing_finetuned_models": n, "overhead_per_model_month": 100, "beta": beta}
        return breakdown(run_cost_model(spec(portfolio=port), n_draws=10), "fine_tuning")["portfolio_overhead"]

    superlinear = [increment(n, 1.3) for n in range(6)]
    assert all(b > a for a, b in zip(superlinear, superlinear[1:]))
    assert superlinear[4] == pytest.approx(100 * (5**1.3 - 4**1.3) * 12)
    assert [increment(n, 1.0) for n in (0, 3, 9)] == pytest.approx([1200.0] * 3)


# ---------------------------------------------------------------------------------------------- break-even


def test_breakeven_closed_form_and_consistency():
    r = run_cost_model(spec(**FULL), n_draws=100)
    # Per unit of monthly volume: prompt 12 x 0.0012, fine-tune 12 x 0.0008; fixed = TCO minus inference.
    v_star = ((34048.92 - 96) - (6358.56 - 144)) / (12 * (0.0012 - 0.0008))
    assert r.breakeven_monthly_volume == pytest.approx(v_star, rel=1e-8)
    at = run_cost_model(spec(**{**FULL, "monthly_requests": v_star}), n_draws=100)
    assert at.tco["prompting"]["mean"] == pytest.approx(at.tco["fine_tuning"]["mean"], rel=0.005)
    below = run_cost_model(spec(**{**FULL, "monthly_requests": 0.8 * v_star}), n_draws=100)
    above = run_cost_model(spec(**{**FULL, "monthly_requests": 1.2 * v_star}), n_draws=100)
    assert below.tco["prompting"]["mean"] < below.tco["fine_tuning"]["mean"]
    assert above.tco["fine_tuning"]["mean"] < above.tco["prompting"]["mean"]


def test_breakeven_with_uncertain_inputs_equalises_expected_tco():
    unc = dict(FULL, monthly_growth={"triangular": [0, 0.02, 0.06]},
               prices={"finetuned_multiplier": {"triangular": [1.5, 2.0, 2.0]}},
               sprint={"prompting_days": 2, "finetuning_days": {"lognormal": {"median": 10, "p90": 25}}},
               base_model_updates=dict(FULL["base_model_updates"], events="poisson"),
               portfolio=dict(FULL["portfolio"], beta={"triangular": [1.1, 1.3, 1.5]}))
    r = run_cost_model(spec(**unc), seed=7, n_draws=20000)
    v_star = r.breakeven_monthly_volume
    at = run_cost_model(spec(**{**unc, "monthly_requests": v_star}), seed=7, n_draws=20000)
    assert at.tco["prompting"]["mean"] == pytest.approx(at.tco["fine_tuning"]["mean"], rel=0.005)


def test_no_breakeven_when_finetuned_requests_cost_more():
    r = run_cost_model(spec(prices={"finetuned_multiplier": 10.0}, sprint={"finetuning_days": 5}), n_draws=10)
    assert r.breakeven_monthly_volume is None
    assert "never breaks even" in r.breakeven["reason"]


def test_breakeven_zero_when_finetuning_is_cheaper_at_any_volume_and_quality_lowers_it():
    r = run_cost_model(spec(sprint={"prompting_days": 30, "finetuning_days": 5}), n_draws=10)
    assert r.breakeven_monthly_volume == 0.0 and "any volume" in r.breakeven["reason"]
    priced = spec(**{**FULL, "quality": {"value_per_point_per_month": 500, "gain_points": 2}})
    b = run_cost_model(priced, n_draws=10).breakeven
    assert b["monthly_volume_with_quality_value"] == pytest.approx(
        b["monthly_volume"] - 500 * 2 * 12 / (12 * 0.0004), rel=1e-6
    )


# ---------------------------------------------------------------------------------------------- decision outputs


def test_p_finetune_cheaper_is_zero_or_one_for_clear_point_cases():
    assert run_cost_model(spec(sprint={"finetuning_days": 20}), n_draws=1000).p_finetune_cheaper == 0.0
    heavy = spec(monthly_requests=5_000_000, sprint={"finetuning_days": 20}, tokens={"prompt_input": 4000})
    assert run_cost_model(heavy, n_draws=1000).p_finetune_cheaper == 1.0


def test_sensitivity_ranks_the_dominating_input_first():
    c = spec(monthly_requests=1_000_000, prices={"finetuned_multiplier": {"uniform": [1.0, 10.0]}},
             monthly_growth={"triangular": [0.0, 0.01, 0.02]},
             sprint={"finetuning_days": {"triangular": [5, 10, 15]}})
    rows = run_cost_model(c, n_draws=5000).sensitivity
    assert [r["input"] for r in rows][0] == "prices.finetuned_multiplier"
    names = {"prices.finetuned_multiplier", "monthly_growth", "sprint.finetuning_days"}
    assert {r["input"] for r in rows} == names
    assert [r["swing"] for r in rows] == sorted((r["swing"] for r in rows), reverse=True)
    top = rows[0]
    assert (top["low"], top["high"]) == pytest.approx((1.9, 9.1))
    assert top["net_value_at_low"] > top["net_value_at_high"]  # a pricier fine-tune lowers its net value
    assert top["p_positive_at_low"] >= top["p_positive_at_high"]


def test_default_run_with_many_draws_is_json_safe_and_complete():
    r = run_cost_model(CostInputs(), n_draws=20000)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["n_draws"] == 20000 and d["horizon_months"] == 18 and d["seed"] == 0
    for p in PATHS:
        assert set(d["tco"][p]) == {"mean", "median", "p05", "p95", "breakdown"}
        assert set(d["tco"][p]["breakdown"]) == set(COMPONENTS)
        assert d["tco"][p]["p05"] <= d["tco"][p]["median"] <= d["tco"][p]["p95"]
    assert 0.0 <= d["p_finetune_cheaper"] <= 1.0
    nv = d["expected_net_value_of_finetuning"]
    assert nv["p05"] <= nv["mean"] <= nv["p95"] or nv["p05"] <= nv["median"] <= nv["p95"]
    assert "portfolio.beta" in {row["input"] for row in d["sensitivity"]}
    assert d["inputs"]["portfolio.beta"]["mean"] == pytest.approx(1.3)
    assert sum(d["distribution"]["prompting"]) == 20000
    assert len(r.draws["fine_tuning"]) == 20000


# ---------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "raw, key, words",
    [
        ({"monthly_requests": -5}, "costs.monthly_requests", ">= 0"),
        ({"horizon_monhts": 18}, "costs.horizon_monhts", "unknown key"),
        ({"monthly_requests": {"triangular": [-1, 2, 3]}}, "costs.monthly_requests", ">= 0"),
        ({"monthly_requests": {"triangular": [3, 2, 1]}}, "costs.monthly_requests", "increasing"),
        ({"prices": {"finetuned_multiplier": {"gamma": [1, 2]}}}, "costs.prices.finetuned_multiplier", "unknown"),
        ({"labeling": {"adjudication_share": 1.5}}, "costs.labeling.adjudication_share", "between 0 and 1"),
        ({"evaluation": {"finetuned": {"runs_mnth": 4}}}, "costs.evaluation.finetuned.runs_mnth", "unknown"),
        ({"portfolio": {"beta": 0.8}}, "costs.portfolio.beta", ">= 1"),
        ({"horizon_months": 6, "lead_time_months": 6}, "costs", "shorter than horizon"),
    ],
)
def test_validation_errors_name_the_key(raw, key, words):
    with pytest.raises(SpecError) as exc:
        parse_costs(raw)
    assert exc.value.field == key
    assert words in str(exc.value)


def test_pydantic_error_location_is_the_key():
    with pytest.raises(ValidationError) as exc:
        CostInputs.model_validate({"monthly_requests": -1})
    assert exc.value.errors()[0]["loc"] == ("monthly_requests",)


def test_spec_round_trips_through_json():
    vol = {"lognormal": {"median": 50000, "p90": 120000}}
    c = parse_costs({"monthly_requests": vol, "tokens": {"prompt_input": "1e3"}})
    again = parse_costs(json.loads(json.dumps(c.model_dump(mode="json"))))
    assert again.flat_inputs() == c.flat_inputs()
    assert c.explicit_keys() == {"monthly_requests", "tokens.prompt_input"}
