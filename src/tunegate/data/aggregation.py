"""From many annotators' judgments to one label per item, and from contested items back to a person.

Why: the data gate (condition 2 of the framework) needs labels that are good enough to learn from. Majority vote is
the baseline everyone understands; Dawid & Skene (1979) weigh each annotator by an estimated confusion matrix, which
matters exactly when one annotator is sloppy or adversarial. Items the aggregate is unsure of go to a queue a person
adjudicates; their decisions come back validated (file, line, field) and override the aggregate, on the record.

Everything works on a long-format integer encoding (one row per judgment), so EM is a handful of ``bincount``
calls per iteration instead of Python loops over items.
"""

from __future__ import annotations

import csv
import math
import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.data.annotations import Annotation
from tunegate.data.readers import iter_rows
from tunegate.errors import DataError

TIE_POLICIES = ("random", "abstain", "first")
QUEUE_COLUMNS = ("rank", "item_id", "aggregated_label", "confidence", "entropy", "n_votes", "votes", "reason",
                 "adjudicated_label", "adjudicator")


@dataclass(frozen=True)
class Encoded:
    """Judgments as integer arrays: row r says annotator ``annotator_idx[r]`` gave item ``item_idx[r]`` the
    label ``label_idx[r]``. One annotator may have several rows for one item (repeated judgments).
    ``n_superseded`` counts older repeats set aside by ``encode(..., repeats="latest")``."""

    item_ids: list[str]
    annotators: list[str]
    labels: list[str]
    item_idx: np.ndarray
    annotator_idx: np.ndarray
    label_idx: np.ndarray
    n_superseded: int = 0

    def __post_init__(self) -> None:
        for name in ("item_idx", "annotator_idx", "label_idx"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.intp))
        if not (len(self.item_idx) == len(self.annotator_idx) == len(self.label_idx)):
            raise ValueError("item_idx, annotator_idx and label_idx must have the same length")

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def n_rows(self) -> int:
        return len(self.item_idx)


def encode(annotations: Iterable[Annotation], *, labels: Sequence[str] | None = None,
           repeats: str = "all") -> Encoded:
    """Encode annotations as integer arrays (items and annotators in first-seen order).

    Classes are ``labels`` in the given order when passed (so classes nobody used still exist, and unknown labels
    are errors); otherwise the sorted distinct labels. Repeated judgments (an annotator labeling an item more than
    once) follow ``repeats`` (see ``data.repeats``): ``all`` keeps every one as a row, which is what Dawid-Skene's
    likelihood uses; ``latest`` keeps the latest by timestamp and counts the rest in ``n_superseded``.
    """
    from tunegate.data.repeats import resolve

    rows, superseded = resolve(list(annotations), repeats)
    if labels is None:
        classes = sorted({a.label for a in rows})
    else:
        classes = list(labels)
    cls = {c: k for k, c in enumerate(classes)}
    items: dict[str, int] = {}
    anns: dict[str, int] = {}
    ii, jj, ll = [], [], []
    for a in rows:
        k = cls.get(a.label)
        if k is None:
            raise DataError(f"unknown label '{a.label}' (labels: {', '.join(classes)})", file=a.source or None,
                            field="label")
        ii.append(items.setdefault(a.item_id, len(items)))
        jj.append(anns.setdefault(a.annotator, len(anns)))
        ll.append(k)
    return Encoded(list(items), list(anns), classes, np.array(ii, np.intp), np.array(jj, np.intp),
                   np.array(ll, np.intp), superseded)


