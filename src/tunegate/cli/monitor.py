"""`tunegate monitor`: parse, call one function, print. Exit codes suit cron and CI: 0 ok, 3 alert, 2 bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tunegate.cli.errors import exit_for_gate, fail, renamed
from tunegate.cli.guard import holding
from tunegate.cli.options import ExecutorOpt, JsonOpt, QuietOpt, RayAddressOpt, deprecated_opt
from tunegate.cli.output import err, escape, executor_for, fmt, new_table, out, print_json, progress_bar, reporter
from tunegate.errors import TunegateError


def _p(x: float | None) -> str:
    return "–" if x is None else (f"{x:.2e}" if x < 1e-3 else f"{x:.4f}")


def print_monitor(doc: dict[str, Any]) -> None:
    colour = "red" if doc["status"] == "alert" else "green"
    ref, cur = doc["reference"], doc["current"]
    out.print(f"monitor: [bold {colour}]{doc['status'].upper()}[/]  reference {ref['n_rows']} rows "
              f"({escape(str(ref['source']))}) vs current {cur['n_rows']} rows")
    if doc.get("messages"):
        out.print("[bold]what changed:[/]")
        for m in doc["messages"]:
            out.print(f"  - {escape(m)}")
    mt = doc["multiple_testing"]
    out.print(f"[dim]{mt['family_size']} p-value tests, Holm-corrected at family-wise alpha {mt['alpha']}; "
              "an alert also needs an effect above its floor (thresholds.min_*)[/]")
    table = new_table()
    for col in ("test", "statistic", "p", "p (Holm)", "threshold", "status", "detail"):
        table.add_column(col, overflow="fold")
    for t in doc["tests"]:
        st = "[bold red]alert[/]" if t["status"] == "alert" else "ok"
        table.add_row(escape(t["name"]), fmt(t["statistic"], 4), _p(t["p_value"]), _p(t["p_adjusted"]),
                      fmt(t["threshold"], 4), st, escape(str(t.get("detail", ""))[:70]))
    out.print(table)
    for t in doc["tests"]:
        if t["status"] == "alert" and t.get("examples") and t["kind"] == "input" and "embedding" in t["name"]:
            out.print(f"items most responsible for {escape(t['name'])}:")
            for ex in t["examples"]:
                out.print(f"  line {ex['line']}: {escape(ex['text'][:100])}")
    for n in doc.get("not_run", []):
        out.print(f"[dim]not run: {escape(n['name'])}: {escape(n['reason'])}[/]")
    for inp in doc.get("inputs", []):
        if inp["n_skipped"]:
            out.print(f"[yellow]skipped {inp['n_skipped']} invalid rows in {escape(inp['file'])}[/] "
                      "(first ones listed in monitor.json)")
    if doc.get("webhook"):
        w = doc["webhook"]
        out.print(f"webhook ({escape(w['variable'])}): " + ("sent" if w["sent"] else escape(w.get("error", ""))))


def print_history(model: str, rows: list[dict[str, Any]]) -> None:
    out.print(f"history of [bold]{escape(model)}[/]: {len(rows)} runs")
    table = new_table()
    for col in ("at", "kind", "status", "metric", "value", "CI", "alerted"):
        table.add_column(col, overflow="fold")
    for r in rows:
        ci = f"[{fmt(r.get('ci_low'))}, {fmt(r.get('ci_high'))}]" if r.get("value") is not None else ""
        table.add_row(str(r.get("at", "")), str(r.get("kind", "")), str(r.get("status", "")),
                      str(r.get("metric") or ""), fmt(r.get("value")), ci, escape(", ".join(r.get("alerted") or [])))
    out.print(table)
    vals = [r["value"] for r in rows if r.get("value") is not None]
    if len(vals) >= 2:
        out.print(f"trend: {vals[0]:.3f} -> {vals[-1]:.3f} ({vals[-1] - vals[0]:+.3f}) over {len(vals)} measured runs")
    n_alert = sum(1 for r in rows if r.get("status") == "alert")
    out.print(f"{n_alert} of {len(rows)} runs alerted")


def _record(model_name: str | None, doc: dict[str, Any], quiet: bool) -> None:
    if not model_name:
        return
    from tunegate.monitor.store import PortfolioStore

    try:
        with PortfolioStore() as store:
            store.record_monitor_run(model_name, doc)
    except TunegateError as exc:  # the report stands; only its record is missing, and the user is told why
        err.print(f"[yellow]not recorded in the portfolio:[/] {escape(str(exc))} "
                  f"(add it with `tunegate portfolio add {escape(model_name)} ...`)")
        return
    if not quiet:
        err.print(f"recorded in the portfolio history of {escape(model_name)}")


def monitor_cmd(
    config: Annotated[Optional[Path], typer.Argument(help="The task spec (its monitor: section). Omit it for "
                                                     "the stand-alone form (--reference/--current).")] = None,
    log: Annotated[Optional[Path], typer.Option("--log", help="Production log (JSONL/CSV/Parquet); default "
                                                "monitor.log.")] = None,
    reference: Annotated[Optional[Path], typer.Option("--reference", help="Stand-alone: the reference file.")
                         ] = None,
    current: Annotated[Optional[Path], typer.Option("--current", help="Stand-alone: the current file.")] = None,
    input_col: Annotated[Optional[str], typer.Option("--input-col", help="Stand-alone: column with the input "
                                                     "text (default: input).")] = None,
    text_col_old: Annotated[Optional[str], deprecated_opt("--input-col", "--text-col")] = None,
    label_col: Annotated[Optional[str], typer.Option("--label-col", help="Stand-alone: gold label column.")
                         ] = None,
    output_col: Annotated[Optional[str], typer.Option("--output-col", help="Stand-alone: model output column.")
                          ] = None,
    confidence_col: Annotated[Optional[str], typer.Option("--confidence-col", help="Stand-alone: the model's "
                                                          "probability for its answer (0..1).")] = None,
    logprob_col: Annotated[Optional[str], typer.Option("--logprob-col", help="Stand-alone: the log-probability "
                                                       "of the model's answer (<= 0), when there is no "
                                                       "--confidence-col.")] = None,
    numeric_col: Annotated[Optional[list[str]], typer.Option("--numeric-col", help="Stand-alone: a numeric "
                                                             "column (repeatable).")] = None,
    categorical_col: Annotated[Optional[list[str]], typer.Option("--categorical-col", help="Stand-alone: a "
                                                                 "categorical column (repeatable).")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Count and skip malformed rows instead of "
                                               "stopping at the first.")] = False,
    no_embeddings: Annotated[bool, typer.Option("--no-embeddings", help="Skip embedding drift.")] = False,
    webhook_env: Annotated[Optional[str], typer.Option("--webhook-env", help="NAME of the environment variable "
                                                       "holding a webhook URL (default monitor.webhook_url_env)."
                                                       )] = None,
    portfolio_model: Annotated[Optional[str], typer.Option("--portfolio-model", help="The deployed model's "
                                                           "name in the portfolio: record this run there (default "
                                                           "monitor.portfolio_model); with --history, whose "
                                                           "history to show.")] = None,
    model_old: Annotated[Optional[str], deprecated_opt("--portfolio-model", "--model")] = None,
    regress: Annotated[Optional[tuple[str, str]], typer.Option("--regress", help="OLD NEW: run the saved eval "
                                                               "suite on both model ids and compare, paired.")
                       ] = None,
    history: Annotated[bool, typer.Option("--history", help="Show the model's monitor history and trend.")
                       ] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory for monitor.json.")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Is it still good? Drift in inputs, outputs and performance between a reference and a current window.

    Exit code 0 ok, 3 alert, 2 bad input.
    """
    quiet = quiet or as_json
    model_name = renamed(portfolio_model, model_old, "--model", "--portfolio-model", quiet=quiet)
    text_col = renamed(input_col, text_col_old, "--text-col", "--input-col", quiet=quiet) or "input"
    if history and (log or reference or current):
        fail("--history shows the stored history and reads no log: drop --log / --reference / --current, or "
             "drop --history")
    spec = None
    if config is not None:
        if reference or current:
            fail("give a spec (with --log), or --reference and --current, not both")
        from tunegate.spec import load_spec

        spec = load_spec(config)
    name = model_name or (spec.monitor.portfolio_model if spec else None)
    if history:
        if not name:
            fail("--history needs --portfolio-model NAME (or monitor.portfolio_model in the spec)")
        from tunegate.monitor.store import PortfolioStore

        with PortfolioStore() as store:
            rows = store.history(name)
        if not print_json({"model": name, "history": rows}, as_json):
            print_history(name, rows)
        return
    with holding(out_dir, "monitor"):
        doc = _measure(spec, log, reference, current, regress, out_dir, skip_invalid, no_embeddings, webhook_env,
                       name, executor, ray_address, quiet,
                       cols=dict(input=text_col, label=label_col, output=output_col, confidence=confidence_col,
                                 logprob=logprob_col, numeric=numeric_col or [], categorical=categorical_col or []))
    _record(name, doc, quiet)
    if not print_json(doc, as_json):
        if regress is not None:
            out.print(f"regression {escape(regress[0])} -> {escape(regress[1])}: [bold]{doc['status'].upper()}[/]"
                      f"  {escape(str(doc.get('summary', '')))}")
        else:
            print_monitor(doc)
        if out_dir:
            out.print(f"written: {escape(str(out_dir))}")
    exit_for_gate(doc["status"])


