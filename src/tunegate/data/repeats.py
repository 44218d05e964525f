"""Repeated judgments: one annotator labeling the same item more than once.

Why: real data has repeats (Dawid & Skene 1979: clinician 1 examined each of 45 patients three times; crowd
platforms re-serve items). Each statistic needs a stated rule, and a repeat that disagrees with itself is a
finding a person should see, not a row to drop:

- ``all`` (default): every judgment is an observation. Dawid-Skene multiplies the likelihood over all of them,
  as in the 1979 paper; majority vote counts each as a vote. Agreement statistics (alpha, kappa) assume one value
  per annotator and item, so they use each annotator's *first* judgment (file order); self-agreement across the
  repeats is reported beside them.
- ``latest``: only when the user asks (``audit.repeated_judgments: latest``) does the timestamp decide; every
  repeated pair then needs parseable timestamps, and the older judgments are set aside and counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tunegate.data.annotations import Annotation, parse_timestamp
from tunegate.errors import DataError

POLICIES = ("all", "latest")


def _where(a: Annotation) -> tuple[str | None, int | None]:
    file, _, line = (a.source or "").rpartition(":")
    return (file or a.source or None, int(line)) if line.isdigit() else (a.source or None, None)


def _groups(annotations: Sequence[Annotation]) -> dict[tuple[str, str], list[Annotation]]:
    by: dict[tuple[str, str], list[Annotation]] = defaultdict(list)
    for a in annotations:
        by[(a.item_id, a.annotator)].append(a)
    return by


def _ts(a: Annotation) -> float:
    file, line = _where(a)
    return parse_timestamp(a.timestamp or "", file=file, line=line)


def resolve(annotations: Sequence[Annotation], policy: str = "all") -> tuple[list[Annotation], int]:
    """The judgments a model of the annotators uses, and how many were set aside. ``all`` keeps every row;
    ``latest`` keeps, per (item, annotator), the judgment with the latest timestamp (equal: the later row) and
    refuses a repeated pair without timestamps, naming the row."""
    if policy not in POLICIES:
        raise ValueError(f"repeated-judgment policy must be one of {', '.join(POLICIES)}; got {policy!r}")
    if policy == "all":
        return list(annotations), 0
    keep: list[Annotation] = []
    dropped = 0
    for group in _groups(annotations).values():
        if len(group) == 1:
            keep.append(group[0])
            continue
        for a in group:
            if not a.timestamp:
                file, line = _where(a)
                raise DataError(f"annotator '{a.annotator}' labeled item '{a.item_id}' {len(group)} times and this "
                                "judgment has no timestamp; audit.repeated_judgments: latest needs one on every "
                                "repeat (or use 'all' to keep every judgment)", file=file, line=line)
        best = group[0]
        for a in group[1:]:
            if _ts(a) >= _ts(best):
                best = a
        keep.append(best)
        dropped += len(group) - 1
    order = {id(a): n for n, a in enumerate(annotations)}
    keep.sort(key=lambda a: order[id(a)])
    return keep, dropped


def one_per_annotator(annotations: Sequence[Annotation], policy: str = "all") -> list[Annotation]:
    """One judgment per (item, annotator) for agreement statistics: the first in file order (``all``) or the
    latest by timestamp (``latest``)."""
    if policy == "latest":
        return resolve(annotations, "latest")[0]
    return [g[0] for g in _groups(annotations).values()]


def summarize(annotations: Sequence[Annotation], policy: str = "all", *, texts: dict[str, str] | None = None,
              limit: int = 200) -> dict[str, Any]:
    """Counts of repeated judgments and every repeated pair whose labels differ (with the item's text when
    known), so conflicting repeats are shown rather than resolved out of sight."""
    groups = _groups(annotations)
    repeated = {k: g for k, g in groups.items() if len(g) > 1}
    conflicts = []
    agree_pairs = total_pairs = 0
    for (item, ann), g in repeated.items():
        labs = [a.label for a in g]
        n = len(labs)
        total_pairs += n * (n - 1) // 2
        agree_pairs += sum(c * (c - 1) // 2 for c in {lab: labs.count(lab) for lab in labs}.values())
        if len(set(labs)) > 1:
            row: dict[str, Any] = {"item_id": item, "annotator": ann, "labels": labs,
                                   "sources": [a.source for a in g]}
            if any(a.timestamp for a in g):
                row["timestamps"] = [a.timestamp for a in g]
            if texts and item in texts:
                row["text"] = texts[item]
            conflicts.append(row)
    by_annotator: dict[str, int] = defaultdict(int)
    for (_, ann), g in repeated.items():
        by_annotator[ann] += len(g) - 1
    rule = ("every judgment is used by Dawid-Skene and majority vote; agreement statistics use each annotator's "
            "first judgment per item" if policy == "all" else
            "the latest judgment per item and annotator (by timestamp) is used everywhere; older ones are set "
            "aside and counted")
    return {
        "policy": policy,
        "rule": rule,
        "n_repeated_pairs": len(repeated),
        "n_extra_judgments": sum(len(g) - 1 for g in repeated.values()),
        "by_annotator": dict(by_annotator),
        "self_agreement": round(agree_pairs / total_pairs, 4) if total_pairs else None,
        "n_conflicting": len(conflicts),
        "conflicts": conflicts[:limit],
        "truncated": max(0, len(conflicts) - limit),
    }
