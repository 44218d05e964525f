"""Benchmark: `tunegate monitor` on large logs — wall time and peak memory.

1. numeric/categorical drift (no embeddings) on logs of 250,000 and 1,000,000 rows (JSONL), windows of 100,000
   rows each: peak memory must follow the windows, not the file size (the log is streamed).
2. embedding drift on a 20,000-row log (windows of 10,000 rows), MiniLM on a seeded sample of
   ``--embed-items`` texts per window (the MMD kernel matrix is (2k)^2, so drift is measured on a sample).

Each line reports the stage's wall and the process CPU, the sum of monitor.json's timers (``seconds``: "read log",
each test; "embedding: model load" / "embedding: encode" are parts of "embedding") and the wall they leave
untimed, and the 1-minute load average (on a shared machine, wall follows the load, CPU does not).

Each measurement runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. Run:
    .venv/bin/python bench/monitor_scale.py [--sizes 250000 1000000] [--embed-rows 20000] [--embed-items 2000]
(``--sizes 0`` runs the embedding measurement alone; ``--embed-rows 0`` skips it)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

SPEC = """
task: {{name: bench, kind: classification, labels: [a, b, c, d]}}
monitor:
  columns: {{numeric: [latency_ms, tokens], categorical: [channel, region], confidence: confidence}}
  window: {{by: rows, reference_rows: {ref}, current_rows: {cur}}}
  embedding: {{enabled: {emb}, max_items: {items}, permutations: 1000}}
"""

WORDS = ("card refund payment transfer account blocked pending fee exchange rate top up cash atm pin "
         "verify identity statement direct debit salary crypto virtual").split()


def write_log(path: Path, n: int, seed: int = 0) -> None:
    """n rows; the last 40% carry a shift in latency and channel mix (so the report has work to do)."""
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            late = i > 0.6 * n
            words = rng.randint(4, 14 if not late else 20)
            fh.write(json.dumps({
                "timestamp": (t0 + timedelta(seconds=i)).isoformat(),
                "input": " ".join(rng.choice(WORDS) for _ in range(words)),
                "output": rng.choice("abcd"),
                "model_version": "v1",
                "confidence": round(rng.uniform(0.5, 1.0), 3),
                "label": rng.choice("abcd") if rng.random() < 0.2 else None,
                "latency_ms": round(rng.lognormvariate(5.5 + (0.1 if late else 0), 0.4), 1),
                "tokens": rng.randint(5, 60),
                "channel": rng.choices(["app", "web", "email"], [5, 3, 2] if not late else [3, 3, 4])[0],
                "region": rng.choice(["eu", "us", "apac"]),
            }) + "\n")


def child(spec_path: str, log: str) -> None:
    t_imports = time.perf_counter()
    from tunegate.monitor.stage import monitor_stage
    from tunegate.spec import load_spec

    t = time.perf_counter()
    doc = monitor_stage(load_spec(spec_path), log, webhook=False)
    wall = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak = ru.ru_maxrss / 1024
    seconds = doc["seconds"]
    # "embedding: model load" / "embedding: encode" are parts of the "embedding" timer, not extra time
    timed = sum(v for k, v in seconds.items() if ":" not in k)
    print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
                      "import_s": round(t - t_imports, 2), "timed_s": round(timed, 2),
                      "untimed_s": round(wall - timed, 2), "load_avg_1m": round(os.getloadavg()[0], 2),
                      "peak_rss_mib": round(peak, 1), "status": doc["status"],
                      "n_tests": len(doc["tests"]), "alerts": doc["alerts"],
                      "rows_read": doc["inputs"][0]["n_rows"],
                      "seconds_by_test": {k: v for k, v in seconds.items() if v >= 0.05}}))


def measure(tmp: Path, rows: int, ref: int, cur: int, emb: bool, items: int) -> dict:
    log = tmp / f"log_{rows}.jsonl"
    if not log.exists():
        t = time.perf_counter()
        write_log(log, rows)
        print(f"  wrote {rows:,} rows ({log.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s",
              file=sys.stderr)
    spec = tmp / f"spec_{rows}_{emb}.yaml"
    spec.write_text(SPEC.format(ref=ref, cur=cur, emb=str(emb).lower(), items=items))
    res = subprocess.run([sys.executable, __file__, "--child", str(spec), str(log)], capture_output=True,
                         text=True)
    if res.returncode:
        sys.exit(f"child run on {log} failed ({res.returncode}):\n{res.stderr[-4000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out.update(rows=rows, file_mib=round(log.stat().st_size / 2**20, 1), windows=[ref, cur], embeddings=emb)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    ap.add_argument("--window", type=int, default=100_000)
    ap.add_argument("--embed-rows", type=int, default=20_000)
    ap.add_argument("--embed-items", type=int, default=2000)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="tunegate-bench-") as d:
        tmp = Path(d)
        results = []
        for n in (n for n in args.sizes if n > 0):  # --sizes 0: the embedding run alone
            results.append(measure(tmp, n, args.window, args.window, False, 300))
            print(json.dumps(results[-1]))
        if args.embed_rows:
            half = args.embed_rows // 2
            results.append(measure(tmp, args.embed_rows, half, half, True, args.embed_items))
            print(json.dumps(results[-1]))
        plain = [r for r in results if not r["embeddings"]]
        if len(plain) >= 2:
            a, b = plain[0], plain[-1]
            print(f"rows x{b['rows'] / a['rows']:.1f}: wall x{b['wall_s'] / a['wall_s']:.2f}, "
                  f"peak memory x{b['peak_rss_mib'] / a['peak_rss_mib']:.2f} "
                  f"({a['peak_rss_mib']:.0f} -> {b['peak_rss_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
