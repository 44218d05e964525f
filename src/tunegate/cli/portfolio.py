"""`tunegate portfolio add|list|show|remove|criterion`: the portfolio store's commands (parse, call one function,
print). cli/main.py registers ``COMMANDS`` under the ``portfolio`` group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tunegate.cli.errors import fail, renamed
from tunegate.cli.options import JsonOpt, StoreOpt, deprecated_opt
from tunegate.cli.output import escape, fmt, new_table, out, print_json

HELP = "The deployed models: path, base model and its retirement, last evaluation, alerts, evaluation tax."
StaleOpt = Annotated[float, typer.Option("--stale-days", help="Flag evaluations older than this many days.")]
RetireOpt = Annotated[int, typer.Option("--retire-days", help="Flag base models retiring within this many days.")]


def _store(path: Path | None) -> Any:
    from tunegate.monitor.store import PortfolioStore

    return PortfolioStore(path)


def _money(x: float, cur: str) -> str:
    return f"{cur} {x:,.0f}" if cur.isalpha() else f"{cur}{x:,.0f}"


def _tax_cell(t: dict[str, Any]) -> str:
    return f"{t['mean']:,.0f} ({t['p05']:,.0f}–{t['p95']:,.0f})"


def _band(t: dict[str, Any]) -> str:
    return f"{_money(t['mean'], t['currency'])} a month (90% band {t['p05']:,.0f}–{t['p95']:,.0f})"


def add_cmd(
    name: Annotated[str, typer.Argument(help="A unique name for the deployed model, e.g. support-triage-v3.")],
    path: Annotated[str, typer.Option("--path", help="prompt or fine-tune.")],
    base_model: Annotated[str, typer.Option("--base-model", help="The base model (snapshot) it runs on.")],
    retires: Annotated[Optional[str], typer.Option("--retires", help="The base model's announced retirement "
                                                   "date, YYYY-MM-DD.")] = None,
    spec: Annotated[Optional[Path], typer.Option("--spec", help="Its eval suite (tunegate.yaml): the cost inputs "
                                                 "and the criterion version are taken from it.")] = None,
    owner: Annotated[Optional[str], typer.Option("--owner", help="Who answers its alerts.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a deployed model (its monthly evaluation tax comes from the spec's costs: or the defaults)."""
    from tunegate.monitor.portfolio import add_model_from_args

    with _store(store) as st:
        m = add_model_from_args(st, name, path=path, base_model=base_model, retirement_date=retires,
                                spec_path=spec, owner=owner)

    if print_json(m, as_json):
        return
    out.print(f"added [bold]{escape(name)}[/] ({m['path']} on {escape(m['base_model'])}); monthly evaluation tax "
              f"{_band(m['monthly_tax'])}, {m['costs_source']} cost inputs")


