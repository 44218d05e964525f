"""Macro-F1 interval coverage by simulation (issue 14: 83-86% at n=30, 92-94% at n=100 for a nominal 95%).

Items are drawn from a known population confusion matrix whose macro-F1 is computed exactly; the share of
intervals that contain it is the coverage. Seeded, so the figures are fixed; the thresholds sit about two binomial
standard errors below what 600 repetitions measured (``bench/interval_coverage.py``), and the old estimator
(absent classes scored 0, percentile interval) is run beside the new one to show what changed.
"""

from __future__ import annotations

import numpy as np

from tunegate.evals.metrics import MACRO_F1_RELIABLE_N, macro_f1_ci
from tunegate.evals.stats import MacroF1, bootstrap_ci
from tunegate.spec import BootstrapSpec


def _population(prev, acc):
    """Joint P(gold, pred): correct with probability acc[c], else uniform over the other classes; its macro-F1."""
    k = len(prev)
    conf = np.array([[prev[c] * (acc[c] if j == c else (1 - acc[c]) / (k - 1)) for j in range(k)] for c in range(k)])
    tp = np.diag(conf)
    f1 = 2 * tp / (2 * tp + (conf.sum(0) - tp) + (conf.sum(1) - tp))
    return conf.ravel() / conf.sum(), float(f1.mean())


def _coverage(prev, acc, n, reps, seed=0):
    cells, truth = _population(prev, acc)
    k = len(prev)
    labels = [f"c{i}" for i in range(k)]
    names = np.array(labels)
    rng = np.random.default_rng(seed)
    new_hits = old_hits = 0
    new_bias, old_bias = [], []
    for r in range(reps):
        draw = rng.choice(k * k, size=n, p=cells)
        g, p = names[draw // k], names[draw % k]
        new = macro_f1_ci(list(g), list(p), labels, BootstrapSpec(n_resamples=1000, seed=r))
        old = bootstrap_ci((g, p), MacroF1(labels), n_resamples=1000, seed=r)  # 0 for absent, percentile
        new_hits += new.low <= truth <= new.high
        old_hits += old.low <= truth <= old.high
        new_bias.append(new.estimate - truth)
        old_bias.append(old.estimate - truth)
    return new_hits / reps, old_hits / reps, float(np.mean(new_bias)), float(np.mean(old_bias))


def test_macro_f1_coverage_small_n_many_classes():
    # 10 equally likely classes, n=30: three items per class, so resamples often miss a class entirely.
    new, old, new_bias, old_bias = _coverage([0.1] * 10, [0.8] * 10, n=30, reps=300)
    assert old < 0.80            # the old estimator: here 0.673; 0.668 at 600 repetitions
    assert new >= 0.87           # here 0.933; 0.918 at 600 repetitions; still short of 0.95, hence the note below 100 items
    assert abs(new_bias) < abs(old_bias) - 0.01


def test_macro_f1_coverage_near_nominal_from_100_items():
    new, old, _, _ = _coverage([.4, .25, .2, .1, .05], [.85, .8, .8, .75, .7], n=100, reps=300, seed=1)
    assert new >= 0.92 and new > old  # here 0.927 vs 0.913; 0.955 vs 0.920 at 600 repetitions


def test_macro_f1_ci_notes_small_n_and_unseen_labels():
    labels = ["a", "b", "c", "d"]
    iv = macro_f1_ci(["a", "b", "a", "b"] * 5, ["a", "b", "b", "b"] * 5, labels, BootstrapSpec(n_resamples=200))
    assert iv.method == "bca"
    assert f"< {MACRO_F1_RELIABLE_N}" in iv.note and "2 of 4 labels neither gold nor predicted" in iv.note
    # the unseen labels c, d are left out of the mean: (F1(a) + F1(b)) / 2 = (10/15 + 20/25) / 2
    assert iv.estimate == (10 / 15 + 20 / 25) / 2
    big = macro_f1_ci(["a", "b"] * 60, ["a", "b"] * 55 + ["b", "a"] * 5, ["a", "b"], BootstrapSpec(n_resamples=200))
    assert big.note is None
