"""Benchmark: how often the sprint's selection keeps the best prompt, against the full grid (issue 14).

Simulated 0/1 scores with known accuracies (tunegate.sprint.selection_sim): 8 and 16 candidates, the best leading
the runner-up by 1, 2 or 3 points, 300 and 1,000 dev items, two families of the other candidates (``tail``: a
tail from 3 points below the runner-up to 20 below the best; ``ladder``: every candidate 1-3 points below the
previous), independent errors (rho = 0) by default. For each cell it prints the share of repetitions whose pick
is within 1 point of the true best, for the full grid, the previous successive halving (``halving``: until one
candidate is left) and the current selection (``race``: budgeted racing with paired eliminations, survivors
finish dev), and each rule's calls as a share of the grid's.

    .venv/bin/python bench/sprint_selection.py --reps 400 [--rho 0.5] [--budget-share 0.5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tunegate.sprint.racing import race, successive_halving
from tunegate.sprint.selection_sim import matrix_evaluator, run_grid


def selectors(budget_share: float) -> dict:
    def halving(x: np.ndarray, seed: int):
        r = successive_halving(list(range(x.shape[0])), x.shape[1], matrix_evaluator(x), min_items=16, eta=2,
                               finalists=1, seed=seed)
        return r.finalists[0], r.item_evaluations()

    def racing(x: np.ndarray, seed: int):
        r = race(list(range(x.shape[0])), x.shape[1], matrix_evaluator(x), budget_share=budget_share,
                 finalists=1, seed=seed)
        return r.finalists[0], r.item_evaluations()

    return {"halving": halving, "race": racing}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--rho", type=float, default=0.0, help="latent item-difficulty correlation between candidates")
    ap.add_argument("--budget-share", type=float, default=1 / 3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cells = run_grid(selectors(args.budget_share), reps=args.reps, rho=args.rho, seed=args.seed)
    print(f"within 1 point of the true best (share of {args.reps} repetitions), rho={args.rho}, "
          f"budget share {args.budget_share:.3f}; calls as a share of the grid's (mean / max)")
    print(f"{'cell':<22}{'grid':>6}{'halving':>9}{'race':>7}{'race-grid':>11}{'halving calls':>15}{'race calls':>13}")
    for c in cells:
        name = f"{c.family} K{c.k} lead{round(c.lead * 100)} n{c.n}"
        print(f"{name:<22}{c.grid_rate:>6.2f}{c.rates['halving']:>9.2f}{c.rates['race']:>7.2f}"
              f"{c.rates['race'] - c.grid_rate:>+11.2f}{c.cost_share['halving']:>10.2f} /{c.cost_share_max['halving']:.2f}"
              f"{c.cost_share['race']:>8.2f} /{c.cost_share_max['race']:.2f}")
    for rule in ("halving", "race"):
        diff = [c.rates[rule] - c.grid_rate for c in cells]
        print(f"{rule}: rate {np.mean([c.rates[rule] for c in cells]):.3f} vs grid "
              f"{np.mean([c.grid_rate for c in cells]):.3f} (mean difference {np.mean(diff):+.3f}, worst cell "
              f"{min(diff):+.3f}); calls share mean {np.mean([c.cost_share[rule] for c in cells]):.3f}, max "
              f"{max(c.cost_share_max[rule] for c in cells):.3f}")
    print(f"seconds: {time.perf_counter() - t0:.1f}")


if __name__ == "__main__":
    main()
