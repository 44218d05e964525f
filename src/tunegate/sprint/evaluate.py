"""Running one candidate on a set of items: plans, messages, backend calls through the response cache, parsing,
self-consistency votes, JSON repairs and scoring.

All calls of a candidate on a set of items go to the backend together (local models batch them). The response
cache and its commit-before-use rule are the evaluation runner's (``generation_stream``, ``logprob_stream``), so a
sprint's zero-shot answers are the same cache entries as ``tunegate eval``'s and an interrupted sprint resumes
without repeating calls. The few-shot pool is the train split minus any item whose text also appears in dev or
test, and every plan is checked: an example drawn from dev or test is a leak and stops the sprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunegate.data.examples import Example
from tunegate.models.streams import generation_stream, logprob_stream
from tunegate.models.base import GenerationRequest
from tunegate.models.registry import price_for
from tunegate.sprint.base import SprintContext
from tunegate.sprint.candidates import Candidate
from tunegate.sprint.strategies import (LIKELIHOOD, field_majority, majority, parse_answer, render_messages,
                                       repair_messages, vote_key)

__all__ = ["ItemOutcome", "SprintContext", "mean_score", "run_candidate"]  # SprintContext re-exported: it moved to sprint.base


@dataclass
class ItemOutcome:
    """One candidate on one item: the compact facts the racing and the statistics need."""

    id: str
    split: str
    gold: Any
    output: str | None
    prediction: Any
    score: float  # primary score; unscored counts as 0 in the sprint
    scored: bool
    scores: dict[str, float | None]
    slices: dict[str, str]
    calls: int = 0
    repairs: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost: float = 0.0  # tokens x price, whether or not the cache answered (the price of one real request)
    error: str | None = None
    vote_share: float | None = None


def _score(ctx: SprintContext, output: str | None, ex: Example) -> tuple[dict[str, float | None], Any]:
    if output is None:
        return {s.name: None for s in ctx.scorers}, None
    scores, pred = {}, None
    for s in ctx.scorers:
        sc = s.score(output, ex)
        scores[s.name] = sc.value
        if s.name == ctx.primary:
            pred = sc.prediction
    return scores, pred


def run_candidate(cand: Candidate, items: list[Example], ctx: SprintContext, *, phase: str) -> list[ItemOutcome]:
    """Evaluate one candidate on ``items``; returns one outcome per item, in order."""
    ctx.record_access(phase, cand.name, items)
    backend = ctx.backend_for(cand.model)
    identity = backend.cache_identity()
    price = price_for(cand.model, ctx.spec.models)
    if any(s.name == "few_shot_knn" for s in cand.strategies):
        ctx.knn_index()
        ctx.embed([ex.input_text() for ex in items])  # one batch for items not embedded yet (a no-op when cached)
    plans = [cand.plan(ex, ctx) for ex in items]
    msgs = [render_messages(p, ex, ctx) for p, ex in zip(plans, items)]
    acc = [dict(calls=0, hits=0, inp=0, out=0, lat=0.0, cost=0.0, err=None) for _ in items]

    def account(i: int, *, inp: int, out: int, lat: float, cached: bool, error: str | None) -> None:
        a = acc[i]
        a["calls"] += 1
        a["hits"] += int(cached)
        a["inp"] += inp
        a["out"] += out
        a["lat"] += lat
        a["cost"] += price.cost(inp, out)
        a["err"] = a["err"] or error
        ctx.usage.record(role="subject", model=cand.model, input_tokens=inp, output_tokens=out, latency_s=lat,
                         price=price, cached=cached, error=error is not None)

    def tick(n: int) -> None:
        if ctx.on_calls:
            ctx.on_calls(n)

    outcomes: list[ItemOutcome] = []
    if cand.method == LIKELIHOOD:
        labels = ctx.spec.task.label_names
        answers: dict[int, str] = {}
        for i, res in logprob_stream(backend, ctx.cache, identity, list(msgs), labels):
            account(i, inp=res.get("input_tokens", 0), out=0, lat=res.get("latency_s", 0.0),
                    cached=res["cached"], error=None)
            lp = res["logprobs"]
            answers[i] = labels[max(range(len(labels)), key=lambda k: lp[k])]
            tick(1)
        for i, ex in enumerate(items):
            scores, pred = _score(ctx, answers[i], ex)
            outcomes.append(_outcome(ex, answers[i], pred, scores, ctx, acc[i], 0, None))
        return outcomes

    reqs, owner = [], []
    for i, (p, m) in enumerate(zip(plans, msgs)):
        for s in range(p.samples):
            reqs.append(GenerationRequest(m, p.params, epoch=s))
            owner.append((i, s))
    texts: dict[tuple[int, int], str | None] = {}
    for j, gen in generation_stream(backend, ctx.cache, identity, reqs):
        i, s = owner[j]
        account(i, inp=gen.input_tokens, out=gen.output_tokens, lat=gen.latency_s, cached=gen.cached,
                error=gen.error)
        texts[(i, s)] = gen.text if gen.ok else None
        tick(1)
    parsed = {k: (parse_answer(plans[k[0]], t, ctx) if t is not None else None) for k, t in texts.items()}
    repairs = [0] * len(items)
    for attempt in range(max((p.repairs for p in plans), default=0)):
        todo = [k for k, pa in parsed.items() if pa is not None and pa.output is None and pa.problem
                and plans[k[0]].output == "json" and attempt < plans[k[0]].repairs]
        if not todo:
            break
        rreqs = [GenerationRequest(repair_messages(msgs[i], texts[(i, s)] or "", parsed[(i, s)].problem),
                                   plans[i].params, epoch=s) for i, s in todo]
        for j, gen in generation_stream(backend, ctx.cache, identity, rreqs):
            i, s = todo[j]
            account(i, inp=gen.input_tokens, out=gen.output_tokens, lat=gen.latency_s, cached=gen.cached,
                    error=gen.error)
            repairs[i] += 1
            tick(1)
            if gen.ok:
                texts[(i, s)] = gen.text
                parsed[(i, s)] = parse_answer(plans[i], gen.text, ctx)
    for i, (ex, p) in enumerate(zip(items, plans)):
        outs = [parsed.get((i, s)).output if parsed.get((i, s)) is not None else None for s in range(p.samples)]
        share = None
        if p.samples > 1 and ctx.spec.task.kind == "extraction":
            output, share = field_majority(outs)
        elif p.samples > 1:
            win, share = majority([vote_key(o, ctx) for o in outs])
            output = outs[win] if win is not None else None
        else:
            output = outs[0]
        scores, pred = _score(ctx, output, ex)
        outcomes.append(_outcome(ex, output, pred, scores, ctx, acc[i], repairs[i], share))
    return outcomes


def _outcome(ex: Example, output: str | None, pred: Any, scores: dict[str, float | None], ctx: SprintContext,
             a: dict[str, Any], repairs: int, share: float | None) -> ItemOutcome:
    v = scores.get(ctx.primary)
    return ItemOutcome(ex.id, ex.split or "", ex.gold, output, pred, 0.0 if v is None else float(v), v is not None, scores,
                       ex.slices, calls=a["calls"], repairs=repairs, cache_hits=a["hits"], input_tokens=a["inp"],
                       output_tokens=a["out"], latency_s=a["lat"], cost=a["cost"], error=a["err"],
                       vote_share=None if share is None else round(share, 4))


def mean_score(outcomes: list[ItemOutcome]) -> float:
    return float(np.mean([o.score for o in outcomes])) if outcomes else math.nan