def list_cmd(
    stale_days: StaleOpt = 30.0,
    retire_days: RetireOpt = 90,
    overhead: Annotated[Optional[str], typer.Option("--overhead", help="c of the portfolio term c·N^β, a number "
                                                    "or a distribution such as '{triangular: [200, 500, 1500]}'.")
                        ] = None,
    beta: Annotated[Optional[str], typer.Option("--beta", help="β of the portfolio term (>= 1), a number or a "
                                                "distribution (default triangular 1.1, 1.3, 1.5).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every model with its flags (stale evaluation, base-model retirement, open alerts) and monthly tax; then the
    portfolio's total tax as N grows, with the super-linear term c·N^β over the fine-tuned models."""
    from tunegate.monitor.portfolio import portfolio_overview

    pin = _portfolio_inputs(overhead, beta)
    with _store(store) as st:
        doc = portfolio_overview(st, stale_days=stale_days, retire_days=retire_days, portfolio=pin)

    if print_json(doc, as_json):
        return
    if not doc["models"]:
        out.print("the portfolio is empty: add a model with `tunegate portfolio add NAME --path prompt "
                  "--base-model MODEL --spec tunegate.yaml`")
        return
    cur = doc["tax"]["currency"]
    table = new_table()
    for col in ("model", "path", "base model", "last eval", "status", "alerts", f"tax/month ({cur})", "flags"):
        table.add_column(col, overflow="fold")
    for m in doc["models"]:
        le = m.get("last_evaluation") or {}
        last = "never" if not m.get("last_eval_at") else (
            f"{m['last_eval_at'][:10]}" + (f" {fmt(le.get('value'))}" if le.get("value") is not None else ""))
        table.add_row(escape(m["name"]), m["path"], escape(m["base_model"]), last, m.get("status") or "–",
                      str(len(m["open_alerts"])), _tax_cell(m["monthly_tax"]),
                      "[yellow]" + escape("; ".join(m["flags"])) + "[/]" if m["flags"] else "")
    out.print(table)
    out.print(f"{doc['n_flagged']} of {doc['n_models']} models need attention (stale > {stale_days:g} days, "
              f"retiring within {retire_days} days, open alerts)")
    out.print("\nmonthly evaluation tax as the portfolio grows (models in the order added; "
              "portfolio term c·N_ft^β over fine-tuned models):")
    t2 = new_table()
    for col in ("N", "fine-tuned", "models' tax", "c·N^β", "per fine-tuned", "total (90% band)"):
        t2.add_column(col, justify="right")
    for r in doc["tax"]["by_n"]:
        t2.add_row(str(r["n"]), str(r["n_finetuned"]), f"{r['models_tax_mean']:,.0f}",
                   f"{r['portfolio_overhead_mean']:,.0f}", f"{r['overhead_per_finetuned_model_mean']:,.0f}",
                   _tax_cell(r["total"]))
    out.print(t2)
    pi = doc["tax"]["portfolio_inputs"]
    out.print(f"c = {pi['c']['distribution']}, β = {pi['beta']['distribution']} (an assumption: docs/cost-model.md)")


def _portfolio_inputs(overhead: str | None, beta: str | None) -> Any:
    if overhead is None and beta is None:
        return None
    import yaml

    from tunegate.config.costs import parse_costs

    raw: dict[str, Any] = {}
    for key, val in (("overhead_per_model_month", overhead), ("beta", beta)):
        if val is not None:
            try:
                raw[key] = yaml.safe_load(val)
            except yaml.YAMLError:
                fail(f"--{'overhead' if key.startswith('overhead') else 'beta'}: not a number or a distribution: "
                     f"{val!r}")
    return parse_costs({"portfolio": raw}, key="costs").portfolio


def show_cmd(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    history_rows: Annotated[Optional[int], typer.Option("--history-rows", help="How many recent history rows to "
                                                        "show (default 20).")] = None,
    history_old: Annotated[Optional[int], deprecated_opt("--history-rows", "--history")] = None,
    stale_days: StaleOpt = 30.0,
    retire_days: RetireOpt = 90,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One model: details, flags, monthly tax and its monitor history (the trend)."""
    from tunegate.monitor.portfolio import model_detail

    history = renamed(history_rows, history_old, "--history", "--history-rows", quiet=as_json) or 20
    with _store(store) as st:
        doc = model_detail(st, name, history_limit=history, stale_days=stale_days, retire_days=retire_days)

    if print_json(doc, as_json):
        return
    m = doc["model"]
    out.print(f"[bold]{escape(m['name'])}[/] · {m['path']} · base {escape(m['base_model'])}"
              + (f" (retires {m['retirement_date']})" if m.get("retirement_date") else "")
              + (f" · owner {escape(m['owner'])}" if m.get("owner") else ""))
    out.print(f"eval suite: {escape(m.get('eval_suite') or '–')} · criterion {m.get('criterion_fingerprint') or '–'}")
    le = m.get("last_evaluation")
    out.print("last evaluation: " + ("never" if not le else f"{le['at']} {le.get('metric') or ''} {fmt(le.get('value'))} "
              f"(CI {fmt(le.get('ci_low'))}–{fmt(le.get('ci_high'))})") + f" · status {m.get('status') or '–'}")
    t = m["monthly_tax"]
    out.print(f"monthly evaluation tax: {_band(t)}, {m['costs_source']} cost inputs")
    for a in m["open_alerts"]:
        out.print(f"  [red]open alert[/] {escape(str(a['name']))} since {a['since']}")
    for f in m["flags"]:
        out.print(f"  [yellow]flag[/] {escape(f)}")
    if doc["history"]:
        table = new_table()
        for col in ("at", "kind", "status", "value", "CI", "alerted / changed"):
            table.add_column(col, overflow="fold")
        for h in doc["history"]:
            what = ", ".join(h["alerted"]) if h["kind"] != "criterion_change" else _change_text(h["detail"] or {})
            ci = f"{fmt(h['ci_low'])}–{fmt(h['ci_high'])}" if h.get("ci_low") is not None else ""
            table.add_row(h["at"], h["kind"], h.get("status") or "", fmt(h.get("value")), ci, escape(what))
        out.print(table)


def _change_text(d: dict[str, Any]) -> str:
    c = d.get("counts") or {}
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in c.items() if v]
    if d.get("rubric_changed"):
        parts.append("rubric: " + ", ".join(d["rubric_changed"]))
    return "; ".join(parts) or "criterion changed"


def remove_cmd(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a model and its history from the portfolio."""
    with _store(store) as st:
        gone = st.remove(name)

    if not print_json({"removed": gone["name"], "model": gone}, as_json):
        out.print(f"removed {escape(name)}")


def criterion_cmd(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    spec: Annotated[Optional[Path], typer.Option("--spec", help="The current eval suite (default: the one the "
                                                 "model was added with).")] = None,
    against: Annotated[Optional[Path], typer.Option("--against", help="The old spec or golden-set file: adds "
                                                    "the criterion gate's content diff (old/new answers, metric "
                                                    "shift with CI).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare the eval suite's golden set and rubric with the recorded version; record a change in the history.

    Exit code 0 either way (a change in what "good" means is news, not a failure)."""
    from tunegate.monitor.portfolio import check_criterion
    from tunegate.spec import load_spec

    with _store(store) as st:
        src = spec or st.get(name).get("eval_suite")
        if not src:
            fail(f"model '{name}' was added without --spec: pass --spec tunegate.yaml")
        diff = check_criterion(st, name, load_spec(src), against=against)

    if print_json(diff, as_json):
        return
    if not diff["changed"]:
        out.print(f"criterion unchanged ({diff['new_fingerprint']})")
        return
    out.print(f"criterion changed: {diff['old_fingerprint'] or 'none recorded'} → {diff['new_fingerprint']}: "
              f"{escape(_change_text(diff))} (recorded in the history)")


COMMANDS = (("add", add_cmd), ("list", list_cmd), ("show", show_cmd), ("remove", remove_cmd),
            ("criterion", criterion_cmd))
