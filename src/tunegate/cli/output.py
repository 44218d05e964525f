"""Terminal output of the CLI: result tables, the verdict, progress bars, --json.

Kept apart from the command modules so that they stay parse-call-print. Everything printed that comes from data
or models is escaped for rich markup. Results go to stdout; progress, notes and errors to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunegate.progress import Count, Progress



class LazyConsole:
    """rich's Console, made on first use: a command that prints nothing through it (``eval --json``) never
    imports rich (~25 ms of a cached run). ``console()`` is the real one, for rich objects that take it."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:  # print, is_terminal, ...: everything else is the Console's
        return getattr(self.console(), name)


def escape(text: str) -> str:
    """rich.markup.escape, imported when first needed (see LazyConsole)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def new_table(**options: Any) -> Any:
    """A borderless rich Table with a bold header, the one table style of the CLI (rich imported here)."""
    from rich.table import Table

    return Table(show_header=True, header_style="bold", box=None, **options)


out = LazyConsole(emoji=False, highlight=False)
err = LazyConsole(stderr=True, emoji=False, highlight=False)


def print_json(art: Any, as_json: bool) -> bool:
    """With --json, the artifact goes to stdout as one line (and nothing else does); returns whether it did."""
    if as_json:
        from tunegate.artifacts import dumps

        sys.stdout.write(dumps(art, indent=None) + "\n")
    return as_json


def notes(quiet: bool) -> Callable[[str], None] | None:
    """The progress-note printer (dim lines on stderr), or None under --quiet / --json."""
    if quiet:
        return None
    return lambda msg: err.print(f"[dim]{escape(msg)}[/]")


def reporter(quiet: bool, counts: dict[str, Count | None] | None = None) -> Progress | None:
    """The CLI's one consumer of every stage's ``Progress``: notes to the dim notes line (none under --quiet /
    --json), each count to the bar its ``what`` names (a bar that is off, None, drops its counts). None when
    nothing would show, so stages skip the work of reporting, as they did before."""
    from tunegate.progress import routed

    note = notes(quiet)
    live = {what: update for what, update in (counts or {}).items() if update is not None}
    if note is None and not live:
        return None
    return routed(note, live)


def warn(message: str, quiet: bool = False) -> None:
    """A warning line on stderr (silenced by --quiet / --json, which print only the result and errors)."""
    if not quiet:
        err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


@contextmanager
def executor_for(name: str, address: str | None) -> Iterator[Any]:
    """The executor for ``--executor`` / ``--ray-address``, closed afterwards; ``None`` for the in-process path."""
    if address and name != "ray":
        from tunegate.errors import SpecError

        raise SpecError("--ray-address needs --executor ray")
    if name == "local":
        yield None
        return
    from tunegate.executors import create_executor

    ex = create_executor(name, address=address)
    try:
        yield ex
    finally:
        ex.close()


def fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def print_eval(art: Any) -> None:
    u = art.usage.get("total", {})
    pct = int(art.confidence * 100)
    out.print(f"[bold]{escape(art.task)}[/] · {escape(art.model)} · {art.split} split · method {art.method}")
    out.print(f"{art.metric}: [bold]{fmt(art.value)}[/]  ({pct}% CI {fmt(art.ci_low)}–{fmt(art.ci_high)}, "
              f"{art.ci_method})" + (f"  target {art.target:g}" if art.target is not None else ""))
    out.print(f"items: {art.n_total} · scored {art.n} · unscored {art.n_unscored} · failed calls {art.n_errors}")
    if art.n_unscored or art.n_errors:
        out.print(f"  if unscored items and failed calls counted as wrong: {fmt(art.value_unscored_as_wrong)}")
        for reason, count in sorted(art.unscored_reasons.items(), key=lambda kv: -kv[1])[:5]:
            out.print(f"  unscored: {count} × {escape(reason)}")
    table = new_table()
    for col in ("metric", "value", "CI low", "CI high", "n"):
        table.add_column(col)
    for m in art.metrics.values():
        table.add_row(m.name, fmt(m.value), fmt(m.ci_low), fmt(m.ci_high), str(m.n))
    out.print(table)
    out.print(f"calls: {u.get('calls', 0)} (backend {u.get('backend_calls', 0)}, cache hits {u.get('cache_hits', 0)}) "
              f"· tokens in {u.get('input_tokens', 0)} / out {u.get('output_tokens', 0)} · cost {u.get('cost', 0):.4f}")
    if art.skipped_rows:
        out.print(f"[yellow]skipped {len(art.skipped_rows)} invalid rows[/] (listed in eval.json)")
    if art.results_file:
        out.print(f"results: {escape(str(Path(art.results_file).parent))}")


class progress_bar:
    """A rich progress bar on stderr, fed (done, total) by ``reporter``; silent when not a terminal.

    Counts and ETAs come from ``tunegate.progress.Estimate`` (average rate of finished work, not rich's 30-second
    window, which bursts of finished items fooled). Nested steps that model code reports (GGUF conversion,
    embedding) appear as extra rows while they run, and their time is left out of the outer ETA. Disabled, it
    also silences those steps (``--quiet``).
    """

    def __init__(self, *, enabled: bool, label: str, clock: Any = None) -> None:
        import time

        from tunegate.progress import Estimate

        self.enabled = enabled and err.is_terminal
        self.label = label
        self.estimate = Estimate(clock or time.monotonic)
        self._bar: Any = None
        self._task: Any = None
        self._listen: Any = None
        self._open_steps = 0

    def update(self, done: int, total: int | None) -> None:
        self.estimate.update(done, total)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    # tunegate.progress.Listener: nested steps as extra rows
    def open_step(self, label: str, total: int | None) -> Any:
        from tunegate.progress import Estimate

        if self._open_steps == 0:
            self.estimate.pause()
        self._open_steps += 1
        est = Estimate(self.estimate.clock)
        est.update(0, total)
        task = self._bar.add_task(f"  {label}", total=total, estimate=est) if self._bar is not None else None
        return (task, est)

    def advance_step(self, handle: Any, n: int) -> None:
        task, est = handle
        est.update(est.done + n)
        if self._bar is not None:
            self._bar.update(task, completed=est.done)

    def close_step(self, handle: Any) -> None:
        task, _ = handle
        if self._bar is not None:
            self._bar.remove_task(task)
        self._open_steps -= 1
        if self._open_steps == 0:
            self.estimate.resume()

    def __enter__(self) -> Any:
        from tunegate.progress import listening_with

        self._listen = listening_with(self if self.enabled else None)
        self._listen.__enter__()
        if not self.enabled:
            return None
        self._bar = _new_progress()
        self._bar.__enter__()
        self._task = self._bar.add_task(self.label, total=None, estimate=self.estimate)
        return self.update

    def __exit__(self, *exc: object) -> None:
        try:
            if self._bar is not None:
                self._bar.__exit__(*exc)
        finally:
            if self._listen is not None:
                self._listen.__exit__(*exc)


def _new_progress() -> Any:
    """A transient rich Progress whose count and ETA columns read the task's ``Estimate``."""
    from rich.progress import BarColumn, Progress, ProgressColumn, TimeElapsedColumn
    from rich.text import Text

    class _Count(ProgressColumn):
        def render(self, task: Any) -> Text:
            est = task.fields.get("estimate")
            return Text(est.count_text() if est else f"{int(task.completed)}", style="progress.download")

    class _Eta(ProgressColumn):
        max_refresh = 0.5

        def render(self, task: Any) -> Text:
            est = task.fields.get("estimate")
            return Text(est.eta_text() if est else "", style="progress.remaining")

    return Progress("[progress.description]{task.description}", BarColumn(), _Count(), TimeElapsedColumn(),
                    _Eta(), console=err.console(), transient=True)


