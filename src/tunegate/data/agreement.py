"""Inter-annotator agreement: Krippendorff's alpha, Fleiss' and Cohen's kappa, per-annotator and per-class views.

Why: a model fine-tuned on labels can only learn what the annotators reproducibly agree on, and no eval on those
labels is more trustworthy than their agreement. Alpha is the headline because it takes any number of annotators,
missing judgments and four levels of measurement. It follows Krippendorff (2011), "Computing Krippendorff's
Alpha-Reliability" (Annenberg School departmental paper 43): only *pairable* values count (units/items with at
least two values); the coincidence matrix o_ck counts ordered pairs of values within a unit, each weighted
1/(m_u - 1), with marginals n_c and total n; and

    alpha = 1 - (n - 1) * sum_ck o_ck d_ck / sum_ck n_c n_k d_ck,
    nominal d = [c != k]      ordinal  d = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2
    interval d = (c - k)^2    ratio    d = ((c - k)/(c + k))^2.

The coincidence matrix is never materialised, so the cost is linear in the number of ratings: the observed term is
summed per unit in closed form (for interval it is 2 m_u times the unit's sum of squared deviations). Ordinal is
interval on the categories' mid-ranks t_c = sum_{g<c} n_g + n_c/2, because sum_{g=c..k} n_g - (n_c + n_k)/2 is
exactly t_k - t_c; the mid-ranks depend on the marginals, so the bootstrap recomputes them per resample.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tunegate.intervals import Interval

__all__ = [
    "LEVELS", "ReliabilityData", "reliability_matrix", "reliability_from_matrix", "krippendorff_alpha",
    "krippendorff_alpha_ci", "fleiss_kappa", "cohen_kappa", "pairwise_cohen", "per_annotator",
    "per_class_agreement", "interpret_alpha", "AgreementReport", "agreement_report",
]

LEVELS = ("nominal", "ordinal", "interval", "ratio")
_CHUNK = 1 << 21  # elements of a (resamples x units) weight block held at once (16 MiB)
_DENSE_LIMIT = 1 << 24  # units x categories above this: counts go sparse (many distinct numeric values)
_BLOCK = 1 << 22  # elements of the ratio metric's K x K matrix computed at once
_REPORT_WEIGHTS = {"nominal": None, "ordinal": "linear", "interval": "quadratic", "ratio": "quadratic"}


@dataclass(frozen=True, eq=False)
class ReliabilityData:
    """Items x annotators matrix of category codes (``-1`` = not rated) and what each code means.

    ``categories[c]`` is the label for code c (first spelling seen). ``ordered`` says the code order is meaningful
    (numeric labels sorted by value, or an explicit category list); ``values`` holds the numbers when every category
    is numeric (interval/ratio need them). ``label_kind`` is "numeric", "text" or "mixed", so that interval/ratio can
    refuse mixed labels with a message instead of silently treating numbers as names.
    """

    codes: np.ndarray
    categories: list
    item_ids: list
    annotators: list
    values: np.ndarray | None = None
    ordered: bool = False
    label_kind: str = "text"

    n_items = property(lambda self: int(self.codes.shape[0]))
    n_annotators = property(lambda self: int(self.codes.shape[1]))

    @property
    def n_ratings(self) -> int:
        return int((self.codes >= 0).sum())

    def counts(self) -> np.ndarray:
        """Items x categories matrix: how many annotators gave each category to each item."""
        u, a = np.nonzero(self.codes >= 0)
        k = len(self.categories)
        return np.bincount(u * k + self.codes[u, a], minlength=self.n_items * k).reshape(self.n_items, k)


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(x, str) and not x.strip())


def _number(x) -> float | None:
    """The label as a finite float, or None when it is not a number (bools are names, not numbers)."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, float, np.integer, np.floating)):
        v = float(x)
    elif isinstance(x, str):
        try:
            v = float(x.strip())
        except ValueError:
            return None
    else:
        return None
    return v if math.isfinite(v) else None


