"""The drift report of a monitoring run: what changed (in words), the distributions before and after, the test
table, and the history of earlier runs — as document blocks rendered by ``render.py`` like the decision report.

monitor.json is read through its model (``artifact_models.monitor.MonitorArtifact``); a file the model refuses is
reported with the model's located message instead of a drift report. The status, the tests and the two windows are
the core; plain-language change messages, per-column before/after summaries and the performance block are shown
when present (older key names for them, kept as extra keys by the model, are still read). History comes from
``monitor.json`` files in sub-directories of the run directory and from the portfolio store when monitor.json
names the model and the store file exists (opened only to read the model's history; a store that cannot be read
is a note, not a failure).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tunegate.report.charts as charts
from tunegate.artifact_models import MonitorArtifact
from tunegate.artifact_models.monitor import MonitorTest, Window
from tunegate.errors import InputError
from tunegate.report.collect import given, present
from tunegate.report.doc import (
    Badge,
    Box,
    Bullets,
    Chart,
    Code,
    Heading,
    Para,
    Stats,
    Table,
    as_dict,
    as_list,
    fmt_num,
    fmt_pct,
    get,
    humanize,
    num,
)
from tunegate.report.evidence import fmt_value

STATUS = {"alert": ("⚠ alert", "bad"), "ok": ("✓ ok", "good"), "not_run": ("not run", "neutral")}
NAV = (("monitor", "Status"), ("changes", "What changed"), ("distributions", "Distributions"),
       ("tests", "Tests"), ("history", "History"), ("monitor-inputs", "Inputs"))
MAX_HISTORY = 200
MAX_SUBDIR_DOCS = 500
OLD_MESSAGE_KEYS = ("changes", "what_changed", "explanations")  # where earlier versions put ``messages``


def load_monitor(path: Path, source: str | None = None) -> tuple[MonitorArtifact | None, str | None]:
    """(the validated monitor.json, None), or (None, why it could not be read: ``source`` (default: the path) and
    the dotted key)."""
    source = source or str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{source}: {type(exc).__name__}: {exc}"
    try:
        return MonitorArtifact.from_dict(data, source=source), None
    except InputError as exc:
        return None, str(exc)


def read_monitor(path: Path) -> MonitorArtifact | None:
    return load_monitor(path)[0]


def _badge(status: Any) -> Badge:
    text, kind = STATUS.get(str(status), (str(status or "unknown"), "neutral"))
    return Badge(text, kind)


def _window_text(w: Window) -> str:
    bits = [str(w.source or "window")]
    if num(w.n_rows) is not None:
        bits.append(f"{fmt_num(w.n_rows)} rows")
    if w.first_line is not None and w.last_line is not None:
        bits.append(f"lines {fmt_num(w.first_line)}–{fmt_num(w.last_line)}")
    if w.start or w.end:
        bits.append(f"{w.start or '?'} → {w.end or '?'}")
    if w.model_versions:
        bits.append("model versions " + ", ".join(f"{k} ({fmt_num(v)})"
                                                 for k, v in list(w.model_versions.items())[:5]))
    return " · ".join(bits)


def _messages(doc: MonitorArtifact) -> list[str]:
    """Plain-language change descriptions, wherever a version of monitor.json puts them."""
    out: list[str] = []
    for msgs in (doc.messages, *(as_list(given(doc, k)) for k in OLD_MESSAGE_KEYS)):
        for m in msgs:
            text = m if isinstance(m, str) else get(m, "message", "text", "summary") if isinstance(m, dict) else None
            if text:
                out.append(str(text))
    summary = given(doc, "summary")
    if isinstance(summary, str):
        out.insert(0, summary)
    for t in doc.tests:
        if t.status == "alert" and isinstance(t.message, str):
            out.append(t.message)
    return list(dict.fromkeys(out))


def status_section(doc: MonitorArtifact, run_dir: Path) -> list:
    status = doc.status
    alerts, tests = doc.alerts, doc.tests
    kind = {"alert": "bad", "ok": "good"}.get(status, "none")
    head = f"{'Drift alert' if status == 'alert' else 'No drift alert' if status == 'ok' else 'Monitoring run'}"
    who = " · ".join(str(x) for x in (doc.task, doc.model) if x)
    lead = (f"{len(alerts)} of {len(tests)} tests alerted: {', '.join(alerts)}." if alerts
            else f"None of the {len(tests)} tests alerted at the family-wise error rate "
                 f"{fmt_num(doc.multiple_testing.alpha)}." if tests
            else "No test ran.")
    blocks: list = [Para(["Monitoring"], kind="eyebrow"), Heading(2, head + (f" — {who}" if who else ""),
                                                                  anchor="monitor"),
                    Para([_badge(status)], kind="badges"), Para([lead], kind="lead")]
    ref = doc.reference if present(doc.reference) else None
    cur = doc.current if present(doc.current) else None
    blocks.append(Stats([("reference window (before)", fmt_num(ref.n_rows) + " rows" if ref else "–",
                          _window_text(ref) if ref else ""),
                         ("current window (after)", fmt_num(cur.n_rows) + " rows" if cur else "–",
                          _window_text(cur) if cur else "")]))
    if doc.multiple_testing.note:
        blocks.append(Para([doc.multiple_testing.note], kind="note"))
    return [Box(f"verdict-card v-{kind}", blocks)]


def changes_section(doc: MonitorArtifact) -> list:
    out: list = [Heading(2, "What changed", anchor="changes")]
    msgs = _messages(doc)
    alerted = [t for t in doc.tests if t.status == "alert"]
    if msgs:
        out.append(Bullets([[m] for m in msgs]))
    if alerted:
        out.append(Table(["alerting test", "what it measured"], [[t.name, t.detail] for t in alerted],
                         caption="Alerts"))
    if not msgs and not alerted:
        out.append(Para(["Nothing alerted: the current window is consistent with the reference on every test "
                         "that ran."], kind="note"))
    perf = as_dict(doc.performance)  # a loose block: whatever the performance test measured
    if perf:
        out += [Heading(3, "Performance"), Table(["measure", "value"], [[humanize(k), fmt_value(v)]
                                                                       for k, v in perf.items()], compact=True)]
    return out


def _share_rows(t: MonitorTest) -> list[dict[str, Any]]:
    rows = []
    for e in t.examples:
        if isinstance(e, dict) and ("reference_share" in e or "current_share" in e):
            rows.append({"label": str(e.get("value", "")), "reference": num(e.get("reference_share")),
                         "current": num(e.get("current_share"))})
    for key in ("shares", "categories", "distribution"):  # earlier versions' names, kept as extra keys
        for e in as_list(given(t, key)):
            if isinstance(e, dict):
                rows.append({"label": str(get(e, "value", "category", "label", default="")),
                             "reference": num(get(e, "reference_share", "reference", "before")),
                             "current": num(get(e, "current_share", "current", "after"))})
    return rows


def _summary_pairs(t: MonitorTest) -> tuple[dict, dict] | None:
    if isinstance(t.reference_summary, dict) and isinstance(t.current_summary, dict):
        return t.reference_summary, t.current_summary
    for a, b in (("before", "after"), ("reference", "current")):  # earlier versions' names
        ref, cur = given(t, a), given(t, b)
        if isinstance(ref, dict) and isinstance(cur, dict):
            return ref, cur
    return None


def distributions_section(doc: MonitorArtifact) -> list:
    out: list = [Heading(2, "Distributions before and after", anchor="distributions"),
                 Para(["Reference window = before; current window = after. Categories are those whose share moved "
                       "most (largest PSI contributions); numeric columns show their summaries or the bins that "
                       "moved most."], kind="note")]
    shown = 0
    for t in doc.tests:
        name = t.name
        rows = _share_rows(t)
        pair = _summary_pairs(t)
        bins = [e for e in t.examples if isinstance(e, dict) and "bin" in e]
        if not rows and not pair and not bins:
            continue
        shown += 1
        out += [Heading(3, name), Para([_badge(t.status), " ", t.detail])]
        if rows:
            svg = charts.share_bars_chart(rows[:20], title=f"{name}: reference vs current shares")
            if svg:
                out.append(Chart(svg, f"{name}: share of each category before (reference) and after (current)"))
            out.append(Table(["category", "before (reference)", "after (current)", "change"],
                             [[r["label"], fmt_pct(r["reference"]), fmt_pct(r["current"]),
                               _pp(r["reference"], r["current"])] for r in rows[:20]], numeric=(1, 2, 3)))
        if pair:
            ref, cur = pair
            keys = list(dict.fromkeys([*ref, *cur]))
            out.append(Table(["summary", "before (reference)", "after (current)"],
                             [[humanize(k), fmt_value(ref.get(k)), fmt_value(cur.get(k))] for k in keys],
                             numeric=(1, 2), compact=True))
        if bins:
            out.append(Table(["bin (reference quantiles)", "PSI contribution"],
                             [[_bin_text(e.get("bin")), fmt_num(e.get("contribution"))] for e in bins],
                             numeric=(1,), caption="Bins whose share moved most"))
    if not shown:
        out.append(Para(["monitor.json holds no per-category or per-column distributions for these tests."],
                        kind="missing"))
    return out


def _pp(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "new" if a is None and b is not None else "gone" if b is None and a is not None else "–"
    d = 100 * (b - a)
    return f"{'+' if d >= 0 else '−'}{abs(d):.1f}\u00a0pp"  # no break before the unit


def _bin_text(b: Any) -> str:
    if isinstance(b, list) and len(b) == 2:
        lo, hi = (num(x) for x in b)
        return f"{'−∞' if lo is None else fmt_num(lo)} to {'+∞' if hi is None else fmt_num(hi)}"
    return fmt_value(b)


def tests_section(doc: MonitorArtifact) -> list:
    out: list = [Heading(2, "Tests", anchor="tests")]
    rows = [[t.name, t.kind or "–", _badge(t.status), fmt_num(t.statistic), fmt_num(t.p_value),
             fmt_num(t.p_adjusted), fmt_num(t.threshold), f"{fmt_num(t.n_reference)} / {fmt_num(t.n_current)}",
             t.detail] for t in doc.tests]
    if rows:
        out.append(Table(["test", "kind", "status", "statistic", "p-value", "p (Holm)", "threshold",
                          "n before / after", "detail"], rows, numeric=(3, 4, 5, 6, 7)))
    else:
        out.append(Para(["monitor.json lists no tests."], kind="missing"))
    if doc.not_run:
        out.append(Table(["test", "why it did not run"], [[str(given(r, "name", "test") or ""),
                                                           str(given(r, "reason", "why") or "")]
                                                          for r in doc.not_run], caption="Not run"))
    return out


def _when(doc: MonitorArtifact) -> str:
    """When a run finished (or started), as its file recorded it."""
    run = doc.run if "run" in doc.model_fields_set else None
    return given(run, "finished") or given(run, "started") or ""


def _history_docs(run_dir: Path, main: Path) -> list[dict[str, Any]]:
    docs = []
    for p in sorted(run_dir.rglob("monitor.json"))[:MAX_SUBDIR_DOCS]:
        if p.resolve() == main.resolve():
            continue
        d = read_monitor(p)
        if d is not None:
            docs.append({"at": _when(d), "kind": "monitor", "status": d.status, "alerted": d.alerts,
                         "source": str(p.relative_to(run_dir))})
    return docs


def _store_history(model: str | None, store: Path | None, notes: list[str]) -> list[dict[str, Any]]:
    """The portfolio store's rows for ``model`` (the store's own row shape, not an artifact)."""
    if not model or store is None or not store.is_file():
        return []
    try:
        from tunegate.monitor.store import PortfolioStore

        st = PortfolioStore(store)
        try:
            rows = st.history(model, limit=MAX_HISTORY)
        finally:
            close = getattr(st, "close", None)
            if callable(close):
                close()
    except Exception as exc:  # noqa: BLE001 - the history is context; the report must still render
        notes.append(f"The portfolio history of {model} could not be read from {store}: {type(exc).__name__}: "
                     f"{str(exc)[:200]}")
        return []
    return [{**r, "source": f"portfolio store ({r.get('kind', 'run')})"} for r in rows if isinstance(r, dict)]


def history_section(doc: MonitorArtifact, run_dir: Path, main: Path, store: Path | None) -> list:
    out: list = [Heading(2, "History", anchor="history")]
    notes: list[str] = []
    rows = _store_history(doc.model or None, store, notes)
    rows += _history_docs(run_dir, main)
    rows.append({"at": _when(doc), "kind": "monitor (this run)", "status": doc.status, "alerted": doc.alerts,
                 "source": "monitor.json"})
    rows.sort(key=lambda r: str(r.get("at") or ""))
    rows = rows[-MAX_HISTORY:]
    table = [[str(r.get("at") or "–"), str(r.get("kind") or "–"), _badge(r.get("status")),
              ", ".join(str(a) for a in as_list(r.get("alerted"))) or "–",
              (f"{r.get('metric')} {fmt_num(r.get('value'))}" if r.get("value") is not None else "–"),
              str(r.get("source") or "")] for r in rows]
    n_alert = sum(1 for r in rows if r.get("status") == "alert")
    out.append(Para([f"{len(rows)} run(s) on record, {n_alert} with an alert."]))
    trend = [{"label": str(r.get("at") or "?")[:19], "value": num(r.get("value")), "low": num(r.get("ci_low")),
              "high": num(r.get("ci_high"))} for r in rows if num(r.get("value")) is not None]
    if len(trend) >= 2:
        svg = charts.interval_chart(trend[-30:], x_label="recorded metric", title="metric over time")
        if svg:
            out.append(Chart(svg, "Recorded evaluation metric per run, with 95% confidence intervals"))
    out.append(Table(["when", "kind", "status", "alerted tests", "metric", "source"], table))
    if len(rows) == 1:
        out.append(Para(["Only this run is on record. Earlier runs appear here when their monitor.json files are "
                         "in sub-directories of this directory, or when `tunegate monitor --model NAME` records "
                         "them in the portfolio store."], kind="note"))
    out += [Para([n], kind="note") for n in notes]
    return out


def inputs_section(doc: MonitorArtifact) -> list:
    out: list = [Heading(2, "Inputs and reproducibility", anchor="monitor-inputs")]
    reads = [r for r in doc.inputs if isinstance(r, dict)]  # the log readers' own summaries, a loose block
    if reads:
        keys = list(dict.fromkeys(k for r in reads for k in r))[:8]
        out.append(Table([humanize(k) for k in keys], [[fmt_value(r.get(k)) for k in keys] for r in reads],
                         caption="Files read"))
    run = doc.run.model_dump(mode="json", exclude_unset=True) if "run" in doc.model_fields_set else {}
    if run:
        out.append(Table(["field", "value"], [[humanize(k), fmt_value(v) if not isinstance(v, str) else v]
                                             for k, v in run.items() if k != "packages"], compact=True,
                         caption="Run"))
    if doc.seconds:
        out.append(Para(["Seconds (log reading, each test; embedding parts): " + ", ".join(f"{k} {fmt_num(v)}" for k, v in doc.seconds.items())],
                        kind="note"))
    return out


def unreadable_blocks(error: str) -> list:
    """The drift report of a monitor.json its model refused: why, and nothing measured."""
    return [Para(["Monitoring"], kind="eyebrow"),
            Heading(2, "Drift report: monitor.json could not be read", anchor="monitor"),
            Para([f"Not measured: {error}. Re-run ", Code("tunegate monitor"), " to rewrite it."], kind="missing")]


def monitor_blocks(doc: MonitorArtifact, run_dir: Path, main: Path, store: Path | None) -> list:
    """Every section of the drift report, in order."""
    return [*status_section(doc, run_dir), *changes_section(doc), *distributions_section(doc), *tests_section(doc),
            *history_section(doc, run_dir, main, store), *inputs_section(doc)]
