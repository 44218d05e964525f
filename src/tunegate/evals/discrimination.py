"""Discrimination: does each scorer, and the suite as a whole, rank known-good outputs above known-bad ones?

ROC AUC is the probability that a random good output scores above a random bad one (ties count half): 0.5 is a
coin, 1.0 a perfect separation. Its interval is a cluster bootstrap over *items* — an item's gold answer and its
negatives are resampled together, since they share the item's difficulty. Per negative type, the share the
scorer wrongly accepts tells *how* it fails (a scorer that accepts an empty answer is broken, not just weak).

An unscored output (no parseable answer, a failed judge call) counts as not accepted, with score 0: the suite did
not vouch for it. The counts of unscored outputs are reported beside.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from tunegate.evals.negatives import BROKEN_TYPES, Candidate
from tunegate.evals.stats import Interval, bootstrap_ci, wilson_ci

SUITE = "suite"


def roc_auc(scores, labels) -> float:
    """Mann-Whitney AUC with average ranks for ties; NaN without both classes."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0  # 1-based average rank of each distinct value
    r = avg_rank[inv]
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auc_ci(scores, labels, clusters, *, n_resamples: int = 2000, confidence: float = 0.95,
           seed: int = 0) -> Interval:
    """AUC with a percentile cluster-bootstrap interval (clusters = the item each output answers)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    keys = list(dict.fromkeys(clusters))
    index = {k: i for i, k in enumerate(keys)}
    rows: list[list[int]] = [[] for _ in keys]
    for r, c in enumerate(clusters):
        rows[index[c]].append(r)
    arrays = [np.array(r, dtype=np.int64) for r in rows]

    def stat(idx: np.ndarray) -> float:
        sel = np.concatenate([arrays[int(i)] for i in idx])
        return roc_auc(s[sel], y[sel])

    iv = bootstrap_ci(np.arange(len(keys)), stat, n_resamples=n_resamples, confidence=confidence, seed=seed,
                      method="percentile")
    return Interval(roc_auc(s, y), iv.low, iv.high, iv.confidence, "cluster bootstrap (percentile)", len(s), iv.note)


def _accept(v: float | None, at: float) -> bool:
    return v is not None and v >= at - 1e-12


def suite_values(values: dict[str, list[float | None]], accept_at: dict[str, float]) -> tuple[list[float], list[bool]]:
    """The suite's score (mean of the scorers' values, unscored as 0) and verdict (every scorer accepts)."""
    names = list(values)
    n = len(values[names[0]]) if names else 0
    score = [float(np.mean([values[k][i] or 0.0 for k in names])) for i in range(n)]
    accept = [all(_accept(values[k][i], accept_at[k]) for k in names) for i in range(n)]
    return score, accept


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def discrimination_table(cands: list[Candidate], values: list[float | None], accept_at: float, *,
                         accepted: list[bool] | None = None, boot: Any = None) -> dict[str, Any]:
    """One scorer's (or the suite's) AUC with CI, acceptance of good outputs, and acceptance per bad type."""
    n_res = getattr(boot, "n_resamples", 2000)
    conf = getattr(boot, "confidence", 0.95)
    seed = getattr(boot, "seed", 0)
    acc = accepted if accepted is not None else [_accept(v, accept_at) for v in values]
    scores = [0.0 if v is None else float(v) for v in values]
    iv = auc_ci(scores, [c.good for c in cands], [c.cluster for c in cands], n_resamples=n_res, confidence=conf,
                seed=seed)
    by_type: dict[str, list[bool]] = defaultdict(list)
    for c, a in zip(cands, acc):
        by_type[c.source].append(a)
    per_type = {}
    for t, flags in by_type.items():
        w = wilson_ci(int(sum(flags)), len(flags), conf)
        per_type[t] = {"accepted": int(sum(flags)), "n": len(flags), "rate": _r(w.estimate), "ci_low": _r(w.low),
                       "ci_high": _r(w.high)}
    good = [a for c, a in zip(cands, acc) if c.good]
    bad = [a for c, a in zip(cands, acc) if not c.good]
    return {"auc": _r(iv.estimate), "auc_ci_low": _r(iv.low), "auc_ci_high": _r(iv.high), "ci_method": iv.method,
            "n_good": len(good), "n_bad": len(bad), "n_unscored": sum(v is None for v in values),
            "good_accepted_rate": _r(float(np.mean(good))) if good else None,
            "bad_accepted_rate": _r(float(np.mean(bad))) if bad else None, "accept_at": accept_at,
            "by_type": per_type}


def accepts_broken(table: dict[str, Any], max_rate: float) -> list[str]:
    """The no-answer negative types (truncated, broken format, empty, the input copied) a scorer accepts more
    often than ``max_rate``."""
    return [t for t in BROKEN_TYPES if t in table["by_type"] and (table["by_type"][t]["rate"] or 0) > max_rate]