def _key(x) -> tuple:
    """Identity of a label: "2", 2 and 2.0 are one category; text compares stripped."""
    v = _number(x)
    return ("n", v) if v is not None else ("s", x.strip() if isinstance(x, str) else str(x))


def _codebook(labels: Iterable, categories: Sequence | None):
    """(categories, key -> code, values, ordered, kind) for the labels, in a deterministic order."""
    seen: dict[tuple, object] = {}
    for lab in labels:
        seen.setdefault(_key(lab), lab)
    if categories is not None:
        cats = list(categories)
        index: dict[tuple, int] = {}
        for i, c in enumerate(cats):
            if _key(c) in index:
                raise ValueError(f"category {c!r} is listed twice in the category list")
            index[_key(c)] = i
        unknown = [lab for k, lab in seen.items() if k not in index]
        if unknown:
            raise ValueError(f"label {unknown[0]!r} is not in the category list {cats}")
        keys, ordered = [_key(c) for c in cats], True
    else:
        keys = sorted(seen)  # numbers by value, then text alphabetically
        cats = [seen[k] for k in keys]
        index = {k: i for i, k in enumerate(keys)}
        ordered = all(k[0] == "n" for k in keys)
    n_num = sum(k[0] == "n" for k in keys)
    kind = "numeric" if n_num == len(keys) else ("mixed" if n_num else "text")
    values = np.array([k[1] for k in keys], dtype=float) if kind == "numeric" else None
    return cats, index, values, ordered, kind


def reliability_matrix(annotations: Iterable, *, categories: Sequence | None = None,
                       item_ids: Sequence | None = None, annotators: Sequence | None = None) -> ReliabilityData:
    """Pivot long-format judgments into an items x annotators code matrix.

    ``annotations``: ``Annotation`` records (or anything with item_id/annotator/label) or ``(item_id, annotator,
    label[, timestamp])`` tuples. Missing labels (None, NaN, "") are skipped. ``categories`` fixes the category
    order (needed for ordinal text labels such as low/mid/high); without it numeric labels are ordered by value.
    ``item_ids``/``annotators`` list every id so that unrated items or silent annotators still appear. When an
    annotator judged an item twice, the judgment with the latest timestamp (ISO strings compare in time order)
    wins; two judgments without timestamps are an error, as in ``load_annotations``.
    """
    latest: dict[tuple, tuple] = {}
    for rec in annotations:
        if isinstance(rec, (tuple, list)):
            item, ann, label = rec[0], rec[1], rec[2]
            ts = rec[3] if len(rec) > 3 else None
        else:
            item, ann, label, ts = rec.item_id, rec.annotator, rec.label, getattr(rec, "timestamp", None)
        if _missing(label):
            continue
        prev = latest.get((item, ann))
        if prev is not None:
            if prev[1] is None and ts is None:
                raise ValueError(f"annotator {ann!r} labeled item {item!r} twice with no timestamp to tell which "
                                 "judgment is current")
            if str(ts or "") < str(prev[1] or ""):
                continue  # keep the later judgment; equal timestamps: the later row wins
        latest[(item, ann)] = (label, ts)
    if not latest and not item_ids:
        raise ValueError("no annotations with a label")
    items = {i: n for n, i in enumerate(item_ids)} if item_ids is not None else {}
    raters = {a: n for n, a in enumerate(annotators)} if annotators is not None else {}
    for (item, ann) in latest:
        for ids, given, name, v in ((items, item_ids, "item", item), (raters, annotators, "annotator", ann)):
            if v not in ids:
                if given is not None:
                    raise ValueError(f"{name} {v!r} is not in the given {name} ids")
                ids[v] = len(ids)
    cats, index, values, ordered, kind = _codebook((lab for lab, _ in latest.values()), categories)
    codes = np.full((len(items), len(raters)), -1, dtype=np.int64)
    if latest:
        rows = np.array([items[i] for i, _ in latest])
        cols = np.array([raters[a] for _, a in latest])
        codes[rows, cols] = [index[_key(lab)] for lab, _ in latest.values()]
    return ReliabilityData(codes, cats, list(items), list(raters), values, ordered, kind)


