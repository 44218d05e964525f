"""Vectorised bootstraps give the same intervals as the per-resample loops they replaced.

PINNED holds intervals computed on fixed seeds with the code *before* vectorisation (commit abbd7f1, the loop that
called ``macro_f1`` once per resample and the loop-free alpha as it stood); the vectorised paths must reproduce them
exactly (==, not approx), so no report changes its numbers because statistics got faster.
"""

from __future__ import annotations

import numpy as np
import pytest

from tunegate.data.agreement import krippendorff_alpha_ci
from tunegate.evals.metrics import mean_ci
from tunegate.evals.stats import MacroF1, bootstrap_ci, macro_f1, paired_bootstrap_diff
from tunegate.spec import BootstrapSpec

LABELS = ["a", "b", "c", "d", "e"]


def _cases(vectorised: bool = True, sizes=(7, 30, 200)):
    """The same inputs and calls as the script that produced PINNED; ``vectorised=False`` uses plain lambdas,
    which take the per-resample loop."""
    rng = np.random.default_rng(12345)
    f1_lab = MacroF1(LABELS) if vectorised else (lambda a, b: macro_f1(a, b, labels=LABELS))
    f1_union = MacroF1() if vectorised else macro_f1
    out = {}
    for n in (7, 30, 200):
        g = rng.choice(LABELS, size=n, p=[.4, .25, .2, .1, .05])
        p = np.where(rng.random(n) < 0.7, g, rng.choice(LABELS + ["zz"], size=n))
        p2 = np.where(rng.random(n) < 0.8, g, rng.choice(LABELS, size=n))
        sc = rng.random(n)
        bin_ = (rng.random(n) < 0.8).astype(float)
        bin2 = (rng.random(n) < 0.85).astype(float)
        if n not in sizes:
            continue
        for seed in (0, 7):
            kw = dict(n_resamples=500, seed=seed)
            out[f"mean_bca n={n} s={seed}"] = bootstrap_ci(sc, **kw)
            out[f"mean_pct n={n} s={seed}"] = bootstrap_ci(sc, method="percentile", **kw)
            out[f"binary_mean n={n} s={seed}"] = bootstrap_ci(bin_, **kw)
            out[f"f1_union n={n} s={seed}"] = bootstrap_ci((g, p), f1_union, **kw)
            out[f"f1_labels n={n} s={seed}"] = bootstrap_ci((g, p), f1_lab, **kw)
            out[f"f1_bca n={n} s={seed}"] = bootstrap_ci((g, p), f1_lab, method="bca", **kw)
            out[f"paired_mean n={n} s={seed}"] = paired_bootstrap_diff(bin_, bin2, **kw)
            out[f"paired_f1 n={n} s={seed}"] = paired_bootstrap_diff((g, p), (g, p2), f1_lab, **kw)
            boot = BootstrapSpec(n_resamples=500, seed=seed)
            if vectorised:  # metrics.macro_f1_ci changed estimator on purpose (absent classes skipped, BCa):
                # see test_macro_f1_coverage.py; its old interval is f1_labels above, still pinned
                out[f"metrics_mean n={n} s={seed}"] = mean_ci(bin_, boot)
    return out


def _alpha_cases():
    rng = np.random.default_rng(99)
    out = {}
    for level in ("nominal", "ordinal", "interval", "ratio"):
        truth = rng.integers(1, 5, size=40)
        rows = []
        for i, t in enumerate(truth):
            for a in range(3):
                if rng.random() < 0.85:
                    v = int(t) if rng.random() < 0.7 else int(rng.integers(1, 5))
                    rows.append((f"i{i}", f"a{a}", v))
        for seed in (0, 3):
            out[f"alpha_{level} s={seed}"] = krippendorff_alpha_ci(rows, level=level, n_resamples=400, seed=seed)
    return out


