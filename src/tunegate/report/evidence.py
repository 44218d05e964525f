"""Flat evidence dictionaries (verdict conditions, evalcheck) as readable rows, intervals folded in.

Stages write intervals as sibling keys (``alpha_ci_low``, ``expected_net_value_p05``) because their artifacts are
flat JSON; a reader must never see the point estimate on one row and its interval two rows later, or not at all.
"""

from __future__ import annotations

from typing import Any

from tunegate.report.doc import as_dict, fmt_ci, fmt_num, get, humanize, num, shared_fmt


def fmt_value(v: Any) -> str:
    """Any artifact value as text; dicts that carry an interval are shown with it."""
    if v is None:
        return "not measured"
    if isinstance(v, dict):
        val = get(v, "value", "mean", "estimate")
        lo, hi = get(v, "ci_low", "low", "p05"), get(v, "ci_high", "high", "p95")
        if val is not None or (num(lo) is not None and num(hi) is not None):
            if val is None:
                return f"{fmt_num(lo)}–{fmt_num(hi)}"
            return fmt_ci(val, lo, hi, level=get(v, "confidence", default=0.95))
        parts = [f"{humanize(k)}: {fmt_value(x)}" for k, x in list(v.items())[:6]]
        return "; ".join(parts) + ("; …" if len(v) > 6 else "")
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v):
            return f"{len(v)} entries"
        shown = ", ".join(fmt_value(x) for x in v[:8])
        return shown + (f", … ({len(v)} in all)" if len(v) > 8 else "")
    return fmt_num(v)


# (low suffix, high suffix, kind): "ci" reads "(95% CI lo–hi)", "pct" reads "(5–95%: lo to hi)".
_BOUNDS = (("ci_low", "ci_high", "ci"), ("low", "high", "ci"), ("p05", "p95", "pct"), ("p5", "p95", "pct"))
_POINT_SUFFIXES = ("", "_mean", "_median", "_value", "_estimate")


def _find_bounds(d: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    """value key -> (low key, high key, kind, label) for every interval in a flat evidence dict.

    The value that a pair of bounds belongs to is, in order: ``P``, ``P_mean`` / ``P_median`` / ``P_value``, or
    the one numeric key ending in ``_P`` (``krippendorff_alpha`` for ``alpha_ci_low``), or for bare ``ci_low`` /
    ``p05``: ``value`` / ``mean`` / ``median``.
    """
    found: dict[str, tuple[str, str, str, str]] = {}
    taken: set[str] = set()
    for lo_s, hi_s, kind in _BOUNDS:
        for lo_k in d:
            if not (lo_k == lo_s or lo_k.endswith("_" + lo_s)):
                continue
            prefix = lo_k[: -len(lo_s)].rstrip("_")
            hi_k = f"{prefix}_{hi_s}" if prefix else hi_s
            if hi_k not in d or lo_k in taken:
                continue
            if prefix:
                cands = [prefix + suf for suf in _POINT_SUFFIXES]
                cands += [k for k in d if k.endswith("_" + prefix)]
            else:
                cands = ["value", "mean", "median", "estimate"]
            val_k = next((c for c in cands if c in d and c not in found and c not in taken
                          and num(d[c]) is not None), None)
            if val_k is None:
                continue
            label = val_k
            if prefix and val_k.startswith(prefix + "_"):
                label = f"{prefix} ({val_k[len(prefix) + 1:]})"
            found[val_k] = (lo_k, hi_k, kind, humanize(label))
            taken |= {lo_k, hi_k}
    return found


def fold_evidence(d: Any, *, skip: tuple[str, ...] = (), fmt_for=None) -> list[tuple[str, str]]:
    """(name, text) pairs with interval siblings folded in: ``x``, ``x_ci_low``, ``x_ci_high`` → one row.

    Recognised bounds: ``_ci_low/_ci_high``, ``_low/_high``, ``_p05/_p95`` (see ``_find_bounds``) and ``x_ci``
    given as {low, high} or [low, high]. A point estimate is never shown without an interval that exists.
    ``fmt_for(key)`` may return a formatter for a key (money, percent), or None for the default.
    """
    d = dict(as_dict(d))
    for k, ci in list(d.items()):  # x_ci given as {low, high} or [low, high]: expand into x_ci_low / x_ci_high
        if k.endswith("_ci") and k[:-3] in d and isinstance(ci, (dict, list)):
            lo, hi = (get(ci, "low", "ci_low"), get(ci, "high", "ci_high")) if isinstance(ci, dict) else (
                [*ci, None, None][:2])
            del d[k]
            d[k + "_low"], d[k + "_high"] = lo, hi
    bounds = _find_bounds(d)
    used: set[str] = set(skip) | {k for lo, hi, _, _ in bounds.values() for k in (lo, hi)}
    rows = []
    for k, v in d.items():
        if k in used:
            continue
        fmt = fmt_for(k) if fmt_for else None
        if k in bounds:
            lo_k, hi_k, kind, label = bounds[k]
            lo, hi = d[lo_k], d[hi_k]
            if kind == "pct" and num(lo) is not None and num(hi) is not None:
                f = fmt or shared_fmt(v, lo, hi)
                rows.append((label, f"{f(v)} (5–95%: {f(lo)} to {f(hi)})"))
            else:
                rows.append((label, fmt_ci(v, lo, hi, fmt=fmt)))
        else:
            rows.append((humanize(k), fmt(v) if fmt and num(v) is not None else fmt_value(v)))
    return rows
