"""Run the benchmarks and print one table of ratios against their goals (``make bench``).

Each benchmark is its own process (``sys.executable bench/<name>.py ...``); this script only reads what they print
(their last JSON line, or their text lines where they print no JSON) and puts the ratios side by side. A benchmark
that fails or whose data is absent is listed as skipped with the reason, and the others still run. The default set
takes a few minutes on 2 cores; ``--all`` adds the long ones (monitor at 1M rows, tunegate vs Evidently's
DataDriftPreset at 250k+250k and 500k+500k rows, interval coverage). Timings
are only comparable on a quiet machine: the table prints the load average at start and end.

    .venv/bin/python bench/run_all.py [--all] [--only classification_overhead,stats_speed] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def last_json(out: str) -> dict:
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def rows_classification(out: str) -> list[tuple]:
    r = last_json(out)
    return [("eval cold / plain client (classification, whole commands)", r["cold_over_plain"], "<= 1.10"),
            ("eval cold / plain client with tunegate's two httpcore fixes (--tuned): tunegate's own overhead",
             r["cold_over_tuned_plain"], ""),
            ("eval warm / eval cold", r["warm_over_cold"], "<= 0.10"),
            ("eval warm / eval cold, tunegate's modules compiled each time (PYTHONDONTWRITEBYTECODE=1, no cache)",
             r.get("warm_nopyc_over_cold", "n/a"), ""),
            ("eval warm / eval cold, CPU time (moves far less with load)", r["cpu_warm_over_cold"], ""),
            ("eval warm: backend calls", r["warm_backend_calls"], "0"),
            ("plain client / eval cold / eval warm, seconds", f"{r['plain_s']} / {r['cold_s']} / {r['warm_s']}", "")]


def rows_generation(out: str) -> list[tuple]:
    r = json.loads(out[out.index("{"):])  # prints one indented JSON object
    w = r["whole_command"]
    return [("eval cold / plain client (generation, whole commands)", w["cold_over_plain"], "<= 1.10"),
            ("eval warm / eval cold (generation)", w["warm_over_cold"], "<= 0.10"),
            ("eval warm: backend calls (generation)", r["warm_backend_calls"], "0")]


def rows_stats(out: str) -> list[tuple]:
    r = last_json(out)
    rows = []
    for name in ("macro_f1 interval", "paired macro_f1 difference"):
        c = r[name]
        rows.append((f"{name}: vectorised / loop CPU at {r['n']} items ({c['vectorised_s']} s)",
                     round(c["vectorised_s"] / c["loop_s"], 3), "same interval" if c["same"] else "INTERVAL DIFFERS"))
    return rows


def rows_sprint_cpu(out: str) -> list[tuple]:
    found = re.findall(r"(cold|warm): (\d+) calls, CPU ([\d.]+) s, wall ([\d.]+) s, CPU per call ([\d.]+) ms", out)
    if not found:
        raise ValueError("unrecognised output")
    return [(f"sprint: tunegate CPU per call, {k} ({n} calls)", f"{ms} ms", "<= 10 ms") for k, n, _, _, ms in found]


def rows_monitor(out: str) -> list[tuple]:
    rows = []
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            rows.append((f"monitor {r.get('rows', '?'):,} rows{' + embeddings' if r.get('embeddings') else ''}: "
                         "wall s / peak MiB", f"{r['wall_s']} / {r['peak_rss_mib']}",
                         "memory flat (vs Evidently: monitor_vs_evidently)"))
    return rows or [("monitor", "no result", "")]


def rows_monitor_vs(out: str) -> list[tuple]:
    r = last_json(out)
    rows = []
    for x in r["results"]:
        half = x["rows"] // 2
        name = f"monitor {half:,}+{half:,} rows ({x['format']}): Evidently DataDriftPreset / tunegate wall"
        if x["ratio"] is None:
            rows.append((name, f"tunegate {x['tunegate_wall_s']} s; Evidently {r['evidently']}", ">= 3"))
            continue
        rows.append((name, x["ratio"], ">= 3" if x["rows"] >= 1_000_000 else ""))
        rows.append((f"monitor {half:,}+{half:,} rows: Evidently / tunegate CPU (user + system)",
                     x.get("cpu_ratio"), "load-independent"))
        rows.append((f"monitor {half:,}+{half:,} rows: wall s / peak MiB, tunegate vs Evidently",
                     f"{x['tunegate_wall_s']} / {x['tunegate_peak_mib']} vs {x['evidently_wall_s']} / "
                     f"{x['evidently_peak_mib']}", "memory flat"))
    return rows


def rows_text(out: str) -> list[tuple]:
    return [(line.strip(), "", "") for line in out.strip().splitlines() if line.strip()]


# name: (arguments, parser, in the default set)
BENCHMARKS = {
    "stats_speed": (["--n", "2000"], rows_stats, True),
    "classification_overhead": (["--n", "2000", "--concurrency", "16"], rows_classification, True),
    "runner_overhead": (["--n", "2000", "--concurrency", "16"], rows_generation, True),
    "sprint_cpu": (["--dev", "300"], rows_sprint_cpu, True),
    "monitor_scale": (["--sizes", "250000", "1000000", "--embed-rows", "0"], rows_monitor, False),
    # needs the package index the first time (it pip-installs Evidently into its own venv), so not in the default set
    "monitor_vs_evidently": (["--sizes", "500000", "1000000"], rows_monitor_vs, False),
    "interval_coverage": (["--reps", "600"], rows_text, False),
}
ROUNDS_FLAG = {"classification_overhead": "--rounds", "runner_overhead": "--repeats", "sprint_cpu": "--rounds",
               "monitor_vs_evidently": "--rounds"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="also the long benchmarks")
    ap.add_argument("--only", default=None, help="comma-separated benchmark names")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    names = args.only.split(",") if args.only else [n for n, (_, _, on) in BENCHMARKS.items() if on or args.all]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    load0 = os.getloadavg()[0]
    table = []
    for name in names:
        argv, parse, _ = BENCHMARKS[name]
        script = BENCH / f"{name}.py"
        if not script.exists():
            table.append((name, "skipped", f"{script.name} not found", ""))
            continue
        extra = [ROUNDS_FLAG[name], str(args.rounds)] if name in ROUNDS_FLAG else []
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(script), *argv, *extra], capture_output=True, text=True)
        took = time.perf_counter() - t0
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            table.append((name, "skipped", f"exit {done.returncode}: {tail[0][:120]}", ""))
            continue
        try:
            for measure, value, goal in parse(done.stdout):
                table.append((name, measure, value, goal))
        except (ValueError, KeyError) as exc:
            table.append((name, "skipped", f"could not read its output: {exc}", ""))
        print(f"  {name}: {took:.0f} s", file=sys.stderr, flush=True)
    print(f"\n| benchmark | measure | value | goal |\n|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(str(x) for x in row) + " |")
    print(f"\nload average (1 min) at start {load0:.1f}, at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
          " - ratios from a busy machine are not the quiet-machine figures the goals refer to")


if __name__ == "__main__":
    main()
