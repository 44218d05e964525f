"""The evaluation tax of a portfolio: each model's monthly cost of staying honest, and the team overhead c·N^β.

Nothing here is a new cost formula. A model's monthly tax is the cost model's own ``evaluation_tax`` component
(``tunegate.cost.model``; docs/cost-model.md: scheduled eval runs × (judge calls + subject calls on the eval set) +
review hours), evaluated on the same seeded draws ``tunegate cost`` uses, so the two never disagree. The team
overhead is the cost model's portfolio term ``c·N^β`` over the N *fine-tuned* models (the prompting path carries
no portfolio overhead there either), with c and β from the ``costs.portfolio`` inputs.

Draws are shared across models and across N (common random numbers: the same judge price and reviewer rate for the
whole team), so the band of the total is the comonotone, i.e. widest, case; the means are exact either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunegate.config.costs import CostInputs, PortfolioInputs, input_rng, parse_costs
from tunegate.cost.model import monthly_evaluation_tax

PATHS = ("prompt", "fine-tune")
N_DRAWS = 4000


def _summary(a: np.ndarray) -> dict[str, float]:
    q05, q50, q95 = np.percentile(a, [5, 50, 95])
    return {"mean": float(a.mean()), "median": float(q50), "p05": float(q05), "p95": float(q95)}


def tax_draws(costs: CostInputs, path: str, *, seed: int = 0, n_draws: int = N_DRAWS) -> np.ndarray:
    """Monthly evaluation tax of one model on ``path`` (prompt | fine-tune), one value per Monte Carlo draw.

    The cost model's own ``evaluation_tax`` component (lead time 0: the model already serves) per month.
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    return monthly_evaluation_tax(costs, seed=seed, n_draws=n_draws)["prompting" if path == "prompt"
                                                                      else "fine_tuning"]


def model_tax(costs: CostInputs, path: str, *, seed: int = 0, n_draws: int = N_DRAWS) -> dict[str, Any]:
    """``{currency, mean, median, p05, p95}`` of one model's monthly evaluation tax."""
    return {"currency": costs.currency, **_summary(tax_draws(costs, path, seed=seed, n_draws=n_draws))}


def costs_from_mapping(raw: Mapping[str, Any] | None) -> CostInputs:
    """A stored ``costs:`` mapping (None: the documented defaults) validated again; errors name the key."""
    return parse_costs(raw or {})


def portfolio_tax(
    models: Sequence[tuple[str, str, CostInputs]],
    *,
    portfolio: PortfolioInputs | None = None,
    seed: int = 0,
    n_draws: int = N_DRAWS,
) -> dict[str, Any]:
    """Monthly tax of a growing portfolio: for N = 1..len(models) (in the given order, e.g. as added), the sum
    of the first N models' taxes plus ``c·N_ft^β`` over the fine-tuned models among them.

    ``models`` holds ``(name, path, costs)``; ``portfolio`` gives c and β (default: the cost model's defaults).
    """
    p = portfolio or PortfolioInputs()
    c = p.overhead_per_model_month.sample(input_rng(seed, "portfolio.overhead_per_model_month"), n_draws)
    beta = p.beta.sample(input_rng(seed, "portfolio.beta"), n_draws)
    per_model = []
    running = np.zeros(n_draws)
    n_ft = 0
    rows = []
    currency = models[0][2].currency if models else "USD"
    for n, (name, path, costs) in enumerate(models, 1):
        t = tax_draws(costs, path, seed=seed, n_draws=n_draws)
        per_model.append({"name": name, "path": path, **_summary(t)})
        running = running + t
        n_ft += path == "fine-tune"
        overhead = c * float(n_ft) ** beta
        total = running + overhead
        rows.append({
            "n": n, "n_finetuned": n_ft, "added": name,
            "models_tax_mean": float(running.mean()),
            "portfolio_overhead_mean": float(overhead.mean()),
            "overhead_per_finetuned_model_mean": float(overhead.mean() / n_ft) if n_ft else 0.0,
            "total": _summary(total),
        })
    return {
        "currency": currency,
        "n_models": len(models),
        "n_finetuned": n_ft,
        "formula": "sum of each model's monthly evaluation_tax + c * N_ft^beta (N_ft = fine-tuned models)",
        "portfolio_inputs": {"c": p.overhead_per_model_month.describe(), "beta": p.beta.describe()},
        "per_model": per_model,
        "by_n": rows,
        "total": rows[-1]["total"] if rows else _summary(np.zeros(n_draws)),
        "n_draws": n_draws,
        "seed": seed,
    }
