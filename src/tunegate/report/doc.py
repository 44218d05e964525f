"""A tiny document model rendered twice: to HTML and to GitHub-flavoured Markdown.

Sections build a list of blocks once; ``to_html`` and ``to_markdown`` render the same content, so the two
reports cannot drift apart. Every string that reaches either renderer is escaped there (``html.escape`` for HTML;
entities and backslashes for Markdown), so a section never has to remember to escape dataset text itself. The only
pre-rendered markup is ``Chart.svg``, which comes from ``charts.py`` where every text is escaped.

Number formatting lives here too, because a point estimate must never travel without its interval: ``fmt_ci``
is the one place that decides how "value (95% CI low–high)" reads.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any

from tunegate.report.textsafe import show_controls


# ---------------------------------------------------------------- inline pieces and blocks
@dataclass
class Badge:
    """A status pill: ``kind`` picks the colour (good, bad, warn, neutral, info, outline), ``text`` is shown."""

    text: str
    kind: str = "neutral"


@dataclass
class Code:
    text: str


@dataclass
class Strong:
    text: str


@dataclass
class Small:
    """Secondary text next to a headline number (an interval under a big point estimate)."""

    text: str


Inline = str | Badge | Code | Strong | Small
Cell = Inline | list  # or a list of Inline pieces


@dataclass
class Heading:
    level: int
    text: str
    anchor: str | None = None


@dataclass
class Para:
    parts: list
    kind: str = ""  # "", "note" (muted) or "missing" (a "not measured yet" callout)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    caption: str | None = None
    compact: bool = False  # as wide as its content (key-value lists), not the full page


@dataclass
class Chart:
    svg: str
    alt: str


@dataclass
class Html:
    """Pre-rendered HTML (the item viewer) with the blocks that stand for it in Markdown.

    Only code in this package builds one, escaping every text with ``esc``; nothing from an artifact is ever put
    here unescaped.
    """

    html: str
    markdown: list = field(default_factory=list)


@dataclass
class Bullets:
    items: list[list[Any]]
    ordered: bool = False


@dataclass
class Stats:
    """Headline numbers as tiles: (label, value, sub-line)."""

    items: list[tuple[str, Any, Any]]


@dataclass
class Box:
    """A styled container (card, grid); Markdown renders only its children."""

    cls: str
    children: list = field(default_factory=list)


# ---------------------------------------------------------------- defensive number formatting
def num(x: Any) -> float | None:
    """A finite float, or None for anything else (bools, strings, NaN, null): artifacts are read defensively."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def fmt_num(x: Any, digits: int | None = None) -> str:
    """Readable number: 3 decimals below 1, 2 below 100, grouped integers above; non-numbers as text."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    v = num(x)
    if v is None:
        return str(x)
    if digits is not None:
        return f"{v:,.{digits}f}"
    if isinstance(x, int) or (v.is_integer() and abs(v) >= 1):
        return f"{round(v):,}"
    a = abs(v)
    if a == 0:
        return "0"
    if a < 0.001:
        return f"{v:.1e}"
    if a < 1:
        return f"{v:.3f}"
    if a < 100:
        return f"{v:.2f}"
    return f"{v:,.0f}"


def fmt_pct(x: Any) -> str:
    v = num(x)
    if v is None:
        return "–"
    if 0 < v < 0.001:
        return "<0.1%"
    if 0.999 < v < 1:
        return ">99.9%"
    return f"{100 * v:.1f}%"


def shared_fmt(*xs: Any):
    """One precision for a value and its bounds, so ``1.000 (0.340–1.000)`` never reads ``1 (0.34–1)``."""
    vals = [abs(v) for v in map(num, xs) if v is not None]
    if not vals or max(vals) >= 100:
        return fmt_num
    digits = 3 if max(vals) <= 1 else 2
    return lambda x: fmt_num(x, digits) if num(x) is not None else fmt_num(x)


def ci_text(lo: Any, hi: Any, level: Any = 0.95, *, fmt=None) -> str:
    """``95% CI lo–hi`` (empty when either bound is missing)."""
    if num(lo) is None or num(hi) is None:
        return ""
    fmt = fmt or shared_fmt(lo, hi)
    lv = num(level)
    pct = f"{100 * lv:g}% CI " if lv is not None and 0 < lv < 1 else "CI "
    return f"{pct}{fmt(lo)}–{fmt(hi)}"


def fmt_ci(value: Any, lo: Any = None, hi: Any = None, *, fmt=None, level: Any = 0.95) -> str:
    """``value (95% CI lo–hi)``; the interval is dropped only when it does not exist."""
    if num(value) is None and value is not None:
        return str(value)
    fmt = fmt or shared_fmt(value, lo, hi)
    ci = ci_text(lo, hi, level, fmt=fmt)
    return fmt(value) + (f" ({ci})" if ci else "")


def ci_parts(value: Any, lo: Any = None, hi: Any = None, *, level: Any = 0.95) -> list:
    """A headline value with its interval as secondary text (for stat tiles)."""
    fmt = shared_fmt(value, lo, hi)
    ci = ci_text(lo, hi, level, fmt=fmt)
    return [fmt(value)] + ([Small(ci)] if ci else [])


def fmt_count(x: Any) -> str:
    """Large counts in 3 significant figures (``15.7M``): a break-even volume is not known to the unit."""
    v = num(x)
    if v is None:
        return fmt_num(x)
    a = abs(v)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e4, "k")):
        if a >= div:
            return f"{v / div:.3g}{suf}"
    return f"{round(v):,}"


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "$": "$", "€": "€", "£": "£"}


def money_formatter(currency: Any):
    """A function that writes amounts compactly (``$12.3k``, ``€1.20M``) in the artifact's currency label."""
    cur = str(currency) if currency else "$"
    sym = _SYMBOLS.get(cur.upper(), _SYMBOLS.get(cur))
    prefix = sym if sym else cur + " "

    def fmt(x: Any) -> str:
        v = num(x)
        if v is None:
            return "–" if x is None else str(x)
        sign = "−" if v < 0 else ""
        a = abs(v)
        if a >= 1e9:
            body = f"{a / 1e9:.3g}B"
        elif a >= 1e6:
            body = f"{a / 1e6:.3g}M"
        elif a >= 1e4:
            body = f"{a / 1e3:.3g}k"
        elif a >= 100:
            body = f"{a:,.0f}"
        else:
            body = f"{a:.2f}"
        return f"{sign}{prefix}{body}"

    return fmt


