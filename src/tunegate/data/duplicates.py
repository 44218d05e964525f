"""Duplicates, label conflicts and split leakage.

A duplicate in train inflates nothing much; the same text in train and test inflates every test number, and the
same text with two different labels is either label noise or a genuinely ambiguous item the guidelines must
settle. Each finding lists the item ids so a person can look at them.

Three levels of sameness: exact text; normalized text (case, whitespace, punctuation removed); near-duplicates by
embedding cosine at or above a threshold (computed in blocks, so memory stays bounded on large sets).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalize_for_dedup(text: str) -> str:
    """Case-, whitespace- and punctuation-insensitive form of a text (Unicode-normalised)."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _PUNCT.sub(" ", t)
    return " ".join(t.split())


@dataclass
class DupItem:
    id: str
    text: str
    label: str | None
    split: str | None


@dataclass
class Finding:
    """One kind of finding with its count and the groups (or pairs) of item ids."""

    kind: str
    count: int = 0
    items: list[list[str]] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, limit: int = 200) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "items": self.items[:limit],
                "details": self.details[:limit], "truncated": max(0, len(self.items) - limit)}


def _groups(items: Sequence[DupItem], key) -> list[list[DupItem]]:
    by: dict[str, list[DupItem]] = defaultdict(list)
    for it in items:
        by[key(it)].append(it)
    return [g for g in by.values() if len(g) > 1]


def near_duplicate_pairs(
    vectors: np.ndarray, threshold: float, *, block: int = 2048, max_pairs: int = 100_000
) -> list[tuple[int, int, float]]:
    """Index pairs (i < j) whose cosine similarity is ≥ threshold; vectors must be L2-normalised."""
    v = np.asarray(vectors, dtype=np.float32)
    n = v.shape[0]
    out: list[tuple[int, int, float]] = []
    for start in range(0, n, block):
        sims = v[start : start + block] @ v.T  # (block, n)
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if c > i:
                out.append((i, c, float(sims[r, c])))
        if len(out) >= max_pairs:
            break
    return out


def find_duplicates(
    items: Sequence[DupItem],
    *,
    vectors: np.ndarray | None = None,
    near_threshold: float = 0.95,
) -> dict[str, Finding]:
    """All duplicate, conflict and leakage findings.

    ``exact_duplicates`` / ``normalized_duplicates``: groups of items with the same text (normalized groups that
    are not already exact groups). ``conflicts``: groups with the same normalized text but different labels, plus
    near-duplicate pairs with different labels. ``leakage``: groups or pairs spanning train/dev and test
    (``train-test``, ``dev-test``), the most damaging finding because it inflates reported numbers.
    ``near_duplicates``: pairs above the cosine threshold that are not already normalized duplicates.
    """
    exact = _groups(items, lambda it: it.text)
    norm = _groups(items, lambda it: normalize_for_dedup(it.text))
    exact_keys = {frozenset(it.id for it in g) for g in exact}
    findings = {
        "exact_duplicates": Finding("exact_duplicates"),
        "normalized_duplicates": Finding("normalized_duplicates"),
        "near_duplicates": Finding("near_duplicates"),
        "conflicts": Finding("conflicts"),
        "leakage": Finding("leakage"),
    }
    for g in exact:
        findings["exact_duplicates"].items.append([it.id for it in g])
    for g in norm:
        if frozenset(it.id for it in g) not in exact_keys:
            findings["normalized_duplicates"].items.append([it.id for it in g])
    leak_seen: set[frozenset[str]] = set()

    def check_group(group: list[DupItem], how: str, similarity: float | None = None) -> None:
        labels = {it.label for it in group if it.label is not None}
        ids = [it.id for it in group]
        if len(labels) > 1:
            findings["conflicts"].items.append(ids)
            findings["conflicts"].details.append({"how": how, "labels": {it.id: it.label for it in group},
                                                  **({"similarity": round(similarity, 4)} if similarity else {})})
        splits = {it.split for it in group}
        if "test" in splits and splits & {"train", "dev"} and frozenset(ids) not in leak_seen:
            leak_seen.add(frozenset(ids))
            pair = "train-test" if "train" in splits else "dev-test"
            findings["leakage"].items.append(ids)
            findings["leakage"].details.append({"how": how, "splits": {it.id: it.split for it in group},
                                                "kind": pair,
                                                **({"similarity": round(similarity, 4)} if similarity else {})})

    for g in norm:
        check_group(g, "normalized text")
    if vectors is not None and len(items) > 1:
        norm_key = {it.id: normalize_for_dedup(it.text) for it in items}
        for i, j, s in near_duplicate_pairs(vectors, near_threshold):
            a, b = items[i], items[j]
            if norm_key[a.id] == norm_key[b.id]:
                continue  # already reported as a normalized duplicate
            findings["near_duplicates"].items.append([a.id, b.id])
            findings["near_duplicates"].details.append({"similarity": round(s, 4)})
            check_group([a, b], "embedding cosine", s)
    for f in findings.values():
        f.count = len(f.items)
    return findings