def reliability_from_matrix(matrix, *, item_ids: Sequence | None = None, annotators: Sequence | None = None,
                            categories: Sequence | None = None) -> ReliabilityData:
    """Wide data (rows = items, columns = annotators; None/NaN/"" = missing) as ``ReliabilityData``."""
    rows = [list(r) for r in matrix]
    width = max((len(r) for r in rows), default=0)
    item_ids = list(item_ids) if item_ids is not None else [str(i) for i in range(len(rows))]
    annotators = list(annotators) if annotators is not None else [str(j) for j in range(width)]
    triples = [(item_ids[i], annotators[j], v) for i, r in enumerate(rows) for j, v in enumerate(r)]
    return reliability_matrix(triples, categories=categories, item_ids=item_ids, annotators=annotators)


def _as_data(data) -> ReliabilityData:
    return data if isinstance(data, ReliabilityData) else reliability_matrix(data)


@dataclass
class _Prepared:
    """Per-unit sufficient statistics of the pairable units (items with >= 2 ratings) for one level.

    Alpha of a weighted set of units (weights r_u: all 1 for the data, resample counts for the bootstrap) needs only
    sums of these, so every bootstrap replicate is a few matrix products instead of a pass over the ratings.
    """

    level: str
    m: np.ndarray                # values per unit
    counts: object = None        # units x categories (dense, or scipy.sparse when large); not for interval
    d: np.ndarray | None = None  # observed disagreement per unit (metrics that do not depend on the marginals)
    moments: np.ndarray | None = None  # interval: per-unit (sum x, sum x^2) of centred values
    values: np.ndarray | None = None   # ratio: category values
    varies: np.ndarray | None = None   # ordinal: unit holds more than one category
    reason: str | None = None