@dataclass
class AggregateResult:
    """One label per item with its posterior. ``label_idx`` is -1 where majority vote abstained on a tie.

    Dawid-Skene fills ``confusion`` (annotators × true × given, rows sum to 1), ``priors``, ``converged``,
    ``n_iter``, ``log_likelihood`` and its trajectory. ``item_methods`` differs from ``method`` only for items a
    person adjudicated; ``adjudicators`` records who decided each of those.
    """

    item_ids: list[str]
    classes: list[str]
    label_idx: np.ndarray
    posteriors: np.ndarray
    method: str
    item_methods: list[str]
    annotators: list[str] = field(default_factory=list)
    confusion: np.ndarray | None = None
    priors: np.ndarray | None = None
    converged: bool | None = None
    n_iter: int | None = None
    log_likelihood: float | None = None
    ll_trajectory: list[float] = field(default_factory=list)
    tie_policy: str | None = None
    ties: list[str] = field(default_factory=list)
    adjudicators: dict[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> list[str | None]:
        return [self.classes[k] if k >= 0 else None for k in self.label_idx.tolist()]

    @property
    def confidence(self) -> np.ndarray:
        return self.posteriors.max(axis=1)

    @property
    def n_ties(self) -> int:
        return len(self.ties)

    def to_rows(self) -> list[dict[str, Any]]:
        """Rows for ``--export-labels``: item_id, label (None where abstained), confidence, method."""
        conf = self.confidence.tolist()
        return [{"item_id": iid, "label": lab, "confidence": c, "method": m}
                for iid, lab, c, m in zip(self.item_ids, self.labels, conf, self.item_methods)]

    def summary(self) -> dict[str, Any]:
        """The numbers an artifact records (no per-item arrays)."""
        out: dict[str, Any] = {"method": self.method, "n_items": len(self.item_ids), "n_ties": self.n_ties,
                               "tie_policy": self.tie_policy, "n_adjudicated": len(self.adjudicators),
                               "mean_confidence": float(self.confidence.mean()) if len(self.item_ids) else None}
        if self.confusion is not None:
            out.update(converged=self.converged, n_iter=self.n_iter, log_likelihood=self.log_likelihood,
                       priors=dict(zip(self.classes, map(float, self.priors))))
        return out


def _vote_counts(enc: Encoded) -> np.ndarray:
    K = enc.n_classes
    flat = np.bincount(enc.item_idx * K + enc.label_idx, minlength=enc.n_items * K)
    return flat.reshape(enc.n_items, K).astype(float)


def _same_items(enc: Encoded, result: AggregateResult) -> None:
    if list(result.item_ids) != list(enc.item_ids):
        raise ValueError("result and encoding describe different items; aggregate the same Encoded")


def _require_rows(enc: Encoded) -> None:
    if enc.n_rows == 0 or enc.n_classes == 0:
        raise DataError("no annotations to aggregate")


def majority_vote(enc: Encoded, tie: str = "random", seed: int = 0) -> AggregateResult:
    """Plurality vote; posteriors are vote shares. Ties are never hidden: ``random`` breaks them with a seeded
    draw, ``first`` takes the first class in label order, ``abstain`` leaves the item unlabeled (-1); every tied
    item id is listed in ``ties`` whichever policy is used."""
    if tie not in TIE_POLICIES:
        raise ValueError(f"tie must be one of {', '.join(TIE_POLICIES)}; got {tie!r}")
    _require_rows(enc)
    counts = _vote_counts(enc)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    is_top = counts == counts.max(axis=1, keepdims=True)
    tied = is_top.sum(axis=1) > 1
    if tie == "random":
        draw = np.random.default_rng(seed).random(counts.shape)
        idx = np.where(is_top, draw, -1.0).argmax(axis=1)
    else:
        idx = counts.argmax(axis=1)
        if tie == "abstain":
            idx = np.where(tied, -1, idx)
    ties = [enc.item_ids[n] for n in np.flatnonzero(tied)]
    return AggregateResult(list(enc.item_ids), list(enc.labels), idx.astype(np.intp), shares, "majority_vote",
                           ["majority_vote"] * enc.n_items, annotators=list(enc.annotators), tie_policy=tie,
                           ties=ties)


def dawid_skene(enc: Encoded, max_iter: int = 200, tol: float = 1e-6, init: str = "majority",
                smoothing: float = 0.01, seed: int = 0) -> AggregateResult:
    """Dawid-Skene EM: per-annotator confusion matrices, class priors and per-item posteriors.

    ``smoothing`` is a pseudo-count added to every confusion cell and prior (a Dirichlet prior, so an annotator who
    never saw a class still has a defined row and no log(0) appears). The E-step is computed in log space and
    normalised with log-sum-exp. Converged when the log-likelihood changes by at most ``tol × max(1, |LL|)``;
    ``init`` is ``majority`` (soft vote shares, the original paper's start) or ``random`` (seeded Dirichlet).
    """
    if init not in ("majority", "random"):
        raise ValueError(f"init must be 'majority' or 'random'; got {init!r}")
    if max_iter < 1 or tol < 0 or smoothing < 0:
        raise ValueError("max_iter must be >= 1, tol >= 0 and smoothing >= 0")
    _require_rows(enc)
    N, J, K = enc.n_items, enc.n_annotators, enc.n_classes
    i, j, lab = enc.item_idx, enc.annotator_idx, enc.label_idx
    if init == "majority":
        T = _vote_counts(enc)
        T /= np.maximum(T.sum(axis=1, keepdims=True), 1.0)
    else:
        T = np.random.default_rng(seed).dirichlet(np.ones(K), size=N)
    ks = np.arange(K)
    conf_idx = ((j * K * K + lab)[:, None] + ks[None, :] * K).ravel()  # cell (j, true k, given l) per row and k
    item_idx = (i[:, None] * K + ks[None, :]).ravel()  # cell (i, k) per row and k
    trajectory: list[float] = []
    converged = False
    theta = np.full((J, K, K), 1.0 / max(K, 1))
    priors = np.full(K, 1.0 / max(K, 1))
    for _ in range(max_iter):
        # M-step: expected counts of (annotator, true class, given label) under the current posteriors.
        counts = np.bincount(conf_idx, weights=T[i].ravel(), minlength=J * K * K).reshape(J, K, K) + smoothing
        theta = counts / np.maximum(counts.sum(axis=2, keepdims=True), 1e-300)
        priors = (T.sum(axis=0) + smoothing) / max(N + K * smoothing, 1e-300)
        # E-step in log space: log p(true=k | item) ∝ log prior_k + Σ_rows log theta[j, k, given].
        with np.errstate(divide="ignore"):
            log_theta, log_prior = np.log(theta), np.log(priors)
        contrib = log_theta[j, :, lab]  # (rows, K)
        logT = np.bincount(item_idx, weights=contrib.ravel(), minlength=N * K).reshape(N, K) + log_prior
        m = logT.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(logT - m).sum(axis=1))
        T = np.exp(logT - lse[:, None])
        ll = float(lse.sum())
        trajectory.append(ll)
        if len(trajectory) > 1 and abs(ll - trajectory[-2]) <= tol * max(1.0, abs(ll)):
            converged = True
            break
    return AggregateResult(list(enc.item_ids), list(enc.labels), T.argmax(axis=1).astype(np.intp), T,
                           "dawid_skene", ["dawid_skene"] * N, annotators=list(enc.annotators), confusion=theta,
                           priors=priors, converged=converged, n_iter=len(trajectory),
                           log_likelihood=trajectory[-1] if trajectory else None, ll_trajectory=trajectory)


