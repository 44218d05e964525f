"""Benchmark: `tunegate monitor` against Evidently 0.7.23's DataDriftPreset on the same log and windows.

The log is bench/monitor_scale.py's (numeric latency_ms, tokens; categorical channel, region; the last 40% of rows
shifted), written as JSONL (``--formats jsonl parquet`` adds a Parquet copy). For each size the reference window is
the first half of the rows and the current window the second half. Both sides are whole commands in fresh
processes and pay for their own reading:
- tunegate: ``tunegate monitor SPEC --log FILE --out DIR`` with ``tests: [numeric, categorical]`` on the four columns;
- Evidently: a Python process in a separate venv that reads the same file with pandas (pyarrow engine), cuts the
  same two windows and runs ``Report([DataDriftPreset()])`` on the same four columns.
Rounds are interleaved (the order alternates per round); wall time and peak RSS (``os.wait4``) per process.

Evidently is not a tunegate dependency: on first use this creates a venv (default /tmp/tunegate-bench-evidently)
and pip-installs ``evidently==0.7.23`` and ``pandas<3`` (0.7.23 does not import under pandas 3) into it, which needs
the package index; without it the bench prints "Evidently not available: <why>" and measures tunegate alone.

    .venv/bin/python bench/monitor_vs_evidently.py [--sizes 500000 1000000] [--rounds 3] [--formats jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
EVIDENTLY = "evidently==0.7.23"
NUMERIC, CATEGORICAL = ["latency_ms", "tokens"], ["channel", "region"]
SPEC = """task: {{name: bench, kind: classification, labels: [a, b, c, d]}}
monitor:
  columns: {{numeric: [{num}], categorical: [{cat}]}}
  window: {{by: rows, reference_rows: {half}, current_rows: {half}}}
  embedding: {{enabled: false}}
  tests: [numeric, categorical]
"""


def evidently_child(path: str, half: int) -> None:
    """Runs in the Evidently venv: read, cut the windows, DataDriftPreset; print what drifted."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    if path.endswith(".parquet"):
        df = pd.read_parquet(path, columns=NUMERIC + CATEGORICAL)
    else:
        df = pd.read_json(path, lines=True, engine="pyarrow")[NUMERIC + CATEGORICAL]
    dd = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    ref = Dataset.from_pandas(df.iloc[:half], data_definition=dd)
    cur = Dataset.from_pandas(df.iloc[-half:], data_definition=dd)
    snap = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    values = {m["metric_name"]: m["value"] for m in snap.dict()["metrics"]}
    drifted = [name.split("column=")[1].split(",")[0] for name, v in values.items()
               if name.startswith("ValueDrift") and v >= float(name.split("threshold=")[1].rstrip(")"))]
    print(json.dumps({"drifted": sorted(drifted), "n_metrics": len(values)}))


