"""Raw learning curves on real data for the back-test (issue #14): the expensive half, cached as JSON.

Two kinds of curve per dataset (embeddings from ``bench/curve_data.py``, heads from the probe's own ``_fit_point``,
so C is chosen on dev exactly as ``tunegate probe`` does):

- ``truth``: test error at sizes drawn from the whole train pool (5 seeded stratified draws per size, 3 above a
  quarter of the pool, one at the full pool). Its means are what a team would measure after labelling that many
  examples.
- ``runs``: what the probe sees with ``n`` labels on hand. A seeded stratified sample S of size n is drawn from
  the pool (the on-hand set: one replicate), then the probe's curve is run inside S on a dense √2 grid of sizes
  down to one example per class, with ``seeds_for`` seeds per size. Planning rules are compared by thinning this
  grid, so every rule is scored on the same fits.

Results are appended to ``$TUNEGATE_CURVE_CACHE/<dataset>-curves.json`` as they finish; a rerun resumes.

    OMP_NUM_THREADS=1 .venv/bin/python bench/curve_runs.py banking77 --reps 4 --workers 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curve_data import CACHE, load  # noqa: E402

# on-hand sizes per dataset and the multiples whose truth is measured (k·n must fit in the train pool)
PLAN = {
    "banking77": {"ns": (320, 640, 1125, 1280), "ks": (2, 4, 8)},
    "clinc150": {"ns": (600, 1200), "ks": (2, 4), "per_class": 2, "full": False},
}
_STATE: dict = {}


def _init(name: str) -> None:
    d = load(name, embed=False)
    (Xtr, ytr), (Xdev, ydev), (Xte, yte) = d["train"], d["dev"], d["test"]
    _STATE.update(Xtr=Xtr, ytr=[str(v) for v in ytr], Xdev=Xdev, ydev=[str(v) for v in ydev], Xte=Xte,
                  yte=np.asarray([str(v) for v in yte]), labels=sorted({str(v) for v in ytr}))


def _fit(idx: list[int], seed: int) -> float:
    from tunegate.probe.stage import _fit_point

    s = _STATE
    return _fit_point(s["Xtr"], s["ytr"], s["Xdev"], s["ydev"], s["Xte"], s["yte"], s["labels"], idx, seed)


def dense_grid(n: int, smallest: int) -> list[int]:
    """n, n/√2, n/2, ... down to ``smallest`` (rounded, distinct, ascending)."""
    out, j = [], 0
    while (m := round(n / math.sqrt(2) ** j)) >= smallest:
        out.append(m)
        j += 1
    return sorted(set(out))


def jobs_for(name: str, reps: int, truth_seeds: int = 5, *, ns: tuple[int, ...] | None = None,
             per_class: float | None = None, plan_exact: bool = False) -> list[tuple]:
    """(kind, key, size, seed, indices) for every fit: truth sizes first, then on-hand replicates.

    ``ns`` restricts the on-hand sizes run (truth is always planned for all); ``per_class`` overrides the dense
    grid's smallest size (examples per class); ``plan_exact`` adds the probe's own ``plan_sizes`` to the grid, so
    short spans (n = 320 on banking77, 600 on CLINC150) are graded on the 2^(1/4) sizes the probe really runs.
    """
    from tunegate.probe.curve import plan_sizes, seeds_for
    from tunegate.probe.embedding_head import stratified_subset

    d = load(name, embed=False)
    y = [str(v) for v in d["train"][1]]
    n_pool, k_cls = len(y), len(set(y))
    plan = PLAN[name]
    truth = sorted({k * n for n in plan["ns"] for k in (1, *plan["ks"]) if k * n <= n_pool}
                   | ({n_pool} if plan.get("full", True) else set()))
    jobs = []
    for m in truth:
        for s in range(1 if m == n_pool else truth_seeds if m <= n_pool / 4 else 3):
            jobs.append(("truth", "truth", m, s, stratified_subset(y, m, seed=900_000 + s).tolist()))
    for rep in range(reps):
        for n in ns or plan["ns"]:
            on_hand = stratified_subset(y, n, seed=10_000 * (rep + 1) + n)
            ys = [y[i] for i in on_hand]
            grid = set(dense_grid(n, (per_class or plan.get("per_class", 1)) * k_cls))
            for m in sorted(grid | (set(plan_sizes(n, k_cls)) if plan_exact else set())):
                for s in range(seeds_for(m, n)):
                    sub = on_hand[stratified_subset(ys, m, seed=s)] if m < n else on_hand
                    jobs.append(("run", f"{n}:{rep}", m, s, sub.tolist()))
    return jobs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", choices=sorted(PLAN))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--truth-seeds", type=int, default=5, help="draws per truth size up to a quarter of the pool")
    ap.add_argument("--ns", type=int, nargs="*", help="on-hand sizes to run (default: the dataset's PLAN)")
    ap.add_argument("--min-per-class", type=float, help="smallest grid size in examples per class")
    ap.add_argument("--plan-exact", action="store_true", help="also run the probe's plan_sizes for each n")
    args = ap.parse_args()
    path = CACHE / f"{args.dataset}-curves.json"
    done = json.loads(path.read_text()) if path.exists() else {"fits": {}}
    jobs = [j for j in jobs_for(args.dataset, args.reps, args.truth_seeds, ns=tuple(args.ns or ()) or None,
                                per_class=args.min_per_class, plan_exact=args.plan_exact)
            if f"{j[0]}|{j[1]}|{j[2]}|{j[3]}" not in done["fits"]]
    print(f"{args.dataset}: {len(jobs)} fits to run", file=sys.stderr)
    t0, last = time.perf_counter(), time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(args.dataset,)) as ex:
        futs = {ex.submit(_fit, j[4], j[3]): j for j in jobs}
        for i, f in enumerate(as_completed(futs), 1):
            j = futs[f]
            done["fits"][f"{j[0]}|{j[1]}|{j[2]}|{j[3]}"] = f.result()
            if time.perf_counter() - last > 20 or i == len(jobs):
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(done))
                tmp.replace(path)
                last = time.perf_counter()
                print(f"{i}/{len(jobs)} fits, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
