"""Tests for tunegate.evals.stats against independent oracles.

Oracles: published worked examples (Newcombe 1998 for Wilson; Fagerland, Lydersen & Laake 2013 for McNemar),
exact rational arithmetic (fractions + math.comb), brute-force definitions, scipy.stats.bootstrap / binomtest,
scikit-learn's f1_score, and seeded simulations of coverage and power.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import brentq
from sklearn.metrics import accuracy_score, f1_score

from tunegate.evals.stats import (
    Interval,
    accuracy,
    bootstrap_ci,
    holm_correction,
    macro_f1,
    mcnemar_exact,
    minimal_detectable_difference,
    paired_bootstrap_diff,
    proportion_ci,
    required_n_for_difference,
    wilson_ci,
)

# ---------------------------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        # Newcombe (1998), Stat. Med. 17:857-872, worked examples, method 3 (score interval without continuity
        # correction). Recomputed by hand from the closed form before asserting: 0.25529..., 0.36621...
        (81, 263, 0.2553, 0.3662),
        (0, 20, 0.0, 0.1611),  # upper = z^2 / (n + z^2) = 3.8415 / 23.8415
    ],
)
def test_wilson_matches_newcombe_1998(x, n, low, high):
    ci = wilson_ci(x, n, 0.95)
    assert ci.low == pytest.approx(low, abs=6e-5)
    assert ci.high == pytest.approx(high, abs=6e-5)
    assert ci.estimate == pytest.approx(x / n)
    assert ci.method == "wilson" and ci.n == n


@pytest.mark.parametrize(("x", "n", "conf"), [(81, 263, 0.95), (3, 17, 0.9), (49, 50, 0.99), (120, 200, 0.95)])
def test_wilson_inverts_the_score_test(x, n, conf):
    # Independent oracle: the Wilson limits are the p where |phat - p| / sqrt(p(1-p)/n) = z, found by root search.
    z = stats.norm.ppf(0.5 + conf / 2)
    phat = x / n

    def f(p):
        return abs(phat - p) / math.sqrt(p * (1 - p) / n) - z

    ci = wilson_ci(x, n, conf)
    assert ci.low == pytest.approx(brentq(f, 1e-12, phat), abs=1e-10)
    assert ci.high == pytest.approx(brentq(f, phat, 1 - 1e-12), abs=1e-10)


def test_wilson_degenerate_cases():
    empty = wilson_ci(0, 0)
    assert math.isnan(empty.estimate) and math.isnan(empty.low) and empty.note
    full = wilson_ci(30, 30)
    assert full.high == 1.0 and full.low < 0.9  # stays wide where a bootstrap interval collapses to a point
    with pytest.raises(ValueError):
        wilson_ci(5, 3)


def test_proportion_ci_picks_wilson_for_binary_and_bootstrap_otherwise():
    binary = np.array([1, 0, 1, 1, 0, 1, 1, 1])
    assert proportion_ci(binary) == wilson_ci(6, 8)
    assert proportion_ci(binary.astype(bool)).method == "wilson"
    graded = np.array([0.5, 1.0, 0.25, 0.0, 0.75, 1.0, 0.5])
    ci = proportion_ci(graded)
    assert ci.method == "bca" and ci == bootstrap_ci(graded)
    assert math.isnan(proportion_ci([]).low)
    # all-correct: bootstrap gives a zero-width interval; Wilson does not
    assert bootstrap_ci(np.ones(40)).width == 0.0 and proportion_ci(np.ones(40)).width > 0.05


# ---------------------------------------------------------------------------------------------- coverage


def test_coverage_bernoulli_p07_n200():
    """400 seeded replications, n=200 items from Bernoulli(0.7); nominal 95%.

    Bounds 92-98%: with 400 replications the binomial standard error of an observed coverage near 95% is
    sqrt(.95*.05/400) = 1.1 points, so +-3 points is about +-2.75 SE (a correct method with true coverage 95%
    falls outside with probability ~0.6%), while it still catches gross errors (a 90% or 99% interval, a wrong
    quantile, a sign error in the BCa correction). The exact Wilson coverage at this (n, p), computed below by
    summing binomial probabilities, is an independent check of where the simulated value should land.
    """
    p, n, reps = 0.7, 200, 400
    rng = np.random.default_rng(20240601)
    hits = {"bca": 0, "percentile": 0, "wilson": 0}
    for r in range(reps):
        x = (rng.random(n) < p).astype(float)
        for method in ("bca", "percentile"):
            hits[method] += p in bootstrap_ci(x, method=method, seed=r)
        hits["wilson"] += p in wilson_ci(int(x.sum()), n)
    for method, h in hits.items():
        assert 0.92 <= h / reps <= 0.98, (method, h / reps)
    exact = sum(stats.binom.pmf(k, n, p) for k in range(n + 1) if p in wilson_ci(k, n))
    assert 0.93 <= exact <= 0.97


# ---------------------------------------------------------------------------------------------- bootstrap vs scipy


def test_mean_bootstrap_matches_scipy_bca_and_percentile():
    # Skewed data so BCa and percentile differ clearly. 200k resamples each: the Monte Carlo s.d. of an endpoint
    # is then ~0.003 per implementation (measured over seeds), so tol=0.02 is > 4 combined s.d., while the
    # BCa-percentile gap is > 2*tol on both ends: the comparison can tell the methods apart.
    x = np.random.default_rng(1).exponential(size=50)
    tol, b = 0.02, 200_000
    ours = {m: bootstrap_ci(x, method=m, n_resamples=b, seed=3) for m in ("bca", "percentile")}
    for m, sm in (("bca", "BCa"), ("percentile", "percentile")):
        ref = stats.bootstrap((x,), np.mean, n_resamples=b, method=sm, random_state=np.random.default_rng(7))
        assert ours[m].low == pytest.approx(ref.confidence_interval.low, abs=tol)
        assert ours[m].high == pytest.approx(ref.confidence_interval.high, abs=tol)
    assert abs(ours["bca"].low - ours["percentile"].low) > 2 * tol
    assert abs(ours["bca"].high - ours["percentile"].high) > 2 * tol
    assert bootstrap_ci(x).method == "bca"  # BCa is the default for the mean


def test_tuple_statistic_matches_scipy_paired():
    # Corpus-level statistic on aligned arrays (ratio of sums), items resampled jointly: scipy's paired=True.
    rng = np.random.default_rng(2)
    y = rng.gamma(2.0, size=60)
    x = y * rng.lognormal(0.0, 0.5, size=60)

    def ratio(x, y, axis=-1):
        return np.sum(x, axis=axis) / np.sum(y, axis=axis)

    b = 20_000
    for m, sm in (("percentile", "percentile"), ("bca", "BCa")):
        ours = bootstrap_ci((x, y), lambda x, y: ratio(x, y), method=m, n_resamples=b, seed=4)
        ref = stats.bootstrap((x, y), ratio, paired=True, vectorized=True, n_resamples=b, method=sm,
                              random_state=np.random.default_rng(9))
        se = ref.standard_error
        assert ours.estimate == pytest.approx(ratio(x, y))
        assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.1 * se)
        assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.1 * se)


def test_vectorised_mean_path_equals_generic_loop():
    # Both paths draw the same index matrices, so the fast path must reproduce the loop to rounding.
    x = np.random.default_rng(3).normal(size=300)
    for m in ("bca", "percentile"):
        fast = bootstrap_ci(x, np.mean, method=m, seed=11)
        slow = bootstrap_ci(x, lambda v: float(np.mean(v)), method=m, seed=11)
        assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), abs=1e-12)


def test_bootstrap_degenerate_cases():
    empty = bootstrap_ci(np.array([]))
    assert math.isnan(empty.estimate) and math.isnan(empty.low) and math.isnan(empty.high)
    assert empty.n == 0 and empty.note
    same = bootstrap_ci(np.full(50, 0.4))
    assert same.low == same.high == pytest.approx(0.4) and "understates" in same.note
    one = bootstrap_ci(np.array([0.3]))
    assert one.low == one.high == 0.3 and one.note
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones(5), confidence=95)


def test_determinism_and_seed_sensitivity():
    x = np.random.default_rng(4).normal(size=120)
    assert bootstrap_ci(x, seed=5) == bootstrap_ci(x, seed=5)
    assert bootstrap_ci(x, seed=5) != bootstrap_ci(x, seed=6)
    yt = np.random.default_rng(5).choice(["a", "b", "c"], 150)
    yp = np.where(np.random.default_rng(6).random(150) < 0.7, yt, "b")
    first = bootstrap_ci((yt, yp), macro_f1, seed=1, n_resamples=300)
    assert first == bootstrap_ci((yt, yp), macro_f1, seed=1, n_resamples=300)
    assert first != bootstrap_ci((yt, yp), macro_f1, seed=2, n_resamples=300)


def test_interval_is_frozen_and_printable():
    ci = wilson_ci(81, 263)
    with pytest.raises(AttributeError):
        ci.low = 0.0  # type: ignore[misc]
    assert isinstance(ci, Interval) and "wilson" in str(ci) and "n=263" in str(ci)


# ---------------------------------------------------------------------------------------------- paired bootstrap


def test_paired_identical_and_shifted():
    a = np.random.default_rng(7).random(200)
    same = paired_bootstrap_diff(a, a.copy())
    assert same.estimate == same.low == same.high == 0.0
    c = 0.25
    shifted = paired_bootstrap_diff(a, a + c)
    assert (shifted.estimate, shifted.low, shifted.high) == pytest.approx((c, c, c), abs=1e-12)
    med = paired_bootstrap_diff(a, a + c, lambda v: float(np.median(v)), n_resamples=300)
    assert (med.low, med.high) == pytest.approx((c, c), abs=1e-12)


def test_paired_detects_a_real_improvement():
    rng = np.random.default_rng(8)
    n = 400
    a = (rng.random(n) < 0.70).astype(float)
    b = np.where((a == 0) & (rng.random(n) < 0.35), 1.0, a)  # B fixes ~35% of A's errors, breaks nothing
    diff = paired_bootstrap_diff(a, b)
    assert diff.estimate == pytest.approx(b.mean() - a.mean())
    assert diff.low > 0
    # the same through the generic (loop) path agrees exactly: same index draws
    loop = paired_bootstrap_diff(a, b, lambda v: float(np.mean(v)), method="bca")
    assert (loop.low, loop.high) == pytest.approx((diff.low, diff.high), abs=1e-12)
    # corpus metric: macro-F1 of two predictors against the same gold labels
    labels = np.array(["pos", "neg", "neu"])
    gold = labels[rng.integers(0, 3, n)]
    pred_a = np.where(rng.random(n) < 0.55, gold, labels[rng.integers(0, 3, n)])
    pred_b = np.where(rng.random(n) < 0.5, gold, pred_a)
    f1 = paired_bootstrap_diff((gold, pred_a), (gold, pred_b), macro_f1, n_resamples=500)
    assert f1.estimate == pytest.approx(macro_f1(gold, pred_b) - macro_f1(gold, pred_a))
    assert f1.low > 0 and f1.method == "percentile"
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap_diff(a, b[:-1])


# ---------------------------------------------------------------------------------------------- McNemar


def _pairs(b01, b10, concordant=5):
    a = np.r_[np.zeros(b01), np.ones(b10), np.ones(concordant)]
    b = np.r_[np.ones(b01), np.zeros(b10), np.ones(concordant)]
    return a, b


def _exact_reference(b01, b10):
    """Exact rational p and mid-p from the definitions, using only math.comb."""
    d, k = b01 + b10, min(b01, b10)
    pmf = [Fraction(math.comb(d, x), 2**d) for x in range(d + 1)]
    p = min(Fraction(1), 2 * sum(pmf[: k + 1]))
    more = sum(q for q in pmf if q < pmf[k])
    same = sum(q for q in pmf if q == pmf[k])
    return p, more + same / 2


def test_mcnemar_hand_computed_table():
    r = mcnemar_exact(*_pairs(2, 8))
    assert (r.b01, r.b10, r.n) == (2, 8, 15)
    assert r.pvalue == pytest.approx(0.109375, abs=1e-15)  # 2 * (1 + 10 + 45) / 1024
    assert r.midp_pvalue == pytest.approx(67 / 1024, abs=1e-15)  # 2*56/1024 - 45/1024


def test_mcnemar_published_example_fagerland_2013():
    # Fagerland, Lydersen & Laake (2013) BMC Med Res Methodol 13:91, Table 1 (Bentur et al. 2009): airway
    # hyper-responsiveness before/after stem cell transplantation, 21 children; discordant cells 1 and 7.
    # Exact conditional p = 2*(1+8)/256 = 0.0703; mid-p = 0.0703 - 8/256 = 0.0391 (checked by hand).
    a, b = _pairs(7, 1, concordant=13)
    r = mcnemar_exact(a, b)
    assert r.n == 21 and r.n_discordant == 8
    assert r.pvalue == pytest.approx(18 / 256, abs=1e-15)
    assert r.midp_pvalue == pytest.approx(10 / 256, abs=1e-15)
    assert round(r.pvalue, 3) == 0.070 and round(r.midp_pvalue, 3) == 0.039


@pytest.mark.parametrize(("b01", "b10"), [(0, 1), (0, 9), (3, 3), (4, 11), (17, 30), (60, 41), (250, 200)])
def test_mcnemar_against_exact_rationals_and_binomtest(b01, b10):
    r = mcnemar_exact(*_pairs(b01, b10))
    p, midp = _exact_reference(b01, b10)
    assert r.pvalue == pytest.approx(float(p), rel=1e-9, abs=1e-300)
    assert r.midp_pvalue == pytest.approx(float(midp), rel=1e-9, abs=1e-300)
    assert r.pvalue == pytest.approx(stats.binomtest(b01, b01 + b10, 0.5).pvalue, rel=1e-9)


def test_mcnemar_no_discordance_and_validation():
    r = mcnemar_exact([1, 0, 1, 1], [1, 0, 1, 1])
    assert (r.b01, r.b10, r.pvalue, r.midp_pvalue) == (0, 0, 1.0, 1.0)
    with pytest.raises(ValueError):
        mcnemar_exact([1, 2], [1, 0])
    with pytest.raises(ValueError):
        mcnemar_exact([1, 0, 1], [1, 0])


# ---------------------------------------------------------------------------------------------- Holm


def test_holm_worked_example():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .02 .03 .06 .06; back to input order
    np.testing.assert_allclose(holm_correction([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])


def _holm_brute_force(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: (p[i], i))
    rank = {i: r for r, i in enumerate(order)}
    return [min(1.0, max((m - rank[j]) * p[j] for j in order[: rank[i] + 1])) for i in range(m)]


def _holm_statsmodels_formula(p):
    # statsmodels.stats.multitest.multipletests(method="holm"), transcribed: sort, multiply by m..1,
    # running maximum, clip at 1, unsort.
    p = np.asarray(p)
    idx = np.argsort(p)
    adj = np.minimum(np.maximum.accumulate(p[idx] * np.arange(len(p), 0, -1)), 1)
    out = np.empty_like(adj)
    out[idx] = adj
    return out


def test_holm_against_brute_force_and_statsmodels_formula():
    rng = np.random.default_rng(9)
    for m in (1, 2, 5, 13):
        p = rng.random(m) ** 3
        if m > 2:
            p[1] = p[0]  # ties
        ours = holm_correction(p)
        np.testing.assert_allclose(ours, _holm_brute_force(list(p)), rtol=1e-12)
        np.testing.assert_allclose(ours, _holm_statsmodels_formula(p), rtol=1e-12)
        assert np.all(ours >= p) and np.all(ours <= 1)
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(ours[order]) >= 0)  # monotone in the raw p-values
    assert holm_correction([]).size == 0
    with pytest.raises(ValueError):
        holm_correction([0.2, 1.5])


# ---------------------------------------------------------------------------------------------- power


@pytest.mark.parametrize(("n", "baseline", "psi"), [(400, 0.8, None), (400, None, 0.15), (200, 0.7, None)])
def test_mdd_gives_80_percent_power_in_simulation(n, baseline, psi):
    """Simulate paired outcomes with discordance psi and difference = MDD; McNemar should reject ~80% of the time.

    1500 replications: binomial s.e. of a power near 0.8 is 1 point, so +-0.07 is wide enough for the
    approximation (normal vs exact test) and narrow enough to catch a wrong formula (a sqrt(2) error in delta
    moves power to ~0.5 or ~0.98).
    """
    delta = minimal_detectable_difference(n, baseline=baseline, discordance=psi)
    share = psi if psi is not None else 2 * baseline * (1 - baseline)
    rng = np.random.default_rng(10)
    counts = rng.multinomial(n, [(share + delta) / 2, (share - delta) / 2, 1 - share], size=1500)
    results = [mcnemar_exact(*_pairs(b01, b10, concordant=rest)) for b01, b10, rest in counts]
    for power in (np.mean([r.midp_pvalue < 0.05 for r in results]), np.mean([r.pvalue < 0.05 for r in results])):
        assert abs(power - 0.8) <= 0.07, power


def test_required_n_inverts_mdd_and_connor_formula():
    for n in (150, 400, 1000, 5000):
        for kw in ({"baseline": 0.8}, {"discordance": 0.12}, {"baseline": 0.6, "paired": False}):
            d = minimal_detectable_difference(n, **kw)
            assert required_n_for_difference(d, **kw) in (n, n + 1)  # ceil of a float equal to n
    # Connor (1987) formula evaluated by hand: psi=0.2, delta=0.05, z=1.959964, 0.841621
    expected = (1.959964 * math.sqrt(0.2) + 0.841621 * math.sqrt(0.2 - 0.0025)) ** 2 / 0.0025
    assert required_n_for_difference(0.05, discordance=0.2) == math.ceil(expected)
    # measured low discordance (correlated systems) detects smaller differences than the conservative default
    assert minimal_detectable_difference(400, discordance=0.1) < minimal_detectable_difference(400, baseline=0.8)
    assert math.isnan(minimal_detectable_difference(3, baseline=0.9))
    with pytest.raises(ValueError):
        required_n_for_difference(0.3, discordance=0.2)
    with pytest.raises(ValueError):
        minimal_detectable_difference(100)


# ---------------------------------------------------------------------------------------------- metrics


def test_macro_f1_and_accuracy_match_sklearn():
    rng = np.random.default_rng(11)
    pool = np.array(["cat", "dog", "bird", "fish", "newt"])
    for trial in range(30):
        n = int(rng.integers(1, 80))
        t = pool[rng.integers(0, 4, n)]
        p = np.where(rng.random(n) < 0.5, t, pool[rng.integers(0, 5, n)])
        assert macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
        assert accuracy(t, p) == pytest.approx(accuracy_score(t, p), abs=1e-12)
        labels = ["dog", "cat", "unseen"] if trial % 2 else list(pool)
        assert macro_f1(t, p, labels=labels) == pytest.approx(
            f1_score(t, p, labels=labels, average="macro", zero_division=0), abs=1e-12
        )


def test_metrics_reject_none_predictions():
    with pytest.raises(ValueError, match="None"):
        macro_f1(np.array(["a", "b"], dtype=object), np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match="None"):
        accuracy(["a", "b"], ["a", None])
    assert math.isnan(accuracy([], []))


def test_paired_comparison_means_interval_and_mcnemar_only_for_binary_scores():
    from tunegate.evals.stats import paired_comparison

    pc = paired_comparison([1, 1, 0, 0, 1], [1, 0, 1, 1, 1], seed=0)
    assert (pc.n, pc.mean_a, pc.mean_b) == (5, 0.6, 0.8)
    assert pc.diff.low <= 0.2 <= pc.diff.high
    # b01 = 2 (A wrong, B right), b10 = 1; p = min(1, 2 * P(X <= 1 | d = 3)) = 2 * 4/8 = 1
    assert (pc.mcnemar.b01, pc.mcnemar.b10, pc.mcnemar.pvalue) == (2, 1, 1.0)
    assert paired_comparison([0.5, 1.0, 0.0], [0.5, 0.5, 1.0]).mcnemar is None


def test_bootstrap_cis_equals_separate_calls():
    """Jobs of equal n share one draw (issue 19); every interval stays what its own call gives."""
    from tunegate.evals.stats import MacroF1, bootstrap_ci, bootstrap_cis

    rng = np.random.default_rng(5)
    labels = ["a", "b", "c", "d"]
    gold = rng.choice(labels, 300).astype(object)
    pred = np.where(rng.random(300) < 0.7, gold, rng.choice(labels, 300)).astype(object)
    jobs = [((rng.random(300) < 0.8).astype(float), np.mean, "auto"),
            ((gold, pred), MacroF1(labels, absent="skip"), "bca"),
            (rng.random(40), np.mean, "percentile"),
            (rng.random(40), np.median, "auto"),
            (np.array([1.0]), np.mean, "auto"),
            (np.array([], dtype=float), np.mean, "auto"),
            (rng.random(300), np.mean, "bca")]
    for seed in (0, 7):
        together = bootstrap_cis(jobs, n_resamples=500, confidence=0.9, seed=seed)
        alone = [bootstrap_ci(v, f, n_resamples=500, confidence=0.9, seed=seed, method=m) for v, f, m in jobs]
        for a, b in zip(together, alone):
            assert (a.method, a.n, a.note, a.confidence) == (b.method, b.n, b.note, b.confidence)
            np.testing.assert_array_equal([a.estimate, a.low, a.high], [b.estimate, b.low, b.high])


def test_quantile_matches_numpy_bit_for_bit():
    """The interval's quantile avoids np.quantile's numpy.ma import; it must give numpy's numbers exactly."""
    from tunegate.evals.stats import _quantile_linear

    rng = np.random.default_rng(3)
    for t in range(3000):
        n = int(rng.integers(1, 2500))
        a = rng.random(n) if t % 2 else rng.integers(0, 40, n) / 40.0
        q = np.array([0.0, 1.0]) if t % 9 == 0 else rng.random(2)
        np.testing.assert_array_equal(_quantile_linear(a, q), np.quantile(a, q))


def test_chunk_size_never_changes_an_interval(monkeypatch):
    """Chunks are sized for the CPU cache; the draws (and so every interval) must not depend on them."""
    import tunegate.evals.stats as st

    rng = np.random.default_rng(2)
    labels = ["a", "b", "c"]
    gold = rng.choice(labels, 700).astype(object)
    pred = np.where(rng.random(700) < 0.6, gold, rng.choice(labels, 700)).astype(object)
    jobs = [((rng.random(700) < 0.7).astype(float), np.mean, "auto"), ((gold, pred), st.MacroF1(labels), "bca")]
    results = []
    for elements in (1, 5000, 1 << 16, 1 << 24):
        monkeypatch.setattr(st, "_CHUNK_ELEMENTS", elements)
        results.append(st.bootstrap_cis(jobs, n_resamples=300, seed=9))
    assert all(r == results[0] for r in results[1:])
