"""The LoRA probe inside `tunegate probe`: train an adapter on the local causal LM, then evaluate it like any
model, through the normal runner (same scorers, same CIs, cached, resumable), on the test split.

The adapter lives in the run directory and stays usable as a backend afterwards: ``local:RUN_DIR/adapter``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.data.examples import Example
from tunegate.progress import Progress
from tunegate.spec import Spec


def lora_probe(
    spec: Spec, train: list[Example], dev: list[Example], run_dir: Path, *,
    progress: Progress | None = None, config: Any = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.probe.lora import COMPACT_TEMPLATES, LoraConfigSpec, train_lora

    section = dict(spec.probe.get("lora", {})) if isinstance(spec.probe, dict) else {}
    base = section.pop("base_model", None) or (spec.models.default if spec.models.default.startswith("local:")
                                                else "local:smollm2")
    cfg = config or LoraConfigSpec.from_mapping(section)
    adapter_dir = run_dir / "adapter"
    last = {"pct": -1}

    def step(what: str, done: int | None = None, total: int | None = None) -> None:
        if done is None:  # a note from training passes through; its step counts become a note per quarter
            if progress:
                progress(what)
            return
        total = total or done
        pct = int(100 * done / max(total, 1))
        if progress and pct // 25 != last["pct"] // 25:
            last["pct"] = pct
            progress(f"lora: step {done}/{total}")

    if progress:
        progress(f"lora: training rank-{cfg.rank} adapters on {base} ({cfg.max_examples} examples max, "
                 f"{cfg.epochs} epoch(s) max)")
    res = train_lora(spec, train, dev, base_model_id=base, out_dir=adapter_dir, config=cfg, progress=step)
    prompt_file = adapter_dir / "prompt.txt"
    prompt_file.write_text(COMPACT_TEMPLATES[spec.task.kind], encoding="utf-8")
    method = "label_logprobs" if spec.task.kind == "classification" else "generate"
    if progress:
        progress(f"lora: evaluating the adapter on the test split ({method})")
    art = run_eval(spec, EvalOptions(model=f"local:{adapter_dir}", split="test", method=method,
                                     prompt_file=prompt_file, out_dir=run_dir / "probe-lora"))
    from tunegate.evals.primary import primary_scorer
    from tunegate.evals.scorers import default_scorers

    # the one rule every stage uses: the prompt's and the adapter's items are compared on the same scorer
    primary = primary_scorer(spec.eval.metric, [e.type for e in (spec.eval.scorers or default_scorers(spec))])
    items: dict[str, float] = {}
    for line in (run_dir / "probe-lora" / "results.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        v = (rec.get("scores") or {}).get(primary)
        items[str(rec["id"])] = 0.0 if v is None else float(v)
    from tunegate.models.registry import price_for

    price = price_for(base, spec.models)  # a local base model costs nothing per token; a hosted one may
    probe = {
        "kind": "lora", "name": f"lora (rank {cfg.rank} on {base})", "metric": art.metric, "value": art.value,
        "ci_low": art.ci_low, "ci_high": art.ci_high, "ci_method": art.ci_method, "n": art.n,
        "n_unscored": art.n_unscored, "train_seconds": round(res.train_seconds, 2),
        "train_examples": res.n_train_used, "train_tokens": res.train_tokens,
        "tokens_per_second": round(res.tokens_per_second, 1), "device": res.device, "best_epoch": res.best_epoch,
        "estimated_training_cost": round(price.cost(res.train_tokens, 0), 6),
        "dev_loss": res.dev_loss, "dev_loss_base": res.dev_loss_base, "adapter": str(adapter_dir),
        "backend": f"local:{adapter_dir}", "eval_usage": art.usage.get("total"), "warnings": res.warnings,
        "config": cfg.to_dict(),
    }
    return probe, items
