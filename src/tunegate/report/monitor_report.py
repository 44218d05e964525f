"""The drift report of a monitoring run: what changed (in words), the distributions before and after, the test
table, and the history of earlier runs — as document blocks rendered by ``render.py`` like the decision report.

monitor.json is read defensively (keys may be missing, renamed or added by newer versions): the status, the tests
and the two windows are the core; plain-language change messages, per-column before/after summaries and the
performance block are shown when present. History comes from ``monitor.json`` files in sub-directories of the run
directory and from the portfolio store when monitor.json names the model and the store file exists (opened only to
read the model's history; a store that cannot be read is a note, not a failure).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tunegate.report.charts as charts
from tunegate.report.doc import (
    Badge,
    Box,
    Bullets,
    Chart,
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
MESSAGE_KEYS = ("messages", "changes", "what_changed", "explanations")


def read_monitor(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) and (doc.get("artifact") == "monitor" or "tests" in doc) else None


def _badge(status: Any) -> Badge:
    text, kind = STATUS.get(str(status), (str(status or "unknown"), "neutral"))
    return Badge(text, kind)


def _tests(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in as_list(doc.get("tests")) if isinstance(t, dict)]


def _window_text(w: dict[str, Any]) -> str:
    bits = [str(w.get("source") or "window")]
    if num(w.get("n_rows")) is not None:
        bits.append(f"{fmt_num(w['n_rows'])} rows")
    if w.get("first_line") is not None and w.get("last_line") is not None:
        bits.append(f"lines {fmt_num(w['first_line'])}–{fmt_num(w['last_line'])}")
    if w.get("start") or w.get("end"):
        bits.append(f"{w.get('start') or '?'} → {w.get('end') or '?'}")
    versions = as_dict(w.get("model_versions"))
    if versions:
        bits.append("model versions " + ", ".join(f"{k} ({fmt_num(v)})" for k, v in list(versions.items())[:5]))
    return " · ".join(bits)


def _messages(doc: dict[str, Any]) -> list[str]:
    """Plain-language change descriptions, wherever a version of monitor.json puts them."""
    out: list[str] = []
    for key in MESSAGE_KEYS:
        for m in as_list(doc.get(key)):
            text = m if isinstance(m, str) else get(m, "message", "text", "summary") if isinstance(m, dict) else None
            if text:
                out.append(str(text))
    if isinstance(doc.get("summary"), str):
        out.insert(0, doc["summary"])
    for t in _tests(doc):
        if t.get("status") == "alert" and isinstance(t.get("message"), str):
            out.append(t["message"])
    return list(dict.fromkeys(out))


def status_section(doc: dict[str, Any], run_dir: Path) -> list:
    status = str(doc.get("status") or "unknown")
    alerts = [str(a) for a in as_list(doc.get("alerts"))]
    tests = _tests(doc)
    kind = {"alert": "bad", "ok": "good"}.get(status, "none")
    head = f"{'Drift alert' if status == 'alert' else 'No drift alert' if status == 'ok' else 'Monitoring run'}"
    who = " · ".join(str(x) for x in (doc.get("task"), doc.get("model")) if x)
    lead = (f"{len(alerts)} of {len(tests)} tests alerted: {', '.join(alerts)}." if alerts
            else f"None of the {len(tests)} tests alerted at the family-wise error rate "
                 f"{fmt_num(get(doc, 'multiple_testing', default={}).get('alpha'))}." if tests
            else "No test ran.")
    blocks: list = [Para(["Monitoring"], kind="eyebrow"), Heading(2, head + (f" — {who}" if who else ""),
                                                                  anchor="monitor"),
                    Para([_badge(status)], kind="badges"), Para([lead], kind="lead")]
    ref, cur = as_dict(doc.get("reference")), as_dict(doc.get("current"))
    blocks.append(Stats([("reference window (before)", fmt_num(ref.get("n_rows")) + " rows" if ref else "–",
                          _window_text(ref) if ref else ""),
                         ("current window (after)", fmt_num(cur.get("n_rows")) + " rows" if cur else "–",
                          _window_text(cur) if cur else "")]))
    mt = as_dict(doc.get("multiple_testing"))
    if mt.get("note"):
        blocks.append(Para([str(mt["note"])], kind="note"))
    return [Box(f"verdict-card v-{kind}", blocks)]


def changes_section(doc: dict[str, Any]) -> list:
    out: list = [Heading(2, "What changed", anchor="changes")]
    msgs = _messages(doc)
    alerted = [t for t in _tests(doc) if t.get("status") == "alert"]
    if msgs:
        out.append(Bullets([[m] for m in msgs]))
    if alerted:
        out.append(Table(["alerting test", "what it measured"],
                         [[str(t.get("name", "")), str(t.get("detail") or "")] for t in alerted],
                         caption="Alerts"))
    if not msgs and not alerted:
        out.append(Para(["Nothing alerted: the current window is consistent with the reference on every test "
                         "that ran."], kind="note"))
    perf = as_dict(doc.get("performance"))
    if perf:
        out += [Heading(3, "Performance"), Table(["measure", "value"], [[humanize(k), fmt_value(v)]
                                                                       for k, v in perf.items()], compact=True)]
    return out


def _share_rows(t: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for e in as_list(t.get("examples")):
        if isinstance(e, dict) and ("reference_share" in e or "current_share" in e):
            rows.append({"label": str(e.get("value", "")), "reference": num(e.get("reference_share")),
                         "current": num(e.get("current_share"))})
    for key in ("shares", "categories", "distribution"):
        for e in as_list(t.get(key)):
            if isinstance(e, dict):
                rows.append({"label": str(get(e, "value", "category", "label", default="")),
                             "reference": num(get(e, "reference_share", "reference", "before")),
                             "current": num(get(e, "current_share", "current", "after"))})
    return rows


def _summary_pairs(t: dict[str, Any]) -> tuple[dict, dict] | None:
    for a, b in (("reference_summary", "current_summary"), ("before", "after"), ("reference", "current")):
        if isinstance(t.get(a), dict) and isinstance(t.get(b), dict):
            return t[a], t[b]
    return None


def distributions_section(doc: dict[str, Any]) -> list:
    out: list = [Heading(2, "Distributions before and after", anchor="distributions"),
                 Para(["Reference window = before; current window = after. Categories are those whose share moved "
                       "most (largest PSI contributions); numeric columns show their summaries or the bins that "
                       "moved most."], kind="note")]
    shown = 0
    for t in _tests(doc):
        name = str(t.get("name", ""))
        rows = _share_rows(t)
        pair = _summary_pairs(t)
        bins = [e for e in as_list(t.get("examples")) if isinstance(e, dict) and "bin" in e]
        if not rows and not pair and not bins:
            continue
        shown += 1
        out += [Heading(3, name), Para([_badge(t.get("status")), " ", str(t.get("detail") or "")])]
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


def tests_section(doc: dict[str, Any]) -> list:
    out: list = [Heading(2, "Tests", anchor="tests")]
    rows = [[str(t.get("name", "")), str(t.get("kind") or "–"), _badge(t.get("status")),
             fmt_num(t.get("statistic")), fmt_num(t.get("p_value")), fmt_num(t.get("p_adjusted")),
             fmt_num(t.get("threshold")), f"{fmt_num(t.get('n_reference'))} / {fmt_num(t.get('n_current'))}",
             str(t.get("detail") or "")] for t in _tests(doc)]
    if rows:
        out.append(Table(["test", "kind", "status", "statistic", "p-value", "p (Holm)", "threshold",
                          "n before / after", "detail"], rows, numeric=(3, 4, 5, 6, 7)))
    else:
        out.append(Para(["monitor.json lists no tests."], kind="missing"))
    not_run = [r for r in as_list(doc.get("not_run")) if isinstance(r, dict)]
    if not_run:
        out.append(Table(["test", "why it did not run"], [[str(get(r, "name", "test", default="")),
                                                           str(get(r, "reason", "why", default=""))]
                                                          for r in not_run], caption="Not run"))
    return out


def _history_docs(run_dir: Path, main: Path) -> list[dict[str, Any]]:
    docs = []
    for p in sorted(run_dir.rglob("monitor.json"))[:MAX_SUBDIR_DOCS]:
        if p.resolve() == main.resolve():
            continue
        d = read_monitor(p)
        if d is not None:
            run = as_dict(d.get("run"))
            docs.append({"at": run.get("finished") or run.get("started") or "", "kind": "monitor",
                         "status": d.get("status"), "alerted": as_list(d.get("alerts")),
                         "source": str(p.relative_to(run_dir))})
    return docs


def _store_history(model: str | None, store: Path | None, notes: list[str]) -> list[dict[str, Any]]:
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


def history_section(doc: dict[str, Any], run_dir: Path, main: Path, store: Path | None) -> list:
    out: list = [Heading(2, "History", anchor="history")]
    notes: list[str] = []
    rows = _store_history(str(doc.get("model")) if doc.get("model") else None, store, notes)
    rows += _history_docs(run_dir, main)
    run = as_dict(doc.get("run"))
    rows.append({"at": run.get("finished") or run.get("started") or "", "kind": "monitor (this run)",
                 "status": doc.get("status"), "alerted": as_list(doc.get("alerts")), "source": "monitor.json"})
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


def inputs_section(doc: dict[str, Any]) -> list:
    out: list = [Heading(2, "Inputs and reproducibility", anchor="monitor-inputs")]
    reads = [r for r in as_list(doc.get("inputs")) if isinstance(r, dict)]
    if reads:
        keys = list(dict.fromkeys(k for r in reads for k in r))[:8]
        out.append(Table([humanize(k) for k in keys], [[fmt_value(r.get(k)) for k in keys] for r in reads],
                         caption="Files read"))
    run = as_dict(doc.get("run"))
    if run:
        out.append(Table(["field", "value"], [[humanize(k), fmt_value(v) if not isinstance(v, str) else v]
                                             for k, v in run.items() if k != "packages"], compact=True,
                         caption="Run"))
    secs = as_dict(doc.get("seconds"))
    if secs:
        out.append(Para(["Seconds per test: " + ", ".join(f"{k} {fmt_num(v)}" for k, v in secs.items())],
                        kind="note"))
    return out


def monitor_blocks(doc: dict[str, Any], run_dir: Path, main: Path, store: Path | None) -> list:
    """Every section of the drift report, in order."""
    return [*status_section(doc, run_dir), *changes_section(doc), *distributions_section(doc), *tests_section(doc),
            *history_section(doc, run_dir, main, store), *inputs_section(doc)]
