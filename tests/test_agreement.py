"""Agreement statistics against published worked examples, an independent brute-force oracle, and edge cases.

Every reference number below was recomputed by hand or by the brute-force oracle in this file before it was
asserted; sources are cited next to each.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest

from tunegate.data import agreement as ag
from tunegate.data.agreement import (
    LEVELS, agreement_report, cohen_kappa, fleiss_kappa, interpret_alpha, krippendorff_alpha, krippendorff_alpha_ci,
    pairwise_cohen, per_annotator, per_class_agreement, reliability_from_matrix, reliability_matrix,
)
from tunegate.data.annotations import Annotation

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", Annenberg School for Communication,
# Departmental Papers (ASC) 43: the worked example with four observers and missing values, computed there with the
# nominal, ordinal, interval and ratio metrics. Observers A-D (rows) x units 1-12 (columns), "." = missing.
# All four published values were reproduced by alpha_bruteforce below (0.7434, 0.8154, 0.8491, 0.7974).
KRIPP_2011 = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}
KRIPP_2011_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def kripp_2011_items() -> list[list]:
    """Items x observers (the paper prints observers x units)."""
    rows = [[None if v == "." else int(v) for v in r.split()] for r in KRIPP_2011.values()]
    return [list(col) for col in zip(*rows)]


def alpha_bruteforce(items: list[list], level: str) -> float:
    """Krippendorff (2011) literally: coincidence matrix by looping over ordered value pairs in each unit,
    marginals n_c, and the four difference functions. Independent of the vectorised closed forms."""
    o: dict = defaultdict(float)
    for row in items:
        vals = [v for v in row if v is not None]
        m = len(vals)
        if m < 2:
            continue
        for i in range(m):
            for j in range(m):
                if i != j:
                    o[vals[i], vals[j]] += 1.0 / (m - 1)
    cats = sorted({c for c, _ in o})
    n_c = {c: sum(o[c, k] for k in cats) for c in cats}
    n = sum(n_c.values())

    def delta(c, k):
        if level == "nominal":
            return float(c != k)
        if level == "ordinal":
            lo, hi = min(c, k), max(c, k)
            return (sum(n_c[g] for g in cats if lo <= g <= hi) - (n_c[c] + n_c[k]) / 2.0) ** 2
        if level == "interval":
            return float(c - k) ** 2
        return 0.0 if c + k == 0 else ((c - k) / (c + k)) ** 2

    d_o = sum(o[c, k] * delta(c, k) for c in cats for k in cats)
    d_e = sum(n_c[c] * n_c[k] * delta(c, k) for c in cats for k in cats)
    return 1.0 - (n - 1) * d_o / d_e


@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_worked_example(level):
    data = reliability_from_matrix(kripp_2011_items(), annotators=list(KRIPP_2011))
    alpha = krippendorff_alpha(data, level)
    assert round(alpha, 3) == KRIPP_2011_ALPHA[level]
    assert alpha == pytest.approx(alpha_bruteforce(kripp_2011_items(), level), abs=1e-12)


def test_krippendorff_binary_example_by_hand():
    # Krippendorff (2011), the binary example (two observers, ten units, no missing data). By hand: o_00 = 10, o_11 = 2,
    # o_01 = o_10 = 4, n_0 = 14, n_1 = 6, n = 20; alpha = 1 - 19 * 8 / (2 * 14 * 6) = 16/168 = 0.0952.
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    data = reliability_from_matrix(list(zip(a, b)), annotators=["A", "B"])
    assert krippendorff_alpha(data) == pytest.approx(16 / 168, abs=1e-12)
    assert round(krippendorff_alpha(data), 3) == 0.095
    # Specific agreement o_cc / n_c: 10/14 for 0; for 1 it is the classic 2a / (2a + b + c) = 2 / (2 + 4).
    assert per_class_agreement(data) == pytest.approx({0: 10 / 14, 1: 1 / 3})
    # Cohen: p_o = 0.6, p_e = 0.2 * 0.4 + 0.8 * 0.6 = 0.56, kappa = 0.04 / 0.44.
    (pair,) = pairwise_cohen(data)
    assert pair["n_shared"] == 10 and pair["agreement"] == pytest.approx(0.6)
    assert pair["kappa"] == pytest.approx(0.04 / 0.44)


@pytest.mark.parametrize("level", LEVELS)
def test_matches_bruteforce_on_random_data_with_missing(level):
    rng = np.random.default_rng(7)
    for trial in range(5):
        n_items, n_raters = 40, 5
        truth = rng.integers(1, 6, n_items)
        x = np.where(rng.random((n_items, n_raters)) < 0.6, truth[:, None], rng.integers(1, 6, (n_items, n_raters)))
        items = [[None if rng.random() < 0.35 else int(v) for v in row] for row in x]
        assert krippendorff_alpha(reliability_from_matrix(items), level) == pytest.approx(
            alpha_bruteforce(items, level), abs=1e-10)


def test_fleiss_1971_wikipedia_worked_example():
    # Wikipedia "Fleiss' kappa", worked example (10 subjects, 14 raters, 5 categories): p_j = .143 .200 .279 .150
    # .229, P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210. Recomputed here: P-bar = 0.37802, P_e = 0.21275.
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    triples = []
    for i, row in enumerate(table):
        labels = [cat for cat, count in enumerate(row, start=1) for _ in range(count)]
        triples += [(f"s{i}", f"r{r}", lab) for r, lab in enumerate(labels)]
    kappa = fleiss_kappa(reliability_matrix(triples))
    assert round(kappa, 3) == 0.210
    assert kappa == pytest.approx((0.378022 - 0.212755) / (1 - 0.212755), abs=1e-5)


def test_fleiss_is_none_unless_balanced():
    data = reliability_from_matrix(kripp_2011_items())  # 2 to 4 ratings per item
    assert fleiss_kappa(data) is None
    assert fleiss_kappa(reliability_from_matrix([[1, 1], [2, None]])) is None


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(weights):
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(3)
    for _ in range(5):
        a = rng.integers(0, 5, 200)
        b = np.where(rng.random(200) < 0.5, a, rng.integers(0, 5, 200))
        assert cohen_kappa(list(a), list(b), weights=weights) == pytest.approx(
            cohen_kappa_score(a, b, weights=weights), abs=1e-12)
    # string labels, and items one rater skipped are dropped
    a, b = ["x", "y", "y", None, "z", "x"], ["x", "y", "z", "x", "z", ""]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(["x", "y", "y", "z"], ["x", "y", "z", "z"]))
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa(a, b, weights="cubic")


def test_perfect_agreement_is_one():
    items = [[1, 1, 1], [2, 2, None], [3, 3, 3], [5, None, 5]]
    for level in LEVELS:
        assert krippendorff_alpha(reliability_from_matrix(items), level) == pytest.approx(1.0, abs=1e-12)
    assert krippendorff_alpha(reliability_from_matrix(items)) == 1.0


def test_one_rater_gives_nan_with_reason_not_an_exception():
    data = reliability_matrix([("i1", "ann", "a"), ("i2", "ann", "b")])
    assert math.isnan(krippendorff_alpha(data))
    ci = krippendorff_alpha_ci(data)
    assert math.isnan(ci.estimate) and "only one annotator" in ci.note
    report = agreement_report(data, n_resamples=50)
    assert math.isnan(report.krippendorff_alpha) and "only one annotator" in report.alpha_note
    assert report.interpretation == "undefined" and report.to_dict()["krippendorff_alpha"] is None


def test_single_category_gives_nan_with_reason():
    data = reliability_from_matrix([["yes", "yes"], ["yes", "yes"], ["yes", None]])
    assert math.isnan(krippendorff_alpha(data))
    assert "expected disagreement is 0" in agreement_report(data, n_resamples=20).alpha_note
    assert math.isnan(fleiss_kappa(reliability_from_matrix([["yes", "yes"], ["yes", "yes"]])))


def test_single_ratings_and_silent_annotators_change_nothing():
    items = kripp_2011_items()
    base = {lv: krippendorff_alpha(reliability_from_matrix(items), lv) for lv in LEVELS}
    more = items + [[4, None, None, None], [None, None, 1, None]]  # two items with one rating each
    silent = [row + [None] for row in items]  # an annotator with no ratings at all
    for lv in LEVELS:
        assert krippendorff_alpha(reliability_from_matrix(more), lv) == pytest.approx(base[lv], abs=1e-12)
        assert krippendorff_alpha(reliability_from_matrix(silent), lv) == pytest.approx(base[lv], abs=1e-12)
    assert reliability_from_matrix(silent).n_annotators == 5


def test_annotation_records_labels_as_strings_and_latest_timestamp_wins():
    anns = [Annotation("u1", "A", "1", "2024-01-01"), Annotation("u1", "B", "2"),
            Annotation("u1", "A", "2", "2024-02-01"),  # A's later judgment replaces "1"
            Annotation("u2", "A", "3"), Annotation("u2", "B", "3.0")]
    data = reliability_matrix(anns)
    assert data.label_kind == "numeric" and data.categories == ["2", "3"]  # "3" and "3.0" are one category
    assert krippendorff_alpha(data, "interval") == 1.0
    with pytest.raises(ValueError, match="twice"):
        reliability_matrix([("u1", "A", "x"), ("u1", "A", "y")])


def test_ordinal_text_labels_with_explicit_order_match_numbers():
    order = ["low", "mid", "high"]
    items = kripp_2011_items()
    nums = [[v if v is None else min(v, 3) for v in row] for row in items]
    words = [[v if v is None else order[v - 1] for v in row] for row in nums]
    expected = krippendorff_alpha(reliability_from_matrix(nums), "ordinal")
    assert krippendorff_alpha(reliability_from_matrix(words, categories=order), "ordinal") == pytest.approx(expected)
    with pytest.raises(ValueError, match="ordered category list"):
        krippendorff_alpha(reliability_from_matrix(words), "ordinal")
    with pytest.raises(ValueError, match="not in the category list"):
        reliability_from_matrix(words, categories=["low", "mid"])


def test_clear_errors():
    good = reliability_from_matrix(kripp_2011_items())
    with pytest.raises(ValueError, match="unknown level 'cardinal'"):
        krippendorff_alpha(good, "cardinal")
    mixed = reliability_from_matrix([[1, 2], [3, "high"]])
    for level in ("interval", "ratio"):
        with pytest.raises(ValueError, match="mixed label types"):
            krippendorff_alpha(mixed, level)
    with pytest.raises(ValueError, match="needs numeric labels"):
        krippendorff_alpha(reliability_from_matrix([["a", "b"], ["b", "b"]]), "interval")
    with pytest.raises(ValueError, match="no item has ratings from 2 or more"):
        krippendorff_alpha(reliability_matrix([("i1", "A", "x"), ("i2", "B", "y")]))
    with pytest.raises(ValueError, match="no item has ratings from 2 or more"):
        agreement_report(reliability_matrix([("i1", "A", "x"), ("i2", "B", "y")]))
    with pytest.raises(ValueError, match="non-negative"):
        krippendorff_alpha(reliability_from_matrix([[-1, 2], [3, 3]]), "ratio")


def test_per_annotator_against_leave_one_out_majority():
    data = reliability_matrix([
        ("i1", "A", "a"), ("i1", "B", "a"), ("i1", "C", "a"),
        ("i2", "A", "a"), ("i2", "B", "a"), ("i2", "C", "b"),
        ("i3", "A", "b"), ("i3", "B", "b"), ("i3", "C", "b"),
        ("i4", "A", "a"), ("i4", "B", "b"),
    ])
    rows = {r["annotator"]: r for r in per_annotator(data)}
    # A: i1 -> a (agree), i2 others a/b tie (skipped), i3 -> b (agree), i4 others b (disagree)
    assert (rows["A"]["n_labeled"], rows["A"]["n_compared"], rows["A"]["n_tied"]) == (4, 3, 1)
    assert rows["A"]["agreement_with_majority"] == pytest.approx(2 / 3)
    # C: majority of A,B is a, a, b on i1..i3; C said a, b, b
    assert rows["C"]["agreement_with_majority"] == pytest.approx(2 / 3)
    assert rows["C"]["kappa_vs_majority"] == pytest.approx(cohen_kappa(["a", "b", "b"], ["a", "a", "b"]))


def _simulate_nominal(n_items, n_raters, q, k, seed):
    """Each rater copies the true class with probability q, else guesses uniformly: alpha -> q^2 as n grows
    (P_o = q^2 + (1 - q^2)/k and P_e = 1/k with uniform classes, so (P_o - P_e)/(1 - P_e) = q^2)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    x = np.where(rng.random((n_items, n_raters)) < q, truth[:, None], rng.integers(0, k, (n_items, n_raters)))
    return [(f"i{i}", f"r{j}", f"c{x[i, j]}") for i in range(n_items) for j in range(n_raters)]


