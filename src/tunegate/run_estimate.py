"""`tunegate run --dry-run`: calls, tokens, cost and time per stage, before anything is paid for.

Nothing here calls a model: counts come from the spec and the data (split sizes, the sprint's candidates and
racing budget, the criterion gate's judged outputs), tokens from the prompts' characters (~4 per token), cost from
the spec's prices, and time from stated throughput assumptions (the CPU figures measured on the 2-core
development machine for local models; calls ÷ concurrency × an assumed latency for HTTP endpoints). Every
assumption is named in the result, because an estimate is only as good as what it assumes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tunegate.spec import Spec

CHARS_PER_TOKEN = 4.0
HTTP_LATENCY_S = 1.0  # assumed seconds per call against an HTTP endpoint
LOCAL_SCORING_TOKENS_PER_S = 385.0  # label-likelihood forward pass, SmolLM2-135M, 2-core CPU (DESIGN.md)
LOCAL_GENERATION_TOKENS_PER_S = 70.0  # new tokens per second, batch 16, same machine
EMBED_TEXTS_PER_S = 190.0  # MiniLM, same machine
LORA_TOKENS_PER_S = 160.0


def _avg_input_tokens(examples: list[Any]) -> float:
    if not examples:
        return 0.0
    sample = examples[:200]
    return sum(len(e.input_text()) for e in sample) / len(sample) / CHARS_PER_TOKEN


def _is_local(model_id: str) -> bool:
    return model_id.split(":", 1)[0] == "local"


def _calls_seconds(model_id: str, calls: int, in_tok: float, out_tok: float, spec: Spec, scoring: bool) -> float:
    from tunegate.models.registry import settings_for

    if _is_local(model_id):
        if scoring:
            return calls * in_tok / LOCAL_SCORING_TOKENS_PER_S
        return calls * out_tok / LOCAL_GENERATION_TOKENS_PER_S + calls * in_tok / LOCAL_SCORING_TOKENS_PER_S
    conc = max(1, int(getattr(settings_for(model_id, spec.models), "max_concurrency", 8) or 8))
    return math.ceil(calls / conc) * HTTP_LATENCY_S


def _row(stage: str, model: str | None, calls: int, in_tok: float, out_tok: float, seconds: float, spec: Spec,
         note: str) -> dict[str, Any]:
    from tunegate.models.registry import price_for

    cost = None
    if model is not None:
        price = price_for(model, spec.models)
        cost = round(price.cost(int(in_tok * calls), int(out_tok * calls)), 4)
    return {"stage": stage, "model": model, "calls": int(calls), "input_tokens": int(in_tok * calls),
            "output_tokens": int(out_tok * calls), "cost": cost, "seconds": round(seconds, 1), "note": note}


def _sprint_row(spec: Spec, dev: int, test: int, in_tok: float) -> dict[str, Any]:
    from tunegate.evals.prompts import DEFAULT_INSTRUCTIONS
    from tunegate.sprint.candidates import Instruction, build_candidates

    cfg = spec.sprint
    models = list(cfg.models or [spec.models.default])
    task_text = spec.task.instruction or DEFAULT_INSTRUCTIONS[spec.task.kind]
    instructions = ([Instruction("task", task_text)] if cfg.include_task_instruction else []) + [
        Instruction(v.name, v.text or "") for v in cfg.instructions] + [
        Instruction(f"para{k + 1}", task_text) for k in range(cfg.paraphrases)]
    caps = {m: frozenset({"generate", "label_logprobs"}) if _is_local(m) else frozenset({"generate"})
            for m in models}
    cands = build_candidates(cfg, spec.task.kind, instructions, models, dict(spec.models.params), caps)
    dev_n = min(dev, cfg.racing.dev_items or dev)
    test_n = min(test, cfg.test_items or test)
    grid = sum(c.calls_per_item for c in cands) * dev_n
    selection = math.ceil(grid * cfg.racing.budget_share)
    finalists = min(cfg.racing.finalists, len(cands)) + 1  # + the zero-shot baseline
    per_test = max(c.calls_per_item for c in cands)
    calls = selection + finalists * per_test * test_n
    shots = cfg.shots * in_tok * 1.5  # few-shot prompts carry k examples with their answers
    avg_in = in_tok + 60 + shots / 2  # half the candidates, roughly, carry shots
    out_tok = cfg.max_tokens
    scoring = all(_is_local(m) for m in models) and spec.task.kind == "classification"
    seconds = sum(_calls_seconds(m, calls // len(models), avg_in, out_tok, spec, scoring) for m in models)
    return _row("sprint", models[0] if len(models) == 1 else ", ".join(models), calls, avg_in, out_tok, seconds,
                spec, f"{len(cands)} candidates; selection at most {cfg.racing.budget_share:.0%} of the grid's "
                      f"{grid} dev calls, then {finalists} prompts on {test_n} test items")


@dataclass(frozen=True)
class _Inputs:
    """What every per-stage estimate reads: the spec, the profile, the model and the data's split sizes."""

    spec: Spec
    prof: Any
    model_id: str
    limit: int | None
    n_examples: int
    n_train: int
    n_dev: int
    n_test: int
    in_tok: float

    @property
    def scoring(self) -> bool:
        return _is_local(self.model_id) and self.spec.task.kind == "classification"


