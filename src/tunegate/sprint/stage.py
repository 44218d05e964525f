"""`tunegate sprint`: a systematic prompt sprint with honest statistics, written to ``sprint.json``.

Order of work, and why: candidates are built and checked before any call; selection (budgeted racing whose
survivors finish dev, or the full grid) runs on dev items only; then the finalists — and the zero-shot baseline, for the comparison — are evaluated once
on the test split, and only those test numbers are reported. The best candidate is the finalist ranked first on
dev, so the test split never chooses the winner and its number is an unbiased estimate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.artifact_models import SprintArtifact
from tunegate.artifacts import (
    ARTIFACT_SCHEMA_VERSION,
    RunInfo,
    json_safe,
    now_iso,
    package_versions,
    write_json_atomic,
)
from tunegate.data.examples import Example, load_examples
from tunegate.errors import SpecError, TunegateError
from tunegate.evals.prompts import DEFAULT_INSTRUCTIONS, load_template
from tunegate.evals.primary import primary_scorer
from tunegate.models.streams import generation_stream
from tunegate.evals.scorers import ScorerContext, build_scorers
from tunegate.models.base import GenerationRequest
from tunegate.models.cache import ResponseCache
from tunegate.models.registry import create_backend, create_embedder, price_for
from tunegate.models.usage import UsageTracker
from tunegate.progress import Progress
from tunegate.spec import Spec
from tunegate.sprint.candidates import Candidate, Instruction, build_candidates
from tunegate.sprint.evaluate import ItemOutcome, SprintContext, run_candidate
from tunegate.sprint.racing import full_grid as run_full_grid
from tunegate.sprint.racing import race as run_race
from tunegate.sprint.results import compare, gap_and_gate, holm, selection_certainty, summarize_candidate

_PARAPHRASE = ("Rewrite the following instruction for a text classifier in different words. Keep every rule and "
               "its meaning. Reply with the rewritten instruction only.\n\nInstruction:\n{text}")


def _instructions(spec: Spec, ctx_backend: Callable[[str], Any], cache: ResponseCache,
                  usage: UsageTracker) -> tuple[list[Instruction], list[str]]:
    cfg, notes = spec.sprint, []
    task_text = spec.task.instruction or DEFAULT_INSTRUCTIONS[spec.task.kind]
    out = [Instruction("task", task_text)] if cfg.include_task_instruction else []
    for i, v in enumerate(cfg.instructions):
        text = v.text
        if v.file is not None:
            p = spec.resolve(v.file)
            if not p.exists():
                raise SpecError("instruction file not found", file=p, field=f"sprint.instructions.{i}.file")
            text = p.read_text(encoding="utf-8").strip()
        out.append(Instruction(v.name, text or "", v.label_descriptions, "file" if v.file else "spec"))
    if cfg.paraphrases:
        model = cfg.proposer or spec.models.default
        backend = ctx_backend(model)
        price = price_for(model, spec.models)
        params = {"temperature": 0.8, "max_tokens": 160}
        reqs = [GenerationRequest(({"role": "user", "content": _PARAPHRASE.format(text=task_text)},), params, epoch=k)
                for k in range(cfg.paraphrases)]
        texts: dict[int, str] = {}
        for k, gen in generation_stream(backend, cache, backend.cache_identity(), reqs):
            usage.record(role="proposer", model=model, input_tokens=gen.input_tokens,
                         output_tokens=gen.output_tokens, latency_s=gen.latency_s, price=price, cached=gen.cached,
                         error=not gen.ok)
            if gen.ok and gen.text.strip():
                texts[k] = gen.text.strip()
        for k in range(cfg.paraphrases):
            if k in texts and texts[k] not in {x.text for x in out}:
                out.append(Instruction(f"para{k + 1}", texts[k], True, "proposer"))
            else:
                notes.append(f"paraphrase {k + 1} from {model} was empty, failed or a duplicate: not used")
    if not out:
        raise SpecError("no instruction variant to try", field="sprint")
    return out, notes


def _sample(items: list[Example], cap: int | None, seed: int) -> list[Example]:
    if cap is None or cap >= len(items):
        return items
    keep = set(random.Random(seed).sample(range(len(items)), cap))
    return [e for i, e in enumerate(items) if i in keep]


def sprint_stage(
    spec: Spec,
    out_dir: str | Path,
    *,
    budget: int | None = None,
    models: list[str] | None = None,
    full_grid: bool = False,
    backend_factory: Callable[[str], Any] | None = None,
    cache: ResponseCache | None = None,
    progress: Progress | None = None,
    embedder_factory: Callable[[], Any] | None = None,
    executor: Any = None,
) -> dict[str, Any]:
    """Run the sprint and write ``out_dir/sprint.json``; returns the artifact as a dict.

    ``backend_factory(model_id)`` creates every subject/proposer backend (default: the model registry); it is
    called once per model; with an ``executor`` (tunegate.executors) the subject calls run in shards on its
    workers and the result is the same. ``budget`` caps subject calls (the CLI's ``--budget``; else ``sprint.budget_calls``).
    """
    t_start = time.perf_counter()
    cfg = spec.sprint
    seed = spec.seed if cfg.seed is None else cfg.seed
    out_dir = Path(out_dir)
    run = RunInfo(seed=seed, config_hash=spec.config_hash(), spec_path=str(spec.source) if spec.source else None,
                  packages=package_versions())
    budget = budget if budget is not None else cfg.budget_calls
    model_ids = list(models or cfg.models or [spec.models.default])
    if backend_factory is None and executor is not None and executor.name != "local":
        from tunegate.executors.sharded import sharded_backend  # subject calls run on the executor's workers

        backend_factory = lambda m: sharded_backend(executor, m, spec.models)  # noqa: E731
    factory = backend_factory or (lambda m: create_backend(m, spec.models))
    backends: dict[str, Any] = {}

    def backend_for(model_id: str) -> Any:
        if model_id not in backends:
            backends[model_id] = factory(model_id)
        return backends[model_id]

    dataset = load_examples(spec)
    dev = _sample(dataset.split("dev"), cfg.racing.dev_items, seed)
    test = _sample(dataset.split("test"), cfg.test_items, seed)
    if not dev:
        raise TunegateError("the sprint selects on the dev split, which is empty: set data.split ratios with dev > 0 "
                            "or give dev rows")
    if not test:
        raise TunegateError("the test split is empty: the sprint reports test numbers only")
    own_cache = cache is None
    cache = ResponseCache() if cache is None else cache
    usage = UsageTracker()
    emb_factory = embedder_factory or (lambda: create_embedder(spec.models.embedding, spec.models))
    try:
        instructions, notes = _instructions(spec, backend_for, cache, usage)
        caps = {m: frozenset(getattr(backend_for(m), "capabilities", frozenset())) for m in model_ids}
        base_params = dict(spec.models.params)
        cands = build_candidates(cfg, spec.task.kind, instructions, model_ids, base_params, caps, spec=spec)
        emb_holder: dict[str, Any] = {}

        def shared_embedder() -> Any:
            if "e" not in emb_holder:
                emb_holder["e"] = emb_factory()
            return emb_holder["e"]

        scorers = build_scorers(spec, ScorerContext(spec, shared_embedder))
        names = [s.name for s in scorers]
        metric = spec.eval.metric
        primary = primary_scorer(metric, names)  # the one rule every stage uses
        ctx = SprintContext(spec, cfg, dataset, load_template(spec), scorers, primary, backend_for, cache, usage,
                            seed, embedder_factory=shared_embedder)
        art = _run(spec, ctx, cands, dev, test, seed=seed, budget=budget, full_grid=full_grid, progress=progress)
    finally:
        if own_cache:
            cache.close()
        for b in backends.values():
            b.close()
    art["notes"] = notes + art.get("notes", [])
    run.finished = now_iso()
    art["run"] = run.model_dump(mode="json")
    art["seconds"] = round(time.perf_counter() - t_start, 2)
    outcomes = art.pop("_outcomes")
    model = SprintArtifact.from_dict(json_safe(art), source=out_dir / SprintArtifact.FILENAME)  # drift fails here
    model.save(out_dir)
    _write_results(out_dir / "sprint_results.jsonl", outcomes)
    best = model.best.candidate
    _write_best_eval(spec, out_dir / "sprint-best", model, [o for n, o in outcomes if n == best], run)
    return model.to_dict()


def _run(spec: Spec, ctx: SprintContext, cands: list[Candidate], dev: list[Example], test: list[Example], *,
         seed: int, budget: int | None, full_grid: bool, progress: Progress | None) -> dict[str, Any]:
    rc = spec.sprint.racing
    ctx.knn_items = dev + test  # kNN few-shot embeds these once, in one batch, when a candidate needs them
    for c in cands:
        for s in c.strategies:
            s.prepare(ctx)
    finalists_n = min(rc.finalists, len(cands))
    per_item = {c.index: float(c.calls_per_item) for c in cands}
    base = next(c for c in cands if c.baseline)
    # reserve for the most expensive candidates that could reach the final, not the first ones listed
    dearest = sorted((per_item[c.index] for c in cands if not c.baseline), reverse=True)[:finalists_n]
    test_reserve = len(test) * (sum(dearest) + per_item[base.index])
    sel_budget = None
    if budget is not None:
        sel_budget = budget - test_reserve
        if sel_budget < min(rc.min_items, len(dev)) * sum(per_item.values()):
            raise TunegateError(f"--budget {budget} calls is too small: the first racing round needs about "
                                f"{int(min(rc.min_items, len(dev)) * sum(per_item.values()))} calls and the test "
                                f"evaluation of finalists and baseline about {int(test_reserve)}")
    grid_planned = len(dev) * sum(per_item.values())
    planned = grid_planned if full_grid else min(grid_planned, max(rc.budget_share * grid_planned, min(
        rc.min_items, len(dev)) * sum(per_item.values())), sel_budget if sel_budget is not None else grid_planned)
    calls_total_est = int(planned + test_reserve)
    done = {"calls": 0, "rounds": 0}

    def on_calls(n: int) -> None:
        done["calls"] += n
        if progress:
            progress("calls", done["calls"], max(calls_total_est, done["calls"]))

    ctx.on_calls = on_calls
    dev_calls: dict[int, int] = {c.index: 0 for c in cands}

    def evaluate(ids: list[int], idx: list[int]) -> dict[int, list[float]]:
        got = {}
        for c in ids:
            outs = run_candidate(cands[c], [dev[i] for i in idx], ctx, phase="selection")
            dev_calls[c] += sum(o.calls for o in outs)
            got[c] = [o.score for o in outs]
        done["rounds"] += 1
        if progress:
            progress("rounds", done["rounds"], None)
        return got

    ids = [c.index for c in cands]
    if full_grid and sel_budget is not None and len(dev) * sum(per_item.values()) > sel_budget:
        raise TunegateError(f"--budget {budget} calls cannot pay for the full grid (about "
                            f"{int(len(dev) * sum(per_item.values()) + test_reserve)} calls); drop --full-grid")
    if full_grid:
        race = run_full_grid(ids, len(dev), evaluate, finalists=finalists_n, seed=seed)
    else:
        race = run_race(ids, len(dev), evaluate, min_items=rc.min_items, eta=rc.eta, alpha=rc.alpha,
                        budget_share=rc.budget_share, finalists=finalists_n, seed=seed, cost_per_item=per_item,
                        budget=sel_budget)
    calls_selection = sum(dev_calls.values())

    finalists = [cands[i] for i in race.finalists]
    on_test = finalists + ([base] if base not in finalists else [])
    test_out: dict[int, list[ItemOutcome]] = {}
    for c in on_test:
        test_out[c.index] = run_candidate(c, test, ctx, phase="test")
    calls_test = sum(o.calls for outs in test_out.values() for o in outs)

    labels, boot = spec.task.label_names, spec.eval.bootstrap
    summaries = {i: {**cands[i].describe(), **summarize_candidate(outs, spec.eval.metric, labels, boot),
                     "dev_value": round(sum(race.scores[i]) / len(race.scores[i]), 6) if race.scores[i] else None,
                     "dev_items": race.items_per_candidate[i]} for i, outs in test_out.items()}
    best = finalists[0]
    comparisons = []
    if best is not base:
        comparisons.append(compare(test_out[base.index], test_out[best.index], name_a=base.name, name_b=best.name,
                                   boot=boot, what="best_vs_baseline"))
    if len(finalists) > 1 and finalists[1] is not base:  # a runner-up that is the baseline is compared once
        comparisons.append(compare(test_out[finalists[1].index], test_out[best.index], name_a=finalists[1].name,
                                   name_b=best.name, boot=boot, what="best_vs_runner_up"))
    holm(comparisons, 1 - boot.confidence)
    b = summaries[best.index]
    gate = gap_and_gate(b, spec.eval.target, boot.confidence)
    # what the full grid would have cost: every candidate on every dev item at its measured calls per item
    rate = {c.index: (dev_calls[c.index] / race.items_per_candidate[c.index]) if race.items_per_candidate[c.index]
            else per_item[c.index] for c in cands}
    grid_dev_calls = int(round(sum(rate[c.index] * len(dev) for c in cands)))
    calls_full_grid = grid_dev_calls + calls_test
    names = {c.index: c.name for c in cands}
    selection = {
        "method": "full_grid" if full_grid else "race", "dev_items": len(dev), "dev_items_used": len(race.items_order),
        "calls": calls_selection, "grid_calls": grid_dev_calls,
        "calls_share_of_grid": round(calls_selection / grid_dev_calls, 4) if grid_dev_calls else None,
        "budget_share": None if full_grid else rc.budget_share, "alpha": rc.alpha,
        **selection_certainty(race, names, alpha=rc.alpha, n_resamples=boot.n_resamples, seed=boot.seed),
        "finished_dev": [names[i] for i in (race.finished if not full_grid else ids)],
        "eliminated_by_test": [names[i] for i in race.eliminated_by_test],
        "eliminated_by_rank": [names[i] for i in race.eliminated_by_rank],
    }
    u = ctx.usage.to_dict()
    slices = {s["name"]: s["slices"] for s in summaries.values()}
    return {
        "schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "sprint", "task": spec.task.name,
        "metric": spec.eval.metric, "primary_scorer": ctx.primary, "target": spec.eval.target,
        "mode": "full_grid" if full_grid else "racing", "seed": seed,
        "best": {"candidate": best.name, "value": b["value"], "ci_low": b["ci_low"], "ci_high": b["ci_high"],
                 "n": b["n"], "selected_on": "dev"},
        "candidates": [summaries[c.index] for c in finalists],
        "finalists": [c.name for c in finalists],
        "baseline": summaries[base.index] if base not in finalists else {"name": base.name, "is_finalist": True},
        "tried": [{**c.describe(), "dev_items": race.items_per_candidate[c.index],
                   "dev_value": round(sum(race.scores[c.index]) / len(race.scores[c.index]), 6)
                   if race.scores[c.index] else None, "dev_calls": dev_calls[c.index]} for c in cands],
        "rounds": [{"round": k + 1, "candidates": [cands[i].name for i in r.candidates], "new_items": r.new_items,
                    "items": r.items_seen, "values": {cands[i].name: round(v, 6) for i, v in r.values.items()},
                    "eliminated": [cands[i].name for i in r.eliminated],
                    "eliminated_by_test": [cands[i].name for i in r.by_test]} for k, r in enumerate(race.rounds)],
        "stopped_by_budget": race.stopped_by_budget, "selection": selection,
        "comparisons": comparisons, "slices": slices,
        "gap": gate["gap"], "gate": gate["gate"], "gate_rule": gate["gate_rule"], "gate_reason": gate["gate_reason"],
        "more_items_needed": gate["more_items_needed"],
        "calls_used": calls_selection + calls_test, "calls_selection": calls_selection, "calls_test": calls_test,
        "calls_full_grid": calls_full_grid, "calls_full_grid_exact": full_grid,
        "calls_saved_share": round(1 - (calls_selection + calls_test) / calls_full_grid, 4) if calls_full_grid else None,
        "budget_calls": budget,
        "split_sizes": {"dev": len(dev), "test": len(test), "train_pool": len(ctx.pool),
                        "pool_excluded_duplicates": ctx.pool_excluded},
        "usage": u, "usage_by_role": u["by_role"],
        "notes": ["unscored answers count as wrong in the sprint (racing, test values, comparisons)",
                  "best = the finalist ranked first on dev; the test split never chooses the winner"],
        "_outcomes": [(cands[i].name, o) for i, outs in test_out.items() for o in outs],
    }


def _write_results(path: Path, rows: list[tuple[str, ItemOutcome]]) -> None:
    import json
    from dataclasses import asdict

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for name, o in rows:
            fh.write(json.dumps({"candidate": name, **asdict(o)}, ensure_ascii=False, default=str) + "\n")


def _write_best_eval(spec: Spec, d: Path, art: SprintArtifact, outs: list[ItemOutcome], run: RunInfo) -> None:
    """The best finalist's test answers as an ordinary ``eval.json`` + ``results.jsonl`` (the runner's shape), so
    later stages that compare item by item with "the best prompt" (the fine-tune probe) find it."""
    import json

    from tunegate.artifacts import EvalArtifact
    from tunegate.evals.metrics import ItemRecord, summarize

    best = art.best_candidate()
    if best is None:
        raise TunegateError(f"sprint.json: best: '{art.best.candidate}' is not among the candidates measured on test")
    names = list(outs[0].scores) if outs else []
    records = [ItemRecord(o.id, o.gold if isinstance(o.gold, str) else None, o.prediction if o.scored else None,
                          o.scores, o.slices, error=o.error is not None) for o in outs]
    summary = summarize(records, metric=spec.eval.metric, scorer_names=names, labels=spec.task.label_names,
                        boot=spec.eval.bootstrap)
    main = summary["metrics"][spec.eval.metric]
    d.mkdir(parents=True, exist_ok=True)
    with (d / "results.jsonl").open("w", encoding="utf-8") as fh:
        for o in outs:
            fh.write(json.dumps({"id": o.id, "split": o.split, "gold": o.gold, "output": o.output,
                                 "prediction": o.prediction, "slices": o.slices, "scores": o.scores,
                                 "cached": o.cache_hits == o.calls, "input_tokens": o.input_tokens,
                                 "output_tokens": o.output_tokens, "latency_s": round(o.latency_s, 6)},
                                ensure_ascii=False, default=str) + "\n")
    method = "label_logprobs" if best.method == "label_likelihood" else "generate"
    write_json_atomic(d / "eval.json", EvalArtifact(
        task=spec.task.name, model=best.model, split="test", method=method,
        prompt_source=f"sprint candidate: {best.name}", prompt_sha=best.name, metric=spec.eval.metric,
        value=main.value, ci_low=main.ci_low, ci_high=main.ci_high, confidence=main.confidence,
        ci_method=main.ci_method, n=main.n, n_total=len(outs), n_unscored=main.n_unscored,
        n_errors=sum(1 for o in outs if o.error), value_unscored_as_wrong=summary["value_unscored_as_wrong"],
        target=spec.eval.target, metrics=summary["metrics"], per_label=summary["per_label"],
        per_slice=summary["per_slice"], results_file=str(d / "results.jsonl"), run=run))