class _StandaloneSteps:
    """Nested steps reported when no bar is open (``tunegate audit`` embedding): one transient bar per step."""

    def open_step(self, label: str, total: int | None) -> Any:
        bar = progress_bar(enabled=True, label=label)
        bar.enabled = True  # only ever installed when stderr is a terminal
        bar.__enter__()
        bar.update(0, total)
        return bar

    def advance_step(self, handle: Any, n: int) -> None:
        handle.update(handle.estimate.done + n, handle.estimate.total)

    def close_step(self, handle: Any) -> None:
        handle.__exit__(None, None, None)


def _standalone_steps() -> Any:
    return _StandaloneSteps() if err.is_terminal else None


def _install_standalone_steps() -> None:
    from tunegate.progress import set_default

    set_default(_standalone_steps)


_install_standalone_steps()


def print_audit(art: dict[str, Any]) -> None:
    colour = {"pass": "green", "fail": "red", "unknown": "yellow"}[art["gate"]]
    out.print(f"data gate: [bold {colour}]{art['gate'].upper()}[/]")
    for r in art["reasons"]:
        out.print(f"  {escape(r)}")
    table = new_table()
    for col in ("check", "status", "value", "threshold", "detail"):
        table.add_column(col, overflow="fold")
    for c in art["checks"]:
        table.add_row(c["name"], c["status"], escape(str(c["value"])), escape(str(c["threshold"])),
                      escape(c["detail"][:160]))
    out.print(table)
    agg = art.get("aggregation")
    if agg:
        extra = (f", accuracy vs gold {agg['accuracy_vs_gold']:.4f} on {agg['n_gold']} items"
                 if agg.get("accuracy_vs_gold") is not None else "")
        out.print(f"aggregation: {agg['method']}" + (f", converged={agg.get('converged')} in {agg.get('n_iter')} "
                                                     "iterations" if agg.get("n_iter") else "") + extra)
    if art.get("adjudication_queue"):
        out.print(f"adjudication queue: {len(art['adjudication_queue'])} contested items (most uncertain first)")