def annotator_reliability(enc: Encoded, result: AggregateResult, *, min_labels: int = 20, floor: float = 0.7,
                          n_mads: float = 2.0, min_gap: float = 0.05, z: float = 1.645) -> list[dict[str, Any]]:
    """Per annotator: labels given, accuracy against the aggregate, DS-estimated accuracy, commonest confusion.

    The score is the DS-estimated accuracy (Σ_k prior_k · confusion[k, k]) when the result has confusion matrices,
    else accuracy against the aggregate (which the annotator's own votes inflate slightly). An annotator with at
    least ``min_labels`` labels is flagged ``unreliable`` when the score is below ``floor``, or when it lies below
    the median of the *other* eligible annotators (at least two) by at least ``min_gap`` — and by more than
    ``n_mads`` robust SDs (1.4826 · MAD) of the others when there are five or more of them — with the gap
    significant at ``z`` (one-sided; binomial standard errors of both sides). Comparing with the others, not
    with a median the annotator is part of, is what lets three annotators flag one: 0.81 against 0.88 and 0.93
    is flagged, 0.88 against 0.81 and 0.93 is not (docs/data-gate.md has the simulation behind the rule).
    """
    _same_items(enc, result)
    J, K = enc.n_annotators, enc.n_classes
    i, j, lab = enc.item_idx, enc.annotator_idx, enc.label_idx
    n = np.bincount(j, minlength=J)
    agg = result.label_idx[i]
    ok = agg >= 0
    agree = np.bincount(j[ok], weights=(lab[ok] == agg[ok]).astype(float), minlength=J)
    n_ok = np.bincount(j[ok], minlength=J)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = agree / n_ok
    has_ds = result.confusion is not None and list(result.annotators) == list(enc.annotators)
    if has_ds:
        conf, priors = result.confusion, result.priors
        est = np.einsum("k,jkk->j", priors, conf)
    else:  # empirical confusion against the aggregated labels
        cnt = np.bincount((j[ok] * K + agg[ok]) * K + lab[ok], minlength=J * K * K).reshape(J, K, K).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            conf = np.nan_to_num(cnt / cnt.sum(axis=2, keepdims=True))
        priors = np.bincount(result.label_idx[result.label_idx >= 0], minlength=K) / max(int(ok.sum()), 1)
        est = None
    score = est if est is not None else acc
    weighted = priors[None, :, None] * conf
    weighted[:, np.arange(K), np.arange(K)] = 0.0
    eligible = (n >= min_labels) & np.isfinite(score)
    out = []
    for a in range(J):
        top = None
        if K > 1 and weighted[a].max() > 0:
            t, g = divmod(int(weighted[a].argmax()), K)
            top = {"true": enc.labels[t], "given": enc.labels[g], "rate": float(conf[a, t, g])}
        evidence = None
        s = float(score[a]) if np.isfinite(score[a]) else None
        what = "DS-estimated accuracy" if est is not None else "accuracy vs the aggregate"
        others = eligible.copy()
        others[a] = False
        if eligible[a] and s < floor:
            evidence = f"{what} {s:.3f} < {floor:.2f} over {int(n[a])} labels"
        elif eligible[a] and others.sum() >= 2:
            ref = float(np.median(score[others]))
            need = min_gap
            if others.sum() >= 5:
                need = max(need, n_mads * 1.4826 * float(np.median(np.abs(score[others] - ref))))
            se = math.sqrt(max(s * (1 - s), 1e-4) / n[a] + max(ref * (1 - ref), 1e-4) / float(n[others].sum()))
            if ref - s >= need and (ref - s) / se >= z:
                evidence = (f"{what} {s:.3f} is {ref - s:.3f} below the other annotators' median {ref:.3f} "
                            f"(threshold {need:.3f}; z = {(ref - s) / se:.1f} over {int(n[a])} labels)")
        out.append({"annotator": enc.annotators[a], "n_labeled": int(n[a]),
                    "accuracy_vs_aggregate": float(acc[a]) if np.isfinite(acc[a]) else None,
                    "estimated_accuracy": float(est[a]) if est is not None else None,
                    "top_confusion": top, "unreliable": evidence is not None, "evidence": evidence})
    return out


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)


