"""`tunegate eval` and `tunegate compare`: the evaluation runner's commands (parse, call one function, print)."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from tunegate.cli.errors import on_interrupt
from tunegate.cli.guard import preflight
from tunegate.cli.options import CacheOpt, ExecutorOpt, JsonOpt, QuietOpt, RayAddressOpt
from tunegate.cli.output import escape, executor_for, fmt, out, print_eval, progress_bar, reporter


def slug(s: str) -> str:
    """A file-name-safe fragment of a task or model name (run directory names)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[:60]


@on_interrupt("interrupted. Finished calls are cached: run the same command again to resume.")
def eval_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (tunegate.yaml), or a directory holding one.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model id, e.g. local:smollm2 or "
                                                 "openai:gpt-4o-mini (default: models.default in the spec).")] = None,
    prompt: Annotated[Optional[Path], typer.Option("--prompt", "-p", help="Prompt template file with "
                                                   "{{input}} etc. (default: eval.prompt in the spec).")] = None,
    split: Annotated[str, typer.Option("--split", "-s", help="Which split to evaluate: train, dev or test.")] = "test",
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Evaluate only the first N items.")] = None,
    method: Annotated[str, typer.Option("--method", help="How answers are produced: generate (free text, parsed), "
                                        "label_logprobs (score each label's likelihood; local models), or auto.")
                      ] = "auto",
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory for eval.json and "
                                                    "results.jsonl (default: runs/eval-<task>-<model>-<time>).")
                       ] = None,
    cache: CacheOpt = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip malformed data rows instead of "
                                               "stopping; each skipped row is listed in eval.json.")] = False,
    max_failed_share: Annotated[Optional[float], typer.Option("--max-failed-share", help="Exit 5 when more than "
                                "this share of model calls failed (default: eval.max_failed_share, 0.05); a run "
                                "with every call failed always exits 5.")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Evaluate one prompt with one model on one split: metric with CI, unscored count, calls, cost.

    Every finished call is cached before the next one is used: re-run the same command after an interruption
    and it resumes without repeating calls. Exit code 5 when too many calls failed (eval.json is still written).
    """
    from tunegate.evals.runner import EvalOptions, FailedCallsError, run_eval
    from tunegate.spec import load_spec

    spec = load_spec(config)
    model_id = model or spec.models.default
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = Path("runs") / f"eval-{slug(spec.task.name)}-{slug(model_id)}-{split}-{stamp}"
    opts = EvalOptions(model=model_id, split=split, limit=limit, method=method, prompt_file=prompt,
                       out_dir=out_dir, cache_path=cache, skip_invalid=skip_invalid,
                       max_failed_share=max_failed_share if max_failed_share is not None
                       else spec.eval.max_failed_share)
    pre = preflight(spec, model=model_id, split=split, prompt_file=prompt, skip_invalid=skip_invalid)
    if pre is not None:
        opts.dataset = pre.dataset  # the examples the checks loaded, with the same skip_invalid: not loaded twice
    try:
        with executor_for(executor, ray_address) as ex:
            opts.executor = ex
            with progress_bar(enabled=not (quiet or as_json), label=f"eval {model_id} on {split}") as bar:
                art = run_eval(spec, opts, progress=reporter(quiet or as_json, {"items": bar}))
    except FailedCallsError as exc:  # the summary stands beside the error (exit 5 comes from command_errors)
        if not as_json:
            print_eval(exc.artifact)
        raise
    if as_json:
        sys.stdout.write(art.model_dump_json() + "\n")
        return
    print_eval(art)


def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="First run directory (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="Second run directory (the challenger).")],
    metric: Annotated[Optional[str], typer.Option("--metric", help="Metric to compare (default: the runs').")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Paired comparison of two runs on their shared items: B − A with a paired-bootstrap CI and exact McNemar."""
    from tunegate.evals.compare import compare_runs

    res = compare_runs(run_a, run_b, metric=metric, seed=seed)
    if as_json:
        sys.stdout.write(res.model_dump_json() + "\n")
        return
    pct = int(res.confidence * 100)
    out.print(f"{res.metric} on {res.n_shared} shared items (only in A: {res.n_only_a}, only in B: {res.n_only_b})")
    out.print(f"  A {escape(res.model_a)}: {fmt(res.value_a)}    B {escape(res.model_b)}: {fmt(res.value_b)}")
    out.print(f"  B − A: [bold]{fmt(res.diff)}[/]  ({pct}% paired-bootstrap CI {fmt(res.diff_ci_low)} to "
              f"{fmt(res.diff_ci_high)})")
    if res.mcnemar:
        m = res.mcnemar
        out.print(f"  exact McNemar: p = {m['p_value']:.4g} (A wrong/B right {m['b01']}, A right/B wrong {m['b10']})")
    if res.note:
        out.print(f"[yellow]note:[/] {escape(res.note)}")
