"""Selection by racing: successive halving on paired minibatches of dev items (pure logic, no model calls).

Why not a full grid: most candidates are clearly worse after a few dozen items, and evaluating them on every dev
item buys nothing. Successive halving (Jamieson & Talwalkar 2016; Karnin et al. 2013) evaluates all candidates on
a small minibatch, keeps the best 1/eta, gives the survivors eta times more *new* items, and repeats. Every
survivor sees exactly the same items (paired), so item difficulty cancels in the ranking, and a candidate is
ranked on all the items it has seen. Ties keep the earlier candidate (the candidate list starts with the cheapest).

The evaluator is a callback ``evaluate(candidate_ids, item_indices) -> {candidate_id: [score per item]}``, so the
same code races real models and, in tests and benchmarks, synthetic candidates with known accuracies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Evaluate = Callable[[list[int], list[int]], dict[int, list[float]]]


@dataclass
class Round:
    candidates: list[int]
    new_items: int
    items_seen: int
    values: dict[int, float]  # mean over all items seen so far
    eliminated: list[int]


@dataclass
class RaceResult:
    finalists: list[int]  # best first (by dev mean)
    rounds: list[Round]
    items_per_candidate: dict[int, int]
    scores: dict[int, list[float]] = field(default_factory=dict)  # per candidate, in the order items were seen
    items_order: list[int] = field(default_factory=list)  # dev item indices in the order they were used
    stopped_by_budget: bool = False

    def item_evaluations(self) -> int:
        return sum(self.items_per_candidate.values())


def _rank(ids: Sequence[int], scores: dict[int, list[float]], order: dict[int, int]) -> list[int]:
    return sorted(ids, key=lambda c: (-float(np.mean(scores[c])) if scores[c] else 0.0, order[c]))


def successive_halving(
    candidates: Sequence[int],
    n_items: int,
    evaluate: Evaluate,
    *,
    min_items: int = 16,
    eta: int = 2,
    finalists: int = 2,
    seed: int = 0,
    cost_per_item: dict[int, float] | None = None,
    budget: float | None = None,
) -> RaceResult:
    """Race ``candidates`` (ids, listed simplest first) on ``n_items`` dev items; return the finalists.

    Halving continues until one candidate is left (or the dev items run out); the finalists are the winner and
    then the candidates eliminated last (the runner-up competed with the winner on the most items).
    ``budget`` (in the units of ``cost_per_item``, e.g. calls) stops the race before a round that would exceed it;
    the finalists are then the best ranked so far. At least one round always runs.
    """
    if not candidates:
        raise ValueError("no candidates to race")
    if n_items < 1 or min_items < 1 or eta < 2 or finalists < 1:
        raise ValueError("need n_items >= 1, min_items >= 1, eta >= 2, finalists >= 1")
    order = {c: i for i, c in enumerate(candidates)}
    perm = [int(i) for i in np.random.default_rng(seed).permutation(n_items)]
    cost = cost_per_item or {}
    alive = list(candidates)
    scores: dict[int, list[float]] = {c: [] for c in candidates}
    seen: dict[int, int] = {c: 0 for c in candidates}
    rounds: list[Round] = []
    used, batch, spent, by_budget = 0, min_items, 0.0, False
    while len(alive) > 1 and used < n_items:
        new = perm[used : used + batch]
        round_cost = sum(cost.get(c, 1.0) for c in alive) * len(new)
        if budget is not None and rounds and spent + round_cost > budget:
            by_budget = True
            break
        got = evaluate(list(alive), new)
        for c in alive:
            if len(got[c]) != len(new):
                raise ValueError(f"evaluator returned {len(got[c])} scores for {len(new)} items (candidate {c})")
            scores[c].extend(float(x) for x in got[c])
            seen[c] += len(new)
        used += len(new)
        spent += round_cost
        ranked = _rank(alive, scores, order)
        keep = math.ceil(len(alive) / eta) if used < n_items else 1
        rounds.append(Round(list(alive), len(new), used, {c: float(np.mean(scores[c])) for c in alive},
                            ranked[keep:]))
        alive = ranked[:keep]
        batch *= eta
    # Stopped early (budget, or dev items ran out), several may survive: survivors rank above every candidate
    # eliminated before them, and the rounds record only real eliminations.
    ranked_alive = _rank(alive, scores, order)
    order_out = ranked_alive + [c for r in reversed(rounds) for c in r.eliminated]
    return RaceResult(order_out[:finalists], rounds, seen, scores, perm[:used], by_budget)


def full_grid(candidates: Sequence[int], n_items: int, evaluate: Evaluate, *, finalists: int = 2,
              seed: int = 0) -> RaceResult:
    """Every candidate on every dev item (the comparison mode): one round, then the best ``finalists``."""
    if not candidates:
        raise ValueError("no candidates")
    order = {c: i for i, c in enumerate(candidates)}
    perm = [int(i) for i in np.random.default_rng(seed).permutation(n_items)]
    got = evaluate(list(candidates), perm)
    scores = {c: [float(x) for x in got[c]] for c in candidates}
    ranked = _rank(candidates, scores, order)
    rnd = Round(list(candidates), n_items, n_items, {c: float(np.mean(scores[c])) for c in candidates},
                ranked[finalists:])
    return RaceResult(ranked[:finalists], [rnd], {c: n_items for c in candidates}, scores, perm)


def planned_item_evaluations(n_candidates: int, n_items: int, *, min_items: int, eta: int) -> int:
    """Candidate-item evaluations successive halving will make without a budget (for progress totals and for
    planning against a budget): the schedule depends only on the counts, not on the scores."""
    alive, used, batch, total = n_candidates, 0, min_items, 0
    while alive > 1 and used < n_items:
        new = min(batch, n_items - used)
        total += alive * new
        used += new
        alive = math.ceil(alive / eta) if used < n_items else 1
        batch *= eta
    return total
