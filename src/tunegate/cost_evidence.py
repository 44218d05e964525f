"""What the run's evidence says about two cost inputs — labels still to buy, and the quality gain — as samples.

The cost model used to receive the learning curve's *point* estimate of labels needed (the whole count, labels on
hand included) and only a measured quality gain. Both are uncertain, and the decision is only as honest as that
uncertainty: labels to buy are sampled from the curve's band (a split lognormal through its 10th percentile,
estimate and 90th percentile) minus the labels on hand, and the quality gain — measured *or declared* — from the
interval of the fine-tune minus the best prompt.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tunegate.artifact_models import RunArtifacts

_Z90 = 1.2815515655446004  # the 90th percentile of the standard normal
_UNBOUNDED_P90_FACTOR = 10.0  # an unbounded band's upper end, sampled as p90 = 10x the estimate (and said so)


def _rng(seed: int, what: str) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, what))])


def split_lognormal(value: float, low: float | None, high: float | None, n: int, seed: int) -> np.ndarray:
    """Draws whose median is ``value`` and whose 10th / 90th percentiles are ``low`` / ``high``."""
    value = max(float(value), 1.0)
    s_lo = math.log(value / low) / _Z90 if low and 0 < low < value else 0.0
    s_hi = math.log(high / value) / _Z90 if high and high > value else (
        math.log(_UNBOUNDED_P90_FACTOR) / _Z90 if high is None else 0.0)
    z = _rng(seed, "labels").standard_normal(n)
    return value * np.exp(np.where(z < 0, z * s_lo, z * s_hi))


def labels_to_buy_samples(arts: RunArtifacts, declared: dict[str, Any], *, n_draws: int, seed: int
                          ) -> tuple[np.ndarray | float | None, dict[str, Any]]:
    """(samples of the labels still to buy, or None to keep the spec's value; a note for cost.json)."""
    from tunegate.verdict import labels_on_hand
    from tunegate.verdict.prompting import labels_needed, probe_reaches_target

    probe = arts.probe
    target = probe.target if probe is not None else None
    on_hand = labels_on_hand(probe, arts.audit, declared.get("data"))
    if probe_reaches_target(probe, declared.get("finetune"), target):
        return 0.0, {"source": "probe", "labels_on_hand": on_hand, "labels_to_buy": 0,
                     "note": "the probe reaches the target with the labels on hand: none to buy"}
    needed = labels_needed(probe)
    if needed.value is None or needed.status not in (None, "ok"):
        return None, {"source": "spec", "labels_on_hand": on_hand,
                      "note": "no usable labels-needed estimate from the probe: the spec's costs.labeling.labels_needed "
                              "is used"}
    value, low, high = needed.value, needed.low, needed.high
    total = split_lognormal(value, low, high, n_draws, seed)
    buy = np.maximum(0.0, total - (on_hand or 0))
    return buy, {"source": "probe learning curve", "labels_needed": value, "band": [low, high],
                 "band_level": 0.8 if needed.band_level is None else needed.band_level, "labels_on_hand": on_hand,
                 "labels_to_buy_median": float(np.median(buy)), "labels_to_buy_mean": float(buy.mean()),
                 "note": "labels to buy = max(0, labels needed − labels on hand), sampled from the curve's band"
                         + ("; the band's upper end is unbounded and is sampled with p90 = 10x the estimate"
                            if high is None else "")}


def _sd(value: float | None, lo: float | None, hi: float | None) -> float | None:
    if value is None or lo is None or hi is None:
        return None
    return max(hi - lo, 0.0) / (2 * 1.959963984540054)


def quality_gain_samples(arts: RunArtifacts, declared: dict[str, Any], *, n_draws: int, seed: int
                         ) -> tuple[np.ndarray | None, dict[str, Any]]:
    """(samples of fine-tune minus best prompt in metric points, or None; a note). Measured evidence first (the
    paired interval of the difference when the probe has one), else declared evidence, priced the same way."""
    from tunegate.verdict import best_prompt
    from tunegate.verdict.prompting import declared_estimate, probe_estimate

    best, source, _ = best_prompt(arts.sprint, arts.evals, declared.get("prompting"))
    probes = [probe_estimate(p) for p in (arts.probe.probes if arts.probe else []) if p.value is not None]
    ft_source = "measured"
    if probes:
        top = max(probes, key=lambda p: p.value)
    elif (declared.get("finetune") or {}).get("value") is not None:
        top, ft_source = declared_estimate("declared fine-tune", declared["finetune"]), "declared"
    else:
        return None, {"note": "no fine-tune result: the spec's costs.quality.gain_points is used"}
    if best is None or best.value is None:
        return None, {"note": "no best prompt: the spec's costs.quality.gain_points is used"}
    mean = (top.value - best.value) * 100
    cmp = top.comparison
    sd = _sd(cmp.diff, cmp.diff_ci_low, cmp.diff_ci_high) if cmp is not None else None
    how = "paired interval of the difference"
    if sd is None:
        sds = [_sd(e.value, e.ci_low, e.ci_high) for e in (top, best.with_interval())]
        if all(s is not None for s in sds):
            sd, how = math.sqrt(sum(s * s for s in sds)), "the two intervals, as if independent"
    draws = np.full(n_draws, mean) if sd is None else mean + 100 * sd * _rng(seed, "gain").standard_normal(n_draws)
    return draws, {"source": f"{ft_source} fine-tune vs {source} prompt", "mean_points": round(mean, 4),
                   "sd_points": None if sd is None else round(100 * sd, 4),
                   "uncertainty": how if sd is not None else "none known: a point value"}
