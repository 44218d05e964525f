"""Coverage and quantity: are there enough examples of each class and of each edge case that matters?

Teams "underestimate the data requirements and overestimate the quality of the data they have": counting is the
cheapest check there is. Counts are per class and per slice, per split; the spec declares the slices that matter
in production with a minimum count, and the classes' minimum.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class _Item(Protocol):
    label: str | None
    split: str | None
    slices: dict[str, str]


@dataclass
class CoverageReport:
    per_class: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> split -> count
    per_slice: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # column -> value -> split
    classes_below_min: list[dict[str, Any]] = field(default_factory=list)
    required_slices: list[dict[str, Any]] = field(default_factory=list)
    long_tail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"per_class": self.per_class, "per_slice": self.per_slice,
                "classes_below_min": self.classes_below_min, "required_slices": self.required_slices,
                "long_tail": self.long_tail}


def _by_split(items: Sequence[_Item], key) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for it in items:
        k = key(it)
        if k is None:
            continue
        c = out.setdefault(k, Counter())
        c[it.split or "none"] += 1
        c["all"] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def coverage(
    items: Sequence[_Item],
    *,
    labels: list[str],
    min_per_class: int,
    required_slices: Sequence[Any] = (),
    count_split: str = "train",
) -> CoverageReport:
    """Counts, shortfalls against the spec's minimums (counted in ``count_split``, where learning happens) and
    the long tail: classes holding fewer than half the median class count."""
    rep = CoverageReport()
    rep.per_class = _by_split(items, lambda it: it.label)
    for lab in labels:  # a declared class with no examples at all is the worst shortfall
        rep.per_class.setdefault(lab, {"all": 0})
    cols = sorted({c for it in items for c in it.slices})
    rep.per_slice = {c: _by_split(items, lambda it, c=c: it.slices.get(c)) for c in cols}

    for lab in labels:
        n = rep.per_class[lab].get(count_split, 0)
        if n < min_per_class:
            rep.classes_below_min.append({"label": lab, "count": n, "min": min_per_class, "split": count_split})
    for req in required_slices:
        col, val, need = req.column, str(req.value), req.min
        n = rep.per_slice.get(col, {}).get(val, {}).get(count_split, 0)
        n_all = rep.per_slice.get(col, {}).get(val, {}).get("all", 0)
        rep.required_slices.append({"column": col, "value": val, "count": n, "count_all_splits": n_all,
                                    "min": need, "split": count_split, "met": n >= need})

    counts = sorted(rep.per_class[lab].get("all", 0) for lab in labels)
    if counts:
        median = counts[len(counts) // 2] if len(counts) % 2 else (counts[len(counts) // 2 - 1] +
                                                                   counts[len(counts) // 2]) / 2
        rare = [lab for lab in labels if rep.per_class[lab].get("all", 0) < 0.5 * median]
        total = sum(counts) or 1
        rep.long_tail = {"median_class_count": median, "rare_classes": rare,
                         "rare_class_share": round(len(rare) / len(labels), 4),
                         "items_in_rare_classes_share": round(sum(rep.per_class[lab].get("all", 0)
                                                                  for lab in rare) / total, 4),
                         "imbalance_ratio": round(counts[-1] / max(counts[0], 1), 2)}
    return rep