# Artifact keys that people meet in the report, in words (anything else: underscores become spaces).
WORDS = {
    "p_finetune_cheaper": "P(fine-tuning is cheaper)",
    "expected_net_value": "expected net value of fine-tuning",
    "expected_net_value_mean": "expected net value of fine-tuning (mean)",
    "breakeven_monthly_volume": "break-even monthly volume",
    "horizon_months": "horizon (months)",
    "tco_prompting_median": "total cost of prompting (median)",
    "tco_fine_tuning_median": "total cost of fine-tuning (median)",
    "labels_needed": "labels needed to reach the target (learning curve)",
    "diff_vs_prompt": "difference from the best prompt",
    "overhead_per_model_month": "overhead per model-month",
    "value_per_point_per_month": "value of one metric point per month",
    "gain_points": "quality gain (metric points)",
    "finetuned_multiplier": "fine-tuned price multiplier",
    "auc": "ROC AUC",
    "n_items": "items",
    "n": "items",
}


def humanize(key: Any) -> str:
    """An artifact key in words: ``p_finetune_cheaper`` → "P(fine-tuning is cheaper)", ``portfolio.overhead_per_
    model_month`` → "portfolio: overhead per model-month"; a ``key (suffix)`` label keeps its suffix."""
    k = str(key)
    if k in WORDS:
        return WORDS[k]
    base, sep, rest = k.partition(" (")
    if sep and base in WORDS:
        return f"{WORDS[base]} ({rest}"
    if "." in k and " " not in k:
        head, _, tail = k.partition(".")
        return f"{head.replace('_', ' ')}: {humanize(tail)}"
    return k.replace("_", " ")


def get(d: Any, *keys: str, default: Any = None) -> Any:
    """``d[k]`` for the first key present (aliases), tolerating a non-dict ``d``."""
    if not isinstance(d, dict):
        return default
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def as_list(x: Any) -> list:
    return x if isinstance(x, list) else []


def as_dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


# ---------------------------------------------------------------- HTML
def esc(s: Any) -> str:
    """HTML-escaped text with bidi / zero-width controls made visible (``textsafe``): the one HTML text escape."""
    return html.escape(show_controls(str(s)), quote=True)


_h = esc
_LONG = re.compile(r"(\S{30,})")
_AFTER_PUNCT = re.compile(r"(?<=[/_\-.:,;=&?|])")


def esc_text(s: Any) -> str:
    """``esc`` for text content, with line-break opportunities (``<wbr>``) inside long unbroken tokens (paths,
    ids, hashes): a table column can then narrow to its words instead of pushing the page wider, and ordinary
    words are never broken mid-word."""
    text = show_controls(str(s))
    parts = _LONG.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(html.escape(part, quote=True))
            continue
        chunks = [c[k:k + 16] for c in _AFTER_PUNCT.split(part) if c for k in range(0, len(c), 16)]
        out.append("<wbr>".join(html.escape(c, quote=True) for c in chunks))
    return "".join(out)


def _inline_html(p: Any) -> str:
    if isinstance(p, Badge):
        return f'<span class="badge b-{_h(p.kind)}">{_h(p.text)}</span>'
    if isinstance(p, Code):
        return f"<code>{esc_text(p.text)}</code>"
    if isinstance(p, Strong):
        return f"<strong>{esc_text(p.text)}</strong>"
    if isinstance(p, Small):
        return f'<small class="sub">{esc_text(p.text)}</small>'
    if isinstance(p, list):
        return "".join(_inline_html(q) for q in p)
    return esc_text("" if p is None else p)


