"""Simulation: how often does `tunegate monitor` alert when nothing changed, and how often does it catch a shift?

Same-distribution windows (numeric + categorical column, text length, predicted and gold labels, accuracy on
labeled rows, CUSUM): the share of runs in which *any* test alerts is the family-wise false-alarm rate, which
the Holm correction holds at ``alpha`` (default 0.01). Then injected shifts of several sizes: the detection rate.
With ``--embeddings``, MMD on MiniLM embeddings of banking77: random splits (false alarms of the test alone,
at the uncorrected 0.01 level) vs a window of three intents (detection).

    .venv/bin/python bench/monitor_false_alarms.py [--runs 1000] [--window 300] [--embeddings]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tunegate.evals.stats import wilson_ci  # noqa: E402
from tunegate.monitor.drift import Context  # noqa: E402
from tunegate.monitor.stage import run_tests  # noqa: E402
from test_monitor import _cfg, _window  # noqa: E402  (the same generator the tests use)


def rate(hits: int, n: int) -> str:
    iv = wilson_ci(hits, n)
    return f"{hits}/{n} = {hits / n:.3%} (95% CI {iv.low:.3%}-{iv.high:.3%})"


def simulate(runs: int, window: int, seed: int, **shift) -> tuple[int, dict[str, int]]:
    rng = np.random.default_rng(seed)
    any_alert, per_test = 0, {}
    for k in range(runs):
        res = run_tests(_window(rng, window), _window(rng, window, **shift),
                        Context(cfg=_cfg(), labels=["a", "b", "c", "d"], seed=k))
        alerts = [r.name for r in res if r.status == "alert"]
        any_alert += bool(alerts)
        for a in alerts:
            per_test[a] = per_test.get(a, 0) + 1
    return any_alert, per_test


def embeddings_sim(runs: int, items: int) -> None:
    from tunegate.models.registry import create_embedder
    from tunegate.monitor.embedding_drift import mmd_test

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.default_rng(0)
    pool = [rows[i] for i in rng.choice(len(rows), 1500, replace=False)]
    few = [r for r in rows if r["category"] in ("card_arrival", "lost_or_stolen_card", "exchange_rate")][:300]
    t = time.perf_counter()
    emb = create_embedder("local:minilm")
    vp = emb.embed([r["text"] for r in pool])
    vf = emb.embed([r["text"] for r in few])
    print(f"embedded {len(pool) + len(few)} texts in {time.perf_counter() - t:.1f} s")
    null_hits = shift_hits = 0
    for k in range(runs):
        idx = rng.permutation(len(pool))
        a, b = vp[idx[:items]], vp[idx[items:2 * items]]
        null_hits += mmd_test(a, b, permutations=500, seed=k)["p_value"] < 0.01
        fi = rng.choice(len(few), items, replace=False)
        shift_hits += mmd_test(a, vf[fi], permutations=500, seed=k)["p_value"] < 0.01
    print(f"MMD, banking77 random split, {items} vs {items}: false alarms at p<0.01 {rate(null_hits, runs)}")
    print(f"MMD, banking77 vs 3 intents, {items} vs {items}: detected {rate(shift_hits, runs)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--window", type=int, default=300)
    ap.add_argument("--embeddings", action="store_true")
    args = ap.parse_args()
    t = time.perf_counter()
    hits, per = simulate(args.runs, args.window, 1)
    print(f"no change, windows of {args.window}: runs with any alert {rate(hits, args.runs)}; by test {per} "
          f"({time.perf_counter() - t:.0f} s)")
    shift_runs = max(50, args.runs // 5)
    for label, kw in (("numeric shift 0.25 sd", {"shift": 0.25}), ("numeric shift 0.5 sd", {"shift": 0.5}),
                      ("accuracy 0.85 -> 0.75", {"acc": 0.75}), ("accuracy 0.85 -> 0.65", {"acc": 0.65})):
        hits, per = simulate(shift_runs, args.window, 2, **kw)
        print(f"{label}, windows of {args.window}: detected {rate(hits, shift_runs)}; by test {per}")
    if args.embeddings:
        embeddings_sim(max(50, args.runs // 5), 150)


if __name__ == "__main__":
    main()
