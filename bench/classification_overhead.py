"""Benchmark (issue 19): ``tunegate eval`` vs a plain httpx client on a CLASSIFICATION task, whole commands.

The same instant OpenAI-compatible server (``bench/classify_stub.py``, its own process on 127.0.0.1) answers
``--n`` unique zero-shot prompts over ``--labels`` intents, ``--concurrency`` in flight. Per round, interleaved so
drift hits every side: the plain client, ``tunegate eval`` cold (empty cache) and warm (same cache, must make 0
backend calls). Each is a separate process, timed whole (interpreter start, imports, data, cache, scoring, intervals,
artifacts); peak RSS and CPU come from ``os.wait4``. Medians over ``--rounds``.

    .venv/bin/python bench/classification_overhead.py --n 2000 --concurrency 16 --rounds 3

Goals (issue 19): cold <= 1.10x the plain client; warm <= 0.10 of cold with 0 backend calls. Prints a table and,
last, one JSON line (``run_all.py`` reads it). The goals refer to a quiet machine: the 1-minute load average is
printed for every round, and the CPU-time ratios beside the wall-time ones (CPU time moves far less with load).
A second reference, the plain client with ``--tuned`` (the two httpcore fixes tunegate's backend makes), runs in
every round too: ``cold / tuned plain`` is tunegate's own overhead once both sides do the same HTTP work. The warm
run is timed twice: as installed (Python's bytecode cache as the environment leaves it: users' default is on), and
from a copy of the package without ``__pycache__`` under PYTHONDONTWRITEBYTECODE=1, so every module of tunegate is
compiled again (what a sandbox or CI with that variable and stale caches pays on each command).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["billing", "shipping", "refund", "account", "card", "transfer", "fees", "login", "limits", "fraud",
          "cash", "other"]


def start_stub(labels: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "classify_stub.py"), "--labels", ",".join(labels),
                             "--print-port"], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip())
    return proc, f"http://127.0.0.1:{port}/v1"


def write_task(d: Path, n: int, labels: list[str], base_url: str, concurrency: int) -> Path:
    with (d / "items.jsonl").open("w") as fh:
        for i in range(n):
            lab = labels[i % len(labels)]
            fh.write(json.dumps({"id": f"q{i:05d}", "intent": lab,
                                 "text": f"customer message {i}: a question about {lab} that needs routing"}) + "\n")
    spec = d / "tunegate.yaml"
    spec.write_text(f"""\
task: {{name: classify-bench, kind: classification, labels: [{", ".join(labels)}]}}
data:
  path: items.jsonl
  fields: {{input: text, label: intent, id: id}}
  split: {{ratios: {{train: 0.0, dev: 0.0, test: 1.0}}}}
eval:
  metric: macro_f1
  prompt: {{inline: "Classify: {{{{input}}}}"}}
models:
  default: openai:stub-model
  params: {{temperature: 0.0, max_tokens: 16}}
  backends:
    openai:stub-model: {{base_url: "{base_url}", api_key_env: null, max_concurrency: {concurrency}}}
