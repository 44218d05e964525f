"""Coverage of tunegate's reported intervals, by simulation (macro-F1) and exact enumeration (accuracy).

Macro-F1: items drawn from a known population confusion matrix (exact macro-F1 known); the share of 95% intervals
containing it, for the old estimator (absent classes score 0, percentile) and the one reports use now
(``metrics.macro_f1_ci``: absent classes skipped, BCa). Accuracy: for every count k of n the interval that
``metrics.mean_ci`` (BCa) and ``wilson_ci`` give, weighted by Binomial(n, p).

    .venv/bin/python bench/interval_coverage.py --reps 600
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from tunegate.evals.metrics import macro_f1_ci, mean_ci
from tunegate.evals.stats import MacroF1, bootstrap_ci, wilson_ci
from tunegate.spec import BootstrapSpec

SCENARIOS = {
    "5 classes, prevalence .40-.05, acc .70-.85": ([.4, .25, .2, .1, .05], [.85, .8, .8, .75, .7]),
    "10 equal classes, acc .80": ([.1] * 10, [.8] * 10),
    "4 equal classes, acc .90": ([.25] * 4, [.9] * 4),
}


def population(prev, acc):
    """Joint P(gold, pred): correct with probability acc[c], else uniform over the other classes; its macro-F1."""
    k = len(prev)
    conf = np.array([[prev[c] * (acc[c] if j == c else (1 - acc[c]) / (k - 1)) for j in range(k)] for c in range(k)])
    tp = np.diag(conf)
    f1 = 2 * tp / (2 * tp + (conf.sum(0) - tp) + (conf.sum(1) - tp))
    return conf.ravel() / conf.sum(), float(f1.mean())


def macro_f1_coverage(prev, acc, n, reps, resamples):
    cells, truth = population(prev, acc)
    k = len(prev)
    labels = [f"c{i}" for i in range(k)]
    names = np.array(labels)
    rng = np.random.default_rng(0)
    hits = {"old": 0, "new": 0}
    for r in range(reps):
        draw = rng.choice(k * k, size=n, p=cells)
        g, p = names[draw // k], names[draw % k]
        old = bootstrap_ci((g, p), MacroF1(labels), n_resamples=resamples, seed=r)
        new = macro_f1_ci(list(g), list(p), labels, BootstrapSpec(n_resamples=resamples, seed=r))
        hits["old"] += old.low <= truth <= old.high
        hits["new"] += new.low <= truth <= new.high
    return hits["old"] / reps, hits["new"] / reps


def accuracy_coverage(n, ps, resamples):
    boot = BootstrapSpec(n_resamples=resamples, seed=0)
    ivs = []
    for k in range(n + 1):
        x = np.zeros(n)
        x[:k] = 1
        np.random.default_rng(k).shuffle(x)
        ivs.append((mean_ci(x, boot), wilson_ci(k, n)))
    out = {}
    for p in ps:
        w = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
        out[p] = tuple(sum(wk for wk, iv in zip(w, ivs) if iv[j].low <= p <= iv[j].high) for j in (0, 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=600)
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()
    print("macro-F1, nominal 95%: coverage old (absent=0, percentile) -> new (absent skipped, BCa)")
    for name, (prev, acc) in SCENARIOS.items():
        for n in (30, 100, 300):
            old, new = macro_f1_coverage(prev, acc, n, args.reps, args.resamples)
            print(f"  {name:44s} n={n:4d}  {old:.3f} -> {new:.3f}", flush=True)
    print("accuracy, nominal 95%: exact coverage of mean_ci (BCa) and Wilson")
    for n in (30, 100):
        for p, (bca, wil) in accuracy_coverage(n, (0.5, 0.7, 0.8, 0.9, 0.95, 0.98), 2000).items():
            print(f"  n={n:4d} p={p:.2f}  BCa {bca:.3f}  Wilson {wil:.3f}")


if __name__ == "__main__":
    main()