def _prepare(data, level: str) -> _Prepared:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    data = _as_data(data)
    if data.n_ratings == 0:
        raise ValueError("no ratings: agreement needs items labeled by at least two annotators")
    if level in ("interval", "ratio") and data.values is None:
        nums = [c for c in data.categories if _number(c) is not None]
        text = [c for c in data.categories if _number(c) is None]
        if nums:
            raise ValueError(f"mixed label types for {level} level: {len(nums)} numeric labels (e.g. {nums[0]!r}) "
                             f"and {len(text)} non-numeric (e.g. {text[0]!r}); {level} needs numbers")
        raise ValueError(f"{level} level needs numeric labels; got text labels such as {text[0]!r}")
    if level == "ratio" and (data.values < 0).any():
        raise ValueError(f"ratio level needs non-negative values; got {data.values.min():g}")
    if level == "ordinal" and not data.ordered:
        raise ValueError(f"ordinal level needs numeric labels or an ordered category list (categories=...); got "
                         f"{data.label_kind} labels such as {data.categories[0]!r}")
    codes, k = data.codes, len(data.categories)
    mask = codes >= 0
    raters = np.flatnonzero(mask.any(axis=0))
    if raters.size < 2:
        who = data.annotators[raters[0]] if raters.size else None
        return _Prepared(level, np.zeros(0), reason=f"only one annotator ({who!r}) labeled items: alpha needs at "
                                                    "least two")
    m_all = mask.sum(axis=1)
    keep = m_all >= 2
    if not keep.any():
        raise ValueError(f"no item has ratings from 2 or more annotators ({data.n_items} items, {raters.size} "
                         "annotators): agreement is undefined; check that item ids match across annotators")
    m = m_all[keep].astype(float)
    P = np.sort(codes[keep], axis=1)[:, ::-1][:, : int(m.max())]  # present values first, -1 padding last
    present = P >= 0
    unit = np.nonzero(present)[0]
    keys, cnt = np.unique(unit * k + P[present], return_counts=True)  # sparse (unit, category) counts
    used = np.unique(keys % k)
    prep = _Prepared(level, m)
    if used.size == 1:
        prep.reason = (f"every pairable rating is {data.categories[used[0]]!r}: expected disagreement is 0, so "
                       "alpha is undefined (there is no variation to agree on)")
    if level != "interval":
        if len(m) * k <= _DENSE_LIMIT:
            dense = np.zeros(len(m) * k)
            dense[keys] = cnt
            prep.counts = dense.reshape(len(m), k)
        else:  # many distinct values: keep the counts sparse (scipy.sparse imports in ~0.2 s, only here)
            from scipy.sparse import csr_matrix

            prep.counts = csr_matrix((cnt.astype(float), (keys // k, keys % k)), shape=(len(m), k))
    if level in ("nominal", "ordinal"):  # sum_{i != j} [x_i != x_j] = m^2 - sum_c n_uc^2
        sq = np.bincount(keys // k, weights=cnt.astype(float) ** 2, minlength=len(m))
        prep.d = (m * m - sq) / (m - 1)
        prep.varies = prep.d > 0
    elif level == "interval":
        x = np.append(data.values - data.values[used].mean(), 0.0)[P]  # centred: sums stay well conditioned
        mean = (x * present).sum(axis=1) / m
        prep.d = 2.0 * m * (((x - mean[:, None]) ** 2) * present).sum(axis=1) / (m - 1)
        prep.moments = np.stack([(x * present).sum(axis=1), (x * x * present).sum(axis=1)], axis=1)
    else:  # ratio is not separable: sum over value pairs (column j present implies column i < j present)
        prep.values = data.values
        x = np.append(data.values, 0.0)[P]
        d = np.zeros(len(m))
        for j in range(1, P.shape[1]):
            for i in range(j):
                d += 2.0 * _ratio_delta(x[:, i], x[:, j]) * present[:, j]
        prep.d = d / (m - 1)
    return prep


def _ratio_delta(c: np.ndarray, k: np.ndarray) -> np.ndarray:
    s = c + k
    r = np.divide(c - k, s, out=np.zeros(np.broadcast(c, k).shape), where=s > 0)
    return r * r


def _ratio_expected(nc: np.ndarray, v: np.ndarray) -> np.ndarray:
    """sum_ck n_c n_k d_ck per row of ``nc``; O(K^2) time, memory bounded by blocks of the K x K metric."""
    out = np.zeros(nc.shape[0])
    step = max(1, _BLOCK // len(v))
    for s in range(0, len(v), step):
        out += ((nc[:, s:s + step] @ _ratio_delta(v[s:s + step, None], v[None, :])) * nc).sum(axis=1)
    return out


def _by_category(counts, x: np.ndarray, out_units: bool = False) -> np.ndarray:
    """``counts.T @ x`` (x: units x b) or, with ``out_units``, ``counts @ x.T`` (x: b x categories).

    With few categories this runs one matrix-vector product (or one broadcast) per category: the same arithmetic
    as a matrix product with an inner/outer dimension of 2-10, which multi-threaded BLAS handles badly on busy
    machines (seconds instead of milliseconds, measured on a shared 2-core box).
    """
    k = counts.shape[1]
    if not isinstance(counts, np.ndarray) or k > 32:
        return np.asarray(counts @ x.T) if out_units else np.asarray((x.T @ counts).T)
    if out_units:
        out = np.zeros((counts.shape[0], x.shape[0]))
        for c in range(k):
            out += counts[:, c, None] * x[None, :, c]
        return out
    return np.stack([counts[:, c] @ x for c in range(k)])


def _alpha_batch(prep: _Prepared, w: np.ndarray) -> np.ndarray:
    """Alpha for each row of unit weights ``w`` (b x units): ones for the data, resample counts for the bootstrap."""
    n = w @ prep.m
    if prep.level == "interval":
        s1, s2 = (w @ prep.moments).T
        do = w @ prep.d
        ss = s2 - s1 * s1 / n  # sum_c n_c (v_c - mean)^2
        de = 2.0 * n * ss
        ok = ss > 1e-12 * np.maximum(s2, 1e-300)
    else:
        nc = _by_category(prep.counts, w.T).T  # b x categories marginals
        ok = (nc > 0).sum(axis=1) > 1
        if prep.level == "nominal":
            do = w @ prep.d
            de = n * n - (nc * nc).sum(axis=1)
        elif prep.level == "ratio":
            do = w @ prep.d
            de = _ratio_expected(nc, prep.values)
        else:  # ordinal: interval on mid-ranks t_c, centred on their mean n/2; units with one category add 0
            t = np.cumsum(nc, axis=1) - nc / 2.0 - n[:, None] / 2.0
            s1 = _by_category(prep.counts, t, out_units=True)  # units x b: sum of the unit's mid-ranks
            s2 = _by_category(prep.counts, t * t, out_units=True)
            wc = w * (2.0 * prep.m / (prep.m - 1) * prep.varies)  # per unit: 2m/(m-1) * (S2 - S1^2/m)
            do = np.einsum("bu,ub->b", wc, s2) - np.einsum("bu,ub->b", wc / prep.m, s1 * s1)
            de = 2.0 * n * (nc * t * t).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1.0) * do / de
    return np.where(ok, alpha, np.nan)  # one category (D_e = 0): alpha undefined


def krippendorff_alpha(data, level: str = "nominal") -> float:
    """Krippendorff's alpha; NaN when undefined (one annotator, or a single category used throughout).

    ``data``: ``ReliabilityData`` or anything ``reliability_matrix`` accepts. Items with fewer than two ratings
    are ignored. The reason for a NaN is in ``krippendorff_alpha_ci(...).note`` and the report's ``alpha_note``.
    """
    prep = _prepare(data, level)
    if prep.reason:
        return math.nan
    return float(_alpha_batch(prep, np.ones((1, len(prep.m))))[0])


def krippendorff_alpha_ci(data, level: str = "nominal", n_resamples: int = 1000, seed: int = 0,
                          confidence: float = 0.95) -> Interval:
    """Percentile bootstrap interval for alpha, resampling *units* (items with >= 2 ratings) with replacement.

    Resampling items matches how the labels were produced (a sample of items) and keeps each item's judgments
    together. Krippendorff's own bootstrap (Hayes & Krippendorff 2007) instead resamples pairable values under
    the observed coincidences; it is not implemented. Ordinal mid-ranks are recomputed on every resample. Resamples
    where alpha is undefined (one category) are dropped and counted in ``note``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    prep = _prepare(data, level)
    u = len(prep.m)
    if prep.reason:
        return Interval(math.nan, math.nan, math.nan, confidence, "percentile", u, prep.reason)
    est = float(_alpha_batch(prep, np.ones((1, u)))[0])
    rng = np.random.default_rng(seed)
    step = max(1, _CHUNK // u)
    reps = []
    for start in range(0, n_resamples, step):
        b = min(step, n_resamples - start)
        idx = rng.integers(0, u, size=(b, u)) + (np.arange(b) * u)[:, None]
        reps.append(_alpha_batch(prep, np.bincount(idx.ravel(), minlength=b * u).reshape(b, u).astype(float)))
    reps = np.concatenate(reps)
    finite = reps[np.isfinite(reps)]
    note = None if finite.size == reps.size else (f"{reps.size - finite.size} of {reps.size} resamples had alpha "
                                                  "undefined (one category) and were dropped")
    if finite.size == 0:
        return Interval(est, math.nan, math.nan, confidence, "percentile", u, note)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(est, float(low), float(high), confidence, "percentile", u, note)


def fleiss_kappa(data) -> float | None:
    """Fleiss' (1971) kappa, or None unless every rated item has the same number of ratings (>= 2).

    Fleiss' chance model assumes a fixed number of raters per item; with unequal counts it is not defined, and
    alpha (which allows missing data) is the statistic to read. NaN when only one category is used.
    """
    counts = _as_data(data).counts().astype(float)
    r = counts.sum(axis=1)
    counts, r = counts[r > 0], r[r > 0]
    if r.size == 0 or r.min() != r.max() or r[0] < 2:
        return None
    m = r[0]
    p_bar = (((counts * counts).sum(axis=1) - m) / (m * (m - 1))).mean()
    p = counts.sum(axis=0) / counts.sum()
    p_e = float((p * p).sum())
    return math.nan if (p > 0).sum() < 2 else float((p_bar - p_e) / (1.0 - p_e))


def _kappa_codes(x: np.ndarray, y: np.ndarray, k: int, weights: str | None) -> float:
    """Cohen's kappa from two aligned code arrays over categories 0..k-1 (weights by category index)."""
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    if x.size == 0:
        return math.nan
    obs = np.bincount(x * k + y, minlength=k * k).reshape(k, k) / x.size
    exp = np.outer(obs.sum(axis=1), obs.sum(axis=0))
    dist = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :]).astype(float)
    w = {None: (dist > 0).astype(float), "linear": dist, "quadratic": dist * dist}[weights]
    de = float((w * exp).sum())
    return math.nan if de == 0 else 1.0 - float((w * obs).sum()) / de


def cohen_kappa(a: Sequence, b: Sequence, weights: str | None = None, categories: Sequence | None = None) -> float:
    """Cohen's kappa for one pair of raters on the items both rated (missing: None/NaN/"").

    ``weights`` ("linear" |i-j|, "quadratic" (i-j)^2) gives weighted kappa for ordered categories, by position in
    ``categories`` (default: the labels both used, numbers by value, as scikit-learn does). NaN if no shared items or
    both raters used one and the same category.
    """
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs aligned ratings: {len(a)} vs {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b) if not _missing(x) and not _missing(y)]
    cats, index, *_ = _codebook([v for p in pairs for v in p], categories)
    x = np.array([index[_key(p[0])] for p in pairs], dtype=np.int64)
    y = np.array([index[_key(p[1])] for p in pairs], dtype=np.int64)
    return _kappa_codes(x, y, len(cats), weights)


def pairwise_cohen(data, weights: str | None = None) -> list[dict]:
    """Cohen's kappa and raw agreement for every annotator pair that shares at least one item."""
    _kappa_codes(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0, weights)  # validate weights
    data = _as_data(data)
    c, k = data.codes, len(data.categories)
    present = c >= 0
    shared = present.T.astype(np.float32) @ present.astype(np.float32)
    out = []
    for i, j in zip(*np.nonzero(np.triu(shared, 1))):
        rows = present[:, i] & present[:, j]
        x, y = c[rows, i], c[rows, j]
        out.append({"annotator_a": data.annotators[i], "annotator_b": data.annotators[j], "n_shared": int(x.size),
                    "kappa": _kappa_codes(x, y, k, weights), "agreement": float(np.mean(x == y))})
    return out


def per_annotator(data) -> list[dict]:
    """Each annotator against the leave-one-out majority of the *other* annotators on the same items.

    Items where the others' majority is tied (or nobody else rated) are skipped and counted as ``n_tied`` /
    excluded from ``n_compared``. Low agreement flags an annotator to retrain or down-weight.
    """
    data = _as_data(data)
    counts, k = data.counts(), len(data.categories)
    out = []
    for a, name in enumerate(data.annotators):
        rows = np.flatnonzero(data.codes[:, a] >= 0)
        own = data.codes[rows, a]
        others = counts[rows].copy()
        others[np.arange(rows.size), own] -= 1
        top = others.max(axis=1, initial=0)
        unique = (others == top[:, None]).sum(axis=1) == 1
        ok = (top > 0) & unique
        maj = others[ok].argmax(axis=1)
        out.append({"annotator": name, "n_labeled": int(rows.size), "n_compared": int(ok.sum()),
                    "n_tied": int(((top > 0) & ~unique).sum()),
                    "agreement_with_majority": float(np.mean(own[ok] == maj)) if ok.any() else math.nan,
                    "kappa_vs_majority": _kappa_codes(own[ok], maj, k, None)})
    return out


def per_class_agreement(data) -> dict:
    """Specific agreement per category: o_cc / n_c from the coincidence matrix (pairable items only).

    It is the chance that another annotator's value, in the same item as a value c, is also c. For two annotators
    it equals the classic specific agreement 2a / (2a + b + c) (positive agreement for the positive class). It is
    not chance-corrected: compare with (n_c - 1)/(n - 1), its value under random pairing. NaN for unused categories.
    """
    data = _as_data(data)
    counts = data.counts().astype(float)
    m = counts.sum(axis=1)
    c = counts[m >= 2]
    occ = (c * (c - 1) / (m[m >= 2] - 1)[:, None]).sum(axis=0)
    nc = c.sum(axis=0)
    return {cat: float(occ[i] / nc[i]) if nc[i] > 0 else math.nan for i, cat in enumerate(data.categories)}


def interpret_alpha(alpha: float) -> str:
    """Krippendorff's guidance (Content Analysis, 2004; also the 2011 paper): rely on data with alpha >= .800;
    .667 <= alpha < .800 allows tentative conclusions only; below .667 the labels are unreliable."""
    if alpha is None or not math.isfinite(alpha):
        return "undefined"
    return "reliable" if alpha >= 0.8 else ("tentative" if alpha >= 0.667 else "unreliable")


def _clean(x):
    """JSON-safe copy: NaN/inf become None, numpy scalars become Python numbers, dict keys become strings."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass(frozen=True)
class AgreementReport:
    """Everything the data stage reports about label agreement; ``to_dict`` is JSON-safe (NaN -> None)."""

    level: str
    krippendorff_alpha: float
    alpha_ci: Interval
    alpha_note: str | None
    fleiss_kappa: float | None
    n_items: int
    n_annotators: int
    n_ratings: int
    n_pairable_items: int
    pairwise: list
    per_annotator: list
    per_class: dict
    interpretation: str

    def to_dict(self) -> dict:
        ci = self.alpha_ci
        return _clean({
            "level": self.level, "krippendorff_alpha": self.krippendorff_alpha,
            "alpha_ci": {"low": ci.low, "high": ci.high, "confidence": ci.confidence, "method": ci.method,
                         "n": ci.n, "note": ci.note},
            "alpha_note": self.alpha_note, "fleiss_kappa": self.fleiss_kappa, "n_items": self.n_items,
            "n_annotators": self.n_annotators, "n_ratings": self.n_ratings,
            "n_pairable_items": self.n_pairable_items, "pairwise": self.pairwise,
            "per_annotator": self.per_annotator, "per_class": self.per_class, "interpretation": self.interpretation,
        })


def agreement_report(data, level: str = "nominal", n_resamples: int = 1000, seed: int = 0,
                     confidence: float = 0.95) -> AgreementReport:
    """Alpha with its bootstrap interval, Fleiss' kappa, and the pairwise, per-annotator and per-class views.

    Undefined alpha (one annotator, one category) is NaN with the reason in ``alpha_note``; invalid input (unknown
    level, mixed label types for interval/ratio, no item rated twice) raises ValueError. Pairwise kappa is weighted
    to suit the level: none for nominal, linear for ordinal, quadratic for interval and ratio.
    """
    data = _as_data(data)
    ci = krippendorff_alpha_ci(data, level, n_resamples=n_resamples, seed=seed, confidence=confidence)
    note = ci.note if not math.isfinite(ci.estimate) else None
    weights = _REPORT_WEIGHTS[level]
    return AgreementReport(
        level=level, krippendorff_alpha=ci.estimate, alpha_ci=ci, alpha_note=note, fleiss_kappa=fleiss_kappa(data),
        n_items=data.n_items, n_annotators=data.n_annotators, n_ratings=data.n_ratings,
        n_pairable_items=int(((data.codes >= 0).sum(axis=1) >= 2).sum()),
        pairwise=pairwise_cohen(data, weights), per_annotator=per_annotator(data),
        per_class=per_class_agreement(data), interpretation=interpret_alpha(ci.estimate))
