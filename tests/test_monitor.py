"""Monitoring: statistics against hand-computed values, the family-wise false-alarm rate by simulation, detection
of injected shifts in logs from the example task, malformed logs, config strictness."""

from __future__ import annotations

import importlib.util
import json
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from tunegate.errors import DataError, SpecError
from tunegate.config.monitor import LogColumns, MonitorSpec
from tunegate.monitor.drift import (
    Context, TestResult, binned_counts, chi2_two_sample, ks_two_sample, psi, psi_from_counts, quantile_edges,
)
from tunegate.monitor.embedding_drift import classifier_test, mmd_test
from tunegate.monitor.logs import Record, read_log
from tunegate.monitor.performance import cusum_null, cusum_path
from tunegate.monitor.stage import finalize, monitor_stage, run_tests
from tunegate.monitor.windows import Window, cut_windows
from tunegate.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support-triage"


# ------------------------------------------------------------------------------------ hand-computed values


def test_psi_matches_hand_computation():
    # r = (.5, .3, .2), c = (.3, .3, .4): (-.2) ln(.3/.5) + 0 + (.2) ln(.4/.2)
    value, parts = psi_from_counts(np.array([50, 30, 20]), np.array([30, 30, 40]))
    assert value == pytest.approx(0.2 * math.log(0.5 / 0.3) + 0.2 * math.log(2), abs=1e-12)
    assert value == pytest.approx(0.2407946, abs=1e-6)
    assert parts[1] == 0


def test_psi_bins_are_fixed_on_the_reference_and_empty_bins_are_floored():
    ref = np.arange(1, 11, dtype=float)  # median 5.5: two bins of 5
    edges = quantile_edges(ref, 2)
    assert edges.tolist() == [5.5]
    assert binned_counts(np.arange(6, 16), edges).tolist() == [0, 10]
    # current has nothing below 5.5: its share is floored at 1e-4
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1 - 0.5) * math.log(1 / 0.5)
    assert psi(ref, np.arange(6, 16, dtype=float), bins=2) == pytest.approx(expected, abs=1e-9)


def test_ks_statistic_and_exact_p_value_by_enumeration():
    a, b = [1.0, 2.0, 3.0, 4.0], [3.5, 4.5, 5.0, 6.0, 7.0]
    d, p = ks_two_sample(np.array(a), np.array(b))
    assert d == pytest.approx(0.8)  # at x=4: F_a = 1, F_b = 0.2

    def dstat(x, y):
        grid = sorted(x + y)
        return max(abs(sum(v <= g for v in x) / len(x) - sum(v <= g for v in y) / len(y)) for g in grid)

    pooled = a + b
    ds = [dstat([pooled[i] for i in idx], [pooled[i] for i in range(9) if i not in idx])
          for idx in combinations(range(9), 4)]
    exact = sum(x >= d - 1e-12 for x in ds) / len(ds)  # 126 equally likely splits under H0
    assert p == pytest.approx(exact, abs=1e-9)


def test_chi_square_two_by_two_hand_value():
    stat, dof, p = chi2_two_sample(np.array([20, 30]), np.array([30, 20]))
    assert (stat, dof) == (pytest.approx(4.0), 1)
    assert p == pytest.approx(0.0455003, abs=1e-6)


def test_cusum_recursion_by_hand():
    p0, delta = 0.8, 0.1
    up, down = math.log(0.7 / 0.8), math.log(0.3 / 0.2)
    path = cusum_path(np.array([0, 0, 1, 0]), p0, delta)
    s1 = down
    s2 = s1 + down
    s3 = max(0, s2 + up)
    assert path.tolist() == pytest.approx([s1, s2, s3, s3 + down])


def test_cusum_threshold_holds_its_false_alarm_rate_on_fresh_simulations():
    h = np.quantile(cusum_null(0.8, 300, 400, 0.05, seed=1), 0.99)
    fresh = cusum_null(0.8, 300, 400, 0.05, seed=2)
    assert np.mean(fresh > h) <= 0.02  # nominal 1%, 2,000 fresh windows


# ------------------------------------------------------------------------------ multiplicity and statuses