""")
    return spec


def measure_rusage(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall, CPU (user + sys), peak RSS and voluntary context switches of one child process, with its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.stdout.read(), proc.stderr.read()  # stderr is small (--quiet); read both before reaping
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-3000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024,
            "ctx": ru.ru_nvcsw, "stdout": out.decode()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    stub, base_url = start_stub(LABELS)
    tunegate = str(Path(sys.executable).parent / "tunegate")
    runs: dict[str, list[dict]] = {"plain": [], "tuned": [], "cold": [], "warm": [], "warm_nopyc": []}
    loads: list[tuple[float, float]] = []  # 1-minute load average before and after each round
    try:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            spec = write_task(d, args.n, LABELS, base_url, args.concurrency)
            package = Path(importlib.util.find_spec("tunegate").submodule_search_locations[0])
            shutil.copytree(package, d / "nopyc" / "tunegate", ignore=shutil.ignore_patterns("__pycache__"))
            paths = [str(d / "nopyc"), *filter(None, [os.environ.get("PYTHONPATH")])]
            nopyc_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join(paths)}
            nopyc = [sys.executable, "-m", "tunegate.cli"]
            for r in range(args.rounds):
                load_before = os.getloadavg()[0]
                for side, extra in (("plain", []), ("tuned", ["--tuned"])):
                    m = measure_rusage([sys.executable, str(ROOT / "bench" / "plain_classify_client.py"),
                                        "--items", str(d / "items.jsonl"), "--labels", ",".join(LABELS),
                                        "--concurrency", str(args.concurrency), "--base-url", base_url,
                                        "--out", str(d / "plain.jsonl"), *extra])
                    m["accuracy"] = json.loads(m["stdout"])["accuracy"]
                    runs[side].append(m)
                base = [tunegate, "eval", str(spec), "--quiet", "--json", "--cache", str(d / f"cache{r}.sqlite")]
                for phase in ("cold", "warm", "warm_nopyc"):
                    cmd = base if phase != "warm_nopyc" else nopyc + base[1:]
                    m = measure_rusage(cmd + ["--out", str(d / f"{phase}{r}")],
                                       env=nopyc_env if phase == "warm_nopyc" else None)
                    art = json.loads(m["stdout"])
                    m["calls"] = art["usage"]["total"]["backend_calls"]
                    m["accuracy"] = art["metrics"]["accuracy"]["value"]
                    runs[phase].append(m)
                loads.append((load_before, os.getloadavg()[0]))
                print(f"round {r + 1}: plain {runs['plain'][-1]['wall']:.2f} s, tuned plain "
                      f"{runs['tuned'][-1]['wall']:.2f} s, cold {runs['cold'][-1]['wall']:.2f} s, "
                      f"warm {runs['warm'][-1]['wall']:.2f} s (modules compiled: "
                      f"{runs['warm_nopyc'][-1]['wall']:.2f} s); "
                      f"load average {loads[-1][0]:.2f} -> {loads[-1][1]:.2f}",
                      file=sys.stderr)
                if runs["cold"][-1]["calls"] != args.n or runs["warm"][-1]["calls"] or runs["warm_nopyc"][-1]["calls"]:
                    raise SystemExit(f"unexpected backend calls: cold {runs['cold'][-1]['calls']}, "
                                     f"warm {runs['warm'][-1]['calls']}")
    finally:
        stub.terminate()
        stub.wait()

    def med(side: str, key: str) -> float:
        return statistics.median(m[key] for m in runs[side])

    p, c, w = med("plain", "wall"), med("cold", "wall"), med("warm", "wall")
    print(f"classification eval, {args.n} unique prompts, {len(LABELS)} labels, {args.concurrency} in flight, "
          f"median of {args.rounds} interleaved rounds (whole commands)")
    print("| runner | wall (s) | CPU (s) | peak RSS (MB) | vol. ctx switches | backend calls | accuracy | / plain |")
    print("|---|---|---|---|---|---|---|---|")
    for side, name in (("plain", "plain httpx async client"), ("tuned", "plain client, --tuned"),
                       ("cold", "tunegate eval, cold"),
                       ("warm", "tunegate eval, warm (cached)"),
                       ("warm_nopyc", "tunegate eval, warm, its modules compiled (no bytecode cache)")):
        calls = args.n if side in ("plain", "tuned") else runs[side][-1]["calls"]
        print(f"| {name} | {med(side, 'wall'):.2f} | {med(side, 'cpu'):.2f} | {med(side, 'rss_mb'):.0f} | "
              f"{med(side, 'ctx'):.0f} | {calls} | {runs[side][-1]['accuracy']:.3f} | {med(side, 'wall') / p:.2f} |")
    t = med("tuned", "wall")
    wp = med("warm_nopyc", "wall")
    print(f"cold / plain = {c / p:.2f} (goal <= 1.10); warm / cold = {w / c:.2f} (goal <= 0.10; {wp / c:.2f} when "
          f"tunegate's modules are compiled on each command); cold / tuned plain = {c / t:.2f}")
    pc, cc, wc, wpc = med("plain", "cpu"), med("cold", "cpu"), med("warm", "cpu"), med("warm_nopyc", "cpu")
    load = max(x for pair in loads for x in pair)
    print(f"CPU time: cold / plain = {cc / pc:.2f}; warm / cold = {wc / cc:.2f} ({wpc / cc:.2f} compiling "
          f"tunegate's modules). Load average during the rounds: "
          f"{min(x for pair in loads for x in pair):.2f}-{load:.2f} on {os.cpu_count()} CPUs"
          + (" (a loaded machine: not the quiet-machine figures the goals refer to)" if load > 1.0 else ""))
    print(json.dumps({"bench": "classification_overhead", "n": args.n, "rounds": args.rounds,
                      "plain_s": round(p, 3), "cold_s": round(c, 3), "warm_s": round(w, 3),
                      "warm_nopyc_s": round(wp, 3), "warm_nopyc_over_cold": round(wp / c, 3),
                      "cpu_warm_nopyc_over_cold": round(wpc / cc, 3),
                      "cold_over_plain": round(c / p, 3), "warm_over_cold": round(w / c, 3),
                      "tuned_plain_s": round(t, 3), "cold_over_tuned_plain": round(c / t, 3),
                      "warm_backend_calls": max(m["calls"] for m in runs["warm"] + runs["warm_nopyc"]),
                      "cpu_cold_over_plain": round(cc / pc, 3), "cpu_warm_over_cold": round(wc / cc, 3),
                      "load_avg": [[round(a, 2), round(b, 2)] for a, b in loads],
                      "all_walls": {k: [round(m["wall"], 3) for m in v] for k, v in runs.items()}}))


if __name__ == "__main__":
    main()
