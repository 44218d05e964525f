"""Duplicates, label conflicts and split leakage, each finding carrying the texts it is about.

Why two kinds of sameness are kept apart: the *same* text (exactly, or after case, whitespace and punctuation
are normalised) in train/dev and test inflates every test number, and the same text with two labels is either a
labeling error or a guideline gap — both are real problems and fail the gate. Semantically *similar* texts
(embedding cosine at or above ``audit.near_duplicate_threshold``) are what intent data is made of: paraphrases
such as "why was my card declined" / "why did my card get declined" belong in every split. They are counted and
shown as a warning with both texts, so a person can judge whether a pair is a copy that slipped through.

For extraction and generation tasks the same machinery runs on the inputs, with the gold *target* in the place
of the label (``canonical_target``: JSON with sorted keys, or the reference text with its spacing collapsed), so a
conflict is the same input with two different gold targets. Near-duplicate inputs with different targets are not
reported there: two similar messages naming different orders, or two good replies, differ by design.

Leakage and near-duplicates are reported as pairs (one train/dev item, one test item); duplicates and conflicts
as groups, because three copies of one text are one group, not three pairs.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
LIMIT = 500  # records kept per finding in audit.json; the count is always the full number


def normalize_for_dedup(text: str) -> str:
    """Case-, whitespace- and punctuation-insensitive form of a text (Unicode-normalised)."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _PUNCT.sub(" ", t)
    return " ".join(t.split())


def _canon(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 20.0 and 20 are the same gold amount
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value


def canonical_target(target: Any, kind: str) -> str | None:
    """The form two gold targets are compared in: for ``extraction`` canonical JSON (sorted keys, integral floats
    as integers, list order kept); for ``generation`` the text with its whitespace collapsed. None stays None."""
    if target is None:
        return None
    if kind == "extraction" and not isinstance(target, str):
        return json.dumps(_canon(target), sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    return " ".join(str(target).split())


@dataclass
class DupItem:
    id: str
    text: str
    label: str | None
    split: str | None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "split": self.split, "label": self.label, "text": self.text}


@dataclass
class Finding:
    """One kind of finding: ``records`` (each a pair or group with the items' ids, splits, labels and texts)."""

    kind: str
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.records)

    @property
    def items(self) -> list[list[str]]:
        return [[it["id"] for it in r["items"]] for r in self.records]

    def to_dict(self, limit: int = LIMIT) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "items": self.items[:limit],
                "records": self.records[:limit], "truncated": max(0, self.count - limit)}


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


def split_pair(a: str | None, b: str | None) -> str:
    """'train-test', 'dev-test', 'train-dev', 'train-train', … in a fixed order; 'unsplit' when unknown."""
    order = {"train": 0, "dev": 1, "test": 2}
    if a is None or b is None:
        return "unsplit"
    x, y = sorted((a, b), key=lambda s: (order.get(s, 3), s))
    return f"{x}-{y}"


def crosses_test(a: str | None, b: str | None) -> bool:
    return {a, b} in ({"train", "test"}, {"dev", "test"})


def find_duplicates(
    items: Sequence[DupItem],
    *,
    vectors: np.ndarray | None = None,
    near_threshold: float = 0.95,
    near_conflicts: bool = True,
) -> dict[str, Finding]:
    """Every duplicate, conflict and leakage finding, with texts.

    - ``exact_duplicates`` / ``normalized_duplicates``: groups with the same text (normalized groups that are not
      already one exact group);
    - ``conflicts``: groups with the same normalized text and different labels;
    - ``leakage``: pairs (train or dev item, test item) with the same normalized text;
    - ``near_duplicates``: pairs at cosine ≥ ``near_threshold`` whose normalized texts differ (any splits; each
      record says which), a warning;
    - ``near_conflicts``: those near-duplicate pairs that carry different labels, a warning (none when
      ``near_conflicts`` is False: for free-form targets two similar inputs differ in gold by design).
    """
    exact = _groups(items, lambda it: it.text)
    norm = _groups(items, lambda it: normalize_for_dedup(it.text))
    exact_keys = {frozenset(it.id for it in g) for g in exact}
    f = {k: Finding(k) for k in ("exact_duplicates", "normalized_duplicates", "conflicts", "leakage",
                                 "near_duplicates", "near_conflicts")}
    for g in exact:
        f["exact_duplicates"].records.append({"how": "exact", "items": [it.view() for it in g]})
    for g in norm:
        if frozenset(it.id for it in g) not in exact_keys:
            f["normalized_duplicates"].records.append({"how": "normalized", "items": [it.view() for it in g]})
        labels = sorted({it.label for it in g if it.label is not None})
        if len(labels) > 1:
            f["conflicts"].records.append({"how": "same normalized text", "labels": labels,
                                           "items": [it.view() for it in g]})
        tests = [it for it in g if it.split == "test"]
        for other in (it for it in g if it.split in ("train", "dev")):
            for t in tests:
                how = "exact" if other.text == t.text else "normalized"
                f["leakage"].records.append({"how": how, "kind": split_pair(other.split, "test"),
                                             "items": [other.view(), t.view()]})
    if vectors is not None and len(items) > 1:
        key = [normalize_for_dedup(it.text) for it in items]
        for i, j, s in near_duplicate_pairs(vectors, near_threshold):
            if key[i] == key[j]:
                continue  # the same normalized text: reported above as a duplicate (and leakage, if it crosses)
            a, b = items[i], items[j]
            rec = {"how": "embedding cosine", "similarity": round(s, 4), "kind": split_pair(a.split, b.split),
                   "crosses_test": crosses_test(a.split, b.split), "items": [a.view(), b.view()]}
            f["near_duplicates"].records.append(rec)
            if near_conflicts and a.label is not None and b.label is not None and a.label != b.label:
                f["near_conflicts"].records.append({**rec, "labels": sorted({a.label, b.label})})
        for k in ("near_duplicates", "near_conflicts"):  # pairs that cross into test first, most similar first
            f[k].records.sort(key=lambda r: (not r["crosses_test"], -r["similarity"]))
    return f
