"""Versions of the success criterion: the golden set (test items + expected answers) and the rubric (scorers).

What "good" means drifts as a product evolves: gold answers get corrected, items are added, a scorer or label
definition changes. A number measured under one criterion is not comparable with one measured under another, so
the portfolio records each change. A *version* is a content fingerprint plus a small per-item snapshot (hashes
only, never the texts), which is enough to say later which items were added, removed or re-labelled.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tunegate.data.examples import load_examples
from tunegate.spec import Spec

CRITERION_SPLIT = "test"  # the golden set: reported numbers come from the test split


def _sha(obj: Any) -> str:
    canon = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def rubric_of(spec: Spec) -> dict[str, Any]:
    """The parts of a spec that decide whether an answer is right: metric, scorers, label definitions, judge rubric."""
    ce = spec.check_eval.model_dump(mode="json")
    return {
        "metric": spec.eval.metric,
        "target": spec.eval.target,
        "scorers": [s.model_dump(mode="json") for s in spec.eval.scorers],
        "labels": [lab.model_dump(mode="json") for lab in spec.task.labels],
        "judge": {k: ce[k] for k in ("judge", "rubric") if k in ce},
    }


def criterion_version(spec: Spec, *, split: str = CRITERION_SPLIT) -> dict[str, Any]:
    """Fingerprint the spec's golden set and rubric: ``{fingerprint, golden_set_sha, rubric_sha, n_items, items,
    rubric}``; ``items`` maps each id to ``[input hash, gold hash]``."""
    items = {
        ex.id: [_sha(ex.input), _sha(ex.gold)]
        for ex in load_examples(spec).split(split)
    }
    rubric = rubric_of(spec)
    golden_sha, rubric_sha = _sha(sorted(items.items())), _sha(rubric)
    return {
        "fingerprint": _sha([golden_sha, rubric_sha]),
        "golden_set_sha": golden_sha,
        "rubric_sha": rubric_sha,
        "split": split,
        "n_items": len(items),
        "items": items,
        "rubric": rubric,
    }


def diff_versions(old: dict[str, Any], new: dict[str, Any], *, max_ids: int = 50) -> dict[str, Any]:
    """What changed between two versions: items added/removed, inputs or expected answers changed, rubric keys.

    Id lists are cut at ``max_ids`` (the counts are exact) so a history row stays small.
    """
    oi, ni = old.get("items", {}), new.get("items", {})
    added = sorted(set(ni) - set(oi))
    removed = sorted(set(oi) - set(ni))
    shared = sorted(set(oi) & set(ni))
    gold_changed = [i for i in shared if oi[i][1] != ni[i][1]]
    input_changed = [i for i in shared if oi[i][0] != ni[i][0]]
    orub, nrub = old.get("rubric", {}), new.get("rubric", {})
    rubric_changed = sorted(k for k in set(orub) | set(nrub) if orub.get(k) != nrub.get(k))
    return {
        "changed": old.get("fingerprint") != new.get("fingerprint"),
        "old_fingerprint": old.get("fingerprint"),
        "new_fingerprint": new.get("fingerprint"),
        "golden_set_changed": old.get("golden_set_sha") != new.get("golden_set_sha"),
        "rubric_changed": rubric_changed,
        "n_items_old": len(oi),
        "n_items_new": len(ni),
        "counts": {"added": len(added), "removed": len(removed), "gold_changed": len(gold_changed),
                   "input_changed": len(input_changed)},
        "added": added[:max_ids],
        "removed": removed[:max_ids],
        "gold_changed": gold_changed[:max_ids],
        "input_changed": input_changed[:max_ids],
        "source": "tunegate.monitor.criterion_version.diff_versions",
    }