def adjudication_queue(enc: Encoded, result: AggregateResult, top: int | None = None,
                       threshold: float = 0.9) -> list[dict[str, Any]]:
    """Items worth a person's time: annotators disagree, or the posterior max is below ``threshold``.

    Ranked by posterior entropy (bits, highest first), then 1 − max posterior, then item order, so the most
    uncertain items come first and a truncated queue (``top``) keeps the ones that matter. Items already
    adjudicated are left out.
    """
    _same_items(enc, result)
    counts = _vote_counts(enc)
    conf = result.confidence
    ent = _entropy_bits(result.posteriors)
    disagree = (counts > 0).sum(axis=1) > 1
    low = conf < threshold
    done = np.array([m == "adjudicated" for m in result.item_methods], dtype=bool)
    cand = np.flatnonzero((disagree | low) & ~done)
    order = cand[np.lexsort((cand, conf[cand], -np.round(ent[cand], 12)))]
    if top is not None:
        order = order[: max(int(top), 0)]
    by_item = np.argsort(enc.item_idx, kind="stable")
    starts = np.searchsorted(enc.item_idx[by_item], np.arange(enc.n_items + 1))
    labels = result.labels
    queue = []
    for n in order.tolist():
        rows = by_item[starts[n]: starts[n + 1]]
        votes: dict[str, Any] = {}
        for r in rows.tolist():  # an annotator's repeated judgments are listed in order, never overwritten
            name, lab = enc.annotators[enc.annotator_idx[r]], enc.labels[enc.label_idx[r]]
            prev = votes.get(name)
            votes[name] = lab if prev is None else (prev + [lab] if isinstance(prev, list) else [prev, lab])
        reason = " and ".join(w for w, f in (("disagreement", disagree[n]), ("low confidence", low[n])) if f)
        queue.append({"item_id": enc.item_ids[n], "votes": votes, "label": labels[n], "confidence": float(conf[n]),
                      "entropy": float(ent[n]), "n_votes": len(rows), "reason": reason})
    return queue