def _measure(spec: Any, log: Path | None, reference: Path | None, current: Path | None,
             regress: tuple[str, str] | None, out_dir: Path | None, skip_invalid: bool, no_embeddings: bool,
             webhook_env: str | None, name: str | None, executor: str, ray_address: str | None, quiet: bool,
             cols: dict[str, Any]) -> dict[str, Any]:
    """One monitoring run in whichever form the flags chose: regression, spec + log, or two files."""
    if regress is not None:
        if spec is None:
            fail("--regress needs the task spec (its eval suite is what runs on both models)")
        from tunegate.monitor.regression import run_regression

        with progress_bar(enabled=not quiet, label="regression") as bar:
            return run_regression(spec, regress[0], regress[1], out_dir=out_dir,
                                  progress=reporter(quiet, {"items": bar}))
    if spec is not None:
        from tunegate.monitor.stage import monitor_stage

        if webhook_env:
            spec.monitor.webhook_url_env = webhook_env
        with executor_for(executor, ray_address) as ex:
            return monitor_stage(spec, log, out_dir=out_dir, skip_invalid=skip_invalid,
                                 embeddings=False if no_embeddings else None, progress=reporter(quiet),
                                 model_name=name, executor=ex)
    if not (reference and current):
        fail("give a spec and --log FILE, or --reference FILE and --current FILE")
    from tunegate.config.monitor import LogColumns, MonitorSpec
    from tunegate.monitor.stage import monitor_files

    cfg = MonitorSpec(columns=LogColumns(**cols))
    cfg.embedding.enabled = not no_embeddings
    with executor_for(executor, ray_address) as ex:
        return monitor_files(reference, current, cfg=cfg, out_dir=out_dir, skip_invalid=skip_invalid,
                             webhook_env=webhook_env, progress=reporter(quiet), executor=ex)
