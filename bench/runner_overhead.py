"""Benchmark (a) runner overhead and (b) warm-cache re-run, against an instant OpenAI-compatible server.

Both sides run as separate processes against the same stub server (itself a separate process on 127.0.0.1), so
whole-command wall time is compared: Python start-up, imports, data loading, caching, scoring and writing
included. Each measurement is repeated and the median taken; runs are interleaved so drift hits both sides.

    .venv/bin/python bench/runner_overhead.py --n 2000 --concurrency 16 --repeats 3

Targets (issue #2): cold ≤ 1.1× the plain client; warm re-run ≤ 5% of cold with zero backend calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from plain_client import make_prompt  # noqa: E402


def start_stub() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "openai_stub.py"), "--port", "0",
                             "--print-port"], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip())
    return proc, f"http://127.0.0.1:{port}/v1"


def write_task(d: Path, n: int, base_url: str, concurrency: int) -> Path:
    with (d / "items.jsonl").open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"q{i:05d}", "text": make_prompt(i), "target": "works as described"}) + "\n")
    spec = d / "tunegate.yaml"
    spec.write_text(f"""\
task: {{name: overhead-bench, kind: generation}}
data:
  path: items.jsonl
  fields: {{input: text, target: target, id: id}}
  split: {{ratios: {{train: 0.0, dev: 0.0, test: 1.0}}}}
eval:
  metric: normalized_match
  prompt: {{inline: "{{{{input}}}}"}}
models:
  default: openai:stub-model
  params: {{temperature: 0.0, max_tokens: 64}}
  backends:
    openai:stub-model: {{base_url: "{base_url}", api_key_env: null, max_concurrency: {concurrency}}}
""")
    return spec


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{done.stderr}")
    return elapsed, done.stdout


def in_process(spec: Path, d: Path, r: int) -> tuple[float, float, int]:
    """Cold and warm ``run_eval`` timed inside one process: the harness alone, without interpreter start-up."""
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.spec import load_spec

    s = load_spec(spec)
    cache = d / f"inproc{r}.sqlite"
    t0 = time.perf_counter()
    run_eval(s, EvalOptions(cache_path=cache, out_dir=d / f"ip-cold{r}"))
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    art = run_eval(s, EvalOptions(cache_path=cache, out_dir=d / f"ip-warm{r}"))
    warm = time.perf_counter() - t0
    return cold, warm, art.usage["total"]["backend_calls"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    stub, base_url = start_stub()
    tunegate = str(Path(sys.executable).parent / "tunegate")
    plain_t, cold_t, warm_t, warm_calls = [], [], [], []
    plain_inner, ip_cold, ip_warm = [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            spec = write_task(d, args.n, base_url, args.concurrency)
            for r in range(args.repeats):
                t, out = timed([sys.executable, str(ROOT / "bench" / "plain_client.py"), "--n", str(args.n),
                                "--concurrency", str(args.concurrency), "--base-url", base_url,
                                "--out", str(d / "plain.jsonl")])
                plain_t.append(t)
                plain_inner.append(json.loads(out)["elapsed_s"])
                c_ip, w_ip, calls_ip = in_process(spec, d, r)
                ip_cold.append(c_ip)
                ip_warm.append(w_ip)
                warm_calls.append(calls_ip)
                cache = d / f"cache{r}.sqlite"
                base = [tunegate, "eval", str(spec), "--quiet", "--json", "--cache", str(cache)]
                t, out = timed(base + ["--out", str(d / f"cold{r}")])
                cold = json.loads(out)
                assert cold["usage"]["total"]["backend_calls"] == args.n, cold["usage"]
                cold_t.append(t)
                t, out = timed(base + ["--out", str(d / f"warm{r}")])
                warm = json.loads(out)
                warm_t.append(t)
                warm_calls.append(warm["usage"]["total"]["backend_calls"])
    finally:
        stub.terminate()
        stub.wait()
    p, c, w = (statistics.median(x) for x in (plain_t, cold_t, warm_t))
    pi, ci, wi = (statistics.median(x) for x in (plain_inner, ip_cold, ip_warm))
    result = {
        "n": args.n, "concurrency": args.concurrency, "repeats": args.repeats,
        "whole_command": {
            "plain_client_s": round(p, 3), "tunegate_cold_s": round(c, 3), "tunegate_warm_s": round(w, 3),
            "cold_over_plain": round(c / p, 3), "warm_over_cold": round(w / c, 3),
        },
        "in_process": {
            "plain_client_s": round(pi, 3), "run_eval_cold_s": round(ci, 3), "run_eval_warm_s": round(wi, 3),
            "cold_over_plain": round(ci / pi, 3), "warm_over_cold": round(wi / ci, 3),
        },
        "warm_backend_calls": max(warm_calls),
        "targets": {"cold_over_plain": "<= 1.1", "warm_over_cold": "<= 0.05", "warm_backend_calls": 0},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
