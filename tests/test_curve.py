"""Tests for tunegate.probe.curve: fitting, back-testing and extrapolating learning curves.

Oracles: synthetic curves drawn from a known power law ``a + b·n^(-c)`` with seeded Gaussian seed noise (the legacy
three-parameter fit must recover a, b, c; the probe's curve, ``b·n^(-c)`` with the back-test-calibrated drift,
must give the closed-form labels needed), and
hand-built ill-behaved curves (U-shaped, random) that must be refused. Tolerances come from a Monte Carlo of the
same design (200 seeded replicates): the spread of the estimates was sd(a) ~ 0.006, sd(b) ~ 0.19, sd(c) ~ 0.027,
and the assertions allow about four of those, so they hold for essentially any noise draw, not just this seed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tunegate.probe.curve import (
    BAND_Q,
    CurvePoint,
    analyze_curve,
    calibrated_n_band,
    drift_q,
    fit_power_law,
    fit_power_law_with_reason,
    geometric_sizes,
    plan_sizes,
    seeds_for,
)

A, B, C = 0.05, 2.0, 0.5
SEEDS = (5, 4, 3, 2, 1)  # more seeds at small sizes, one at the full size, as the probe runs them


def power_law_points(sizes, *, sd=0.005, seed=0, a=A, b=B, c=C) -> list[CurvePoint]:
    rng = np.random.default_rng(seed)
    return [CurvePoint(n, list(np.clip(a + b * n**-c + rng.normal(0.0, sd, k), 0.0, 1.0)))
            for n, k in zip(sizes, SEEDS, strict=True)]


def shaped_points(means, *, sd=0.01, seed=0) -> list[CurvePoint]:
    rng = np.random.default_rng(seed)
    sizes = (100, 200, 400, 800, 1600)
    return [CurvePoint(n, list(np.clip(m + rng.normal(0.0, sd, k), 0.0, 1.0)))
            for n, k, m in zip(sizes, SEEDS, means, strict=True)]


def analytic_n(target, a=A, b=B, c=C) -> float:
    return (b / (target - a)) ** (1 / c)


WIDE = (64, 256, 1024, 4096, 16384)
PROBE = (250, 500, 1000, 2000, 4000)  # fractions 1/16 ... 1 of a 4,000-example train split


def test_fit_recovers_known_parameters():
    fit = fit_power_law(power_law_points(WIDE))
    assert fit is not None and fit.converged and fit.n_sizes == 5
    assert abs(fit.a - A) < 0.025 and abs(fit.b - B) < 0.8 and abs(fit.c - C) < 0.1
    # The reported covariance is honest: each estimate lies within 4 of its own standard errors of the truth.
    se = np.sqrt(np.diag(fit.cov))
    assert np.all(np.abs(np.array([fit.a, fit.b, fit.c]) - [A, B, C]) <= 4 * se)
    assert fit.rmse < 0.01  # the seed noise is 0.005
    assert 0 <= fit.a <= 1 and fit.b >= 0 and 0 < fit.c <= 3


def test_fit_needs_three_sizes_and_says_why():
    fit, reason = fit_power_law_with_reason(power_law_points(WIDE)[:2])
    assert fit is None and reason.startswith("insufficient")
    with pytest.raises(ValueError, match="weights"):
        fit_power_law(power_law_points(WIDE), weights="bogus")


def test_clean_curve_is_ok_and_backtest_beats_last_value():
    # a power law without a floor: the probe's family. (A strong floor bends the curve faster than the drift real
    # curves showed in the back-tests; docs/learning-curve.md says so.)
    report = analyze_curve(power_law_points(PROBE, sd=0.003, a=0.0), target_error=None, n_boot=100)
    assert report.status == "ok" and report.flags == []
    assert report.backtest_error < report.last1_error
    observed = report.points[-1]["mean"]
    assert report.backtest["observed"] == observed and report.backtest["n"] == 4000
    for key, mult in (("2x", 2), ("4x", 4)):
        e = report.extrapolations[key]
        truth = B * (mult * 4000) ** -C
        assert e["n"] == mult * 4000 and e["low"] <= truth <= e["high"] and e["low"] <= e["error"] <= e["high"]


def test_labels_needed_follows_the_calibrated_curve_and_band():
    """On an exact power law (no floor, the family the back-test chose) the fit is the law itself, so the labels
    needed have a closed form: the n where b·n^(-c)·exp(q_mid·log2(n/n_max)) = target (the point moved by the
    median drift of real curves per doubling). The band's edges use the 10th / 90th percentile drifts instead, so
    the undrifted crossing lies inside it, and the upper end is bounded because the drift is smaller than the
    curve's own fall per doubling."""
    b, c = 2.0, 0.5
    target = b * 8000**-c  # the law itself reaches it at 8,000, twice the largest size
    report = analyze_curve(power_law_points(PROBE, sd=0.0005, a=0.0, b=b, c=c), target_error=target, n_boot=0)
    ln = report.labels_needed
    q_lo, q_mid, q_hi = drift_q(report.fit, 4000)
    assert q_lo <= BAND_Q[0] and q_hi >= BAND_Q[2]  # the band is never narrower than the error-blind one
    fb, fc = report.fit.b, report.fit.c  # the fit (its exponent averaged with the last doubling's) is near the law
    assert abs(fc / c - 1) < 0.1
    ln_n = (math.log(fb / target) - q_mid * math.log(4000) / math.log(2)) / (fc - q_mid / math.log(2))
    assert ln["status"] == "ok" and ln["band_level"] == 0.8 and ln["n_train"] == 4000
    assert abs(ln["value"] / math.exp(ln_n) - 1) < 0.03
    assert ln["low"] <= 8000 <= ln["value"] <= ln["high"] and ln["high"] < 64 * 4000
    assert math.isclose(ln["times_largest"], ln["value"] / 4000, rel_tol=0.01)


