"""The one rule for a task's primary scorer: the per-item score every comparison and decision uses.

It used to be decided five different ways (the sprint, the metrics summary, the criterion gate and the probe
twice), and the probe's ``label_match``-only reading made every extraction or generation prompt score 0, so any
probe "beat" it. Every stage now asks this function.
"""

from __future__ import annotations

from collections.abc import Sequence

# metrics computed over the whole corpus from the classification scorer's per-item outcomes
CORPUS_METRICS = frozenset({"accuracy", "macro_f1"})
CLASSIFICATION_SCORER = "label_match"


def primary_scorer(metric: str, scorer_names: Sequence[str]) -> str:
    """The scorer whose per-item scores stand for the task's metric.

    - the metric names a scorer (``json_fields``, ``llm_judge``, ``exact_match``…): that scorer;
    - the metric is a corpus metric (``accuracy``, ``macro_f1``): ``label_match`` when configured, else the first;
    - otherwise the first configured scorer.
    """
    names = list(scorer_names)
    if not names:
        raise ValueError("no scorers are configured, so there is no primary score")
    if metric in names:
        return metric
    if metric in CORPUS_METRICS and CLASSIFICATION_SCORER in names:
        return CLASSIFICATION_SCORER
    return names[0]
