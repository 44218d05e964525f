"""CLI commands for the criterion gate (`tunegate check-eval`): parse, call one function, print.

Kept out of cli.py so each stage's command layer is one small module; cli.py calls ``register(app)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def _print(art: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from tunegate.cli_output import fmt, out

    colour = {"pass": "green", "fail": "red", "unknown": "yellow"}
    out.print(f"[bold]{escape(art['task'])}[/] · criterion gate: [bold {colour[art['gate']]}]{art['gate']}[/]")
    for r in art["reasons"]:
        out.print(f"  • {escape(r)}")
    table = Table(show_header=True, header_style="bold", box=None)
    for col in ("check", "status", "value", "95% CI", "threshold"):
        table.add_column(col)
    for c in art["checks"]:
        ci = f"{fmt(c['ci_low'])}–{fmt(c['ci_high'])}" if c.get("ci_low") is not None else "–"
        val = c["value"] if isinstance(c["value"], (int, float)) or c["value"] is None else None
        st = c["status"] + ("" if c.get("required", True) else " (optional)")
        table.add_row(c["name"], f"[{colour[c['status']]}]{st}[/]", fmt(val), ci, fmt(c.get("threshold")))
    out.print(table)
    per = art["discrimination"]["per_scorer"]
    for name, t in per.items():
        out.print(f"  {escape(name)}: AUC {fmt(t['auc'])} ({fmt(t['auc_ci_low'])}–{fmt(t['auc_ci_high'])}), "
                  f"accepts {fmt(t['good_accepted_rate'], 2)} of good, {fmt(t['bad_accepted_rate'], 2)} of bad")
    for w in art.get("warnings", []):
        out.print(f"[yellow]warning:[/] {escape(w)}")
    am = art.get("answer_method") or {}
    if am:
        out.print(f"[dim]answer method: {escape(am['method'])} ({escape(am['why'])})[/]")
    for i, a in enumerate(art.get("next_actions") or [], 1):
        out.print(f"[bold]next {i}:[/] {escape(a)}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``tunegate`` app."""

    @app.command("check-eval")
    def check_eval_cmd(
        config: Annotated[Path, typer.Argument(help="The task spec (tunegate.yaml).")],
        out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Directory for evalcheck.json.")] = None,
        against: Annotated[Optional[Path], typer.Option("--against", help="An older spec (.yaml) or golden-set "
                                                        "file: show what changed in what 'good' means.")] = None,
        items: Annotated[Optional[int], typer.Option("--items", help="Items for discrimination (overrides "
                                                     "check_eval.items).", min=2)] = None,
        judge_items: Annotated[Optional[int], typer.Option("--judge-items", help="Items for LLM judges "
                                                           "(overrides check_eval.judge_items).", min=2)] = None,
        repeats: Annotated[Optional[int], typer.Option("--repeats", help="Judge re-runs for test-retest "
                                                       "(overrides check_eval.repeats).", min=2)] = None,
        cache_path: Annotated[Optional[Path], typer.Option("--cache", help="Response cache file.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print evalcheck.json on stdout.")] = False,
    ) -> None:
        """The criterion gate: does the eval suite tell known-good outputs from known-bad ones, consistently,
        in agreement with people, with enough items to see the gap that matters?

        Exit code 0 when the gate passes, 3 when it fails, 4 when it is unknown (evidence missing, e.g. an LLM
        judge without human ratings), 2 for bad input.
        """
        from rich.markup import escape

        from tunegate.cli_output import EXIT_INTERRUPTED, err, fail, print_json, progress_bar
        from tunegate.errors import TunegateError
        from tunegate.evals.evalcheck import check_eval_stage
        from tunegate.pipeline import GATE_EXIT_CODES
        from tunegate.spec import load_spec

        def note(msg: str) -> None:
            if not as_json:
                err.print(f"[dim]{escape(msg)}[/]")

        try:
            spec = load_spec(config)
            overrides = {k: v for k, v in (("items", items), ("judge_items", judge_items), ("repeats", repeats))
                         if v is not None}
            if overrides:
                spec.check_eval = spec.check_eval.model_copy(update=overrides)
            cache = None
            if cache_path is not None:
                from tunegate.models.cache import ResponseCache

                cache = ResponseCache(cache_path)
            try:
                with progress_bar(enabled=not as_json, label="judge calls") as bar:
                    art = check_eval_stage(spec, out_dir, against=against, cache=cache, progress=note,
                                           call_progress=bar)
            finally:
                if cache is not None:
                    cache.close()
        except KeyboardInterrupt:
            fail("interrupted. Finished judge calls are cached: run the same command again to resume.",
                 EXIT_INTERRUPTED)
        except (TunegateError, ValueError) as exc:
            fail(str(exc))
        if not print_json(art, as_json):
            _print(art)
        raise typer.Exit(GATE_EXIT_CODES[art["gate"]])
