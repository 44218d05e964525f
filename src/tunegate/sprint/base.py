"""The sprint's shared context: what strategies, candidates and the evaluator read during one sprint.

A leaf of the sprint package (it imports no other sprint module except the config), so ``strategies``,
``candidates`` and ``evaluate`` can all depend on it without importing each other in a circle. It also holds the
few-shot pool and the leakage guard: examples come from train only, never from dev or test.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tunegate.errors import TunegateError
from tunegate.evals.parsing import normalize_text

if TYPE_CHECKING:
    from tunegate.data.examples import Dataset, Example
    from tunegate.evals.prompts import PromptTemplate
    from tunegate.evals.scoring_base import Scorer
    from tunegate.models.cache import ResponseCache
    from tunegate.models.usage import UsageTracker
    from tunegate.spec import Spec
    from tunegate.config.sprint import SprintSpec

CallsFn = Callable[[int], None]  # called with the number of calls just answered


@dataclass
class SprintContext:
    """What strategies and the evaluator share during one sprint."""

    spec: Spec
    config: SprintSpec
    dataset: Dataset
    template: PromptTemplate
    scorers: list[Scorer]
    primary: str
    backend_for: Callable[[str], Any]
    cache: ResponseCache
    usage: UsageTracker
    seed: int
    embedder_factory: Callable[[], Any] | None = None
    on_calls: CallsFn | None = None
    pool: list[Example] = field(default_factory=list)
    pool_excluded: int = 0
    knn_items: list[Example] = field(default_factory=list)  # dev and test items of the sprint, embedded in one batch
    access_log: list[tuple[str, str, int]] = field(default_factory=list)  # (phase, candidate, n items)
    _eval_ids: set[str] = field(default_factory=set)
    _embedder: Any = None
    _emb: dict[str, np.ndarray] = field(default_factory=dict)
    _pool_matrix: np.ndarray | None = None

    def __post_init__(self) -> None:
        held_out = self.dataset.split("dev") + self.dataset.split("test")
        self._eval_ids = {e.id for e in held_out}
        texts = {normalize_text(e.input_text()) for e in held_out}
        train = self.dataset.split("train")
        self.pool = [e for e in train if normalize_text(e.input_text()) not in texts and e.id not in self._eval_ids]
        self.pool_excluded = len(train) - len(self.pool)

    # -- few-shot ------------------------------------------------------------------------------------------
    def _need_pool(self, k: int) -> None:
        if not self.pool:
            raise TunegateError("few-shot strategies need a train split (the few-shot pool); it is empty")
        if k > len(self.pool):
            raise TunegateError(f"k={k} few-shot examples asked, but the train pool has only {len(self.pool)}")

    def random_shots(self, item: Example, k: int) -> list[Example]:
        self._need_pool(k)
        h = int.from_bytes(hashlib.sha256(f"{self.seed}:{item.id}".encode()).digest()[:8], "big")
        return self.check_shots(random.Random(h).sample(self.pool, k))

    def embed(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._emb]
        if todo:
            if self._embedder is None:
                if self.embedder_factory is None:
                    raise TunegateError("kNN few-shot needs an embedding model (models.embedding)")
                self._embedder = self.embedder_factory()
            vecs = np.asarray(self._embedder.embed(todo), dtype=np.float32)
            for t, v in zip(todo, vecs):
                self._emb[t] = v / (np.linalg.norm(v) or 1.0)
        return np.stack([self._emb[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)

    def knn_index(self) -> np.ndarray:
        """The pool's embeddings; the first call also embeds ``knn_items`` (the sprint's dev and test items), so
        each split costs one batched embedding per sprint, not one embedder call per item (issue 19)."""
        if self._pool_matrix is None:
            self._need_pool(1)
            self._pool_matrix = self.embed([e.input_text() for e in self.pool])
            if self.knn_items:
                self.embed([e.input_text() for e in self.knn_items])
        return self._pool_matrix

    def knn_shots(self, item: Example, k: int) -> list[Example]:
        self._need_pool(k)
        sims = self.knn_index() @ self.embed([item.input_text()])[0]
        top = np.argsort(-sims, kind="stable")[:k]
        return self.check_shots([self.pool[i] for i in top[::-1]])  # nearest last, next to the question

    def check_shots(self, shots: list[Example]) -> list[Example]:
        """The leakage guard: few-shot examples come from the train pool only, never from dev or test."""
        bad = [s.id for s in shots if s.split != "train" or s.id in self._eval_ids]
        if bad:
            raise TunegateError(f"leakage: few-shot examples {bad[:5]} are not train-only items")
        return shots

    def record_access(self, phase: str, candidate: str, items: list[Example]) -> None:
        self.access_log.append((phase, candidate, len(items)))
        if phase == "selection" and any(e.split == "test" for e in items):
            raise TunegateError("selection touched the test split (a bug: selection uses dev items only)")