def test_alpha_recovers_simulated_agreement():
    data = reliability_matrix(_simulate_nominal(4000, 3, 0.8, 4, seed=11))
    ci = krippendorff_alpha_ci(data, n_resamples=300, seed=1)
    assert ci.estimate == pytest.approx(0.64, abs=0.02) and 0.64 in ci
    # interval: x = true score + noise, alpha -> var(true) / (var(true) + var(noise)) = 1 / 1.25 = 0.8
    rng = np.random.default_rng(5)
    z = rng.normal(size=3000)
    values = z[:, None] + rng.normal(scale=0.5, size=(3000, 3))
    assert krippendorff_alpha(reliability_from_matrix(values.tolist()), "interval") == pytest.approx(0.8, abs=0.02)


def test_sparse_counts_and_blocked_ratio_paths_match(monkeypatch):
    # Many distinct values switch the counts to scipy.sparse and the ratio metric to blocks; same numbers.
    rng = np.random.default_rng(2)
    values = np.exp(rng.normal(size=(300, 1)) + rng.normal(scale=0.7, size=(300, 3))).round(2).tolist()
    data = reliability_from_matrix(values)
    dense = {lv: krippendorff_alpha(data, lv) for lv in ("nominal", "ordinal", "ratio")}
    monkeypatch.setattr(ag, "_DENSE_LIMIT", 0)
    monkeypatch.setattr(ag, "_BLOCK", 1000)
    for lv, expected in dense.items():
        assert krippendorff_alpha(data, lv) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("level", LEVELS)
