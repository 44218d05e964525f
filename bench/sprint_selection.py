"""Benchmark: how often the sprint's selection keeps the best prompt, against the full grid (issue 14).

Simulated 0/1 scores with known accuracies (tunegate.sprint.selection_sim): 8 and 16 candidates, the best leading
the runner-up by 1, 2 or 3 points, 300 and 1,000 dev items, two families of the other candidates (``tail``: a
tail from 3 points below the runner-up to 20 below the best; ``ladder``: every candidate 1-3 points below the
previous), for each latent item-difficulty correlation ``rho`` asked for. For each cell it prints the share of
repetitions whose pick is within 1 point of the true best for the full grid, the old successive halving (until
one candidate is left), the previous race (sequential halving with a fixed budget: keep the best half each round,
Bonferroni eliminations, survivors finish dev when affordable) and the current ``sprint.racing.race`` (cuts
planned over the whole budget, one candidate at a time), then each rule's calls as a share of the grid's.

``--genie`` adds the information limit: a rule told which 3 (or 4) candidates are the best ones, in no order,
spending the whole budget on them evenly. No rule that must find them can do better than the first by much.

    .venv/bin/python bench/sprint_selection.py --reps 400 --rho 0 0.5 0.8 --genie [--budget-share 0.5]

``race se``: the Monte Carlo standard error of the race's rate minus the grid's (paired over repetitions).
"""

from __future__ import annotations

import argparse
import math
import time
from statistics import NormalDist

import numpy as np

from tunegate.sprint.racing import paired_z, race, successive_halving
from tunegate.sprint.selection_sim import matrix_evaluator, run_grid


def previous_race(x: np.ndarray, seed: int, budget_share: float = 1 / 3, alpha: float = 0.05,
                  min_items: int = 16) -> tuple[int, int]:
    """The race of commit bf0f892, for comparison: (winner, candidate-item evaluations). Each round spreads the
    remaining budget over the log2(survivors) rounds still needed; after it, candidates significantly worse than
    the leader go (one-sided paired z, Bonferroni over candidates and rounds), and when the budget cannot pay
    for the rest on all of dev, only the best half stays; once it can, they finish dev."""
    k, n = x.shape
    x = x[:, np.random.default_rng(seed).permutation(n)]
    total = budget_share * k * n
    z_crit = NormalDist().inv_cdf(1 - alpha / (max(1, k - 1) * max(1, math.ceil(math.log2(k) - 1e-9))))
    alive, used, spent = np.arange(k), 0, 0
    while alive.size > 1 and used < n:
        left, rest = total - spent, n - used
        if spent and alive.size * rest <= left:
            spent, used = spent + alive.size * rest, n
            break
        new = min(rest, int(left // (max(1, math.ceil(math.log2(alive.size) - 1e-9)) * alive.size)))
        new = new if spent else max(new, min(min_items, rest))
        if new < 1:
            break
        before, used, spent = alive.size, used + new, spent + alive.size * new
        full = alive[np.lexsort((alive, -x[alive, :used].mean(axis=1)))]
        keep = np.concatenate([full[:1], full[1:][paired_z(x[full[0], :used], x[full[1:], :used], True) <= z_crit]])
        if used < n and keep.size * (n - used) > total - spent:
            keep = keep[:max(1, math.ceil(before / 2))]
        alive = keep
    return int(alive[np.lexsort((alive, -x[alive, :used].mean(axis=1)))][0]), int(spent)


def selectors(budget_share: float) -> dict:
    def halving(x: np.ndarray, seed: int):
        r = successive_halving(list(range(x.shape[0])), x.shape[1], matrix_evaluator(x), min_items=16, eta=2,
                               finalists=1, seed=seed)
        return r.finalists[0], r.item_evaluations()

    def racing(x: np.ndarray, seed: int):
        r = race(list(range(x.shape[0])), x.shape[1], matrix_evaluator(x), budget_share=budget_share,
                 finalists=1, seed=seed)
        return r.finalists[0], r.item_evaluations()

    return {"halving": halving, "previous": lambda x, s: previous_race(x, s, budget_share), "race": racing}


def genie(top: int, budget_share: float):
    """Told the ``top`` best candidates (rows 0..top-1 in the simulator), in no order: all the budget on them."""
    def pick(x: np.ndarray, seed: int):
        m = min(x.shape[1], int(budget_share * x.size) // top)
        return int(np.argmax(x[:top, :m].sum(axis=1))), top * m
    return pick


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--rho", type=float, nargs="+", default=[0.0, 0.5],
                    help="latent item-difficulty correlation between candidates (one table each)")
    ap.add_argument("--budget-share", type=float, default=1 / 3)
    ap.add_argument("--genie", action="store_true", help="add the information limit (told the top 3 / top 4)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rules = ["halving", "previous", "race"] + (["genie3", "genie4"] if args.genie else [])
    for rho in args.rho:
        t0 = time.perf_counter()
        sel = selectors(args.budget_share)
        if args.genie:
            sel |= {"genie3": genie(3, args.budget_share), "genie4": genie(4, args.budget_share)}
        cells = run_grid(sel, reps=args.reps, rho=rho, seed=args.seed)
        print(f"\nwithin 1 point of the true best (share of {args.reps} repetitions), rho={rho}, budget share "
              f"{args.budget_share:.3f}; each rule minus the grid; calls as a share of the grid's (mean / max)")
        print(f"{'cell':<22}{'grid':>6}" + "".join(f"{r:>10}" for r in rules) + f"{'race se':>9}{'prev calls':>13}{'race calls':>13}")
        for c in cells:
            name = f"{c.family} K{c.k} lead{round(c.lead * 100)} n{c.n}"
            print(f"{name:<22}{c.grid_rate:>6.2f}" + "".join(f"{c.rates[r] - c.grid_rate:>+10.3f}" for r in rules)
                  + f"{c.diff_se['race']:>9.3f}" + f"{c.cost_share['previous']:>8.2f} /{c.cost_share_max['previous']:.2f}"
                  + f"{c.cost_share['race']:>8.2f} /{c.cost_share_max['race']:.2f}")
        for rule in rules:
            diff = [c.rates[rule] - c.grid_rate for c in cells]
            print(f"{rule}: rate {np.mean([c.rates[rule] for c in cells]):.3f} vs grid "
                  f"{np.mean([c.grid_rate for c in cells]):.3f} (mean difference {np.mean(diff):+.3f}, worst cell "
                  f"{min(diff):+.3f}, cells below -0.05: {sum(d < -0.05 for d in diff)}); calls share mean "
                  f"{np.mean([c.cost_share[rule] for c in cells]):.3f}, max {max(c.cost_share_max[rule] for c in cells):.3f}")
        print(f"seconds: {time.perf_counter() - t0:.1f}")


if __name__ == "__main__":
    main()
