"""The example task (examples/support-triage) run with offline fakes, for tests that need every stage's real
artifact in seconds: a backend that answers right on a fixed, hash-chosen ~70% of items (by generation or label
likelihood) and a bag-of-words hashing embedder. Both register under the scheme ``fakeart``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from tunegate.models.base import Generation, LabelScores

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "examples" / "support-triage"
SCHEME = "fakeart"


def _u(*parts: object) -> float:
    h = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


class FakeTaskBackend:
    """Knows the example's gold labels; answers the gold label when u(text, prompt kind) < 0.7."""

    capabilities = frozenset({"generate", "label_logprobs"})

    def __init__(self, model_id: str = f"{SCHEME}:toy") -> None:
        self.model_id = model_id
        rows = [json.loads(x) for x in (EXAMPLE_DIR / "data.jsonl").read_text().splitlines() if x.strip()]
        self.gold = [(r["text"], r["intent"]) for r in rows]
        self.labels = sorted({lab for _, lab in self.gold})
        self.calls = 0

    def cache_identity(self) -> dict:
        return {"kind": "fake", "model": self.model_id}

    def _answer(self, prompt: str) -> str:
        tail = prompt[-2000:]
        hits = [(t, lab) for t, lab in self.gold if t in tail]
        text, lab = max(hits, key=lambda h: tail.rfind(h[0])) if hits else (tail, self.labels[0])
        if _u(text, "Examples" in prompt) < 0.7:
            return lab
        return self.labels[(self.labels.index(lab) + 1) % len(self.labels)]

    def generate(self, requests):
        for i, r in enumerate(requests):
            self.calls += 1
            yield i, Generation(self._answer(r.messages[-1]["content"]), 20, 3, 0.001)

    def label_logprobs(self, prompts, options):
        for i, p in enumerate(prompts):
            self.calls += 1
            ans = self._answer(p[-1]["content"])
            yield i, LabelScores([0.0 if o == ans else -3.0 for o in options], 30, 0.001)

    def close(self) -> None:
        pass


class FakeEmbedder:
    """Bag-of-words hashing into 64 dimensions: texts sharing words are near each other."""

    model_id = f"{SCHEME}:emb"

    def embed(self, texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in str(t).lower().split():
                out[i, int(_u("w", w) * 64)] += 1.0
        return out

    def close(self) -> None:
        pass


def register() -> None:
    """Register ``fakeart:`` as a backend and an embedder scheme (idempotent)."""
    from tunegate.models.registry import register_backend, register_embedder

    register_backend(SCHEME)(lambda model_id, name, settings: FakeTaskBackend(model_id))
    register_embedder(SCHEME)(lambda model_id, name, settings: FakeEmbedder())


def example_copy(dest: Path, extra: str = "") -> Path:
    """The example task copied to ``dest`` with the fakes as its models and an inline prompt; returns the spec."""
    shutil.copytree(EXAMPLE_DIR, dest, dirs_exist_ok=True)
    text = (EXAMPLE_DIR / "tunegate.yaml").read_text()
    text = text.replace("template: prompts/zero_shot.txt", "inline: 'Message: {{input}}'")
    text = text.replace("default: local:smollm2", f"default: {SCHEME}:toy")
    text = text.replace("embedding: local:minilm", f"embedding: {SCHEME}:emb")
    spec = dest / "tunegate.yaml"
    spec.write_text(text + extra, encoding="utf-8")
    return spec