PINNED = {
    'mean_bca n=7 s=0': (0.6662738501284086, 0.3933388968533282, 0.8134387996502827, 'bca'),
    'mean_pct n=7 s=0': (0.6662738501284086, 0.4724123471691464, 0.8520558928426019, 'percentile'),
    'binary_mean n=7 s=0': (0.7142857142857143, 0.2857142857142857, 1.0, 'bca'),
    'f1_union n=7 s=0': (0.75, 0.3, 1.0, 'percentile'),
    'f1_labels n=7 s=0': (0.45, 0.12, 0.6, 'percentile'),
    'f1_bca n=7 s=0': (0.45, 0.3, 0.6, 'bca'),
    'paired_mean n=7 s=0': (0.14285714285714285, -0.2857142857142857, 0.5714285714285714, 'bca'),
    'paired_f1 n=7 s=0': (0.14999999999999997, 0.0, 0.3383333333333331, 'percentile'),
    'metrics_mean n=7 s=0': (0.7142857142857143, 0.2857142857142857, 1.0, 'bca'),
    'mean_bca n=7 s=7': (0.6662738501284086, 0.3643656711899955, 0.8045396059510649, 'bca'),
    'mean_pct n=7 s=7': (0.6662738501284086, 0.4474218903173482, 0.8405849787573005, 'percentile'),
    'binary_mean n=7 s=7': (0.7142857142857143, 0.3708822086340381, 1.0, 'bca'),
    'f1_union n=7 s=7': (0.75, 0.3, 1.0, 'percentile'),
    'f1_labels n=7 s=7': (0.45, 0.12, 0.6, 'percentile'),
    'f1_bca n=7 s=7': (0.45, 0.3, 0.6, 'bca'),
    'paired_mean n=7 s=7': (0.14285714285714285, -0.42857142857142855, 0.5714285714285714, 'bca'),
    'paired_f1 n=7 s=7': (0.14999999999999997, 0.0, 0.3333333333333333, 'percentile'),
    'metrics_mean n=7 s=7': (0.7142857142857143, 0.3708822086340381, 1.0, 'bca'),
    'mean_bca n=30 s=0': (0.4952893655890755, 0.38352831500092527, 0.6001545924056461, 'bca'),
    'mean_pct n=30 s=0': (0.4952893655890755, 0.39259270297297, 0.6050894098191445, 'percentile'),
    'binary_mean n=30 s=0': (0.8, 0.6333333333333333, 0.9333333333333333, 'bca'),
    'f1_union n=30 s=0': (0.5861842105263158, 0.4044615891355023, 0.9627480974907445, 'percentile'),
    'f1_labels n=30 s=0': (0.703421052631579, 0.35407954545454545, 0.7828571428571428, 'percentile'),
    'f1_bca n=30 s=0': (0.703421052631579, 0.5253317734445346, 0.8, 'bca'),
    'paired_mean n=30 s=0': (0.06666666666666667, -0.1, 0.24556217078534245, 'bca'),
    'paired_f1 n=30 s=0': (-0.058519091847265337, -0.18312542509672494, 0.16941251803751792, 'percentile'),
    'metrics_mean n=30 s=0': (0.8, 0.6333333333333333, 0.9333333333333333, 'bca'),
    'mean_bca n=30 s=7': (0.4952893655890755, 0.4044715527414985, 0.6247578531049244, 'bca'),
    'mean_pct n=30 s=7': (0.4952893655890755, 0.38701992985274497, 0.6085873414744463, 'percentile'),
    'binary_mean n=30 s=7': (0.8, 0.6333333333333333, 0.9, 'bca'),
    'f1_union n=30 s=7': (0.5861842105263158, 0.41811934389140276, 0.9373444976076555, 'percentile'),
    'f1_labels n=30 s=7': (0.703421052631579, 0.3808017676767678, 0.7797008526383525, 'percentile'),
    'f1_bca n=30 s=7': (0.703421052631579, 0.5126353250263683, 0.799946529637379, 'bca'),
    'paired_mean n=30 s=7': (0.06666666666666667, -0.13333333333333333, 0.26666666666666666, 'bca'),
    'paired_f1 n=30 s=7': (-0.058519091847265337, -0.17800470974304644, 0.14826159198170588, 'percentile'),
    'metrics_mean n=30 s=7': (0.8, 0.6333333333333333, 0.9, 'bca'),
    'mean_bca n=200 s=0': (0.4861311902963845, 0.449022432026247, 0.5245574566211039, 'bca'),
    'mean_pct n=200 s=0': (0.4861311902963845, 0.44771227684118425, 0.5231874098413176, 'percentile'),
    'binary_mean n=200 s=0': (0.79, 0.73, 0.8476099397524132, 'bca'),
    'f1_union n=200 s=0': (0.6372300872300872, 0.5767055196823663, 0.6937051457878071, 'percentile'),
    'f1_labels n=200 s=0': (0.7646761046761047, 0.6920466236188395, 0.8324461749453685, 'percentile'),
    'f1_bca n=200 s=0': (0.7646761046761047, 0.6984135193545997, 0.8355439694531305, 'bca'),
    'paired_mean n=200 s=0': (0.055, -0.02, 0.12, 'bca'),
    'paired_f1 n=200 s=0': (0.06447369289474547, -0.00450803111829721, 0.14402358659536718, 'percentile'),
    'metrics_mean n=200 s=0': (0.79, 0.73, 0.8476099397524132, 'bca'),
    'mean_bca n=200 s=7': (0.4861311902963845, 0.4471823663239445, 0.5213265950268102, 'bca'),
    'mean_pct n=200 s=7': (0.4861311902963845, 0.4475307343745998, 0.5222061160382095, 'percentile'),
    'binary_mean n=200 s=7': (0.79, 0.73, 0.845, 'bca'),
    'f1_union n=200 s=7': (0.6372300872300872, 0.5703943659579165, 0.6908003167077998, 'percentile'),
    'f1_labels n=200 s=7': (0.7646761046761047, 0.6844732391494998, 0.8289603800493599, 'percentile'),
    'f1_bca n=200 s=7': (0.7646761046761047, 0.6877595563141325, 0.8332031508869325, 'bca'),
    'paired_mean n=200 s=7': (0.055, -0.015, 0.12352036643154576, 'bca'),
    'paired_f1 n=200 s=7': (0.06447369289474547, -0.014302501872346043, 0.14596801249804256, 'percentile'),
    'metrics_mean n=200 s=7': (0.79, 0.73, 0.845, 'bca'),
    'alpha_nominal s=0': (0.4909963985594238, 0.31492542904224935, 0.6569622099586103, 'percentile'),
    'alpha_nominal s=3': (0.4909963985594238, 0.3198494822485207, 0.6320828557721895, 'percentile'),
    'alpha_ordinal s=0': (0.501811443652086, 0.2789295997101578, 0.691955669460841, 'percentile'),
    'alpha_ordinal s=3': (0.501811443652086, 0.2718062867457988, 0.7091412185349967, 'percentile'),
    'alpha_interval s=0': (0.23037169548797454, 0.004070825194674118, 0.4123132519051153, 'percentile'),
    'alpha_interval s=3': (0.23037169548797454, 0.00317056534937538, 0.41199978369024426, 'percentile'),
    'alpha_ratio s=0': (0.693721931668714, 0.4847668824985671, 0.8272956849137213, 'percentile'),
    'alpha_ratio s=3': (0.693721931668714, 0.4913718230681252, 0.8502690344444301, 'percentile'),
}


