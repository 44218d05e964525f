"""``render_report(run_dir)``: the run's artifacts as one self-contained ``report.html`` and a ``report.md``.

The HTML is meant to be mailed to a product lead and opened anywhere, offline, years later: inline CSS, inline
SVG, no font or image fetched, and a Content-Security-Policy that forbids all of that anyway, so even a payload
that slipped past escaping could neither run nor phone home. The one script is the item viewer's filter code
(``viewer.SCRIPT``), allowed by its SHA-256 in the CSP and by nothing else. The Markdown carries the same content
for a pull request or a wiki (charts are replaced by a one-line note).

Missing artifacts are normal (stages run independently): each section says what is not measured yet and how to
measure it. A run directory with no artifact at all is an error (``ReportError``): an empty report would look
like a result. A monitoring run directory (``monitor.json``) gets the drift report (``monitor_report.py``):
``report.html`` when it holds no decision artifacts, else ``monitor-report.html`` beside the decision report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tunegate import __version__
from tunegate.artifacts import now_iso
from tunegate.errors import TunegateError
from tunegate.artifact_models import MonitorArtifact
from tunegate.report.collect import STAGES, RunArtifacts, collect, given
from tunegate.report.data_gate import data_section
from tunegate.report.doc import Heading, Para, esc, md_escape, to_html, to_markdown
from tunegate.report.economics import economics_section, reproducibility_section
from tunegate.report.monitor_report import NAV as MONITOR_NAV
from tunegate.report.monitor_report import load_monitor, monitor_blocks, unreadable_blocks
from tunegate.report.sections import criterion_section, prompting_section, verdict_card
from tunegate.report.viewer import SCRIPT, script_hash, viewer_section

CSP_BASE = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CSP = CSP_BASE + "; script-src " + script_hash()
NAV = (("verdict", "Verdict"), ("criterion", "1 · Criterion"), ("data", "2 · Data"), ("prompting", "3 · Prompting"),
       ("economics", "Economics"), ("reproducibility", "Reproducibility"), ("items", "Item viewer"))


class ReportError(TunegateError):
    """The run directory holds nothing to report on."""


class RunDirNotFoundError(ReportError, FileNotFoundError):
    """The run directory does not exist (a ``FileNotFoundError`` that the CLI's ``TunegateError`` handler catches)."""


def render_report(run_dir: str | Path, *, title: str | None = None,
                  store: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``run_dir``; returns their paths.

    A directory with ``monitor.json`` also (or, without decision artifacts, only) gets the drift report; ``store``
    is the portfolio store to read the monitored model's history from (default: ``$TUNEGATE_HOME``'s).
    Raises ``ReportError`` when ``run_dir`` does not exist (``RunDirNotFoundError``, also a ``FileNotFoundError``)
    or holds no tunegate artifact (neither a stage artifact, an ``eval.json`` nor a ``monitor.json``).
    """
    if not Path(run_dir).is_dir():
        raise RunDirNotFoundError(f"{run_dir}: run directory not found")
    arts = collect(run_dir)
    monitor_path = arts.run_dir / "monitor.json"
    has_monitor = monitor_path.is_file()
    monitor, monitor_error = load_monitor(monitor_path, "monitor.json") if has_monitor else (None, None)
    if has_monitor and arts.empty:
        return render_monitor_report(arts.run_dir, monitor, title=title, store=store, error=monitor_error)
    if arts.empty and not arts.unreadable:
        names = ", ".join(f"{n}.json" for n in STAGES)
        raise ReportError(f"{arts.run_dir}: no tunegate artifacts to report on (looked for {names}, "
                          "eval.json and monitor.json files): run `tunegate run CONFIG --out DIR` first")
    if has_monitor:
        render_monitor_report(arts.run_dir, monitor, title=None, store=store, stem="monitor-report",
                              error=monitor_error)
    title = title or _default_title(arts)
    blocks = []
    for section in SECTIONS:
        blocks += _guarded(section, arts)
    generated = now_iso()
    meta = f"Run directory: {arts.run_dir} · generated {generated} · tunegate {__version__}"
    html_path, md_path = arts.run_dir / "report.html", arts.run_dir / "report.md"
    _write(html_path, _page(title, meta, to_html(blocks), NAV))
    _write(md_path, f"# {md_escape(title)}\n\n*{md_escape(meta)}*\n\n{to_markdown(blocks)}\n")
    return html_path, md_path


def render_monitor_report(run_dir: Path, doc: MonitorArtifact | None, *, title: str | None = None,
                          store: str | Path | None = None, stem: str = "report",
                          error: str | None = None) -> tuple[Path, Path]:
    """The drift report of ``run_dir/monitor.json`` as ``{stem}.html`` and ``{stem}.md``; when its model refused
    the file (``doc`` None), a page that says why (``error``: file and key) and that nothing was measured."""
    if store is None:
        from tunegate.monitor.store import default_store_path

        store = default_store_path()
    who = " · ".join(str(x) for x in ((doc.task, doc.model) if doc is not None else ()) if x)
    title = title or ("tunegate drift report" + (f" — {who}" if who else ""))
    try:
        if doc is None:
            blocks = unreadable_blocks(error or "monitor.json could not be read")
        else:
            blocks = monitor_blocks(doc, run_dir, run_dir / "monitor.json", Path(store))
    except Exception as exc:  # noqa: BLE001 - a malformed monitor.json is shown, never a traceback
        blocks = [Heading(2, "Drift report (could not be rendered)", anchor="monitor"),
                  Para([f"monitor.json could not be rendered: {type(exc).__name__}: {exc}. Re-run "
                        "`tunegate monitor`, or report this as a tunegate bug."], kind="missing")]
    meta = f"Monitoring run: {run_dir} · generated {now_iso()} · tunegate {__version__}"
    html_path, md_path = run_dir / f"{stem}.html", run_dir / f"{stem}.md"
    _write(html_path, _page(title, meta, to_html(blocks), MONITOR_NAV, script=False))
    _write(md_path, f"# {md_escape(title)}\n\n*{md_escape(meta)}*\n\n{to_markdown(blocks)}\n")
    return html_path, md_path


SECTIONS = (verdict_card, criterion_section, data_section, prompting_section, economics_section,
            reproducibility_section, viewer_section)


def _guarded(section: Callable[[RunArtifacts], list], arts: RunArtifacts) -> list:
    """One section's blocks; an artifact malformed in a way no reader anticipated costs that section, not the report.

    The failure is shown in the report (with the exception), never hidden: it is a bug to report or an artifact to
    regenerate.
    """
    try:
        return section(arts)
    except Exception as exc:  # noqa: BLE001 - the report must still be written
        name = section.__name__.replace("_section", "").replace("_", " ")
        return [Heading(2, f"{name} (could not be rendered)"),
                Para([f"This section could not be rendered from the artifacts: {type(exc).__name__}: {exc}. ",
                      "Re-run the stage that writes it, or report this as a tunegate bug."], kind="missing")]


def _default_title(arts: RunArtifacts) -> str:
    tasks = [t for a in [*arts.data.values(), *(e for _, e in arts.evals)] if (t := given(a, "task"))]
    return f"tunegate report — {tasks[0]}" if tasks else "tunegate report"


def _write(path: Path, text: str) -> None:
    """Temp file then rename: a reader never sees half a report."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _page(title: str, meta: str, body: str, nav_items, *, script: bool = True) -> str:
    e = esc
    nav = "".join(f'<a href="#{a}">{e(label)}</a>' for a, label in nav_items)
    with_script = script and 'id="items-viewer"' in body
    csp = CSP if with_script else CSP_BASE
    js = f"<script>{SCRIPT}</script>" if with_script else ""
    foot = ("Self-contained: no fonts, images or other files are loaded; the one script (the item viewer's filters) "
            "runs only because the page's security policy names its hash." if with_script else
            "Self-contained: no scripts, fonts or images are loaded.")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{e(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main class="page">
<header class="top">
<div class="brand">tunegate · keep prompting or fine-tune?</div>
<h1>{e(title)}</h1>
<p class="meta">{e(meta)}</p>
<nav>{nav}</nav>
</header>
{body}
<footer>Generated by tunegate {e(__version__)}. {foot}</footer>
</main>
{js}
</body>
</html>
"""


CSS = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f3f4f6;--card:#fff;
--good:#047857;--good-bg:#d1fae5;--bad:#b91c1c;--bad-bg:#fee2e2;--warn:#92400e;--warn-bg:#fef3c7;
--info:#1d4ed8;--info-bg:#dbeafe;--purple:#6b21a8;--purple-bg:#f3e8ff;--neutral:#374151;--neutral-bg:#e5e7eb}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
.page{max-width:1120px;margin:24px auto;background:var(--card);padding:28px 40px 40px;border-radius:12px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
.top{border-bottom:1px solid var(--line);padding-bottom:12px;margin-bottom:20px}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);font-weight:600}
h1{font-size:28px;margin:4px 0 4px;line-height:1.2}
.meta{color:var(--muted);font-size:13px;margin:0 0 10px;word-break:break-all}
nav a{display:inline-block;margin:0 6px 6px 0;padding:3px 10px;border:1px solid var(--line);border-radius:999px;
color:var(--info);text-decoration:none;font-size:13px}
h2{font-size:22px;margin:40px 0 6px;padding-top:14px;border-top:2px solid var(--line)}
h3{font-size:17px;margin:26px 0 8px}
h4{font-size:15px;margin:20px 0 6px;color:#374151}
p{margin:8px 0}
p.note{color:var(--muted);font-size:13.5px}
p.missing{background:#f9fafb;border:1px dashed #cbd5e1;border-left:4px solid #94a3b8;padding:10px 14px;
border-radius:6px;color:#475569}
p.condition-line{background:#f8fafc;border:1px solid var(--line);padding:8px 12px;border-radius:6px}
p.eyebrow{margin:0;font-size:12px;letter-spacing:.1em;text-transform:uppercase;font-weight:700;color:var(--muted)}
p.lead{font-size:16.5px;margin:10px 0 14px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;background:#f3f4f6;
padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:650;line-height:1.6;
white-space:nowrap;vertical-align:baseline}
.b-good{background:var(--good-bg);color:var(--good)}.b-bad{background:var(--bad-bg);color:var(--bad)}
.b-warn{background:var(--warn-bg);color:var(--warn)}.b-neutral{background:var(--neutral-bg);color:var(--neutral)}
.b-info{background:var(--info-bg);color:var(--info)}.b-purple{background:var(--purple-bg);color:var(--purple)}
.b-outline{border:1px solid #94a3b8;color:#334155;background:#fff}
.b-declared{border:1px dashed #b45309;color:#92400e;background:#fffbeb}
.b-faint{border:1px dashed #cbd5e1;color:var(--muted);background:#fff}
.verdict-card{border:1px solid var(--line);border-left:10px solid #9ca3af;border-radius:10px;padding:18px 22px;
background:#fafafa;margin-bottom:8px}
.verdict-card h2{border:0;margin:2px 0 6px;padding:0;font-size:30px}
.v-good{border-left-color:var(--good);background:#f0fdf4}.v-bad{border-left-color:var(--bad);background:#fef2f2}
.v-warn{border-left-color:#d97706;background:#fffbeb}.v-info{border-left-color:var(--info);background:#eff6ff}
.v-purple{border-left-color:#7e22ce;background:#faf5ff}.v-none{border-left-color:#9ca3af}
.conditions{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:14px;margin:14px 0 6px}
.condition{background:#fff;border:1px solid var(--line);border-top:5px solid #9ca3af;border-radius:8px;
padding:10px 14px}
.condition.wide{grid-column:1/-1}
.condition h3{margin:2px 0 6px;font-size:16px}
.c-good{border-top-color:var(--good)}.c-bad{border-top-color:var(--bad)}
.condition p.cond-summary{font-size:14px}
.condition table{font-size:12.5px}
.condition .table-wrap{margin:6px 0 2px}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px;margin:12px 0}
.stat{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fcfcfd}
.stat-label{font-size:12.5px;color:var(--muted);font-weight:600}
.stat-value{font-size:20px;font-weight:700;font-variant-numeric:tabular-nums;margin:2px 0}
.stat-sub{font-size:12.5px;color:var(--muted)}
.stat-value small.sub{display:block;font-size:13px;font-weight:600;color:#4b5563}
.table-wrap{overflow-x:auto;margin:10px 0 14px}
table{border-collapse:collapse;width:100%;font-size:13.5px}
table.compact{width:auto;min-width:50%}
caption{text-align:left;font-weight:650;padding:4px 0 6px;color:#374151}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:650;font-size:12.5px;color:#374151;border-bottom:2px solid #d1d5db}
tbody tr:nth-child(even){background:#fafafa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td,th{overflow-wrap:break-word}
[hidden]{display:none!important}
figure.chart{margin:14px 0 18px;padding:10px;border:1px solid var(--line);border-radius:8px;background:#fff}
figure.chart svg{display:block;margin:0 auto;width:100%;max-width:940px;height:auto}
figcaption{font-size:12.5px;color:var(--muted);margin-top:6px;text-align:center}
ol,ul{margin:6px 0 10px;padding-left:24px}li{margin:3px 0}
footer{margin-top:36px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:12.5px}
.viewer-controls{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:flex-end;margin:10px 0;padding:10px 12px;
background:#f8fafc;border:1px solid var(--line);border-radius:8px}
.viewer-controls label{display:flex;flex-direction:column;font-size:12.5px;font-weight:600;color:#374151;min-width:0;
max-width:100%}
.viewer-controls select,.viewer-controls input{font:inherit;font-weight:400;font-size:13px;max-width:100%;
min-width:0;padding:3px 6px;border:1px solid #cbd5e1;border-radius:6px;background:#fff}
.viewer-controls p{flex-basis:100%;margin:2px 0 0}
ul.legend{font-size:13px;margin:6px 0 10px}
table.items{font-size:13px}
table.items td{overflow-wrap:anywhere}table.items td.input{white-space:pre-wrap;min-width:14em}
table.items td.ans{min-width:9em}
.ans .out{white-space:pre-wrap;color:#374151;font-size:12.5px;margin-top:3px;max-height:14em;overflow-y:auto}
.ans .scores{font-size:11.5px;color:var(--muted);margin-top:3px}
.ans .err{font-size:12px;color:var(--bad);margin-top:3px}
td.ans.bad{background:#fff7f7}td.ans.none{color:var(--muted);font-size:12px}
.iid code{display:inline-block}.slice{display:inline-block;font-size:11px;background:#eef2ff;color:#3730a3;
border-radius:4px;padding:0 5px;margin:2px 4px 0 0}
@media (max-width:1100px){table.items,table.items tbody,table.items tr,table.items td{display:block;width:auto}
table.items thead{display:none}table.items tr{border:1px solid var(--line);border-radius:8px;margin:0 0 10px;
padding:4px 8px;background:#fff!important;display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));
column-gap:14px}table.items tr[hidden]{display:none!important}table.items td.iid,table.items td.input{grid-column:1/-1}table.items td{border:0;border-bottom:1px dashed var(--line);padding:5px 2px;
min-width:0!important}
table.items td::before{content:attr(data-label);display:block;font-size:11.5px;font-weight:650;color:var(--muted)}}
@media (max-width:760px){.page{padding:16px;margin:0;border-radius:0}.conditions{grid-template-columns:1fr}
h1{font-size:23px}.verdict-card{padding:14px}.verdict-card h2{font-size:24px}
.table-wrap table,.table-wrap tbody,.table-wrap tr,.table-wrap td,.table-wrap caption{display:block;width:auto}
.table-wrap thead{display:none}.table-wrap tr{border-bottom:2px solid #d1d5db;padding:4px 0}
.table-wrap td{border:0;padding:3px 4px;text-align:left!important}
.table-wrap td::before{content:attr(data-label);display:block;font-size:11.5px;font-weight:650;color:var(--muted)}
.stats{grid-template-columns:1fr}}
@media print{body{background:#fff;font-size:12px}.page{box-shadow:none;margin:0;max-width:none;padding:0}
nav{display:none}.condition,figure.chart,.stat,tr{break-inside:avoid}h2,h3,h4{break-after:avoid}
.table-wrap{overflow:visible}.verdict-card{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
