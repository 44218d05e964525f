"""What changed, in words: the sentences a monitor alert carries into monitor.json, the terminal and the webhook.

A test's statistic says *that* a window moved; an on-call reader needs *what* moved: which categories are new and
how much traffic they carry, which gained or lost share, how a numeric column's centre and tails moved. Pure
functions over counts and arrays, so each sentence is tested on its own.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

LISTED = 12  # new categories named in one sentence; the rest are counted ("and 4 more")
MIN_SHIFT = 0.01  # a share change under one percentage point is not named as gained / lost


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pp(delta: float) -> str:
    return f"{'+' if delta >= 0 else '−'}{abs(100 * delta):.1f} pp"


def num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def category_change(ref: Counter, cur: Counter, *, listed: int = LISTED) -> dict[str, Any]:
    """New categories (absent from the reference) with their current share, categories gone, and the largest
    share gains and losses among categories present in both windows."""
    n_r, n_c = sum(ref.values()), sum(cur.values())
    new = [{"value": k, "current_share": round(v / n_c, 4)} for k, v in cur.most_common() if k not in ref]
    gone = [{"value": k, "reference_share": round(v / n_r, 4)} for k, v in ref.most_common() if k not in cur]
    both = [(k, ref[k] / n_r, cur[k] / n_c) for k in ref if k in cur]
    moved = sorted(both, key=lambda t: -abs(t[2] - t[1]))
    gained = [{"value": k, "reference_share": round(a, 4), "current_share": round(b, 4)}
              for k, a, b in moved if b - a >= MIN_SHIFT][:listed]
    lost = [{"value": k, "reference_share": round(a, 4), "current_share": round(b, 4)}
            for k, a, b in moved if a - b >= MIN_SHIFT][:listed]
    return {"n_new": len(new), "new_share": round(sum(e["current_share"] for e in new), 4), "new": new[:listed * 3],
            "n_gone": len(gone), "gone": gone[:listed * 3], "gained": gained, "lost": lost}


def _names(items: list[dict[str, Any]], key: str, total: int, listed: int) -> str:
    shown = ", ".join(f"{e['value']} ({pct(e[key])})" for e in items[:listed])
    return shown + (f" and {total - listed} more" if total > listed else "")


def category_message(subject: str, noun: str, change: dict[str, Any], *, listed: int = LISTED) -> str:
    """e.g. "labels: 12 labels unseen in the reference now carry 40.6% of traffic: a (5.0%), …; gained share: …"."""
    parts = []
    n_new = change["n_new"]
    if n_new:
        word = noun if n_new != 1 else noun.rstrip("s")
        verb = "carry" if n_new != 1 else "carries"
        parts.append(f"{n_new} {word} unseen in the reference now {verb} {pct(change['new_share'])} of traffic: "
                     + _names(change["new"], "current_share", n_new, listed))
    if change["gained"]:
        parts.append("gained share: " + ", ".join(
            f"{e['value']} {pct(e['reference_share'])} → {pct(e['current_share'])} "
            f"({pp(e['current_share'] - e['reference_share'])})" for e in change["gained"][:3]))
    if change["lost"]:
        parts.append("lost share: " + ", ".join(
            f"{e['value']} {pct(e['reference_share'])} → {pct(e['current_share'])} "
            f"({pp(e['current_share'] - e['reference_share'])})" for e in change["lost"][:3]))
    if change["n_gone"]:
        one = change["n_gone"] == 1
        parts.append(f"{change['n_gone']} {noun.rstrip('s') if one else noun} from the reference "
                     f"{'is' if one else 'are'} absent now: "
                     + _names(change["gone"], "reference_share", change["n_gone"], min(listed, 5)))
    return f"{subject}: " + ("; ".join(parts) if parts else "the mix of categories changed")


def numeric_summary(values: np.ndarray) -> dict[str, float | int | None]:
    """n, mean, SD and the 5th / 50th / 95th percentiles: the before/after summary of a numeric column."""
    v = np.asarray(values, float)
    if not len(v):
        return {"n": 0}
    q5, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
    return {"n": int(len(v)), "mean": _r(np.mean(v)), "sd": _r(np.std(v, ddof=1) if len(v) > 1 else 0.0),
            "p5": _r(q5), "p50": _r(q50), "p95": _r(q95)}


def _r(x: float) -> float:
    return float(f"{float(x):.6g}")


def numeric_message(subject: str, ref: dict[str, Any], cur: dict[str, Any], smd: float | None) -> str:
    """e.g. "input length (characters): mean 110 → 197 (+1.2 SD), median 100 → 180, 95th percentile 200 → 350"."""
    sd = f" ({'+' if smd >= 0 else '−'}{abs(smd):.2g} SD)" if smd is not None and math.isfinite(smd) else ""
    return (f"{subject}: mean {num(ref.get('mean'))} → {num(cur.get('mean'))}{sd}, median {num(ref.get('p50'))} → "
            f"{num(cur.get('p50'))}, 95th percentile {num(ref.get('p95'))} → {num(cur.get('p95'))}")


def messages(tests: list[dict[str, Any]]) -> list[str]:
    """The alerting tests' sentences, once each, in test order (a PSI and its paired test share one)."""
    out = [t["message"] for t in tests if t.get("status") == "alert" and t.get("message")]
    return list(dict.fromkeys(out))
