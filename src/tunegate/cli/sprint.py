"""`tunegate sprint`, the prompting gate: parse, call one function, print; exits by the sprint's gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tunegate.cli.errors import exit_for_gate, fail
from tunegate.cli.guard import holding, preflight
from tunegate.cli.options import CacheOpt, ExecutorOpt, JsonOpt, QuietOpt, RayAddressOpt
from tunegate.cli.output import err, escape, executor_for, fmt, new_table, out, print_json, reporter


class _SprintProgress:
    """Two bars on stderr: racing rounds (candidate evaluations) and model calls; silent when not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and err.is_terminal
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self._bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=err.console(), transient=True)
        self._bar.__enter__()
        self._tasks = {"rounds": self._bar.add_task("candidate batches", total=None),
                       "calls": self._bar.add_task("model calls (estimated total)", total=None)}

        def update(task: Any) -> Any:
            return lambda done, total: self._bar.update(task, completed=done, total=total)

        return {what: update(task) for what, task in self._tasks.items()}

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def print_sprint(art: dict[str, Any]) -> None:
    """The leaderboard (finalists on test, then every candidate's dev value), comparisons, gate and calls."""
    metric = art["metric"]
    out.print(f"[bold]{escape(art['task'])}[/] · prompt sprint ({art['mode']}) · {len(art['tried'])} candidates · "
              f"dev {art['split_sizes']['dev']} / test {art['split_sizes']['test']} items")
    table = new_table(title="leaderboard (test split)")
    for col in ("#", "candidate", metric, "95% CI", "n", "unscored", "cost/1k req", "ms/req", "dev"):
        table.add_column(col, justify="left" if col == "candidate" else "right", no_wrap=col == "candidate")
    rows = list(art["candidates"]) + ([art["baseline"]] if "value" in art["baseline"] else [])
    for k, c in enumerate(rows, 1):
        tag = " (best)" if c["name"] == art["best"]["candidate"] else ""
        tag += " (baseline)" if c.get("baseline") else ""
        table.add_row(str(k), escape(c["name"]) + tag, fmt(c["value"]), f"{fmt(c['ci_low'])}–{fmt(c['ci_high'])}",
                      str(c["n"]), str(c["n_unscored"]), f"{c['cost_per_1000']:.4f}",
                      fmt(c.get("latency_ms_per_request"), 1), fmt(c.get("dev_value")))
    out.print(table)
    elim = [c for c in art["tried"] if c["name"] not in {r["name"] for r in rows}]
    if elim:
        out.print("eliminated on dev: " + ", ".join(f"{escape(c['name'])} ({fmt(c['dev_value'])} on "
                                                     f"{c['dev_items']})" for c in elim))
    sel = art.get("selection")
    if sel:
        share = sel.get("calls_share_of_grid")
        same = ", ".join(escape(n) for n in sel["indistinguishable"]) or "none"
        out.print(f"selection ({sel['method']}, dev): {sel['dev_items_used']} of {sel['dev_items']} items, "
                  f"{sel['calls']} calls" + (f" ({share:.0%} of the grid's)" if share is not None else "")
                  + f"; P(winner within 1 point of the best) ≈ {sel['p_within_1pt']:.2f} (bootstrap); "
                  f"not told apart from the winner: {same}")
    for c in art["comparisons"]:
        out.print(f"{c['comparison']}: {escape(c['b'])} − {escape(c['a'])} = {c['diff']:+.3f} "
                  f"(paired CI {fmt(c['ci_low'])} to {fmt(c['ci_high'])}, p = {c['p']:.3g}, Holm p = "
                  f"{c['p_holm']:.3g})")
    gap = art.get("gap") or {}
    colour = {"met": "green", "gap": "red", "unknown": "yellow"}[art["gate"]]
    line = f"gate: [bold {colour}]{art['gate']}[/]"
    if gap:
        line += f" · gap to target {art['target']:g}: {gap['value']:+.3f} (CI {fmt(gap['ci_low'])} to " \
                f"{fmt(gap['ci_high'])})"
    out.print(line + f" — {escape(art['gate_reason'])}")
    saved = art.get("calls_saved_share")
    out.print(f"calls: {art['calls_used']} (selection {art['calls_selection']}, test {art['calls_test']}) vs "
              f"{art['calls_full_grid']} for the full grid" + (f" — {saved:.0%} saved" if saved else "")
              + (" (stopped by the budget)" if art.get("stopped_by_budget") else ""))
    for role, u in art["usage_by_role"].items():
        out.print(f"  {role}: {u['calls']} calls ({u['cache_hits']} from cache), cost {u['cost']:.4f}")



def sprint_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (its sprint: section lists the candidates).")],
    budget: Annotated[Optional[int], typer.Option("--budget", help="Cap on subject-model calls for the whole "
                                                  "sprint (selection + test).")] = None,
    models: Annotated[Optional[list[str]], typer.Option("--models", "-m", help="Subject model id (repeatable); "
                                                        "overrides sprint.models.")] = None,
    full_grid: Annotated[bool, typer.Option("--full-grid", help="Evaluate every candidate on every dev item "
                                            "instead of racing (for comparison).")] = False,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory for sprint.json.")] = Path(
        "runs/sprint"),
    cache: CacheOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """A prompt-engineering sprint: strategies x instructions x models raced on dev, finalists on test with
    CIs, paired comparisons (Holm), cost per 1,000 requests, and the gap to the target (met | gap | unknown).

    Exit code (the gate field of sprint.json): 0 met (the best prompt reaches the target), 3 gap (it does not:
    the prompting gap fine-tuning would have to close), 4 unknown (the evidence cannot tell, e.g. the interval
    straddles the target), 2 for bad input.
    """
    from tunegate.models.cache import ResponseCache
    from tunegate.spec import load_spec
    from tunegate.sprint.stage import sprint_stage

    if budget is not None and budget < 1:
        fail("--budget must be at least 1 call")
    spec = load_spec(config)
    preflight(spec)
    with holding(out_dir, "sprint"), executor_for(executor, ray_address) as ex, \
            _SprintProgress(not (quiet or as_json)) as bars:
        art = sprint_stage(spec, out_dir, budget=budget, models=list(models) if models else None,
                           full_grid=full_grid, cache=ResponseCache(cache) if cache else None,
                           progress=reporter(quiet or as_json, bars), executor=ex)
    if not print_json(art, as_json):
        print_sprint(art)
        out.print(f"written: {escape(str(Path(out_dir) / 'sprint.json'))}")
    exit_for_gate(art["gate"])