def test_bootstrap_replicate_is_alpha_of_resampled_items(level):
    # White-box: the CI draws unit indices over the pairable items in order; one replicate must equal alpha of
    # the explicitly resampled data (checks the weighted formulation, incl. ordinal mid-ranks per resample).
    items = [row for row in kripp_2011_items() if sum(v is not None for v in row) >= 2]
    ci = krippendorff_alpha_ci(reliability_from_matrix(items), level, n_resamples=1, seed=4)
    idx = np.random.default_rng(4).integers(0, len(items), size=(1, len(items)))[0]
    expected = alpha_bruteforce([items[i] for i in idx], level)
    assert ci.low == pytest.approx(expected, abs=1e-10) and ci.high == pytest.approx(expected, abs=1e-10)


def test_bootstrap_ci_is_seeded_and_contains_estimate():
    data = reliability_from_matrix(kripp_2011_items())
    for level in LEVELS:
        a = krippendorff_alpha_ci(data, level, n_resamples=500, seed=3)
        assert a == krippendorff_alpha_ci(data, level, n_resamples=500, seed=3)
        assert a.estimate in a and a.method == "percentile" and a.n == 11
    assert krippendorff_alpha_ci(data, n_resamples=500, seed=4) != krippendorff_alpha_ci(data, n_resamples=500, seed=3)


