"""Inline SVG charts: pure functions from numbers to an ``<svg>`` string (no script, no external resource).

Why SVG strings: the report must be one self-contained file that opens offline, prints, and runs no code; SVG is
vector (sharp in print) and needs no library. Every text that reaches a chart is escaped here with
``html.escape``, so labels from datasets or model names are inert. Colours are the Okabe–Ito palette (safe for
the common colour-vision deficiencies), and colour is never the only carrier of meaning: lines are also dashed or
labelled.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

from tunegate.report.textsafe import show_controls

# Okabe & Ito (2008), "Color Universal Design".
BLUE, ORANGE, SKY, GREEN, VERMILLION, PURPLE = "#0072B2", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7"
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
FONT = "system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
CHAR_W = 7.0  # average glyph width at 12px (generous: DejaVu Sans is wide), for layout estimates

Fmt = Callable[[float], str]


def _e(s: Any) -> str:
    return html.escape(show_controls(str(s)), quote=True)


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _default_fmt(x: float) -> str:
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10 or x == int(x):
        return f"{x:.4g}"
    return f"{x:.3g}"


def _finite(*xs: Any) -> bool:
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in xs)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2, 2.5 or 5 × 10^k steps) covering [lo, hi]."""
    if not _finite(lo, hi):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks for a log axis between lo and hi (both > 0)."""
    out = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** k
            if lo <= v <= hi:
                out.append(float(v))
    return out if len(out) >= 2 else [lo, hi]


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}" role="img" '
            f'aria-label="{_e(label)}" font-family="{_e(FONT)}" font-size="12" fill="{INK}" '
            f'style="max-width:100%;height:auto"><title>{_e(label)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, s: Any, *, anchor: str = "start", size: int = 12, fill: str = INK,
          weight: str = "normal", extra: str = "") -> str:
    w = f' font-weight="{weight}"' if weight != "normal" else ""
    return (f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}" fill="{fill}"{w}{extra}>'
            f"{_e(s)}</text>")


def _line(x1: float, y1: float, x2: float, y2: float, color: str = INK, width: float = 1, dash: str = "") -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{color}" '
            f'stroke-width="{_f(width)}"{d}/>')


def _fit_label(s: str, max_px: float) -> str:
    s = show_controls(s)  # made visible first: "⟨U+202E⟩" takes room too
    n = max(int(max_px / CHAR_W), 4)
    return s if len(s) <= n else s[: n - 1] + "…"


def _x_axis(body: list[str], ticks: list[float], sx, top: float, bottom: float, fmt: Fmt, label: str,
            width_px: float) -> None:
    for t in ticks:
        x = sx(t)
        body.append(_line(x, top, x, bottom, GRID))
        body.append(_text(x, bottom + 15, fmt(t), anchor="middle", fill=MUTED, size=11))
    body.append(_text(width_px, bottom + 34, label, anchor="middle", fill=MUTED))


def interval_chart(rows: Sequence[dict[str, Any]], *, x_label: str, target: float | None = None,
                   target_label: str = "target", domain: tuple[float, float] | None = None,
                   fmt: Fmt = _default_fmt, value_fmt: Fmt | None = None, title: str = "",
                   width: int = 940) -> str:
    """One row per entry: point estimate with its CI bar; an optional dashed vertical target line.

    ``rows``: ``{"label", "value", "low", "high", "highlight": bool}``; a row without a value is listed as
    "not scored" rather than dropped, so the chart never hides a candidate. ``fmt`` writes the ticks,
    ``value_fmt`` the numbers beside each row (default: 3 decimals for values in [0, 1], else ``fmt``).
    """
    rows = list(rows)
    vals = [v for r in rows for v in (r.get("value"), r.get("low"), r.get("high")) if _finite(v)]
    if _finite(target):
        vals.append(target)
    if not rows or not vals:
        return ""
    if value_fmt is None:
        value_fmt = (lambda x: f"{x:.3f}") if min(vals) >= 0 and max(vals) <= 1 else fmt
    if domain is None:
        lo, hi = min(vals), max(vals)
        pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 0.05)
        lo, hi = lo - pad, hi + pad
        if min(vals) >= 0 and max(vals) <= 1:
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        ticks = nice_ticks(lo, hi)
        lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    else:
        lo, hi = domain
        ticks = nice_ticks(lo, hi)
    ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
    labels = [str(r.get("label", "")) for r in rows]
    left = min(max(max(len(s) for s in labels) * CHAR_W * 1.08 + 16, 90), 340)
    right = 190
    row_h, top = 28, 30 if _finite(target) else 14
    height = top + row_h * len(rows) + 46
    x0, x1 = left, width - right
    sx = lambda v: x0 + (v - lo) / (hi - lo) * (x1 - x0)
    bottom = top + row_h * len(rows)
    body: list[str] = []
    _x_axis(body, ticks, sx, top, bottom, fmt, x_label, (x0 + x1) / 2)
    for i, r in enumerate(rows):
        y = top + row_h * (i + 0.5)
        hl = bool(r.get("highlight"))
        color = VERMILLION if hl else BLUE
        if i % 2 == 0:
            body.append(f'<rect x="0" y="{_f(y - row_h / 2)}" width="{width}" height="{row_h}" fill="#f8fafc"/>')
        body.append(f"<g><title>{_e(labels[i])}</title>"
                    + _text(left - 10, y + 4, _fit_label(labels[i], left - 14), anchor="end",
                            weight="600" if hl else "normal") + "</g>")
        v, a, b = r.get("value"), r.get("low"), r.get("high")
        if _finite(a, b):
            xa, xb = sx(max(min(a, hi), lo)), sx(max(min(b, hi), lo))
            body.append(_line(xa, y, xb, y, color, 3))
            body.append(_line(xa, y - 6, xa, y + 6, color, 1.5) + _line(xb, y - 6, xb, y + 6, color, 1.5))
        if _finite(v):
            body.append(f'<circle cx="{_f(sx(max(min(v, hi), lo)))}" cy="{_f(y)}" r="5.5" fill="{color}" '
                        f'stroke="#fff" stroke-width="1.5"/>')
            txt = value_fmt(v) + (f"  [{value_fmt(a)}, {value_fmt(b)}]" if _finite(a, b) else "")
        else:
            txt = "not scored"
        body.append(_text(x1 + 12, y + 4, txt, fill=INK if _finite(v) else MUTED, size=11.5))
    if _finite(target) and lo <= target <= hi:
        xt = sx(target)
        body.append(_line(xt, top - 6, xt, bottom, VERMILLION, 2, "6 4"))
        body.append(_text(xt, top - 12, f"{target_label} {fmt(target)}", anchor="middle", fill=VERMILLION,
                          weight="600"))
    return _svg(width, height, body, title or f"{x_label}: point estimates with confidence intervals")


def _step_path(edges: Sequence[float], heights: Sequence[float], sx, sy) -> str:
    pts = [(sx(edges[0]), sy(0))]
    for i, h in enumerate(heights):
        pts += [(sx(edges[i]), sy(h)), (sx(edges[i + 1]), sy(h))]
    pts.append((sx(edges[-1]), sy(0)))
    return "M" + " L".join(f"{_f(x)},{_f(y)}" for x, y in pts) + " Z"


def histogram_chart(series: Sequence[dict[str, Any]], *, x_label: str, fmt: Fmt = _default_fmt, title: str = "",
                    width: int = 940, height: int = 330) -> str:
    """Overlaid distributions (share of draws per bin) with p05 / median / p95 marked for each series.

    ``series``: ``{"name", "edges", "counts", "color", "p05", "median", "p95"}``. Above the plot each series gets
    a range strip (5th–95th percentile bar, median dot, values written out) so the spread reads without the bars.
    """
    good = [s for s in series if len(s.get("edges") or []) == len(s.get("counts") or []) + 1 and s.get("counts")
            and _finite(*s["edges"], *s["counts"]) and sum(s["counts"]) > 0]
    if not good:
        return ""
    lo = min(s["edges"][0] for s in good)
    hi = max(s["edges"][-1] for s in good)
    for s in good:
        for k in ("p05", "median", "p95"):
            if _finite(s.get(k)):
                lo, hi = min(lo, s[k]), max(hi, s[k])
    if hi <= lo:
        hi = lo + 1
    shares = [[c / sum(s["counts"]) for c in s["counts"]] for s in good]
    ymax = max(max(sh) for sh in shares) * 1.1
    strip_h = 24 * len(good) + 8
    left, right, top, bottom = 64, 24, 16 + strip_h, height - 64
    x0, x1 = left, width - right
    sx = lambda v: x0 + (v - lo) / (hi - lo) * (x1 - x0)
    sy = lambda v: bottom - v / ymax * (bottom - top)
    body: list[str] = []
    _x_axis(body, [t for t in nice_ticks(lo, hi, 6) if lo <= t <= hi], sx, top, bottom, fmt, x_label,
            (x0 + x1) / 2)
    for t in nice_ticks(0, ymax, 4):
        if t <= ymax:
            body.append(_line(x0, sy(t), x1, sy(t), GRID))
            body.append(_text(x0 - 6, sy(t) + 4, f"{100 * t:.0f}%", anchor="end", fill=MUTED, size=11))
    body.append(f'<text transform="translate(14,{_f((top + bottom) / 2)}) rotate(-90)" text-anchor="middle" '
                f'fill="{MUTED}">share of draws</text>')
    for s, sh in zip(good, shares):
        c = s.get("color", BLUE)
        body.append(f'<path d="{_step_path(s["edges"], sh, sx, sy)}" fill="{c}" fill-opacity="0.28" stroke="{c}" '
                    f'stroke-width="1.5"/>')
    for i, s in enumerate(good):
        c = s.get("color", BLUE)
        if _finite(s.get("median")):
            body.append(_line(sx(s["median"]), top, sx(s["median"]), bottom, c, 2))
        for k in ("p05", "p95"):
            if _finite(s.get(k)):
                body.append(_line(sx(s[k]), top, sx(s[k]), bottom, c, 1.2, "4 3"))
        y = 16 + 24 * i + 8
        if _finite(s.get("p05"), s.get("p95")):
            a, b = sx(s["p05"]), sx(s["p95"])
            body.append(_line(a, y, b, y, c, 3) + _line(a, y - 5, a, y + 5, c, 1.5) + _line(b, y - 5, b, y + 5, c, 1.5))
        if _finite(s.get("median")):
            m = sx(s["median"])
            body.append(f'<circle cx="{_f(m)}" cy="{_f(y)}" r="5" fill="{c}" stroke="#fff" stroke-width="1.5"/>')
        desc = f'{s.get("name", "")}: median {fmt(s["median"]) if _finite(s.get("median")) else "–"}'
        if _finite(s.get("p05"), s.get("p95")):
            desc += f' (5–95%: {fmt(s["p05"])} – {fmt(s["p95"])})'
        ends = [sx(s[k]) for k in ("p05", "median", "p95") if _finite(s.get(k))] or [x0]
        room_right = x1 - max(ends)
        if room_right > len(desc) * CHAR_W + 10:
            body.append(_text(max(ends) + 10, y + 4, desc, fill=c if c != ORANGE else "#9a6700", weight="600"))
        else:
            body.append(_text(min(ends) - 10, y + 4, desc, anchor="end", fill=c if c != ORANGE else "#9a6700",
                              weight="600"))
    body.append(_text(x1, height - 4, "solid line: median · dashed: 5th and 95th percentile", anchor="end",
                      fill=MUTED, size=11))
    return _svg(width, height, body, title or f"distributions of {x_label}")


def tornado_chart(rows: Sequence[dict[str, Any]], *, base: float | None, x_label: str, fmt: Fmt = _default_fmt,
                  low_label: str = "input at 10th percentile", high_label: str = "input at 90th percentile",
                  zero_label: str = "break-even", title: str = "", width: int = 940, max_rows: int = 12) -> str:
    """Sensitivity ranking: for each input, bars from the base outcome to the outcome at its low and high end.

    ``rows``: ``{"label", "at_low", "at_high", "range"}`` sorted by swing. The zero line is drawn (dashed) when
    it is in range, because crossing it is what flips the decision.
    """
    rows = [r for r in rows if _finite(r.get("at_low"), r.get("at_high"))][:max_rows]
    if not rows:
        return ""
    vals = [v for r in rows for v in (r["at_low"], r["at_high"])]
    if _finite(base):
        vals.append(base)
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.06 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    ticks = nice_ticks(lo, hi, 6)
    labels = [str(r.get("label", "")) for r in rows]
    left = min(max(max(len(s) for s in labels) * CHAR_W + 16, 110), 320)
    right = 150
    row_h, top = 28, 40
    bottom = top + row_h * len(rows)
    height = bottom + 68
    x0, x1 = left, width - right
    sx = lambda v: x0 + (v - lo) / (hi - lo) * (x1 - x0)
    body: list[str] = []
    _x_axis(body, [t for t in ticks if lo <= t <= hi], sx, top, bottom, fmt, x_label, (x0 + x1) / 2)
    ref = base if _finite(base) else (lo + hi) / 2
    for i, r in enumerate(rows):
        y = top + row_h * i + 5
        h = row_h - 10
        body.append(f"<g><title>{_e(labels[i])}</title>"
                    + _text(left - 10, y + h / 2 + 4, _fit_label(labels[i], left - 14), anchor="end") + "</g>")
        for v, c in ((r["at_low"], SKY), (r["at_high"], ORANGE)):
            a, b = sorted((sx(ref), sx(v)))
            body.append(f'<rect x="{_f(a)}" y="{_f(y)}" width="{_f(max(b - a, 1))}" height="{_f(h)}" fill="{c}"/>')
        if r.get("range"):
            body.append(_text(x1 + 10, y + h / 2 + 4, r["range"], fill=MUTED, size=11))
    if _finite(base):
        body.append(_line(sx(base), top - 6, sx(base), bottom, INK, 1.5))
        body.append(_text(sx(base), top - 10, f"expected {fmt(base)}", anchor="middle", size=11))
    if lo < 0 < hi:
        body.append(_line(sx(0), top - 6, sx(0), bottom, VERMILLION, 1.5, "5 4"))
        body.append(_text(sx(0), top - 24, zero_label, anchor="middle", fill=VERMILLION, size=11, weight="600"))
    else:  # say where the decision boundary is: no single input's swing crosses it
        side, x = ("right", x1) if hi <= 0 else ("left", x0)
        body.append(_text(x, top - 24, f"{zero_label} (0) is off the chart to the {side}", fill=VERMILLION,
                          anchor="end" if side == "right" else "start", size=11, weight="600"))
    ly = height - 10
    body.append(f'<rect x="{x0}" y="{ly - 10}" width="12" height="12" fill="{SKY}"/>'
                + _text(x0 + 18, ly, low_label, size=11)
                + f'<rect x="{_f(x0 + 28 + len(low_label) * CHAR_W)}" y="{ly - 10}" width="12" height="12" '
                  f'fill="{ORANGE}"/>'
                + _text(x0 + 46 + len(low_label) * CHAR_W, ly, high_label, size=11))
    return _svg(width, height, body, title or f"sensitivity of {x_label}")


def _seeds(point: dict[str, Any]) -> list[float]:
    seeds = point.get("seeds")
    return [s for s in seeds if _finite(s)] if isinstance(seeds, list) else []


def learning_curve_chart(points: Sequence[dict[str, Any]], *, fit: dict[str, Any] | None = None,
                         target_error: float | None = None, labels_needed: float | None = None,
                         y_label: str = "error", title: str = "", width: int = 940, height: int = 360) -> str:
    """Error against training-set size on a log axis: mean per size, spread of seeds, the fitted power law.

    The fit ``error(n) = a + b·n^(-c)`` is drawn solid where data exists and dashed where it extrapolates (up to
    the labels-needed estimate, capped at 20× the largest measured size).
    """
    pts = [p for p in points if _finite(p.get("n"), p.get("error")) and p["n"] > 0]
    if not pts:
        return ""
    nmin, nmax = min(p["n"] for p in pts), max(p["n"] for p in pts)
    nplot = nmax
    if _finite(labels_needed) and labels_needed > nmax:
        nplot = min(labels_needed * 1.15, nmax * 20)
    xlo, xhi = nmin / 1.3, nplot * 1.3
    errs = [p["error"] for p in pts] + [s for p in pts for s in _seeds(p)]
    if _finite(target_error):
        errs.append(target_error)
    ymax = max(errs) * 1.15 or 1.0
    if max(errs) <= 1:
        ymax = min(ymax, 1.0)
    left, right, top, bottom = 64, 30, 24, height - 64
    lx0, lx1 = math.log(xlo), math.log(xhi)
    sx = lambda n: left + (math.log(n) - lx0) / (lx1 - lx0) * (width - right - left)
    sy = lambda e: bottom - min(max(e, 0), ymax) / ymax * (bottom - top)
    body: list[str] = []
    _x_axis(body, log_ticks(xlo, xhi), sx, top, bottom, lambda t: f"{t:,.0f}", "training examples (log scale)",
            (left + width - right) / 2)
    for t in nice_ticks(0, ymax, 5):
        if t <= ymax + 1e-9:
            body.append(_line(left, sy(t), width - right, sy(t), GRID))
            body.append(_text(left - 6, sy(t) + 4, _default_fmt(t), anchor="end", fill=MUTED, size=11))
    body.append(f'<text transform="translate(14,{_f((top + bottom) / 2)}) rotate(-90)" text-anchor="middle" '
                f'fill="{MUTED}">{_e(y_label)}</text>')
    f = fit or {}
    if _finite(f.get("a"), f.get("b"), f.get("c")):
        a, b, c = f["a"], f["b"], f["c"]
        for n_from, n_to, dash in ((nmin, nmax, ""), (nmax, nplot, "6 4")):
            if n_to <= n_from:
                continue
            ns = [math.exp(math.log(n_from) + (math.log(n_to) - math.log(n_from)) * k / 60) for k in range(61)]
            d = " L".join(f"{_f(sx(n))},{_f(sy(a + b * n ** (-c)))}" for n in ns)
            extra = f' stroke-dasharray="{dash}"' if dash else ""
            body.append(f'<path d="M{d}" fill="none" stroke="{BLUE}" stroke-width="2"{extra}/>')
    for p in pts:
        x = sx(p["n"])
        seeds = _seeds(p)
        if len(seeds) >= 2:
            body.append(_line(x, sy(min(seeds)), x, sy(max(seeds)), ORANGE, 2.5))
        for s in seeds:
            body.append(f'<circle cx="{_f(x)}" cy="{_f(sy(s))}" r="2.5" fill="{ORANGE}" fill-opacity="0.6"/>')
        tip = "n={:,.0f}: error {:.3g}".format(p["n"], p["error"])
        body.append(f'<circle cx="{_f(x)}" cy="{_f(sy(p["error"]))}" r="5" fill="{ORANGE}" stroke="{INK}" '
                    f'stroke-width="1"><title>{_e(tip)}</title></circle>')
    if _finite(target_error) and 0 <= target_error <= ymax:
        y = sy(target_error)
        body.append(_line(left, y, width - right, y, VERMILLION, 2, "6 4"))
        body.append(_text(width - right - 4, y - 6, f"target error {_default_fmt(target_error)}", anchor="end",
                          fill=VERMILLION, weight="600"))
    if _finite(labels_needed) and xlo <= labels_needed <= xhi:
        x = sx(labels_needed)
        body.append(_line(x, top, x, bottom, PURPLE, 1.5, "2 3"))
        body.append(_text(x - 4, top + 12, f"≈ {labels_needed:,.0f} labels", anchor="end", fill=PURPLE,
                          weight="600"))
    body.append(_text(width - right, height - 4, "dots: mean over seeds (bar: seed range) · line: fitted "
                      "a + b·n^(−c), dashed where extrapolated", anchor="end", fill=MUTED, size=11))
    return _svg(width, height, body, title or "learning curve")


def share_bars_chart(rows: Sequence[dict[str, Any]], *, title: str = "", width: int = 940,
                     names: tuple[str, str] = ("reference", "current")) -> str:
    """Before/after shares of categories: two bars per row (reference pale blue above, current vermillion below,
    each labelled with its percentage), so a distribution shift reads without relying on colour alone.

    ``rows``: ``{"label", "reference", "current"}`` with shares in [0, 1]; rows without a share are skipped.
    """
    rows = [r for r in rows if _finite(r.get("reference")) or _finite(r.get("current"))]
    if not rows:
        return ""
    top_share = max(max(r.get("reference") or 0, r.get("current") or 0) for r in rows) or 1.0
    label_w = min(max(len(str(r.get("label", ""))) for r in rows) * CHAR_W + 10, width * 0.32)
    x0, x1 = label_w + 8, width - 60
    bar_h, gap, top = 11, 9, 26
    body = [_text(x0, 14, f"■ {names[0]}", fill=BLUE, size=12),
            _text(x0 + 110, 14, f"■ {names[1]}", fill=VERMILLION, size=12)]
    y = top
    for r in rows:
        body.append(_text(label_w, y + bar_h + 3, _fit_label(str(r.get("label", "")), label_w), anchor="end"))
        for k, (key, color) in enumerate((("reference", BLUE), ("current", VERMILLION))):
            v = r.get(key)
            yy = y + k * (bar_h + 1)
            if _finite(v):
                w = max((x1 - x0) * float(v) / top_share, 0.5)
                opacity = ' fill-opacity="0.55"' if k == 0 else ""
                body.append(f'<rect x="{_f(x0)}" y="{_f(yy)}" width="{_f(w)}" height="{bar_h}" fill="{color}"'
                            f"{opacity}/>")
                body.append(_text(x0 + w + 4, yy + bar_h - 1, f"{100 * float(v):.1f}%", size=10, fill=MUTED))
            else:
                body.append(_text(x0 + 2, yy + bar_h - 1, "absent", size=10, fill=MUTED))
        y += 2 * bar_h + 2 + gap
    return _svg(width, y + 4, body, title or f"{names[0]} vs {names[1]} shares")
