"""Benchmark (c): label-likelihood scoring vs free generation with the local SmolLM2 model (issue #2).

The same test items of the example task, the same prompt, two methods, fresh caches, one process (the model is
loaded once, before either timing starts). Prints each method's wall time, the speed ratio, and each method's
accuracy with its CI and unscored count.

    .venv/bin/python bench/logprob_vs_generate.py --n 60
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "support-triage" / "tunegate.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--model", default="local:smollm2")
    args = ap.parse_args()

    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.models.registry import create_backend
    from tunegate.spec import load_spec

    spec = load_spec(SPEC)
    t0 = time.perf_counter()
    backend = create_backend(args.model, spec.models)
    getattr(backend, "loaded", None)  # force the load outside the timings where the backend is lazy
    load_s = time.perf_counter() - t0
    out = {"model": args.model, "n": args.n, "load_s": round(load_s, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("label_logprobs", "generate"):
            t0 = time.perf_counter()
            art = run_eval(spec, EvalOptions(model=args.model, split="test", limit=args.n, method=method,
                                             cache_path=Path(tmp) / f"{method}.sqlite"), backend=backend)
            out[method] = {"seconds": round(time.perf_counter() - t0, 2), "accuracy": art.value,
                           "ci": [art.ci_low, art.ci_high], "n_scored": art.n, "n_unscored": art.n_unscored,
                           "value_unscored_as_wrong": art.value_unscored_as_wrong}
    out["generate_over_logprobs_time"] = round(out["generate"]["seconds"] / out["label_logprobs"]["seconds"], 2)
    backend.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