def _est_check_eval(x: _Inputs) -> dict[str, Any]:
    spec, ce = x.spec, x.spec.check_eval
    judges = [s for s in spec.eval.scorers if s.type == "llm_judge"]
    n_items = min(ce.judge_items, x.n_test or ce.judge_items)
    calls = len(judges) * n_items * 5 * 3 if judges else 0  # ~5 outputs per item, 3 repeats
    judge = ((judges[0].model_extra or {}).get("model") if judges else None) or x.model_id
    return _row("check-eval", judge if calls else None, calls, x.in_tok + 150, 8,
                _calls_seconds(judge, calls, x.in_tok + 150, 8, spec, False) if calls else 2.0, spec,
                "judge calls only (the gate never calls a subject model)" if calls else
                "deterministic scorers: no model calls")


def _est_audit(x: _Inputs) -> dict[str, Any]:
    n = x.n_examples
    return _row("audit", None, 0, 0, 0, n / EMBED_TEXTS_PER_S + 5, x.spec,
                f"no model calls; {n} texts embedded with {x.spec.models.embedding}")


def _est_eval(x: _Inputs) -> dict[str, Any]:
    n = min(v for v in (x.n_test, x.prof.eval_limit or x.n_test, x.limit or x.n_test))
    return _row("eval", x.model_id, n, x.in_tok, 16, _calls_seconds(x.model_id, n, x.in_tok, 16, x.spec, x.scoring),
                x.spec, f"{n} test items, one call each")


def _est_sprint(x: _Inputs) -> dict[str, Any]:
    if not x.n_dev:
        return _row("sprint", None, 0, 0, 0, 0, x.spec, "no dev split: the sprint cannot run")
    return _sprint_row(x.spec, x.n_dev, x.n_test, x.in_tok)


def _est_probe(x: _Inputs) -> dict[str, Any]:
    if x.spec.task.kind != "classification" and "lora" not in x.prof.probe_kinds:
        return _row("probe", None, 0, 0, 0, 0, x.spec, f"skipped: the {x.prof.name} profile's embedding head is "
                    "for classification (the full profile trains LoRA)")
    n = x.n_examples
    secs = n / EMBED_TEXTS_PER_S + 10 * 2
    note = f"embedding head: {n} texts embedded, a learning curve of ~10 fits"
    if "lora" in x.prof.probe_kinds:
        lora_tokens = min(x.n_train, 128) * 2 * (x.in_tok + 8)
        secs += lora_tokens / LORA_TOKENS_PER_S
        note += f"; LoRA on ~{int(lora_tokens):,} tokens"
    return _row("probe", None, 0, 0, 0, secs, x.spec, note)


def _est_cost(x: _Inputs) -> dict[str, Any]:
    return _row("cost", None, 0, 0, 0, x.prof.cost_draws / 20000 * 2, x.spec, "no model calls")


# per registered stage name; a stage without an estimator is listed as making no model calls, and says so
ESTIMATORS: dict[str, Callable[[_Inputs], dict[str, Any]]] = {
    "check-eval": _est_check_eval, "audit": _est_audit, "eval": _est_eval, "sprint": _est_sprint,
    "probe": _est_probe, "cost": _est_cost,
    "decide": lambda x: _row("decide", None, 0, 0, 0, 1.0, x.spec, "no model calls"),
    "report": lambda x: _row("report", None, 0, 0, 0, 1.0, x.spec, "no model calls"),
}


def estimate_run(spec: Spec, *, profile: str = "quick", model: str | None = None, limit: int | None = None,
                 only: list[str] | None = None) -> dict[str, Any]:
    """Per stage: calls, tokens, cost (where the spec prices the model) and seconds, with the assumptions."""
    from tunegate.data.examples import load_examples
    from tunegate.pipeline import PROFILES, STAGE_REGISTRY, limited_spec

    spec = limited_spec(spec, limit)
    prof = PROFILES[profile]
    model_id = model or spec.models.default
    if spec.data is None:
        return {"stages": [], "total": {"calls": 0, "cost": 0.0, "seconds": 0.0},
                "assumptions": ["the spec has no data: only declared evidence, nothing to run"]}
    ds = load_examples(spec)
    x = _Inputs(spec=spec, prof=prof, model_id=model_id, limit=limit, n_examples=len(ds.examples),
                n_train=len(ds.split("train")), n_dev=len(ds.split("dev")), n_test=len(ds.split("test")),
                in_tok=_avg_input_tokens(ds.examples) + 40)  # + the instruction and label list
    want = [s for s in STAGE_REGISTRY.names() if (not only or s in only) and (only or s not in prof.skip)]
    rows = [ESTIMATORS[s](x) if s in ESTIMATORS else
            _row(s, None, 0, 0, 0, 0.0, spec, "no estimate: a plug-in stage without an estimator (counted as no "
                 "model calls and no time)") for s in want]
    costs = [r["cost"] for r in rows if r["cost"] is not None]
    total = {"calls": sum(r["calls"] for r in rows), "input_tokens": sum(r["input_tokens"] for r in rows),
             "output_tokens": sum(r["output_tokens"] for r in rows), "cost": round(sum(costs), 4) if costs else None,
             "seconds": round(sum(r["seconds"] for r in rows), 1)}
    return {"stages": rows, "total": total, "profile": profile, "model": model_id, "limit": limit,
            "assumptions": [f"tokens = characters / {CHARS_PER_TOKEN:g}",
                            f"HTTP endpoints: {HTTP_LATENCY_S:g} s per call at the backend's max_concurrency",
                            f"local models on a 2-core CPU: {LOCAL_SCORING_TOKENS_PER_S:g} scored tokens/s, "
                            f"{LOCAL_GENERATION_TOKENS_PER_S:g} generated tokens/s",
                            "cached calls cost nothing: a re-run is cheaper than this",
                            "cost uses the prices under models.backends (none given: 0)"]}