def test_vectorised_intervals_equal_the_pinned_loop_values():
    got = {**_cases(), **_alpha_cases()}
    assert set(got) == set(PINNED)
    for key, (est, low, high, method) in PINNED.items():
        iv = got[key]
        if key.startswith("f1_bca"):
            # BCa's jackknife for MacroF1 is now closed-form (O(n) instead of n calls): its leave-one-out values
            # match np.delete's to rounding, so the interval may move in the last bit. No caller used BCa for
            # macro-F1 before (auto picks percentile), so every interval a report showed stays bit-identical.
            assert (iv.estimate, iv.method) == (est, method), key
            assert iv.low == pytest.approx(low, rel=1e-12, abs=1e-15) and iv.high == pytest.approx(high, rel=1e-12)
            continue
        assert (iv.estimate, iv.low, iv.high, iv.method) == (est, low, high, method), key


def test_loop_and_vectorised_paths_agree_today():
    """The generic per-resample loop (any callable) and the resampler path give identical intervals."""
    loop, vec = _cases(vectorised=False, sizes=(7, 30)), _cases(sizes=(7, 30))
    for key, iv in loop.items():
        if key.startswith("f1_bca"):
            assert iv.low == pytest.approx(vec[key].low, rel=1e-12) and iv.high == pytest.approx(vec[key].high, rel=1e-12)
            continue
        assert (iv.estimate, iv.low, iv.high) == (vec[key].estimate, vec[key].low, vec[key].high), key


@pytest.mark.parametrize("labels", [None, LABELS, ["a", "b", "x"], []])
def test_macro_f1_resampler_equals_macro_f1_on_every_resample(labels):
    rng = np.random.default_rng(3)
    g = rng.choice(LABELS, size=25)
    p = np.where(rng.random(25) < 0.6, g, rng.choice(LABELS + ["zz"], size=25))
    idx = rng.integers(0, 25, size=(300, 25))
    got = MacroF1(labels).resampler(g, p)(idx)
    want = np.array([macro_f1(g[r], p[r], labels=labels) for r in idx])
    assert np.array_equal(got, want, equal_nan=True)


def test_macro_f1_resampler_rejects_none_like_macro_f1():
    g = np.array(["a", "b", None], dtype=object)
    with pytest.raises(ValueError, match="y_true contains None"):
        MacroF1(["a", "b"]).resampler(g, np.array(["a", "b", "a"], dtype=object))
    with pytest.raises(ValueError, match="absent"):
        MacroF1(["a"], absent="drop")


@pytest.mark.parametrize("labels", [None, LABELS, ["a", "b", "x"], []])
@pytest.mark.parametrize("absent", ["zero", "skip"])
def test_macro_f1_closed_form_jackknife_equals_leave_one_out(labels, absent):
    rng = np.random.default_rng(11)
    for _ in range(20):
        n = int(rng.integers(2, 15))
        g = rng.choice(LABELS, size=n)
        p = np.where(rng.random(n) < 0.5, g, rng.choice(LABELS + ["zz"], size=n))
        stat = MacroF1(labels, absent=absent)
        want = np.array([stat(np.delete(g, i), np.delete(p, i)) for i in range(n)])
        assert np.allclose(stat.jackknife(g, p), want, equal_nan=True, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [3, 12, 60])  # one bincount of confusion cells (few classes) or three (many)
def test_macro_f1_resampler_both_counting_paths_equal_the_loop(k):
    rng = np.random.default_rng(k)
    labels = [f"l{i}" for i in range(k)]
    g = rng.choice(labels, 80)
    p = np.where(rng.random(80) < 0.6, g, rng.choice(labels + ["zz"], 80))
    idx = rng.integers(0, 80, (200, 80))
    for lab in (None, labels):
        want = np.array([macro_f1(g[r], p[r], labels=lab) for r in idx])
        assert np.array_equal(MacroF1(lab).resampler(g, p)(idx), want)