def test_psi_alerts_only_when_its_paired_test_survives_holm():
    results = [TestResult("psi:x", "input", 0.4, threshold=0.25, pair="ks:x"),
               TestResult("ks:x", "input", 0.1, p_value=0.004),
               TestResult("psi:y", "input", 0.4, threshold=0.25, pair="ks:y"),
               TestResult("ks:y", "input", 0.3, p_value=1e-6)]
    finalize(results, alpha=0.01)
    st = {r.name: r.status for r in results}
    # 0.004 alone would pass 0.01, but Holm over two tests needs 0.004 * 1 after 1e-6 * 2: adjusted 0.004 -> ok?
    assert results[1].p_adjusted == pytest.approx(0.004) and st["ks:x"] == "alert"
    assert st == {"psi:x": "alert", "ks:x": "alert", "psi:y": "alert", "ks:y": "alert"}
    results = [TestResult("psi:x", "input", 0.4, threshold=0.25, pair="ks:x"),
               TestResult("ks:x", "input", 0.1, p_value=0.004)] + [
        TestResult(f"t{i}", "input", 0.0, p_value=0.5) for i in range(5)]
    finalize(results, alpha=0.01)
    assert results[1].p_adjusted == pytest.approx(0.024) and results[1].status == "ok"
    assert results[0].status == "ok"  # big PSI, but not significant after the correction


def _window(rng: np.random.Generator, n: int, *, shift: float = 0.0, acc: float = 0.85,
            name: str = "w") -> Window:
    labels = ["a", "b", "c", "d"]
    recs = []
    for i in range(n):
        lab = labels[rng.integers(4)]
        right = rng.random() < acc
        out = lab if right else labels[(labels.index(lab) + 1 + rng.integers(3)) % 4]
        recs.append(Record(line=i + 1, ts=None, text="x" * int(rng.integers(5, 60)), output=out, version="v1",
                           label=lab if rng.random() < 0.5 else None, feedback=None, confidence=None,
                           numeric=(float(rng.normal(shift, 1.0)),),
                           categorical=(["p", "q", "r"][rng.choice(3, p=[0.5, 0.3, 0.2])],)))
    return Window(name, "sim", recs)


def _cfg() -> MonitorSpec:
    return MonitorSpec(columns=LogColumns(numeric=["amount"], categorical=["channel"]),
                       embedding={"enabled": False})


def test_no_false_alarm_beyond_the_documented_rate_on_same_distribution_windows():
    rng = np.random.default_rng(20261128)
    runs, alarms, family = 300, 0, set()
    for k in range(runs):
        ctx = Context(cfg=_cfg(), labels=["a", "b", "c", "d"], seed=k)
        results = run_tests(_window(rng, 300), _window(rng, 300), ctx)
        family.add(sum(r.p_value is not None for r in results))
        alarms += any(r.status == "alert" for r in results)
    assert family == {8}  # numeric, categorical, length, output labels, gold labels, unscored, accuracy, cusum
    # documented family-wise rate alpha = 0.01: expect ~3 of 300; P(>= 9 | 1%) < 0.004
    assert alarms <= 8, f"{alarms} of {runs} same-distribution runs alerted"


def test_detects_covariate_shift_and_an_accuracy_drop_in_simulation():
    rng = np.random.default_rng(7)
    ctx = Context(cfg=_cfg(), labels=["a", "b", "c", "d"], seed=0)
    res = {r.name: r for r in run_tests(_window(rng, 300), _window(rng, 300, shift=0.5), ctx)}
    assert res["ks:amount"].status == "alert" and res["psi:amount"].statistic > 0.1
    ctx = Context(cfg=_cfg(), labels=["a", "b", "c", "d"], seed=0)
    res = {r.name: r for r in run_tests(_window(rng, 400), _window(rng, 400, acc=0.65), ctx)}
    assert res["performance:accuracy"].status == "alert"
    assert res["cusum:accuracy"].status == "alert" and res["cusum:accuracy"].extra["alarm"] is not None


def test_embedding_tests_on_synthetic_vectors():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 8)), rng.normal(size=(80, 8))
    assert mmd_test(x, y, permutations=300, seed=0)["p_value"] > 0.01
    shifted = mmd_test(x, y + 0.8, permutations=300, seed=0)
    assert shifted["p_value"] == pytest.approx(1 / 301)
    clf = classifier_test(x, y + 0.8, permutations=30, seed=0)
    assert clf["statistic"] > 0.8 and clf["p_value"] == pytest.approx(1 / 31)


# ------------------------------------------------------------------------- the example task's logs


