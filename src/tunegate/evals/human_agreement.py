"""Agreement of a scorer with people who rated the same outputs, against people's agreement with each other.

Why: an automated judge is only a stand-in for the people whose judgment defines "good". Its Cohen kappa with
each human rater (averaged over raters) is directly comparable to the raters' mean pairwise kappa — the ceiling:
a judge cannot be expected to agree with people more than they agree with each other, and one far below it is
not measuring what they measure. Ratings are long format (``item_id, rater, rating``), where item_id names a
rated output; ratings are pass/fail (good/bad, yes/no, 1/0) or numeric (good at or above ``good_at``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.data.agreement import cohen_kappa, krippendorff_alpha_ci, reliability_matrix
from tunegate.data.readers import iter_rows
from tunegate.errors import DataError
from tunegate.evals.stats import bootstrap_ci

_GOOD = {"pass", "good", "yes", "true", "ok", "accept", "acceptable"}
_BAD = {"fail", "bad", "no", "false", "reject", "unacceptable"}


@dataclass(frozen=True)
class RatedOutput:
    id: str
    item_id: str
    output: str


def load_rated_outputs(path: str | Path, item_ids: set[str]) -> list[RatedOutput]:
    """Rated outputs (JSONL/CSV: ``id, item_id, output``); every item_id must be an example id."""
    out: list[RatedOutput] = []
    seen: dict[str, str] = {}
    for row in iter_rows(path):
        if row.error:
            raise DataError(row.error, file=row.file, line=row.line)
        d = row.data or {}
        for col in ("id", "item_id", "output"):
            if col not in d:
                raise DataError("missing field", file=row.file, line=row.line, field=col)
        oid, item = str(d["id"]).strip(), str(d["item_id"]).strip()
        if not oid:
            raise DataError("empty id", file=row.file, line=row.line, field="id")
        if oid in seen:
            raise DataError(f"duplicate id '{oid}' (first at {seen[oid]})", file=row.file, line=row.line, field="id")
        if item not in item_ids:
            raise DataError(f"item '{item}' is not in the examples", file=row.file, line=row.line, field="item_id")
        seen[oid] = row.where
        out.append(RatedOutput(oid, item, "" if d["output"] is None else str(d["output"])))
    if not out:
        raise DataError("no rated outputs", file=path)
    return out


def load_ratings(path: str | Path, fields: Any, output_ids: set[str], good_at: float) -> dict[str, dict[str, bool]]:
    """``{output_id: {rater: good?}}`` from long-format ratings; unknown outputs and unreadable ratings are
    errors naming the file, line and column."""
    raw: list[tuple[str, str, str, str]] = []
    for row in iter_rows(path):
        if row.error:
            raise DataError(row.error, file=row.file, line=row.line)
        d = row.data or {}
        vals = []
        for col in (fields.item_id, fields.rater, fields.rating):
            if col not in d:
                raise DataError("missing field", file=row.file, line=row.line, field=col)
            v = "" if d[col] is None else str(d[col]).strip()
            if not v:
                raise DataError("empty value", file=row.file, line=row.line, field=col)
            vals.append(v)
        if vals[0] not in output_ids:
            raise DataError(f"rating for unknown item '{vals[0]}' (not in rated_outputs)", file=row.file,
                            line=row.line, field=fields.item_id)
        raw.append((vals[0], vals[1], vals[2], row.where))
    if not raw:
        raise DataError("no ratings", file=path)
    numbers = []
    for _, _, r, where in raw:
        if r.lower() in _GOOD or r.lower() in _BAD:
            continue
        try:
            numbers.append(float(r))
        except ValueError:
            file, _, line = where.rpartition(":")
            raise DataError(f"rating '{r}' is neither pass/fail nor a number", file=file, line=int(line),
                            field=fields.rating) from None
    binary01 = set(numbers) <= {0.0, 1.0}
    out: dict[str, dict[str, bool]] = {}
    for oid, rater, r, where in raw:
        low = r.lower()
        good = (low in _GOOD) if (low in _GOOD or low in _BAD) else (
            float(r) == 1.0 if binary01 else float(r) >= good_at)
        if rater in out.setdefault(oid, {}):
            file, _, line = where.rpartition(":")
            raise DataError(f"rater '{rater}' rated '{oid}' twice", file=file, line=int(line), field=fields.rater)
        out[oid][rater] = good
    return out


def consensus(ratings: dict[str, dict[str, bool]]) -> dict[str, bool | None]:
    """Majority of the raters per output; None on a tie."""
    out: dict[str, bool | None] = {}
    for oid, by in ratings.items():
        c = Counter(by.values())
        out[oid] = None if c[True] == c[False] else c[True] > c[False]
    return out


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _matrix(ids: list[str], ratings: dict[str, dict[str, bool]]) -> tuple[np.ndarray, list[str]]:
    raters = sorted({r for by in ratings.values() for r in by})
    m = np.full((len(ids), len(raters)), -1, dtype=np.int64)
    for i, oid in enumerate(ids):
        for j, r in enumerate(raters):
            if r in ratings.get(oid, {}):
                m[i, j] = int(ratings[oid][r])
    return m, raters


def _mean_kappa(cols: list[np.ndarray], against: np.ndarray | None = None) -> float:
    """Mean Cohen kappa over rater pairs (or of ``against`` with each rater), on the rows both rated."""
    ks = []
    pairs = ([(against, c) for c in cols] if against is not None else
             [(cols[a], cols[b]) for a in range(len(cols)) for b in range(a + 1, len(cols))])
    for x, y in pairs:
        ok = (x >= 0) & (y >= 0)
        if ok.sum() >= 2:
            k = cohen_kappa(list(x[ok]), list(y[ok]), categories=[0, 1])
            if math.isfinite(k):
                ks.append(k)
    return float(np.mean(ks)) if ks else math.nan


def human_ceiling(ids: list[str], ratings: dict[str, dict[str, bool]], boot: Any) -> dict[str, Any]:
    """Human-human agreement: mean pairwise kappa (bootstrap CI over outputs) and Krippendorff alpha."""
    m, raters = _matrix(ids, ratings)
    conf, n_res, seed = boot.confidence, boot.n_resamples, boot.seed
    kap = bootstrap_ci(np.arange(len(ids)), lambda idx: _mean_kappa([m[idx, j] for j in range(m.shape[1])]),
                       n_resamples=min(n_res, 1000), confidence=conf, seed=seed, method="percentile")
    triples = [(ids[i], raters[j], int(m[i, j])) for i in range(len(ids)) for j in range(len(raters)) if m[i, j] >= 0]
    alpha = krippendorff_alpha_ci(reliability_matrix(triples), "nominal", n_resamples=min(n_res, 1000), seed=seed,
                                  confidence=conf)
    point = _mean_kappa([m[:, j] for j in range(m.shape[1])])
    return {"raters": raters, "n_outputs": len(ids), "n_ratings": int((m >= 0).sum()), "kappa": _r(point),
            "kappa_ci_low": _r(kap.low), "kappa_ci_high": _r(kap.high), "alpha": _r(alpha.estimate),
            "alpha_ci_low": _r(alpha.low), "alpha_ci_high": _r(alpha.high)}


def scorer_vs_humans(ids: list[str], accepted: list[bool | None], ratings: dict[str, dict[str, bool]],
                     boot: Any) -> dict[str, Any]:
    """A scorer's accept/reject against the humans: mean kappa with each rater (CI), kappa and alpha against
    the majority, and the confusion table (scorer verdict x human majority). Unscored outputs are missing."""
    m, raters = _matrix(ids, ratings)
    s = np.array([-1 if a is None else int(a) for a in accepted], dtype=np.int64)
    conf, n_res, seed = boot.confidence, boot.n_resamples, boot.seed
    cols = [m[:, j] for j in range(m.shape[1])]
    point = _mean_kappa(cols, s)
    iv = bootstrap_ci(np.arange(len(ids)), lambda idx: _mean_kappa([c[idx] for c in cols], s[idx]),
                      n_resamples=min(n_res, 1000), confidence=conf, seed=seed, method="percentile")
    cons = consensus(ratings)
    c = np.array([-1 if cons.get(o) is None else int(cons[o]) for o in ids], dtype=np.int64)
    ok = (s >= 0) & (c >= 0)
    k_cons = cohen_kappa(list(s[ok]), list(c[ok]), categories=[0, 1]) if ok.sum() >= 2 else math.nan
    triples = [(o, "scorer", int(s[i])) for i, o in enumerate(ids) if s[i] >= 0]
    triples += [(o, "humans", int(c[i])) for i, o in enumerate(ids) if c[i] >= 0]
    alpha = krippendorff_alpha_ci(reliability_matrix(triples), "nominal", n_resamples=min(n_res, 1000), seed=seed,
                                  confidence=conf) if triples else None
    confusion = {"scorer_accepts_human_good": int(((s == 1) & (c == 1)).sum()),
                 "scorer_accepts_human_bad": int(((s == 1) & (c == 0)).sum()),
                 "scorer_rejects_human_good": int(((s == 0) & (c == 1)).sum()),
                 "scorer_rejects_human_bad": int(((s == 0) & (c == 0)).sum()),
                 "unscored": int((s < 0).sum()), "human_tie": int((c < 0).sum())}
    return {"kappa": _r(point), "kappa_ci_low": _r(iv.low), "kappa_ci_high": _r(iv.high),
            "kappa_vs_majority": _r(k_cons), "alpha_vs_majority": _r(alpha.estimate) if alpha else None,
            "alpha_ci_low": _r(alpha.low) if alpha else None, "alpha_ci_high": _r(alpha.high) if alpha else None,
            "n_outputs": len(ids), "confusion": confusion}