def test_report_to_dict_is_strict_json():
    data = reliability_matrix(_simulate_nominal(200, 4, 0.9, 3, seed=2))
    d = agreement_report(data, "nominal", n_resamples=200, seed=0).to_dict()
    for key in ("krippendorff_alpha", "alpha_ci", "level", "fleiss_kappa", "n_items", "n_annotators", "n_ratings",
                "pairwise", "per_annotator", "per_class", "interpretation"):
        assert key in d
    assert d["n_items"] == 200 and d["n_annotators"] == 4 and d["n_ratings"] == 800
    assert len(d["pairwise"]) == 6 and set(d["per_class"]) == {"c0", "c1", "c2"}
    assert d["fleiss_kappa"] is not None and d["alpha_ci"]["low"] <= d["krippendorff_alpha"] <= d["alpha_ci"]["high"]
    json.dumps(d, allow_nan=False)
    report = agreement_report(reliability_from_matrix(kripp_2011_items()), "ordinal", n_resamples=100)
    assert report.to_dict()["fleiss_kappa"] is None and report.interpretation == "reliable"


def test_interpretation_thresholds():
    assert [interpret_alpha(a) for a in (0.8, 0.799, 0.667, 0.666, math.nan)] == [
        "reliable", "tentative", "tentative", "unreliable", "undefined"]


def test_large_inputs_run_fast():
    # Speed sanity, not a timed assertion (bench/ measures): 15,000 items x 3 and 10,000 x 10 from long format.
    rng = np.random.default_rng(0)
    for n_items, n_raters in ((15_000, 3), (10_000, 10)):
        x = rng.integers(1, 6, (n_items, n_raters))
        triples = [(i, j, int(x[i, j])) for i in range(n_items) for j in range(n_raters)]
        data = reliability_matrix(triples)
        for level in LEVELS:
            assert -1.0 <= krippendorff_alpha(data, level) <= 1.0
    assert krippendorff_alpha_ci(data, "ordinal", n_resamples=200).n == 10_000


def test_module_import_stays_light():
    code = "import sys, tunegate.data.agreement; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
