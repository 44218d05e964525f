"""Consistency of a stochastic scorer (an LLM judge): the same outputs scored r times.

Why: a judge whose verdict on the *same* output changes from run to run adds noise to every metric it feeds, and
no amount of eval data averages away a coin flip per item. Two views: the flip rate (share of outputs whose
accept/reject verdict changes across repeats — easy to read) and test-retest Krippendorff alpha with the repeats
as "raters" (chance-corrected, the standard reliability scale: >= 0.8 reliable).
"""

from __future__ import annotations

import math
from typing import Any

from tunegate.data.agreement import krippendorff_alpha_ci, reliability_matrix
from tunegate.evals.stats import wilson_ci


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def consistency(ids: list[str], repeats: list[list[float | None]], accept_at: float, *, level: str = "nominal",
                n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Flip rate (Wilson CI) and test-retest alpha (bootstrap CI over outputs) from ``repeats[r][i]``, the value
    repeat r gave output ``ids[i]`` (None = unscored, treated as missing)."""
    r = len(repeats)
    if r < 2:
        raise ValueError("consistency needs at least two repeats")
    flips = compared = 0
    flipped: list[str] = []
    for i, oid in enumerate(ids):
        verdicts = {v >= accept_at - 1e-12 for rep in repeats if (v := rep[i]) is not None}
        n_scored = sum(rep[i] is not None for rep in repeats)
        if n_scored >= 2:
            compared += 1
            if len(verdicts) > 1:
                flips += 1
                flipped.append(oid)
    w = wilson_ci(flips, compared, confidence) if compared else None
    triples = [(oid, f"repeat_{k}", repeats[k][i]) for k in range(r) for i, oid in enumerate(ids)
               if repeats[k][i] is not None]
    alpha = note = low = high = None
    if triples:
        try:
            iv = krippendorff_alpha_ci(reliability_matrix(triples), level, n_resamples=n_resamples, seed=seed,
                                       confidence=confidence)
            alpha, low, high, note = iv.estimate, iv.low, iv.high, iv.note
        except ValueError as exc:  # e.g. no output scored twice
            note = str(exc)
    if compared == 0:
        alpha = low = high = None
        note = "no output was scored by two or more repeats (the scorer's answers were unparseable or failed)"
    elif alpha is not None and not math.isfinite(alpha) and note is None:
        note = "alpha undefined: every repeat gave the same single value (no variation to compare against)"
    return {"repeats": r, "n_outputs": len(ids), "n_compared": compared, "n_flipped": flips,
            "flip_rate": _r(w.estimate) if w else None, "flip_rate_ci_low": _r(w.low) if w else None,
            "flip_rate_ci_high": _r(w.high) if w else None, "retest_alpha": _r(alpha), "retest_alpha_ci_low": _r(low),
            "retest_alpha_ci_high": _r(high), "alpha_note": note, "level": level,
            "n_unscored_by_repeat": [sum(v is None for v in rep) for rep in repeats], "flipped": flipped[:50]}
