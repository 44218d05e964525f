"""Benchmark (issue 19): the bootstraps behind every eval, per-resample Python loop vs vectorised, same seed.

At ``--n`` items, 12 labels, 2,000 resamples: the macro-F1 interval (``MacroF1`` vs a lambda calling ``macro_f1``
once per resample, which is what ``bootstrap_ci`` did before), the paired macro-F1 difference, and the accuracy
interval. Prints process CPU seconds (median of ``--repeats``) and checks the intervals are equal. Last line: JSON.

    .venv/bin/python bench/stats_speed.py --n 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from tunegate.evals.stats import MacroF1, bootstrap_ci, macro_f1, paired_bootstrap_diff


def cpu(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    labels = [f"intent_{i}" for i in range(12)]
    g = rng.choice(labels, size=args.n)
    p = np.where(rng.random(args.n) < 0.75, g, rng.choice(labels, size=args.n))
    p2 = np.where(rng.random(args.n) < 0.8, g, rng.choice(labels, size=args.n))
    loop_stat = lambda a, b: macro_f1(a, b, labels=labels)  # noqa: E731
    cases = {
        "macro_f1 interval": (lambda: bootstrap_ci((g, p), loop_stat), lambda: bootstrap_ci((g, p), MacroF1(labels))),
        "paired macro_f1 difference": (lambda: paired_bootstrap_diff((g, p), (g, p2), loop_stat),
                                       lambda: paired_bootstrap_diff((g, p), (g, p2), MacroF1(labels))),
    }
    result = {"bench": "stats_speed", "n": args.n}
    print(f"bootstrap CPU at {args.n} items x 2,000 resamples (median of {args.repeats})")
    for name, (loop, vec) in cases.items():
        t_loop, a = cpu(loop, args.repeats)
        t_vec, b = cpu(vec, args.repeats)
        same = (a.low, a.high) == (b.low, b.high)
        print(f"  {name}: loop {t_loop:.3f} s, vectorised {t_vec:.3f} s, x{t_loop / t_vec:.1f}, same interval: {same}")
        result[name] = {"loop_s": round(t_loop, 4), "vectorised_s": round(t_vec, 4), "same": same}
    t_acc, _ = cpu(lambda: bootstrap_ci((g == p).astype(float)), args.repeats)
    print(f"  accuracy interval (BCa, already vectorised): {t_acc:.3f} s")
    result["accuracy_s"] = round(t_acc, 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
