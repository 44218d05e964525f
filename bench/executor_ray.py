"""Benchmark: the same work with ``--executor local`` and ``--executor ray`` on this machine, as ratios.

1. Ray's overhead per task: a trivial function mapped over 2,000 tasks (ms per task, after start-up).
2. Evaluation: label-likelihood scoring with ``local:smollm2`` on the example task's test split (``--eval-items``),
   local (one process) vs Ray with 1 and 2 worker processes; checks that predictions are identical.
3. Monitor over a Parquet log of ``--monitor-rows`` rows (numeric/categorical drift, windows of 100,000 rows):
   the streaming reader vs Ray reading row groups (head and tail only); checks the reports agree.

On a 2-core machine Ray is not expected to be faster for model calls (both cores are busy either way); the point
is bounded overhead and identical answers. Run:
    .venv/bin/python bench/executor_ray.py [--eval-items 121] [--monitor-rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support-triage" / "tunegate.yaml"


def _noop(x: int) -> int:
    return x


def task_overhead(ex, n: int = 2000) -> float:
    list(ex.map_unordered(_noop, [(0,)] * 50))  # warm the workers
    t0 = time.perf_counter()
    list(ex.map_unordered(_noop, [(i,) for i in range(n)]))
    return (time.perf_counter() - t0) / n * 1000


def eval_run(executor, items: int, out: Path) -> tuple[float, dict, object]:
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.spec import load_spec

    spec = load_spec(EXAMPLE)
    t0 = time.perf_counter()
    art = run_eval(spec, EvalOptions(limit=items, method="label_logprobs", out_dir=out,
                                     cache_path=out / "cache.sqlite", executor=executor))
    wall = time.perf_counter() - t0
    preds = {json.loads(x)["id"]: json.loads(x)["prediction"] for x in (out / "results.jsonl").open()}
    return wall, preds, art


def monitor_run(executor, log: Path) -> tuple[float, dict]:
    from tunegate.monitor.stage import monitor_stage
    from tunegate.spec import parse_spec

    spec = parse_spec(
        "task: {name: bench, kind: classification, labels: [a, b, c, d]}\n"
        "monitor:\n  columns: {numeric: [latency_ms, tokens], categorical: [channel, region], confidence: confidence}\n"
        "  window: {by: rows, reference_rows: 100000, current_rows: 100000}\n  embedding: {enabled: false}\n",
        source=log.parent / "tunegate.yaml")
    t0 = time.perf_counter()
    doc = monitor_stage(spec, log, embeddings=False, executor=executor)
    return time.perf_counter() - t0, doc


def write_parquet_log(path: Path, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    shift = np.arange(n) >= int(n * 0.6)
    table = pa.table({
        "timestamp": np.arange(n, dtype=np.int64) + 1_767_225_600,
        "input": np.array(["message %d" % (i % 997) for i in range(n)], dtype=object),
        "output": rng.choice(["a", "b", "c", "d"], n),
        "model_version": np.full(n, "v1", dtype=object),
        "latency_ms": rng.lognormal(6.0 + 0.2 * shift, 0.3),
        "tokens": rng.poisson(120, n).astype(float),
        "confidence": rng.uniform(0.5, 1.0, n),
        "channel": np.where(shift & (rng.random(n) < 0.2), "app", rng.choice(["chat", "email", "phone"], n)),
        "region": rng.choice(["eu", "us", "apac"], n),
    })
    pq.write_table(table, path, row_group_size=50_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-items", type=int, default=121)
    ap.add_argument("--monitor-rows", type=int, default=1_000_000)
    ap.add_argument("--skip-eval", action="store_true")
    args = ap.parse_args()

    import ray

    from tunegate.executors import create_executor

    tmp = Path(tempfile.mkdtemp(prefix="tunegate-bench-ray-"))
    print(f"# executor bench ({time.strftime('%Y-%m-%d %H:%M')}), work dir {tmp}")

    ex2 = create_executor("ray", workers=2)
    print(f"ray task overhead (2 workers, trivial task): {task_overhead(ex2):.2f} ms per task")

    log = tmp / "log.parquet"
    write_parquet_log(log, args.monitor_rows)
    t_local, d_local = monitor_run(None, log)
    t_ray, d_ray = monitor_run(ex2, log)
    same = [t["statistic"] for t in d_local["tests"]] == [t["statistic"] for t in d_ray["tests"]]
    print(f"monitor, {args.monitor_rows:,} Parquet rows: local streaming {t_local:.1f} s, ray (2 workers) "
          f"{t_ray:.1f} s, ratio ray/local {t_ray / t_local:.2f}; same statistics: {same}; status "
          f"{d_local['status']}/{d_ray['status']}")
    if args.skip_eval:
        ex2.close()
        return

    results = {}
    results["local"] = eval_run(None, args.eval_items, tmp / "eval-local")
    results["ray-2"] = eval_run(ex2, args.eval_items, tmp / "eval-ray2")
    ex2.close()
    ray.shutdown()
    ex1 = create_executor("ray", workers=1)
    results["ray-1"] = eval_run(ex1, args.eval_items, tmp / "eval-ray1")
    ex1.close()
    base = results["local"][0]
    for name, (wall, preds, art) in results.items():
        same = preds == results["local"][1]
        print(f"eval {args.eval_items} items, label_logprobs, local:smollm2, {name}: {wall:.1f} s "
              f"(ratio to local {wall / base:.2f}), accuracy {art.value:.3f}, predictions identical: {same}")
    print(f"scaling ray 1 -> 2 workers: {results['ray-1'][0] / results['ray-2'][0]:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
