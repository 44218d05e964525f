"""Benchmark: the ``lora`` probe on the example task — training cost, then test accuracy of the adapter vs its base.

Trains at the default CPU budget (or the flags' overrides), then scores the test split with label-likelihood
scoring through the normal runner, on the same compact prompt the adapter was trained with, for the adapter
(``local:ADAPTER_DIR``) and for the base model, with fresh caches; the two runs are compared item by item (paired
bootstrap CI of the difference, exact McNemar). Prints one JSON object.

    .venv/bin/python bench/lora_probe.py                 # CPU, default budget (a few minutes on 2 cores)
    .venv/bin/python bench/lora_probe.py --device cuda --max-examples 290 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "support-triage" / "tunegate.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    ap.add_argument("--max-examples", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--max-length", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--rank", type=int, default=None)
    ap.add_argument("--limit", type=int, default=None, help="test items to score (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="keep the adapter and eval runs here")
    args = ap.parse_args()

    from tunegate.data.examples import load_examples
    from tunegate.evals.compare import compare_runs
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.models.local import create_local_backend
    from tunegate.probe.lora import COMPACT_TEMPLATES, LoraConfigSpec, train_lora
    from tunegate.spec import load_spec

    overrides = {k: v for k, v in {"device": args.device, "max_examples": args.max_examples, "epochs": args.epochs,
                                   "max_length": args.max_length, "batch_size": args.batch_size, "lr": args.lr,
                                   "rank": args.rank}.items()
                 if v is not None}
    config = LoraConfigSpec(**overrides)
    spec = load_spec(SPEC)
    data = load_examples(spec)
    with tempfile.TemporaryDirectory() as tmp_name:
        work = args.out or Path(tmp_name)
        work.mkdir(parents=True, exist_ok=True)
        result = train_lora(spec, data.split("train"), data.split("dev"), out_dir=work / "adapter", config=config)
        out: dict = {
            "device": result.device, "torch_threads": _threads(), "config": config.to_dict(),
            "train_seconds": result.train_seconds, "load_seconds": result.load_seconds,
            "step_seconds": result.step_seconds, "train_tokens": result.train_tokens,
            "tokens_per_second": result.tokens_per_second, "n_train_used": result.n_train_used,
            "n_truncated": result.n_truncated, "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
            "dev_loss_base": result.dev_loss_base, "dev_loss": result.dev_loss,
            "train_loss_first": result.loss_history[0],
            "train_loss_last5_mean": round(sum(result.loss_history[-5:]) / len(result.loss_history[-5:]), 4),
        }
        prompt = work / "compact_prompt.txt"
        prompt.write_text(COMPACT_TEMPLATES[spec.task.kind], encoding="utf-8")
        runs = {}
        for name, model in (("adapter", f"local:{result.adapter_dir}"), ("base", "local:smollm2")):
            backend = create_local_backend(model, device=result.device)
            t0 = time.perf_counter()
            backend.loaded  # noqa: B018 - load (and merge) outside the scoring time
            load_s = time.perf_counter() - t0
            opts = EvalOptions(model=model, split="test", limit=args.limit, method="label_logprobs",
                               prompt_file=prompt, out_dir=work / f"eval_{name}",
                               cache_path=work / f"cache_{name}.sqlite")
            t0 = time.perf_counter()
            art = run_eval(spec, opts, backend=backend)
            runs[name] = work / f"eval_{name}"
            out[f"eval_{name}"] = {"accuracy": art.value, "ci": [art.ci_low, art.ci_high], "n": art.n,
                                   "load_seconds": round(load_s, 2),
                                   "score_seconds": round(time.perf_counter() - t0, 2)}
        cmp = compare_runs(runs["base"], runs["adapter"])
        out["adapter_minus_base"] = {"diff": cmp.diff, "ci": [cmp.diff_ci_low, cmp.diff_ci_high],
                                     "mcnemar_p": (cmp.mcnemar or {}).get("p_value")}
        out["target"] = spec.eval.target
    print(json.dumps(out, indent=2))


def _threads() -> int:
    import torch

    return torch.get_num_threads() or os.cpu_count() or 1


if __name__ == "__main__":
    main()