def write_queue(queue: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write the queue as CSV/TSV or JSONL (by extension) with empty ``adjudicated_label`` and ``adjudicator``
    columns for the person to fill; ``import_adjudications`` reads the same file back."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"rank": r, "item_id": q["item_id"], "aggregated_label": q.get("label"),
             "confidence": round(float(q["confidence"]), 6), "entropy": round(float(q["entropy"]), 6),
             "n_votes": q.get("n_votes", len(q["votes"])), "votes": q["votes"], "reason": q.get("reason", ""),
             "adjudicated_label": "", "adjudicator": ""} for r, q in enumerate(queue, start=1)]
    ext = p.suffix.lower()
    if ext in (".csv", ".tsv"):
        with p.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=QUEUE_COLUMNS, delimiter="\t" if ext == ".tsv" else ",")
            w.writeheader()
            for row in rows:
                w.writerow({**row, "aggregated_label": row["aggregated_label"] or "",
                            "votes": json.dumps(row["votes"], ensure_ascii=False)})
    elif ext in (".jsonl", ".ndjson"):
        with p.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        raise DataError(f"cannot tell the queue format from '{ext or '(none)'}'; use .csv, .tsv or .jsonl", file=p)
    return p


@dataclass(frozen=True)
class Adjudication:
    """One human decision; ``source`` is ``file:line`` so a later error can point back at it."""

    item_id: str
    label: str
    adjudicator: str
    timestamp: str | None = None
    source: str = ""


class AdjudicationImport(list):
    """The decisions read (a ``list[Adjudication]``), plus ``n_blank``: rows nobody filled in."""

    n_blank: int = 0


def _cell(v: Any) -> str:
    return "" if v is None else str(v).strip()


def import_adjudications(path: str | Path, *, labels: Sequence[str], item_ids: Iterable[str]) -> AdjudicationImport:
    """Read a filled-in queue. A row without ``adjudicated_label`` is not a decision: it is skipped and counted in
    ``n_blank``. Every other row must name a known item, a known label and its adjudicator (an optional
    ``timestamp`` column is kept); a second, different decision for the same item is an error."""
    known_items = set(item_ids)
    known_labels = list(labels)
    out = AdjudicationImport()
    seen: dict[str, Adjudication] = {}
    for row in iter_rows(path):
        if row.error:
            raise DataError(row.error, file=row.file, line=row.line)
        d = row.data or {}
        for col in ("item_id", "adjudicated_label", "adjudicator"):
            if col not in d:
                raise DataError("missing column", file=row.file, line=row.line, field=col)
        item, lab, who = _cell(d["item_id"]), _cell(d["adjudicated_label"]), _cell(d["adjudicator"])
        if not lab:
            out.n_blank += 1
            continue
        if item not in known_items:
            raise DataError(f"unknown item '{item}'", file=row.file, line=row.line, field="item_id")
        if lab not in known_labels:
            raise DataError(f"unknown label '{lab}' (labels: {', '.join(known_labels)})", file=row.file,
                            line=row.line, field="adjudicated_label")
        if not who:
            raise DataError("missing adjudicator: every decision needs the name of who made it", file=row.file,
                            line=row.line, field="adjudicator")
        adj = Adjudication(item, lab, who, _cell(d.get("timestamp")) or None, row.where)
        prev = seen.get(item)
        if prev is not None:
            if prev.label != lab:
                raise DataError(f"item '{item}' adjudicated twice with different labels (first '{prev.label}' at "
                                f"{prev.source})", file=row.file, line=row.line, field="adjudicated_label")
            continue
        seen[item] = adj
        out.append(adj)
    return out


def apply_adjudications(result: AggregateResult, adjudications: Iterable[Adjudication]) -> AggregateResult:
    """A new result in which each adjudicated item takes the human label with confidence 1.0 and method
    ``adjudicated``; ``adjudicators`` records who decided. The input result is left unchanged."""
    index = {iid: n for n, iid in enumerate(result.item_ids)}
    cls = {c: k for k, c in enumerate(result.classes)}
    label_idx, post = result.label_idx.copy(), result.posteriors.copy()
    methods, who = list(result.item_methods), dict(result.adjudicators)
    for a in adjudications:
        n, k = index.get(a.item_id), cls.get(a.label)
        if n is None:
            raise DataError(f"unknown item '{a.item_id}'", file=a.source or None, field="item_id")
        if k is None:
            raise DataError(f"unknown label '{a.label}'", file=a.source or None, field="adjudicated_label")
        label_idx[n] = k
        post[n] = 0.0
        post[n, k] = 1.0
        methods[n] = "adjudicated"
        who[a.item_id] = a.adjudicator
    return dataclasses.replace(result, label_idx=label_idx, posteriors=post, item_methods=methods, adjudicators=who)
