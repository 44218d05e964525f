"""A backend whose calls run on an executor's workers, in shards.

The driver keeps the cheap parts (the cache look-up, scoring, usage, writing results); only the model calls
travel. Each worker builds its own backend once per process from a picklable recipe (model id + the spec's
``models`` section), so a local model loads once per worker, not once per shard. Shards are whole multiples of
the backend's batch size, so each worker runs full batches.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunegate.models.base import GENERATE, LABEL_LOGPROBS, Generation, GenerationRequest, LabelScores

BackendFactory = Callable[[str, Any], Any]  # (model_id, ModelsSpec | None) -> Backend


def _default_factory(model_id: str, models: Any) -> Any:
    from tunegate.models.registry import create_backend

    return create_backend(model_id, models)


def _models(models_json: str | None) -> Any:
    if models_json is None:
        return None
    from tunegate.spec import ModelsSpec

    return ModelsSpec.model_validate_json(models_json)


@dataclass(frozen=True)
class BackendRecipe:
    """What a worker needs to build the same backend the driver would: picklable, no live objects, no secrets
    (API keys stay in the environment variable the spec names; workers read it from their own environment).

    ``key`` names the backend in each worker's per-process cache: equal for the default factory and the same
    model settings (a local model loads once per worker across runs), unique per recipe for a custom factory.
    """

    model_id: str
    models_json: str | None = None  # ModelsSpec as JSON
    factory: BackendFactory = field(default=_default_factory, compare=False)
    key: str = ""

    def build(self) -> Any:
        return self.factory(self.model_id, _models(self.models_json))


_WORKER_OBJECTS: dict[str, Any] = {}  # per worker process: backends and embedders, built once


def _worker_object(key: str, build: Callable[[], Any]) -> Any:
    obj = _WORKER_OBJECTS.get(key)
    if obj is None:
        obj = _WORKER_OBJECTS[key] = build()
    return obj


def _worker_backend(recipe: BackendRecipe) -> Any:
    return _worker_object(recipe.key, recipe.build)


def generate_shard(recipe: BackendRecipe, requests: list[GenerationRequest]) -> list[tuple[int, Generation]]:
    """Runs on a worker: one shard of generation requests, results indexed within the shard."""
    return list(_worker_backend(recipe).generate(requests))


def label_logprob_shard(recipe: BackendRecipe, prompts: list[tuple], options: list[str]
                        ) -> list[tuple[int, LabelScores]]:
    """Runs on a worker: label log-likelihoods for one shard of prompts."""
    return list(_worker_backend(recipe).label_logprobs(prompts, options))


class ShardedBackend:
    """Wraps a driver-side backend (used only for its identity and capabilities; a local model is never loaded
    here) and sends the calls to ``executor``'s workers."""

    def __init__(self, executor: Any, recipe: BackendRecipe, *, shard_size: int | None = None) -> None:
        self.executor = executor
        self.recipe = recipe
        self._probe = recipe.build()  # lazy for local models: nothing heavy happens until a call
        self.model_id = self._probe.model_id
        self.capabilities = frozenset(self._probe.capabilities) & frozenset({GENERATE, LABEL_LOGPROBS})
        batch = int(getattr(self._probe, "batch_size", 16) or 16)
        self.shard_size = shard_size or batch * 2
        self.shards_run = 0
        self.preferred_chunk = 1 << 30  # give me every missing prompt at once: the shards are mine to plan

    def cache_identity(self) -> dict[str, Any]:
        return self._probe.cache_identity()

    def _shards(self, n: int) -> list[range]:
        size = max(1, self.shard_size)
        return [range(s, min(s + size, n)) for s in range(0, n, size)]

    def generate_batches(self, requests: Sequence[GenerationRequest]) -> Iterator[list[tuple[int, Generation]]]:
        """One list per finished shard, indices into ``requests`` (the runner commits each list at once)."""
        shards = self._shards(len(requests))
        args = [(self.recipe, [requests[i] for i in r]) for r in shards]
        for k, results in self.executor.map_unordered(generate_shard, args):
            self.shards_run += 1
            yield [(shards[k][j], gen) for j, gen in results]

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        for batch in self.generate_batches(requests):
            yield from batch

    def label_logprobs(self, prompts: Sequence[tuple], options: Sequence[str]) -> Iterator[tuple[int, LabelScores]]:
        shards = self._shards(len(prompts))
        args = [(self.recipe, [prompts[i] for i in r], list(options)) for r in shards]
        for k, results in self.executor.map_unordered(label_logprob_shard, args):
            self.shards_run += 1
            for j, scores in results:
                yield shards[k][j], scores

    def close(self) -> None:
        self._probe.close()


def _embed_shard(model_id: str, models_json: str | None, texts: list[str]) -> Any:
    """Runs on a worker: embeddings of one shard of texts (the embedder is built once per worker process)."""
    from tunegate.models.registry import create_embedder

    emb = _worker_object(f"embed:{model_id}:{models_json}",
                         lambda: create_embedder(model_id, _models(models_json)))
    return emb.embed(texts)


class ShardedEmbedder:
    """An embedder whose texts are embedded on the executor's workers, shard by shard, returned in order:
    embedding is the slow part of drift checks on large logs (MiniLM embeds ~150–230 texts/s per CPU core)."""

    def __init__(self, executor: Any, model_id: str, models: Any = None, *, shard_size: int = 256) -> None:
        self.executor = executor
        self.model_id = model_id
        self._models_json = models.model_dump_json() if models is not None else None
        self.shard_size = shard_size

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        shards = [list(texts[s : s + self.shard_size]) for s in range(0, len(texts), self.shard_size)]
        if not shards:
            return np.zeros((0, 0), dtype=np.float32)
        parts = dict(self.executor.map_unordered(_embed_shard, [(sh,) for sh in shards],
                                                 shared=(self.model_id, self._models_json)))
        return np.vstack([np.asarray(parts[k]) for k in range(len(shards))])


def sharded_backend(executor: Any, model_id: str, models: Any = None, *, factory: BackendFactory | None = None,
                    shard_size: int | None = None) -> ShardedBackend:
    """The backend for ``model_id`` with its calls spread over ``executor``."""
    models_json = models.model_dump_json() if models is not None else None
    key = f"backend:{model_id}:{models_json}" if factory is None else f"backend:{uuid.uuid4()}"
    recipe = BackendRecipe(model_id, models_json, factory or _default_factory, key)
    return ShardedBackend(executor, recipe, shard_size=shard_size)