def to_html(blocks: list) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = f' id="{_h(b.anchor)}"' if b.anchor else ""
            out.append(f"<h{b.level}{anchor}>{esc_text(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = f' class="{_h(b.kind)}"' if b.kind else ""
            out.append(f"<p{cls}>{_inline_html(b.parts)}</p>")
        elif isinstance(b, Table):
            out.append(_table_html(b))
        elif isinstance(b, Html):
            out.append(b.html)
        elif isinstance(b, Chart):
            out.append(f'<figure class="chart">{b.svg}<figcaption>{_h(b.alt)}</figcaption></figure>')
        elif isinstance(b, Bullets):
            tag = "ol" if b.ordered else "ul"
            items = "".join(f"<li>{_inline_html(i)}</li>" for i in b.items)
            out.append(f"<{tag}>{items}</{tag}>")
        elif isinstance(b, Stats):
            tiles = "".join(
                f'<div class="stat"><div class="stat-label">{_h(lab)}</div>'
                f'<div class="stat-value">{_inline_html(val)}</div>'
                + (f'<div class="stat-sub">{_inline_html(sub)}</div>' if sub else "") + "</div>"
                for lab, val, sub in b.items)
            out.append(f'<div class="stats">{tiles}</div>')
        elif isinstance(b, Box):
            out.append(f'<div class="{_h(b.cls)}">{to_html(b.children)}</div>')
    return "\n".join(out)


def _table_html(t: Table) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if i in t.numeric else ""

    head = "".join(f"<th{cls(i)}>{esc_text(h)}</th>" for i, h in enumerate(t.headers))
    labels = [f' data-label="{_h(h)}"' for h in t.headers]  # shown beside each cell when a narrow screen stacks rows
    body = "".join("<tr>" + "".join(f"<td{cls(i)}{labels[i] if i < len(labels) else ''}>{_inline_html(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in t.rows)
    cap = f"<caption>{_h(t.caption)}</caption>" if t.caption else ""
    kind = ' class="compact"' if t.compact else ""
    return f'<div class="table-wrap"><table{kind}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


# ---------------------------------------------------------------- Markdown
_MD_SPECIAL = re.compile(r"([\\`*\[\]])")


def md_escape(s: Any, *, cell: bool = False) -> str:
    """Inert Markdown text: HTML-significant characters as entities, emphasis/link syntax backslashed.

    In table cells pipes are escaped and newlines folded, so a label like ``a|b`` cannot split a row.
    """
    text = show_controls(str("" if s is None else s))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    if cell:
        text = text.replace("|", "\\|")
        text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    return text


def _inline_md(p: Any, cell: bool = False) -> str:
    if isinstance(p, Badge):
        if p.kind in ("outline", "declared", "faint"):  # secondary tags (measured / declared) read as asides
            return f"*({md_escape(p.text, cell=cell)})*"
        return f"**{md_escape(p.text, cell=cell)}**"
    if isinstance(p, Code):
        if re.search(r"[<>&|`\r\n]", p.text):  # code spans cannot be escaped: fall back to plain text
            return md_escape(p.text, cell=cell)
        return f"`{show_controls(p.text)}`"
    if isinstance(p, Strong):
        return f"**{md_escape(p.text, cell=cell)}**"
    if isinstance(p, Small):
        return f" ({md_escape(p.text, cell=cell)})"
    if isinstance(p, list):
        return "".join(_inline_md(q, cell) for q in p)
    return md_escape(p, cell=cell)


def to_markdown(blocks: list) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {md_escape(b.text)}")
        elif isinstance(b, Para):
            if b.kind == "eyebrow":  # a visual label above the verdict; the heading says it in Markdown
                continue
            text = _inline_md(b.parts)
            out.append(f"> {text}" if b.kind in ("note", "missing") else text)
        elif isinstance(b, Table):
            row = lambda cells: "| " + " | ".join(_inline_md(c, cell=True) or " " for c in cells) + " |"
            sep = "|" + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.headers))) + "|"
            cap = [f"*{md_escape(b.caption)}*", ""] if b.caption else []
            out.append("\n".join([*cap, row(b.headers), sep, *(row(r) for r in b.rows)]))
        elif isinstance(b, Html):
            inner = to_markdown(b.markdown)
            if inner:
                out.append(inner)
        elif isinstance(b, Chart):
            out.append(f"*Chart in report.html: {md_escape(b.alt)}*")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"{f'{i + 1}.' if b.ordered else '-'} {_inline_md(item)}"
                                 for i, item in enumerate(b.items)))
        elif isinstance(b, Stats):
            out.append("\n".join(f"- **{md_escape(lab)}:** {_inline_md(val)}"
                                 + (f" — {_inline_md(sub)}" if sub else "") for lab, val, sub in b.items))
        elif isinstance(b, Box):
            inner = to_markdown(b.children)
            if inner:
                out.append(inner)
    return "\n\n".join(o for o in out if o)
