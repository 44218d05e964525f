"""Cached model calls as streams: the one place where "cache + backend" is written.

Every caller that pays for model calls — the evaluation runner, the LLM judge, the sprint — reads answers through
these two generators: cached answers first, then the backend's, each committed to the cache as it lands (the
commit point that makes a run resumable), with in-flight leases so that two processes sharing a cache never pay
twice for one call. Living in ``models`` (not in the runner) keeps the judge, the scorers and the runner out of an
import circle.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from tunegate.models.base import Generation, GenerationRequest
from tunegate.models.cache import ResponseCache, cache_keys


# Coalescing (issue 19): against a near-instant endpoint, a wake-up of this thread per one or two answers
# (a commit and a GIL hand-off each) cost ~10% of a cold run's wall time. After a small batch of fast answers
# (some call in it took under COALESCE_FAST_S), the stream pauses COALESCE_S so the next batch is bigger. The
# cost: on a kill, answers that arrived during that pause (<= COALESCE_S ago) are not yet in the cache. Slower
# calls (a real endpoint, tens of ms or more) are never held back: each batch is committed as it lands.
COALESCE_S = 0.01
COALESCE_FAST_S = 0.02
COALESCE_MAX = 64


def _cached_generation(v: dict[str, Any]) -> Generation:
    return Generation(v["text"], v.get("input_tokens", 0), v.get("output_tokens", 0), v.get("latency_s", 0.0),
                      v.get("finish_reason"), None, cached=True)


def generation_stream(
    backend: Any, cache: ResponseCache, identity: dict, reqs: list[GenerationRequest], *,
    poll_s: float = 0.2,
) -> Iterator[tuple[int, Generation]]:
    """Cached answers first, then the backend's; each backend answer is committed to the cache as it lands.

    A call another process already has in flight on the same cache (a lease, see ResponseCache.claim) is not
    made again: this process waits for its answer, and makes the call itself only if that lease is released
    without one or goes stale."""
    keys = cache_keys(identity, "generate", ((r.messages, r.params, r.epoch) for r in reqs))
    found = cache.get_many(keys)
    missing: list[int] = []
    for i, k in enumerate(keys):
        if k in found:
            yield i, _cached_generation(found[k])
        else:
            missing.append(i)
    if not missing:
        return
    if not hasattr(cache, "claim"):  # a cache without leases (a test double): call everything
        yield from _call_backend(backend, cache, keys, reqs, missing)
        return
    held: list[str] = []
    try:
        waiting = missing
        delay = poll_s
        while waiting:
            claimed = cache.claim([keys[i] for i in waiting])
            held.extend(claimed)
            mine = [i for i in waiting if keys[i] in claimed]
            others = [i for i in waiting if keys[i] not in claimed]
            if mine:
                yield from _call_backend(backend, cache, keys, reqs, mine)
                cache.release([keys[i] for i in mine])  # failed calls: another process may take them over
                delay = poll_s
            if not others:
                break
            got = cache.peek_many([keys[i] for i in others])
            for i in others:
                if keys[i] in got:
                    yield i, _cached_generation(got[keys[i]])
            waiting = [i for i in others if keys[i] not in got]
            if waiting and not mine:
                time.sleep(delay)  # answers are being paid for elsewhere: wait, never pay twice
                delay = min(delay * 1.5, 2.0)
    finally:
        cache.release(held)


def _call_backend(backend: Any, cache: Any, keys: list[str], reqs: list[GenerationRequest],
                  missing: list[int]) -> Iterator[tuple[int, Generation]]:
    def value(gen: Generation) -> dict[str, Any]:
        return {"text": gen.text, "input_tokens": gen.input_tokens, "output_tokens": gen.output_tokens,
                "latency_s": round(gen.latency_s, 6), "finish_reason": gen.finish_reason}

    todo = [reqs[i] for i in missing]
    if hasattr(backend, "generate_batches"):  # optional: results that finished together, one commit per list
        # The backend's event loop runs in another thread; a shorter GIL switch interval (5 ms by default) stops
        # each hand-off from stalling it. Restored afterwards: it is process-wide.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, 0.0005))
        try:
            for batch in backend.generate_batches(todo):
                cache.put_many([(keys[missing[j]], value(g)) for j, g in batch if g.ok], op="generate",
                               model=backend.model_id)
                for j, gen in batch:
                    yield missing[j], gen
                if len(batch) < COALESCE_MAX and min(g.latency_s for _, g in batch) < COALESCE_FAST_S:
                    time.sleep(COALESCE_S)  # let answers gather: one wake-up and one commit for several
        finally:
            sys.setswitchinterval(interval)
        return
    for j, gen in backend.generate(todo):
        i = missing[j]
        if gen.ok:
            cache.put(keys[i], value(gen), op="generate", model=backend.model_id)
        yield i, gen


def logprob_stream(
    backend: Any, cache: ResponseCache, identity: dict, prompts: list[tuple], labels: list[str], chunk: int = 64
) -> Iterator[tuple[int, dict[str, Any]]]:
    keys = cache_keys(identity, "label_logprobs", ((p, None, 0) for p in prompts), extra={"options": labels})
    found = cache.get_many(keys)
    missing = []
    for i, k in enumerate(keys):
        if k in found:
            yield i, {**found[k], "cached": True}
        else:
            missing.append(i)
    chunk = getattr(backend, "preferred_chunk", chunk)  # a sharded backend spreads one big chunk over workers
    for start in range(0, len(missing), chunk):
        part = missing[start : start + chunk]
        for j, ls in backend.label_logprobs([prompts[i] for i in part], labels):
            i = part[j]
            value = {"logprobs": [round(x, 6) for x in ls.logprobs], "input_tokens": ls.input_tokens,
                      "latency_s": round(ls.latency_s, 6)}
            cache.put(keys[i], value, op="label_logprobs", model=backend.model_id)
            yield i, {**value, "cached": False}
