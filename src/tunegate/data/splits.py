"""Deterministic, stratified train/dev/test splits.

The split of an item depends only on the seed, the item ids and the labels — not on file order: within each
label, items are ordered by a seeded hash of their id and cut by largest-remainder counts. A re-ordered file
gives the same split, an appended item moves at most a boundary item per label, and two people with the same
file and seed get the same split.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING, Protocol

import math

if TYPE_CHECKING:
    from tunegate.spec import SplitSpec

SPLITS = ("train", "dev", "test")
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "dev",
    "val": "dev",
    "valid": "dev",
    "validation": "dev",
    "test": "test",
    "eval": "test",
}


class _Splittable(Protocol):
    id: str
    label: str | None
    split: str | None


def _stable_key(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def split_counts(n: int, ratios: dict[str, float]) -> dict[str, int]:
    """Largest-remainder allocation of n items to splits, so counts sum to n exactly."""
    raw = {k: n * r for k, r in ratios.items()}
    counts = {k: math.floor(v) for k, v in raw.items()}
    rest = n - sum(counts.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - counts[k]), SPLITS.index(k)))[:rest]:
        counts[k] += 1
    return counts


def assign_splits(items: list[_Splittable], split: SplitSpec, *, stratify_on_label: bool = True) -> None:
    """Set ``item.split`` in place from the ratios and seed (stratified by label when asked)."""
    ratios = {"train": split.ratios.train, "dev": split.ratios.dev, "test": split.ratios.test}
    groups: dict[str, list[_Splittable]] = defaultdict(list)
    for it in items:
        key = (it.label or "") if stratify_on_label else ""
        groups[key].append(it)
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda it: _stable_key(split.seed, it.id))
        counts = split_counts(len(members), ratios)
        # test first, so small classes keep test items: reported numbers come from test
        names = [s for s in ("test", "dev", "train") for _ in range(counts[s])]
        for item, name in zip(members, names):
            item.split = name
