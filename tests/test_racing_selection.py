"""Issue 14's acceptance test for the sprint's selection, by simulation (tunegate.sprint.selection_sim):
budgeted racing keeps a prompt within 1 point of the true best about as often as the full grid, at <= 1/3 of its
calls, and far more often than the previous successive halving. Vectorised data, seconds not minutes."""

from __future__ import annotations

import numpy as np
import pytest

from tunegate.sprint.racing import full_grid, plan_cuts, race, successive_halving
from tunegate.sprint.selection_sim import latent_rho, matrix_evaluator, run_grid, scenario, simulate_scores


def _race(x, seed, **kw):
    r = race(list(range(x.shape[0])), x.shape[1], matrix_evaluator(x), finalists=1, seed=seed, **kw)
    return r.finalists[0], r.item_evaluations()


def _halving(x, seed):
    r = successive_halving(list(range(x.shape[0])), x.shape[1], matrix_evaluator(x), min_items=16, eta=2,
                           finalists=1, seed=seed)
    return r.finalists[0], r.item_evaluations()


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_race_against_the_grid_in_every_setting_at_a_third_of_its_calls(rho):
    # 8 and 16 candidates, leads of 1-3 points, 300 and 1,000 dev items, a tail and a dense ladder of rivals.
    # Monte Carlo noise: each cell's race-minus-grid rate has a paired standard error `se` of 0.01-0.045 at 100
    # repetitions (reported per cell); the mean over 24 cells about 0.007. bench/sprint_selection.py --reps 400
    # gives the measured table (docs/sprint.md).
    cells = run_grid({"race": _race, "halving": _halving}, reps=100, rho=rho, seed=14)
    diff = {(c.family, c.k, c.lead, c.n): c.rates["race"] - c.grid_rate for c in cells}
    se = {(c.family, c.k, c.lead, c.n): c.diff_se["race"] for c in cells}
    assert max(c.cost_share_max["race"] for c in cells) <= 1 / 3 + 1e-9
    # the goal on average (measured -0.031 at rho 0, -0.026 at rho 0.5), and far above the old halving
    assert np.mean(list(diff.values())) >= -0.05
    assert np.mean([c.rates["race"] - c.rates["halving"] for c in cells]) >= 0.10
    # per setting: with 16 candidates the goal holds (measured -0.050 at worst); with 8, 1/3 of the grid pays for
    # under 3 candidates on all of dev and the dense ladders sit at the information limit (a rule told the best
    # 4 trails the grid by up to 8.5 points there; the race by up to 8.3): a floor of -0.10, not -0.05
    for key, d in diff.items():
        goal = -0.05 if key[1] == 16 else -0.10
        assert d >= goal - 2.5 * se[key], (key, d, se[key])


def test_with_the_whole_grid_as_budget_the_race_picks_the_grids_winner():
    rng = np.random.default_rng(3)
    data = simulate_scores(scenario(8, 0.01, "ladder"), 200, 30, rng)
    for r, x in enumerate(data):
        ev = matrix_evaluator(x)
        got = race(list(range(8)), 200, ev, budget_share=1.0, finalists=2, seed=r)
        grid = full_grid(list(range(8)), 200, ev, finalists=2, seed=r)
        assert got.finalists[0] == grid.finalists[0]
        # nobody is cut for the budget; only candidates significantly worse than the leader stop early
        assert not got.eliminated_by_rank and sorted(got.finished + got.eliminated_by_test) == list(range(8))


def test_the_paired_test_eliminates_the_true_best_at_most_alpha_of_the_time():
    # all 8 candidates equally good: any elimination of candidate 0 by the test is an error (the stated rate)
    rng = np.random.default_rng(5)
    data = simulate_scores(np.full(8, 0.7), 400, 400, rng)
    wrong = [0 in race(list(range(8)), 400, matrix_evaluator(x), seed=r).eliminated_by_test
             for r, x in enumerate(data)]
    assert np.mean(wrong) <= 0.05
    # clear losers do go by the test, and early
    clear = simulate_scores(np.array([0.9, 0.88, 0.4, 0.35, 0.3, 0.3, 0.3, 0.3]), 1000, 1, rng)[0]
    res = race(list(range(8)), 1000, matrix_evaluator(clear), seed=0)
    assert set(res.eliminated_by_test) >= {4, 5, 6, 7} and res.finalists[0] in (0, 1)
    assert res.rounds[0].by_test and res.item_evaluations() < 8 * 1000 / 3


def test_race_respects_budget_costs_and_reports_what_it_did():
    rng = np.random.default_rng(9)
    x = simulate_scores(scenario(6, 0.03, "tail"), 300, 1, rng)[0]
    costs = {0: 1.0, 1: 1.0, 2: 5.0, 3: 1.0, 4: 1.0, 5: 1.0}  # candidate 2 draws 5 samples per item
    res = race(list(range(6)), 300, matrix_evaluator(x), cost_per_item=costs, finalists=2, seed=1)
    assert res.spent <= sum(costs.values()) * 300 / 3 + 1e-9 and res.budget == pytest.approx(10 * 300 / 3)
    capped = race(list(range(6)), 300, matrix_evaluator(x), cost_per_item=costs, seed=1, budget=400)
    assert capped.stopped_by_budget and capped.spent <= max(400, 10 * 16)
    # every candidate is either a survivor that saw every item used, or eliminated (by test or by rank)
    assert set(res.finished) | set(res.eliminated_by_test) | set(res.eliminated_by_rank) == set(range(6))
    assert all(res.items_per_candidate[c] == len(res.items_order) for c in res.finished)
    assert res.finalists[0] in res.finished
    assert len(set(res.items_order)) == len(res.items_order)  # each round's items are new
    with pytest.raises(ValueError, match="budget_share"):
        race([0, 1], 10, matrix_evaluator(x), budget_share=0)


def test_the_plan_spends_the_budget_cutting_one_candidate_at_a_time():
    plan = plan_cuts(8, 0, 300, 800)
    assert plan is not None and sum(plan) <= 800 and sum(plan) >= 790  # the budget, not much less
    assert plan == sorted(plan, reverse=True) and plan[0] == 8 and plan[-1] == 2
    drops = [a - b for a, b in zip(plan, plan[1:]) if a != b]
    assert drops == [1] * 6  # 8 -> 7 -> ... -> 2: never half the field at once
    assert 200 <= len(plan) < 300  # the last two see most of dev, not all of it (three stay in longer instead)
    later = plan_cuts(3, 100, 300, 2 * 200 + 1)  # two can finish, three cannot
    assert later is not None and later[0] == 3 and sum(later) <= 401
    assert plan_cuts(3, 100, 300, 600) is None  # all three can finish dev
    assert plan_cuts(4, 0, 100, 1) == []  # nothing affordable: the race ends


def test_latent_rho_reads_the_simulators_correlation_back():
    rng = np.random.default_rng(2)
    for rho in (0.0, 0.5, 0.8):
        x = simulate_scores(np.array([0.8, 0.75, 0.7, 0.6]), 3000, 1, rng, rho)[0]
        assert np.median(latent_rho(x)) == pytest.approx(rho, abs=0.06)
