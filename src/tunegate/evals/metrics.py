"""From per-item scores to metrics with confidence intervals.

Every metric is reported with a seeded BCa bootstrap interval: for means (accuracy included: conservative at small
n, see ``tunegate.evals.stats``) and for macro-F1 (absent classes skipped, see ``macro_f1_ci``). When every resample
gives the same value (all items right, or all wrong) a bootstrap interval has zero width and would claim certainty
it does not have; Wilson's interval is used instead and the note says so.
Metrics are computed on *scored* items; unscored items are counted beside them and never folded in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tunegate.artifacts import MetricCI
from tunegate.evals.primary import primary_scorer as pick_primary
from tunegate.evals.stats import Interval, MacroF1, bootstrap_cis, wilson_ci

if TYPE_CHECKING:  # annotations only: importing the spec (pydantic) is not needed to compute a metric
    from tunegate.spec import BootstrapSpec

CORPUS_METRICS = ("accuracy", "macro_f1")
# Below this many scored items a macro-F1 interval undercovers (simulated, see ``macro_f1_ci``): reports say so.
MACRO_F1_RELIABLE_N = 100


@dataclass
class ItemRecord:
    """The compact per-item facts kept in memory (full records stream to results.jsonl)."""

    id: str
    gold: str | None
    prediction: str | None  # the label read out of the output (classification)
    scores: dict[str, float | None]  # scorer name -> value (None = unscored)
    slices: dict[str, str] = field(default_factory=dict)
    error: bool = False


def _interval_to_metric(name: str, iv: Interval, n_unscored: int) -> MetricCI:
    def f(x: float) -> float | None:
        return None if x is None or not np.isfinite(x) else round(float(x), 6)

    return MetricCI(
        name=name,
        value=f(iv.estimate),
        ci_low=f(iv.low),
        ci_high=f(iv.high),
        confidence=iv.confidence,
        ci_method=iv.method,
        n=iv.n,
        n_unscored=n_unscored,
        note=iv.note,
    )


def mean_ci(values: np.ndarray, boot: BootstrapSpec) -> Interval:
    """Bootstrap CI of a mean; Wilson when the bootstrap degenerates on 0/1 values."""
    batch = _Batch(boot)
    batch.mean(values)
    return batch.run()[0]


def _mean_finish(values: np.ndarray, iv: Interval | None, boot: BootstrapSpec) -> Interval:
    if iv is None:
        return Interval(float("nan"), float("nan"), float("nan"), boot.confidence, "none", 0, "no scored items")
    binary = bool(np.all((values == 0) | (values == 1)))
    if binary and iv.high - iv.low == 0:
        w = wilson_ci(int(values.sum()), int(values.size), boot.confidence)
        return Interval(w.estimate, w.low, w.high, w.confidence, "wilson", w.n,
                        "all scored items agree, so the bootstrap interval has zero width; Wilson interval shown")
    return iv


def macro_f1_ci(gold: list[str], pred: list[str], labels: list[str], boot: BootstrapSpec) -> Interval:
    """Macro-F1 over ``labels`` with a BCa bootstrap interval (see ``stats.MacroF1``).

    A listed class that is neither gold nor predicted in the (re)sample has no F1 and is left out of the mean
    (``absent="skip"``): scoring it 0, as scikit-learn's ``zero_division=0`` does, put the estimate 4-6 points below
    the population value at n=30 with 5-10 classes (3-4 now) and the percentile interval covered 67-79% for a
    nominal 95%. BCa then corrects the remaining small-sample bias of the ratio. Measured coverage (``tests/test_macro_f1_coverage.py``,
    ``bench/interval_coverage.py``) is near nominal from ~100 items; below that it undercovers, and the note says so.
    """
    batch = _Batch(boot)
    batch.macro_f1(gold, pred, labels)
    return batch.run()[0]


def _macro_f1_finish(gold: list[str], pred: list[str], labels: list[str], iv: Interval | None,
                     boot: BootstrapSpec) -> Interval:
    if iv is None:
        return Interval(float("nan"), float("nan"), float("nan"), boot.confidence, "none", 0, "no scored items")
    notes = [iv.note] if iv.note else []
    seen = set(gold) | set(pred)
    unseen = [lab for lab in labels if lab not in seen]
    if unseen:
        notes.append(f"{len(unseen)} of {len(labels)} labels neither gold nor predicted (e.g. {unseen[0]!r}): "
                     "left out of the mean")
    if len(gold) < MACRO_F1_RELIABLE_N:
        notes.append(f"n={len(gold)} < {MACRO_F1_RELIABLE_N}: macro-F1 intervals undercover at this size "
                     "(about 90% for a nominal 95% at n=30 in simulation)")
    return replace(iv, note="; ".join(notes) or None)


class _Batch:
    """The intervals of one report, bootstrapped together: ``stats.bootstrap_cis`` draws the resamples once per
    item count (the primary scorer and macro-F1 share a draw, so do per-label means of equal size). Each interval
    equals its own ``mean_ci`` / ``macro_f1_ci`` call."""

    def __init__(self, boot: BootstrapSpec) -> None:
        self.boot = boot
        self.jobs: list[tuple] = []
        self.finish: list[tuple[int | None, Any]] = []  # (job index or None for empty input, finisher)

    def mean(self, values: Any) -> int:
        values = np.asarray(values, dtype=float)
        return self._add((values, np.mean, "auto") if values.size else None,
                         lambda iv: _mean_finish(values, iv, self.boot))

    def macro_f1(self, gold: list[str], pred: list[str], labels: list[str]) -> int:
        job = None
        if gold:
            job = ((np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)),
                   MacroF1(labels, absent="skip"), "bca")
        return self._add(job, lambda iv: _macro_f1_finish(gold, pred, labels, iv, self.boot))

    def _add(self, job: tuple | None, finisher: Any) -> int:
        if job is not None:
            self.jobs.append(job)
        self.finish.append((len(self.jobs) - 1 if job is not None else None, finisher))
        return len(self.finish) - 1

    def run(self) -> list[Interval]:
        b = self.boot
        ivs = bootstrap_cis(self.jobs, n_resamples=b.n_resamples, confidence=b.confidence, seed=b.seed)
        return [fin(None if k is None else ivs[k]) for k, fin in self.finish]


def summarize(
    records: list[ItemRecord],
    *,
    metric: str,
    scorer_names: list[str],
    labels: list[str],
    boot: BootstrapSpec,
) -> dict[str, Any]:
    """Primary metric, each scorer's metric, per-label recall and per-slice values, all with CIs."""
    if not scorer_names:
        raise ValueError("no scorers")
    primary_scorer = pick_primary(metric, scorer_names)  # the one rule every stage uses
    batch = _Batch(boot)
    slots: dict[str, tuple[int, int]] = {}  # metric -> (batch slot, unscored count)
    primary_scored: np.ndarray | None = None
    for name in scorer_names:
        vals = [r.scores.get(name) for r in records if not r.error]
        scored = np.asarray([v for v in vals if v is not None], dtype=float)
        slots[name] = (batch.mean(scored), len(vals) - scored.size)
        primary_scored = scored if name == primary_scorer else primary_scored

    scored_cls = [r for r in records if r.scores.get(primary_scorer) is not None and r.prediction is not None]
    if labels:  # with no scored item these are empty intervals ("no scored items"), not a crash
        n_uns = sum(1 for r in records if not r.error) - len(scored_cls)
        acc = np.asarray([r.scores[primary_scorer] for r in scored_cls], dtype=float)
        # usually the primary scorer's very scores: same inputs and seed give the same interval, so reuse it
        same = primary_scored is not None and np.array_equal(acc, primary_scored)
        slots["accuracy"] = (slots[primary_scorer][0] if same else batch.mean(acc), n_uns)
        slots["macro_f1"] = (batch.macro_f1([r.gold for r in scored_cls], [r.prediction for r in scored_cls],
                                            labels), n_uns)

    if metric not in slots:
        known = ", ".join(sorted(slots))
        raise ValueError(f"metric '{metric}' is not produced by the scorers (available: {known})")

    label_slots: dict[str, int] = {}
    if labels:
        for lab in labels:
            vals = np.asarray([r.scores[primary_scorer] for r in scored_cls if r.gold == lab], dtype=float)
            if vals.size:
                label_slots[lab] = batch.mean(vals)

    slice_slots: dict[str, dict[str, tuple[int, int]]] = {}
    slice_cols = sorted({c for r in records for c in r.slices})
    value_name = primary_scorer if metric in CORPUS_METRICS else metric
    for col in slice_cols:
        slice_slots[col] = {}
        for val in sorted({r.slices.get(col, "") for r in records}):
            members = [r for r in records if r.slices.get(col) == val and not r.error]
            vals = np.asarray([r.scores[value_name] for r in members if r.scores.get(value_name) is not None])
            slice_slots[col][val] = (batch.mean(vals), len(members) - vals.size)

    ivs = batch.run()
    metrics = {name: _interval_to_metric(name, ivs[k], n_uns_k) for name, (k, n_uns_k) in slots.items()}
    per_label = {lab: _interval_to_metric(lab, ivs[k], 0) for lab, k in label_slots.items()}
    per_slice = {col: {val: _interval_to_metric(val, ivs[k], n) for val, (k, n) in vals_.items()}
                 for col, vals_ in slice_slots.items()}

    n_ok = sum(1 for r in records if not r.error)
    main = metrics[metric]
    lower_bound = None
    if n_ok and metric not in ("macro_f1",):  # nothing scored: every item counts as wrong, so 0
        lower_bound = round(main.value * main.n / n_ok, 6) if main.value is not None else 0.0
    return {
        "primary_scorer": primary_scorer,
        "metrics": metrics,
        "per_label": per_label,
        "per_slice": per_slice,
        "value_unscored_as_wrong": lower_bound,
    }