def print_verdict(art: dict[str, Any]) -> None:
    colour = {"FINE_TUNE": "green", "SHIP_PROMPT": "green", "KEEP_PROMPTING": "cyan", "IMPROVE_DATA_FIRST": "yellow",
              "FIX_EVAL_FIRST": "red"}.get(art["verdict"], "white")
    out.print(f"verdict: [bold {colour}]{art['verdict']}[/] ({art['confidence']} confidence) — rule {escape(art['rule'])}")
    for name, c in art["conditions"].items():
        out.print(f"  {name:<15} {c['status']:<9} {c['source']:<9} {escape(c['summary'])}")
    if art.get("next_actions"):
        out.print("next actions:")
        for a in art["next_actions"]:
            out.print(f"  - {escape(a)}")



def print_cost(art: dict[str, Any]) -> None:
    cur = art.get("currency", "$")
    cur = f"{cur} " if cur.isalpha() else cur
    table = new_table()
    for col in ("path", "median", "p05", "p95"):
        table.add_column(col, justify="right" if col != "path" else "left")
    for p in ("prompting", "fine_tuning"):
        t = art["tco"][p]
        table.add_row(p, *(f"{cur}{t[k]:,.0f}" for k in ("median", "p05", "p95")))
    out.print(f"{art['horizon_months']}-month total cost of ownership ({art['n_draws']:,} draws):")
    out.print(table)
    env = art["expected_net_value_of_finetuning"]
    out.print(f"P(fine-tune cheaper): {art['p_finetune_cheaper']:.2f} · expected net value of fine-tuning: "
              f"{cur}{env['mean']:,.0f} (5–95%: {cur}{env['p05']:,.0f} to {cur}{env['p95']:,.0f})")
    be = art.get("breakeven_monthly_volume")
    out.print("break-even volume: " + (f"{be:,.0f} requests/month" if be is not None else
                                       escape(str((art.get("breakeven") or {}).get("reason")))))
    out.print("moves the answer most: " + ", ".join(s["input"] for s in art["sensitivity"][:5]))


def print_probe(art: dict[str, Any]) -> None:
    for p in art["probes"]:
        cmp = p.get("comparison") or {}
        line = (f"{escape(p['name'])}: {p['metric']} [bold]{fmt(p['value'])}[/] (CI {fmt(p['ci_low'])}–"
                f"{fmt(p['ci_high'])}), trained in {p.get('train_seconds', 0):.1f}s on {p.get('train_examples')} "
                f"examples · closes the gap: {p['closes_gap']}")
        out.print(line)
        if cmp:
            out.print(f"  vs the best prompt on {cmp['n_shared']} shared items: {cmp['diff']:+.3f} (paired CI "
                      f"{fmt(cmp['diff_ci_low'])} to {fmt(cmp['diff_ci_high'])}, McNemar p = {cmp['mcnemar_p']:.3g})")
    c = art.get("curve")
    if c:
        pts = ", ".join(f"n={p['n']}: {p['mean']:.3f}" for p in c.get("points", []))
        out.print(f"learning curve (test error): {pts}")
        out.print(f"  status {c.get('status')}; back-test error {fmt(c.get('backtest_error'))} vs last-value "
                  f"{fmt(c.get('last1_error'))}" + (f"; flags: {escape('; '.join(c['flags']))}" if c.get("flags")
                                                    else ""))
        ln = c.get("labels_needed")
        if isinstance(ln, dict) and ln.get("value") is not None:
            hi = f"{ln['high']:,.0f}" if ln.get("high") is not None else "unbounded"
            lo = f"{ln['low']:,.0f}" if ln.get("low") is not None else "?"
            level = round(100 * (ln.get("band_level") or 0.8))
            out.print(f"  labels needed for the target: {ln['value']:,.0f} ({level}% band {lo} to {hi}; "
                      f"{ln.get('n_train') or '?'} on hand)")
        else:
            out.print(f"  labels needed for the target: unknown ({escape(str((ln or {}).get('reason', '')))})")
    out.print(f"reaches the target (closes the gap): [bold]{art['closes_gap']}[/]")