def test_target_far_beyond_the_curve_is_unreachable():
    report = analyze_curve(power_law_points(PROBE, sd=0.0005, a=0.0), target_error=1e-4, n_boot=0)
    assert report.status == "ok"
    ln = report.labels_needed
    assert ln["value"] is None and ln["status"] == "unreachable" and ln["reason"].startswith("unreachable")


def test_band_upper_end_is_unbounded_only_when_the_drift_outruns_the_curve():
    from tunegate.probe.curve_models import CurveModel

    steep, shallow = CurveModel("pow2_log", 0.0, 2.0, 0.5, 0.0, 5), CurveModel("pow2_log", 0.0, 0.2, 0.05, 0.0, 5)
    lo, hi = calibrated_n_band(steep, 4000, float(steep.predict(16000)), -0.07, 0.2)
    assert lo is not None and hi is not None and lo < 16000 < hi
    # this curve falls 0.05·ln 2 = 0.035 in log error per doubling, less than the pessimistic drift of 0.2
    lo, hi = calibrated_n_band(shallow, 4000, float(shallow.predict(16000)), -0.07, 0.2)
    assert lo is not None and lo < 16000 and hi is None


def test_non_monotone_curve_is_refused():
    report = analyze_curve(shaped_points([0.30, 0.22, 0.18, 0.24, 0.30]), target_error=0.1, n_boot=50)
    assert report.status == "unreliable"
    assert any(f.startswith("non-monotone: error rises from n=") for f in report.flags)
    ln = report.labels_needed
    assert ln["status"] == "unknown" and ln["value"] is None and ln["reason"].startswith("unknown")
    assert all(e["error"] is None for e in report.extrapolations.values())
    assert report.series["trusted"] is False


def test_random_errors_are_refused():
    rng = np.random.default_rng(3)
    points = [CurvePoint(n, list(rng.uniform(0.2, 0.6, k))) for n, k in zip(PROBE, SEEDS, strict=True)]
    report = analyze_curve(points, target_error=0.1, n_boot=50)
    assert report.status == "unreliable" and report.flags
    assert any(f.split(":")[0] in {"noisy", "flat", "non-monotone"} for f in report.flags)
    assert report.labels_needed["status"] == "unknown"


def test_plateau_then_drop_is_not_a_power_law():
    report = analyze_curve(shaped_points([0.50, 0.50, 0.49, 0.47, 0.20]), target_error=0.1, n_boot=0)
    assert report.status == "unreliable" and any(f.startswith("lack of fit") for f in report.flags)


def test_fewer_than_three_sizes_is_insufficient():
    report = analyze_curve(power_law_points(PROBE)[:2], target_error=0.1)
    d = report.to_dict()
    assert d["status"] == "insufficient" and d["fit"] is None and d["extrapolations"] is None
    assert d["labels_needed"]["status"] == "unknown" and len(d["points"]) == 2
    assert analyze_curve([], target_error=None).status == "insufficient"


def test_three_sizes_cannot_be_backtested():
    report = analyze_curve(power_law_points(PROBE)[:3], target_error=None, n_boot=0)
    assert report.fit is not None and report.status == "unreliable"
    assert any(f.startswith("no back-test") for f in report.flags) and report.backtest_error is None