def _make_logs():
    spec = importlib.util.spec_from_file_location("make_logs", EXAMPLE / "make_logs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def example_spec():
    return load_spec(EXAMPLE / "tunegate.yaml")


@pytest.mark.parametrize("shift,expected", [
    ("none", set()),
    ("covariate", {"chi2:channel", "ks:text_length", "ks:latency_ms"}),
    ("label", {"chi2:label_distribution", "chi2:output_label"}),
    ("version", {"model_version_change", "performance:accuracy", "cusum:accuracy", "performance:version:v2"}),
])
def test_example_logs_alert_on_the_injected_shift_only(tmp_path, example_spec, shift, expected):
    log = _write(tmp_path / "log.jsonl", _make_logs().make_rows(2000, shift, seed=3))
    doc = monitor_stage(example_spec, log, out_dir=tmp_path, embeddings=False, webhook=False)
    assert set(doc["alerts"]) >= expected
    assert doc["status"] == ("alert" if expected else "ok")
    on_disk = json.loads((tmp_path / "monitor.json").read_text())
    assert on_disk["status"] == doc["status"] and on_disk["schema_version"] == 1 and "run" in on_disk
    for t in on_disk["tests"]:
        assert {"name", "statistic", "status"} <= set(t) and ("p_value" in t or "threshold" in t)
    if shift == "version":
        change = next(t for t in doc["tests"] if t["name"] == "model_version_change")
        assert "--regress v1 v2" in change["regress"] and change["changes"][0]["line"] == 1001
    if shift == "covariate":  # the shift is in inputs, not in how well the model does
        assert "performance:accuracy" not in doc["alerts"]


def test_time_windows_and_training_reference(tmp_path, example_spec):
    log = _write(tmp_path / "log.jsonl", _make_logs().make_rows(1200, "none", seed=4))
    from tunegate.config.monitor import WindowSpec

    w = WindowSpec(by="time", reference_end="2026-09-03T00:00:00Z", current_start="2026-09-04T00:00:00Z")
    ref, cur = cut_windows(read_log(log, example_spec.monitor.columns), w, source=str(log))
    assert len(ref) == 576 and len(cur) == 1200 - 864  # 5-minute rows: 2 days = 576 rows
    spec = example_spec.model_copy(update={"monitor": example_spec.monitor.model_copy(update={
        "window": WindowSpec(reference="training", current_rows=500)})})
    spec._source = example_spec.source
    doc = monitor_stage(spec, log, embeddings=False, webhook=False)
    assert doc["reference"]["source"].startswith("training data")
    assert any(n["name"] == "performance:accuracy" for n in doc["not_run"])


# ------------------------------------------------------------------------------------ malformed input


def test_malformed_lines_name_file_and_line_or_are_counted(tmp_path):
    rows = [{"input": "hello", "timestamp": "2026-01-01T00:00:00Z"}] * 3
    log = tmp_path / "bad.jsonl"
    log.write_text(json.dumps(rows[0]) + "\n{not json\n" + json.dumps({"input": "x", "timestamp": "yesterday"})
                   + "\n" + json.dumps({"timestamp": "2026-01-01"}) + "\n" + json.dumps(rows[0]) + "\n")
    with pytest.raises(DataError) as e:
        list(read_log(log, LogColumns()))
    assert f"{log}:2:" in str(e.value) and "invalid JSON" in str(e.value) and "--skip-invalid" in str(e.value)
    from tunegate.monitor.logs import ReadStats

    st = ReadStats(str(log), "")
    recs = list(read_log(log, LogColumns(), skip_invalid=True, stats=st))
    assert len(recs) == 2 and st.n_skipped == 3
    assert [(s["line"], s["field"]) for s in st.skipped] == [(2, None), (3, "timestamp"), (4, "input")]


def test_monitor_config_is_strict():
    base = "task: {name: t, kind: classification, labels: [a, b]}\n"
    with pytest.raises(SpecError) as e:
        parse_spec(base + "monitor:\n  windw: {by: rows}\n")
    assert "monitor.windw" in str(e.value) and ":3:" in str(e.value)
    with pytest.raises(SpecError):
        parse_spec(base + "monitor: {webhook_url_env: 'https://hooks.example.com/T0/secret'}\n")
    with pytest.raises(SpecError):
        parse_spec(base + "monitor: {window: {by: time}}\n")
    spec = parse_spec(base + "monitor: {portfolio_model: triage, thresholds: {alpha: 0.05}}\n")
    assert spec.monitor.portfolio_model == "triage" and spec.monitor.thresholds.alpha == 0.05


def test_parquet_log_streams_in_batches_and_matches_jsonl(tmp_path, example_spec):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _make_logs().make_rows(2000, "covariate", seed=3)
    jsonl = _write(tmp_path / "log.jsonl", rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "log.parquet", row_group_size=500)
    a = monitor_stage(example_spec, jsonl, embeddings=False, webhook=False)
    b = monitor_stage(example_spec, tmp_path / "log.parquet", embeddings=False, webhook=False)
    assert b["inputs"][0]["format"] == "parquet" and b["inputs"][0]["n_rows"] == 2000
    assert a["alerts"] == b["alerts"] and b["status"] == "alert"
    assert [t["statistic"] for t in a["tests"]] == pytest.approx([t["statistic"] for t in b["tests"]])


def test_label_free_estimate_needs_calibrated_confidences():
    rng = np.random.default_rng(11)

    def win(n, lo, hi, labeled, calibrated=True):
        recs = []
        for i in range(n):
            conf = float(rng.uniform(lo, hi))
            right = rng.random() < (conf if calibrated else 0.5)
            recs.append(Record(line=i + 1, ts=None, text="t", output="a" if right else "b", version=None,
                               label="a" if labeled else None, feedback=None, confidence=conf))
        return Window("w", "sim", recs)

    cfg = MonitorSpec(embedding={"enabled": False}, tests=["performance"])
    ctx = Context(cfg=cfg, labels=["a", "b"], seed=0)
    res = {r.name: r for r in run_tests(win(600, 0.6, 1.0, True), win(400, 0.3, 0.7, False), ctx)}
    est = res["estimated_accuracy"]
    assert est.status == "alert" and est.statistic == pytest.approx(0.5, abs=0.02)
    assert est.extra["reference_ece"] < 0.05 and est.extra["ci_high"] < est.threshold
    ctx = Context(cfg=cfg, labels=["a", "b"], seed=0)
    res = run_tests(win(600, 0.6, 1.0, True, calibrated=False), win(400, 0.3, 0.7, False), ctx)
    assert not any(r.name == "estimated_accuracy" for r in res)
    assert any(n["name"] == "estimated_accuracy" and "not calibrated" in n["reason"] for n in ctx.not_run)


class _Vectors:
    """An embedder that maps a text to a fixed vector: 'a…' texts near one point, 'b…' texts near another."""

    model_id = "test:vectors"

    def embed(self, texts):
        rng = np.random.default_rng(0)
        return np.stack([(np.ones(8) if t.startswith("b") else np.zeros(8)) + rng.normal(scale=0.1, size=8)
                         for t in texts])


def floor_rerun_case(embedder):
    """12 p-value tests (11 numeric columns + the embedding) with 100 permutations, 'a…' texts against 'b…' texts:
    the embedding test sits at its p-value floor, so the stage re-runs it. Returns (reference, current, ctx)."""
    cols = LogColumns(input="input", numeric=[f"x{k}" for k in range(11)])
    cfg = MonitorSpec.model_validate({"columns": cols.model_dump(), "tests": ["numeric", "embedding"],
                                      "embedding": {"enabled": True, "permutations": 100, "max_items": 60}})
    rng = np.random.default_rng(1)

    def window(name, lead):
        recs = [Record(line=i + 1, ts=None, text=f"{lead} message {i}", output=None, version=None, label=None,
                       feedback=None, confidence=None, numeric=tuple(float(v) for v in rng.normal(size=11)))
                for i in range(60)]
        return Window(name, name, recs)

    return window("reference", "a"), window("current", "b"), Context(cfg=cfg, embedder=lambda: embedder)


def test_a_resampling_p_value_at_its_floor_is_rerun_so_a_real_shift_still_alerts_in_a_large_family():
    """100 permutations give p >= 1/101; with 12 tests in the Holm family that floor alone would adjust to
    ~0.12 > alpha 0.01, so a total shift would read 'ok'. The stage re-runs such a test with >= 2m/alpha."""
    reference, current, ctx = floor_rerun_case(_Vectors())
    results = run_tests(reference, current, ctx)
    (mmd,) = [r for r in results if r.name == "mmd:embedding"]
    m = sum(1 for r in results if r.p_value is not None)
    assert m == 12 and ctx.resolution["embedding"] == math.ceil(2 * m / 0.01)
    assert mmd.extra["permutations"] == 2400 and mmd.p_value == pytest.approx(1 / 2401)
    assert mmd.status == "alert" and mmd.p_adjusted < 0.01


# ------------------------------------------------------------------------------ effect-size floors (issue 16)


def test_effect_sizes_against_hand_values():
    from collections import Counter

    from tunegate.monitor.statistics import standardized_mean_difference, total_variation

    # 50/30/20 -> 30/30/40: half of |-.2| + 0 + |.2| = 0.2 of traffic changed category
    assert total_variation(Counter(p=50, q=30, r=20), Counter(p=30, q=30, r=40)) == pytest.approx(0.2)
    assert total_variation(Counter(a=10), Counter(b=5)) == pytest.approx(1.0)
    # means 2 and 4, sample variances 1 and 1 -> pooled SD 1 -> d = 2
    assert standardized_mean_difference(np.array([1.0, 2, 3]), np.array([3.0, 4, 5])) == pytest.approx(2.0)


def _family(results, ctx):
    finalize(results, ctx.cfg.thresholds.alpha)
    return {r.name: r for r in results}


def test_a_tiny_shift_in_250k_row_windows_is_significant_but_does_not_alert():
    """Issue 16: with 250,000-row windows a 0.03-SD shift has KS p ~ 1e-11 (PSI 0.0013); it must not alert."""
    from tunegate.monitor.drift import numeric_results

    rng = np.random.default_rng(3)
    ref, cur = rng.normal(0, 1, 250_000), rng.normal(0.03, 1, 250_000)
    ctx = Context(cfg=_cfg())
    res = _family(numeric_results("amount", "input", ref, cur, ctx), ctx)
    ks, p = res["ks:amount"], res["psi:amount"]
    assert ks.p_adjusted < 1e-6 and p.statistic < 0.01  # detectable, and tiny
    assert ks.extra["effect"]["met"] is False and ks.status == "ok" and p.status == "ok"
    assert "below its floor" in ks.detail
    # the same shift at 0.3 SD clears the floors (SMD 0.3 >= 0.2) and alerts, with a before/after sentence
    ctx = Context(cfg=_cfg())
    res = _family(numeric_results("amount", "input", ref, rng.normal(0.3, 1, 250_000), ctx), ctx)
    assert res["ks:amount"].status == "alert"
    assert res["ks:amount"].message.startswith("amount: mean ") and "(+0.3 SD)" in res["ks:amount"].message
    assert set(res["psi:amount"].extra) == {"reference_summary", "current_summary"}


def test_a_category_mix_change_alerts_although_psi_is_below_its_threshold():
    """Issue 16: 50/30/20 -> 30/30/40 has PSI 0.241 < 0.25 but moves 20% of traffic: chi-square alerts on it.
    A 50/30/20 -> 49/30/21 wobble in the same 250,000-row windows is significant but under min_tvd = 0.1."""
    from tunegate.monitor.drift import categorical_results

    def mix(shares, n=250_000):
        return [c for c, s in zip("pqr", shares) for _ in range(int(s * n))]

    ctx = Context(cfg=_cfg())
    res = _family(categorical_results("channel", "input", mix((.5, .3, .2)), mix((.3, .3, .4)), ctx, "channel"),
                  ctx)
    assert res["psi:channel"].statistic == pytest.approx(0.2408, abs=1e-4) and res["psi:channel"].status == "ok"
    chi = res["chi2:channel"]
    assert chi.status == "alert" and chi.extra["effect"]["tvd"] == pytest.approx(0.2)
    assert "gained share: r 20.0% → 40.0% (+20.0 pp)" in chi.message and "lost share: p 50.0% → 30.0%" in chi.message
    ctx = Context(cfg=_cfg())
    res = _family(categorical_results("channel", "input", mix((.5, .3, .2)), mix((.49, .3, .21)), ctx), ctx)
    assert res["chi2:channel"].p_adjusted < 1e-6 and res["chi2:channel"].status == "ok"


def test_floors_are_spec_keys_and_a_zero_floor_restores_significance_only():
    spec = parse_spec("task: {name: t, kind: classification, labels: [a, b]}\n"
                      "monitor: {thresholds: {min_ks_d: 0, min_smd: 0, min_tvd: 0}}\n")
    from tunegate.monitor.drift import numeric_results

    rng = np.random.default_rng(3)
    ctx = Context(cfg=spec.monitor)
    res = _family(numeric_results("x", "input", rng.normal(0, 1, 250_000), rng.normal(0.03, 1, 250_000), ctx), ctx)
    assert res["ks:x"].status == "alert"
    with pytest.raises(SpecError):
        parse_spec("task: {name: t, kind: classification, labels: [a, b]}\nmonitor: {thresholds: {min_tvd: 2}}\n")


def test_new_categories_are_named_with_their_share():
    from collections import Counter

    from tunegate.monitor.explain import category_change, category_message

    ch = category_change(Counter(a=50, b=50), Counter(a=30, b=30, c=25, d=15))
    assert ch["n_new"] == 2 and ch["new_share"] == pytest.approx(0.4)
    msg = category_message("gold labels", "labels", ch)
    assert msg.startswith("gold labels: 2 labels unseen in the reference now carry 40.0% of traffic: c (25.0%), "
                          "d (15.0%)")
    one = category_message("x", "values", category_change(Counter(a=9), Counter(a=9, z=1)))
    assert "1 value unseen in the reference now carries 10.0% of traffic: z (10.0%)" in one
