"""Criterion stability: what changed between two versions of the golden set or the rubric.

Why: when the expected answers or the scorers change, every metric moves even though no model changed. A team
that does not see that mistakes a change in what "good" means for a model improvement or regression. This module
compares two versions and re-scores the *same* outputs under both, so the shift caused by the criterion alone is a
number with an interval. ``diff_gold`` is pure; ``diff_criteria`` loads both versions' examples and scores (the
monitor calls it too).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.data.examples import Example, load_examples
from tunegate.errors import InputError
from tunegate.evals.stats import paired_bootstrap_diff
from tunegate.spec import Spec, load_spec


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)


def diff_gold(old: dict[str, Any], new: dict[str, Any], limit: int = 100) -> dict[str, Any]:
    """Items whose expected answer changed, and items added or removed, between two ``{id: gold}`` maps."""
    changed = [{"id": i, "old": old[i], "new": new[i]} for i in sorted(old.keys() & new.keys())
               if _canon(old[i]) != _canon(new[i])]
    added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    shared = len(old.keys() & new.keys())
    return {"n_old": len(old), "n_new": len(new), "n_shared": shared, "n_changed": len(changed),
            "changed_share": round(len(changed) / shared, 4) if shared else None, "changed": changed[:limit],
            "n_added": len(added), "added": added[:limit], "n_removed": len(removed), "removed": removed[:limit]}


def diff_scorers(old: Spec, new: Spec) -> list[dict[str, Any]]:
    """Changes in the metric, the scorers and their options (a judge's rubric, a regex, a threshold)."""
    out = []
    if old.eval.metric != new.eval.metric:
        out.append({"what": "eval.metric", "old": old.eval.metric, "new": new.eval.metric})
    a = [s.model_dump() for s in old.eval.scorers]
    b = [s.model_dump() for s in new.eval.scorers]
    for i in range(max(len(a), len(b))):
        x, y = (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)
        if x != y:
            out.append({"what": f"eval.scorers.{i}", "old": x, "new": y})
    return out


def load_against(new: Spec, against: str | Path) -> Spec:
    """The old criterion: a spec file (.yaml/.yml), or a golden-set data file read with the new spec's mapping."""
    p = Path(against)
    if not p.exists():
        raise InputError("--against: file not found", file=p)
    if p.suffix.lower() in (".yaml", ".yml"):
        return load_spec(p)
    data = new.require_data().model_copy(update={"path": str(p.resolve()), "paths": None})
    old = new.model_copy(update={"data": data})
    old._source = new.source
    return old


def _primary(scorers: list[Any]) -> Any:
    return scorers[0]


def diff_criteria(old: Spec, new: Spec, *, outputs: Sequence[tuple[str, str]] | None = None,
                  old_examples: list[Example] | None = None, new_examples: list[Example] | None = None,
                  scorer_ctx: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Compare two criteria. ``outputs`` are ``(item_id, output)`` pairs scored under both (default: each new
    item's gold answer); the primary scorer (the first) is used and its mean compared with a paired bootstrap.
    ``scorer_ctx`` = (old ScorerContext, new ScorerContext) to share backends/cache with a caller."""
    from tunegate.evals.negatives import gold_output
    from tunegate.evals.scorers import ScorerContext, build_scorers

    old_ex = old_examples if old_examples is not None else load_examples(old).examples
    new_ex = new_examples if new_examples is not None else load_examples(new).examples
    old_by, new_by = {e.id: e for e in old_ex}, {e.id: e for e in new_ex}
    result: dict[str, Any] = {"gold": diff_gold({i: e.gold for i, e in old_by.items()},
                                                {i: e.gold for i, e in new_by.items()}),
                              "scorers": diff_scorers(old, new)}
    pairs = list(outputs) if outputs is not None else [(e.id, gold_output(new, e)) for e in new_ex]
    pairs = [(i, o) for i, o in pairs if i in old_by and i in new_by]
    ctx_old, ctx_new = scorer_ctx or (ScorerContext(old), ScorerContext(new))
    s_old, s_new = _primary(build_scorers(old, ctx_old)), _primary(build_scorers(new, ctx_new))
    try:
        a = s_old.score_many([o for _, o in pairs], [old_by[i] for i, _ in pairs])
        b = s_new.score_many([o for _, o in pairs], [new_by[i] for i, _ in pairs])
    finally:
        for s in (s_old, s_new):
            if hasattr(s, "close"):
                s.close()
    both = [(x.value, y.value) for x, y in zip(a, b) if x.value is not None and y.value is not None]
    shift: dict[str, Any] = {"scorer_old": s_old.name, "scorer_new": s_new.name, "n_outputs": len(pairs),
                             "n_scored_both": len(both)}
    if both:
        va, vb = np.array([x for x, _ in both]), np.array([y for _, y in both])
        boot = new.eval.bootstrap
        iv = paired_bootstrap_diff(va, vb, n_resamples=boot.n_resamples, confidence=boot.confidence, seed=boot.seed)
        fin = lambda x: round(float(x), 4) if math.isfinite(x) else None  # noqa: E731
        shift.update({"old_mean": fin(va.mean()), "new_mean": fin(vb.mean()), "shift": fin(iv.estimate),
                      "ci_low": fin(iv.low), "ci_high": fin(iv.high), "n_changed_verdict": int((va != vb).sum())})
    result["metric_shift"] = shift
    result["changed"] = bool(result["gold"]["n_changed"] or result["gold"]["n_added"] or result["gold"]["n_removed"]
                             or result["scorers"])
    return result