def test_geometric_sizes():
    assert geometric_sizes(10003) == [625, 1250, 2501, 5002, 10003]  # banking77's train split
    assert geometric_sizes(100, min_size=20) == [20, 25, 50, 100]  # 2 x 10 classes
    assert geometric_sizes(1000, smallest=100) == [100, 125, 250, 500, 1000]
    with pytest.raises(ValueError, match="fewer than the smallest learning-curve anchor"):
        geometric_sizes(15, min_size=20)
    with pytest.raises(ValueError, match="fewer than the smallest learning-curve anchor"):
        geometric_sizes(40, smallest=50)
    with pytest.raises(ValueError, match="fractions"):
        geometric_sizes(100, fractions=(0.0, 1.0))


def test_seeds_for_more_seeds_at_small_sizes():
    sizes = geometric_sizes(10003)
    assert [seeds_for(n, sizes[-1]) for n in sizes] == [5, 4, 3, 2, 1]
    assert seeds_for(10, 10_000_000) == 5 and seeds_for(10, 10_000_000, max_seeds=3) == 3
    with pytest.raises(ValueError):
        seeds_for(20, 10)


def test_bad_points_give_clear_errors():
    with pytest.raises(ValueError, match=r"n=100: errors must be finite and in \[0, 1\]"):
        CurvePoint(100, [0.2, 1.5])
    with pytest.raises(ValueError, match="non-empty"):
        CurvePoint(100, [])
    with pytest.raises(ValueError, match="target_error"):
        analyze_curve(power_law_points(PROBE), target_error=1.5)


def test_report_shape_is_json_ready_and_deterministic():
    points = power_law_points(PROBE, sd=0.003)
    a = analyze_curve(points, target_error=0.08, n_boot=60, seed=7).to_dict()
    b = analyze_curve(points, target_error=0.08, n_boot=60, seed=7).to_dict()
    assert json.dumps(a, allow_nan=False, sort_keys=True) == json.dumps(b, allow_nan=False, sort_keys=True)
    c = analyze_curve(points, target_error=0.08, n_boot=60, seed=8).to_dict()
    assert c["series"]["low"][0] != a["series"]["low"][0]  # the seed drives the bootstrap (the band inside the data)
    assert a["band_level"] == 0.8 and a["n_train"] == 4000 and a["labels_needed"]["n_train"] == 4000
    for key in ("points", "fit", "backtest_error", "last1_error", "status", "flags", "extrapolations",
                "labels_needed", "series", "target_error"):
        assert key in a
    assert set(a["fit"]) >= {"family", "a", "b", "c", "rmse_log"}
    assert set(a["points"][0]) == {"n", "errors", "mean", "sd"} and a["points"][-1]["sd"] is None
    s = a["series"]
    assert s["n"][0] == 250 and s["n"][-1] == 16000 and s["n"] == sorted(set(s["n"]))
    assert len(s["n"]) == len(s["error"]) == len(s["low"]) == len(s["high"])
    assert all(lo <= e <= hi for lo, e, hi in zip(s["low"], s["error"], s["high"], strict=True))
    assert s["observed"]["n"] == list(PROBE) and s["trusted"] is True
    # points given as plain dicts (as read back from probe.json) give the same report
    dicts = [{"n": p.n, "errors": p.errors} for p in points]
    assert analyze_curve(dicts, target_error=0.08, n_boot=60, seed=7).to_dict() == a


def test_plan_sizes_uses_per_class_budgets():
    # banking77 with 640 labels: the old fraction rule left 3 sizes (always "unreliable"); now 6, from 2 per class
    sizes = plan_sizes(640, 77)
    assert sizes[0] == 154 and sizes[-1] == 640 and len(sizes) == 6
    assert all(b / a <= 2**0.5 + 0.01 for a, b in zip(sizes, sizes[1:]))
    assert plan_sizes(320, 77) == [154, 185, 222, 267, 320]  # one doubling: split at 2^(1/4)
    long = plan_sizes(9003, 77)
    assert len(long) == 8 and long[0] == 154 and long[-1] == 9003  # a long span: at most 8 sizes
    assert plan_sizes(200, 150) == [200]  # below 2 per class there is no curve; analyze_curve says insufficient
    assert plan_sizes(100, 10, per_class=1)[0] == 20  # never below min_size
    with pytest.raises(ValueError, match="n_classes"):
        plan_sizes(100, 0)
