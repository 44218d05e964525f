"""Selection on dev without a full grid: budgeted racing with paired eliminations, then the survivors finish dev.

Why not plain successive halving: halving until one candidate is left decides the winner on the 100-250 items
of its last round, however large dev is, so a 1-3 point lead is lost to noise (simulated: within 1 point of the
best 42-76% of the time, against 73-95% for the full grid). Why not the full grid: most candidates are clearly
worse after a few dozen items, and evaluating them on every dev item buys nothing.

``race`` therefore spends a budget (by default 1/3 of the grid's calls) where it matters:

1. every round, all surviving candidates answer the same *new* dev items (paired: item difficulty cancels), and
   every item a candidate has answered stays in its mean;
2. the cuts are planned over the whole remaining budget (``plan_cuts``): the number of survivors falls like
   ``items ** -0.5``, one or two candidates at a time, so three or four close rivals stay in while the items
   seen cannot yet tell them apart, and the last two get most of the dev items. (Halving the field each round,
   the previous rule, cut the best of a dense ladder 2-3 points more often.) Each round ends at the plan's next
   cut, where the worst by mean on the shared items go (``eliminated_by_rank``), and the plan is redone;
3. a candidate significantly worse than the leader on the items both have seen goes at once by a one-sided paired
   test (McNemar's z with continuity correction for 0/1 scores, the self-normalised sum of differences
   otherwise), Bonferroni-corrected over the other candidates and the rounds: the chance that the test ever
   eliminates the truly best candidate is at most ``alpha`` (normal approximation); the calls it saves go to
   the rest through the next plan;
4. as soon as the budget can pay for the survivors on the rest of dev, they finish it and the best mean on all
   of dev wins: whenever the full grid's winner survived, the race picks exactly what the grid would.

What this cannot do (bench/sprint_selection.py --genie, docs/sprint.md): with 8 candidates, 1/3 of the grid's
calls pays for under three candidates on all of dev; a rule *told* the best four, spending everything on them,
still trails the grid by up to 6-8.5 points on dense ladders, so no rule that must find them is within 5 points
of the grid in every such setting.

``successive_halving`` (the previous scheme) stays for comparison in the benchmarks. The evaluator is a
callback ``evaluate(candidate_ids, item_indices) -> {candidate_id: [score per item]}``, so the same code races
real models and, in tests and benchmarks, synthetic candidates with known accuracies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

Evaluate = Callable[[list[int], list[int]], dict[int, list[float]]]
DECAY = 0.5  # how fast the number of survivors falls with the items seen (plan_cuts)


@dataclass
class Round:
    candidates: list[int]
    new_items: int
    items_seen: int
    values: dict[int, float]  # mean over all items seen so far
    eliminated: list[int]
    by_test: list[int] = field(default_factory=list)  # of ``eliminated``: significantly worse than the leader


@dataclass
class RaceResult:
    finalists: list[int]  # best first (by dev mean)
    rounds: list[Round]
    items_per_candidate: dict[int, int]
    scores: dict[int, list[float]] = field(default_factory=dict)  # per candidate, in the order items were seen
    items_order: list[int] = field(default_factory=list)  # dev item indices in the order they were used
    stopped_by_budget: bool = False
    method: str = "halving"
    finished: list[int] = field(default_factory=list)  # candidates that saw every dev item the race used
    eliminated_by_test: list[int] = field(default_factory=list)
    eliminated_by_rank: list[int] = field(default_factory=list)
    alpha: float | None = None
    budget: float | None = None  # the selection budget, in the units of cost_per_item
    spent: float = 0.0

    def item_evaluations(self) -> int:
        return sum(self.items_per_candidate.values())


def _rank(ids: Sequence[int], scores: dict[int, list[float]], order: dict[int, int]) -> list[int]:
    return sorted(ids, key=lambda c: (-float(np.mean(scores[c])) if scores[c] else 0.0, order[c]))


def paired_z(lead: np.ndarray, others: np.ndarray, binary: bool) -> np.ndarray:
    """One-sided paired statistic that ``lead`` beats each row of ``others`` on the same items.

    z = (sum d - c) / sqrt(sum d^2) with d = lead - other: for 0/1 scores this is McNemar's z, (b10 - b01) over
    sqrt(b10 + b01), with continuity correction c = 1 (conservative next to the exact test); for graded scores
    the self-normalised sum (c = 0), valid under the sign-symmetric null of the sign-flip test. 0 without
    disagreement."""
    d = lead[None, :] - others
    s, q = d.sum(axis=1), (d * d).sum(axis=1)
    num = s - (np.sign(s) if binary else 0.0)
    return np.where(q > 0, num / np.sqrt(np.where(q > 0, q, 1.0)), 0.0)


def plan_cuts(k: int, m: int, n: int, slots: float, decay: float = DECAY) -> list[int] | None:
    """How many of ``k`` candidates evaluate each of the dev items ``m + 1 .. n`` (all share the first ``m``)
    so that the evaluations fit in ``slots``: the count falls like ``a * item ** -decay`` (the largest ``a`` that
    fits), a ladder of close rivals being cut one by one as the items seen make the next gap visible. The
    race stops where the count reaches 1. ``None`` when every candidate can finish dev within the slots.

    Why this shape: a rival ``d`` behind is told apart after about ``1 / d**2`` items, so on a ladder the number
    of rivals still in doubt falls like ``item ** -1/2``. The simulated optimum over all cut schedules (8
    candidates, 1/3 of the grid, a dense ladder) keeps 6, 4, 3, 2 after about 12, 40, 70 and 140 items; of the
    decays tried (0.3-0.8), 0.5 did best over the 72 simulated settings (docs/sprint.md)."""
    if k * (n - m) <= slots:
        return None
    jd = np.arange(m + 1, n + 1, dtype=float) ** -decay

    def counts(a: float) -> np.ndarray:
        c = np.minimum(np.floor(a * jd), k)
        return c[: int(np.argmax(c < 2))] if c[-1] < 2 else c  # the race ends where one would be left

    lo, hi = 1.0, (k + 1) / float(jd[-1])  # counts(hi) keeps all k to n, which does not fit
    while hi / lo > 1.001:
        mid = math.sqrt(lo * hi)
        if counts(mid).sum() <= slots:
            lo = mid
        else:
            hi = mid
    return counts(lo).astype(int).tolist()


def race(
    candidates: Sequence[int],
    n_items: int,
    evaluate: Evaluate,
    *,
    min_items: int = 16,
    eta: int = 2,
    alpha: float = 0.05,
    budget_share: float = 1 / 3,
    finalists: int = 2,
    seed: int = 0,
    cost_per_item: dict[int, float] | None = None,
    budget: float | None = None,
    decay: float = DECAY,
) -> RaceResult:
    """Select among ``candidates`` (ids, simplest first) on ``n_items`` dev items; see the module docstring.

    The selection budget is ``budget_share`` of the full grid's cost (every candidate on every item at
    ``cost_per_item``, default 1 per item), or ``budget`` when that is smaller; the first round (at least
    ``min_items`` items) always runs. ``finalists`` are the best by dev mean among the last survivors, then the
    candidates eliminated last. Ties keep the earlier candidate. ``eta`` is kept for the spec's key: a round
    never cuts more than ``1 - 1/eta`` of the survivors by rank.
    """
    if not candidates:
        raise ValueError("no candidates to race")
    if n_items < 1 or min_items < 1 or eta < 2 or finalists < 1:
        raise ValueError("need n_items >= 1, min_items >= 1, eta >= 2, finalists >= 1")
    if not 0 < alpha < 1 or not 0 < budget_share <= 1:
        raise ValueError(f"need 0 < alpha < 1 and 0 < budget_share <= 1, got {alpha}, {budget_share}")
    ids = list(candidates)
    k_all = len(ids)
    pos = {c: i for i, c in enumerate(ids)}
    perm = [int(i) for i in np.random.default_rng(seed).permutation(n_items)]
    cost = np.array([float((cost_per_item or {}).get(c, 1.0)) for c in ids])
    share_budget = budget_share * float(cost.sum()) * n_items
    total = share_budget if budget is None else min(share_budget, float(budget))
    # every round but the last cuts at least one candidate: at most k_all looks at the test
    z_crit = NormalDist().inv_cdf(1 - alpha / (max(1, k_all - 1) * k_all))
    min_step = max(1, min_items // 2)
    x = np.zeros((k_all, n_items))
    alive = np.arange(k_all)
    rounds: list[Round] = []
    by_test: list[int] = []
    by_rank: list[int] = []
    used, spent, binary = 0, 0.0, True

    def run(members: np.ndarray, new: int) -> None:
        nonlocal used, spent, binary
        idx = perm[used: used + new]
        got = evaluate([ids[i] for i in members], idx)
        for i in members:
            row = np.asarray(got[ids[i]], dtype=float)
            if row.shape != (new,):
                raise ValueError(f"evaluator returned {row.size} scores for {new} items (candidate {ids[i]})")
            x[i, used: used + new] = row
        binary = binary and bool(np.all((x[members, used: used + new] == 0) | (x[members, used: used + new] == 1)))
        used += new
        spent += float(cost[members].sum()) * new

    def ranked(members: np.ndarray) -> np.ndarray:
        means = x[members, :used].mean(axis=1) if used else np.zeros(members.size)
        return members[np.lexsort((members, -np.round(means, 12)))]

    while alive.size > 1 and used < n_items:
        unit = float(cost[alive].mean())  # the plan counts candidate-items at the survivors' mean cost
        plan = plan_cuts(alive.size, used, n_items, (total - spent) / unit, decay)
        rest = n_items - used
        if plan is None and rounds:  # the survivors can finish dev: they do, and the best mean on it wins
            run(alive, rest)
            rounds.append(Round([ids[i] for i in alive], rest, used,
                                {ids[i]: float(x[i, :used].mean()) for i in alive}, []))
            break
        if plan is None:
            new, keep = rest, alive.size
        else:
            drop = next((t for t, c in enumerate(plan) if c < alive.size), len(plan))  # items before the next cut
            new = drop
            keep = plan[drop] if drop < len(plan) else 1
            if not rounds:
                new = max(new, min(min_items, rest))
            elif new < min_step:  # no round of a handful of items: take a few more, then replan
                new = min(rest, min_step, int((total - spent) // float(cost[alive].sum())))
            if new < 1:
                break
        before = alive
        run(alive, new)
        full = ranked(alive)
        z = paired_z(x[full[0], :used], x[full[1:], :used], binary)
        worse = {int(i) for i in full[1:][z > z_crit]}
        order = np.array([i for i in full if int(i) not in worse])
        cut: list[int] = []
        if used < n_items and plan is not None:
            keep = max(keep, math.ceil(before.size / eta), 1)
            if order.size > keep:
                cut = [int(i) for i in order[keep:]]
                order = order[:keep]
        gone = [int(i) for i in full if int(i) in worse or int(i) in set(cut)]  # best first
        by_test += [i for i in gone if i in worse]
        by_rank += cut
        rounds.append(Round([ids[i] for i in before], new, used,
                            {ids[i]: float(x[i, :used].mean()) for i in before},
                            [ids[i] for i in gone], [ids[i] for i in gone if i in worse]))
        alive = order
    survivors = ranked(alive)
    out_order = [ids[i] for i in survivors] + [c for r in reversed(rounds) for c in r.eliminated]
    seen = {c: 0 for c in ids}
    for r in rounds:  # a candidate saw the items of every round it ran in
        for c in r.candidates:
            seen[c] = r.items_seen
    scores = {c: x[pos[c], :seen[c]].tolist() for c in ids}
    return RaceResult(out_order[:finalists], rounds, seen, scores, perm[:used],
                      stopped_by_budget=budget is not None and budget < share_budget, method="race",
                      finished=[ids[i] for i in survivors if seen[ids[i]] == used],
                      eliminated_by_test=[ids[i] for i in by_test], eliminated_by_rank=[ids[i] for i in by_rank],
                      alpha=alpha, budget=total, spent=spent)


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