def evidently_python(venv: Path, install: bool) -> tuple[str | None, str]:
    """The venv's python with Evidently importable, or (None, why not)."""
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import evidently, pandas; print(evidently.__version__)"]
    if py.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "0.7.23":
        return str(py), "found"
    if not install:
        return None, f"no working {EVIDENTLY} in {venv} and --no-install given"
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        print(f"installing {EVIDENTLY} into {venv} (first use) ...", file=sys.stderr, flush=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", EVIDENTLY, "pandas<3"], check=True,
                       capture_output=True, text=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        tail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()[-1:] or [str(exc)]
        return None, f"installing {EVIDENTLY} failed: {tail[0][:200]}"
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.stdout.strip() != "0.7.23":
        return None, f"import failed after install: {(done.stderr.strip().splitlines() or ['?'])[-1][:200]}"
    return str(py), "installed"


def timed(cmd: list[str]) -> dict:
    """Wall seconds and this process's own peak RSS (wait4), plus its last stdout line."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        return {"wall_s": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "rc": p.returncode,
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "last": lines[-1] if lines else "",
                "stderr": err.read().strip().splitlines()[-1:]}


def tunegate_cmd(spec: Path, log: Path, out: Path) -> list[str]:
    exe = Path(sys.executable).parent / "tunegate"
    head = [str(exe)] if exe.exists() else [sys.executable, "-m", "tunegate.cli"]
    return head + ["monitor", str(spec), "--log", str(log), "--out", str(out)]


def make_logs(tmp: Path, sizes: list[int], formats: list[str]) -> dict[tuple[int, str], Path]:
    sys.path.insert(0, str(BENCH))
    from monitor_scale import write_log

    logs = {}
    for n in sizes:
        jl = tmp / f"log_{n}.jsonl"
        if not jl.exists():
            t = time.perf_counter()
            write_log(jl, n)
            print(f"wrote {n:,} rows ({jl.stat().st_size / 2**20:.0f} MiB JSONL) in {time.perf_counter() - t:.0f} s",
                  file=sys.stderr, flush=True)
        logs[(n, "jsonl")] = jl
        if "parquet" in formats:
            import pyarrow.json as pj
            import pyarrow.parquet as pq

            pqf = tmp / f"log_{n}.parquet"
            if not pqf.exists():
                pq.write_table(pj.read_json(jl), pqf, row_group_size=65536)
            logs[(n, "parquet")] = pqf
    return {k: v for k, v in logs.items() if k[1] in formats}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500_000, 1_000_000], help="rows in the log")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--formats", nargs="+", default=["jsonl"], choices=["jsonl", "parquet"])
    ap.add_argument("--evidently-venv", type=Path, default=Path(tempfile.gettempdir()) / "tunegate-bench-evidently")
    ap.add_argument("--no-install", action="store_true", help="never pip-install Evidently")
    ap.add_argument("--data", type=Path, default=None, help="keep the generated logs here (reused next time)")
    ap.add_argument("--evidently-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.evidently_child:
        evidently_child(args.evidently_child[0], int(args.evidently_child[1]))
        return
    evpy, why = evidently_python(args.evidently_venv, not args.no_install)
    if evpy is None:
        print(f"Evidently not available: {why}", flush=True)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tunegate-vs-evidently-") as d:
        tmp = args.data or Path(d)
        tmp.mkdir(parents=True, exist_ok=True)
        logs = make_logs(tmp, args.sizes, args.formats)
        runs: dict[tuple, list[dict]] = {}
        for rnd in range(args.rounds):
            for (n, fmt), log in logs.items():
                spec = tmp / f"spec_{n}.yaml"
                spec.write_text(SPEC.format(num=", ".join(NUMERIC), cat=", ".join(CATEGORICAL), half=n // 2))
                sides = [("tunegate", tunegate_cmd(spec, log, Path(d) / f"out_{n}_{fmt}"))]
                if evpy:
                    sides.append(("evidently", [evpy, str(Path(__file__).resolve()), "--evidently-child", str(log),
                                                str(n // 2)]))
                for name, cmd in (sides if rnd % 2 == 0 else sides[::-1]):
                    r = timed(cmd)
                    ok = r["rc"] in ((0, 3) if name == "tunegate" else (0,))
                    if name == "tunegate" and ok:
                        doc = json.loads((Path(d) / f"out_{n}_{fmt}" / "monitor.json").read_text())
                        r["result"] = doc["alerts"]
                    elif ok:
                        r["result"] = json.loads(r["last"])["drifted"]
                    else:
                        r["result"] = f"FAILED rc={r['rc']}: {r['stderr']}"
                    runs.setdefault((n, fmt, name), []).append(r)
                    print(f"round {rnd + 1} {n:>9,} rows {fmt:7} {name:9}: wall {r['wall_s']:6.2f} s, CPU "
                          f"{r['cpu_s']:6.2f} s, peak RSS {r['peak_rss_mib']:7.1f} MiB -> {r['result']}", flush=True)
    load1 = os.getloadavg()
    print("\n| rows (ref + cur) | format | tunegate wall s (median of rounds) | Evidently wall s | Evidently / "
          "tunegate wall | tunegate CPU s | Evidently CPU s | Evidently / tunegate CPU | tunegate peak MiB | "
          "Evidently peak MiB |\n|---|---|---|---|---|---|---|---|---|---|")
    summary = []
    for (n, fmt) in logs:
        tg = runs[(n, fmt, "tunegate")]
        ev = runs.get((n, fmt, "evidently"), [])
        tw = round(statistics.median(r["wall_s"] for r in tg), 2)
        tm = max(r["peak_rss_mib"] for r in tg)
        ew = round(statistics.median(r["wall_s"] for r in ev), 2) if ev else None
        em = max(r["peak_rss_mib"] for r in ev) if ev else None
        tc = round(statistics.median(r["cpu_s"] for r in tg), 2)
        ec = round(statistics.median(r["cpu_s"] for r in ev), 2) if ev else None
        ratio = round(ew / tw, 2) if ew else None
        cpu_ratio = round(ec / tc, 2) if ec else None
        summary.append({"rows": n, "format": fmt, "tunegate_wall_s": tw, "tunegate_peak_mib": tm,
                        "evidently_wall_s": ew, "evidently_peak_mib": em, "ratio": ratio,
                        "tunegate_cpu_s": tc, "evidently_cpu_s": ec, "cpu_ratio": cpu_ratio,
                        "tunegate_walls": [r["wall_s"] for r in tg], "evidently_walls": [r["wall_s"] for r in ev]})
        na = "n/a"
        print(f"| {n // 2:,} + {n // 2:,} | {fmt} | {tw} ({', '.join(str(r['wall_s']) for r in tg)}) | "
              f"{ew if ew is not None else na} | {ratio if ratio is not None else na} | {tc} | "
              f"{ec if ec is not None else na} | {cpu_ratio if cpu_ratio is not None else na} | {tm} | "
              f"{em if em is not None else na} |")
    print(f"\nload average (1/5/15 min) at start {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f}, at end "
          f"{load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} on {os.cpu_count()} CPUs; peak = max over rounds. Above "
          "a load of about the CPU count, wall times measure the neighbours; CPU (user + system, all threads) does "
          "not, though tunegate's pyarrow parsing runs on several threads, so on a quiet machine its wall is below "
          "its CPU")
    print(json.dumps({"results": summary, "evidently": why if evpy else f"not available: {why}",
                      "load_start": round(load0[0], 2), "load_end": round(load1[0], 2)}))


if __name__ == "__main__":
    main()
