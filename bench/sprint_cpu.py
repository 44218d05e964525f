"""Benchmark: tunegate's own CPU per sprint call (issue 19: goal <= 10 ms at 300 dev items).

A whole ``sprint_stage`` on a synthetic 8-intent task (300 dev, 200 test, 600 train items) against an *instant*
fake backend (label scores and generations returned at once) and an instant hashing embedder, so every CPU second
is tunegate's: prompt rendering, kNN shots, the response cache (SQLite), parsing, scoring, racing, statistics and
the artifacts. Candidates: zero-shot, random and kNN few-shot (label-likelihood), and a JSON-output generation
candidate. Prints process CPU seconds / subject calls, for a cold cache and for a warm rerun (cache hits).

    .venv/bin/python bench/sprint_cpu.py [--dev 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

LABELS = [f"intent_{k}" for k in range(8)]


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "big")


class InstantBackend:
    model_id = "instant:toy"
    capabilities = frozenset({"generate", "label_logprobs"})

    def __init__(self) -> None:
        self.calls = 0

    def cache_identity(self):
        return {"kind": "instant", "model": "toy"}

    @staticmethod
    def _label(prompt: str) -> str:
        q = prompt.rsplit("Message: ", 1)[-1]
        return next((lab for lab in LABELS if lab in q), LABELS[0]) if _h(q) % 3 else LABELS[_h(q) % 8]

    def label_logprobs(self, prompts, options):
        from tunegate.models.base import LabelScores

        for i, p in enumerate(prompts):
            self.calls += 1
            ans = self._label(p[-1]["content"])
            yield i, LabelScores([0.0 if o == ans else -2.0 for o in options], 40, 0.0)

    def generate(self, requests):
        from tunegate.models.base import Generation

        for i, r in enumerate(requests):
            self.calls += 1
            yield i, Generation(json.dumps({"label": self._label(r.messages[-1]["content"])}), 40, 8, 0.0)

    def close(self):
        pass


class InstantEmbedder:
    def embed(self, texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                out[i, _h(w) % 64] += 1.0
        return out


def make_task(d: Path, n_dev: int, n_test: int, n_train: int) -> Path:
    rows = []
    for split, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        for k in range(n):
            lab = LABELS[_h(split, k) % 8]
            rows.append({"id": f"{split}{k}", "text": f"customer {split} {k} writes about {lab} and more words",
                         "intent": lab, "split": split})
    (d / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = d / "tunegate.yaml"
    spec.write_text(json.dumps({
        "task": {"name": "cpu", "kind": "classification", "instruction": "Classify the message.", "labels": LABELS},
        "data": {"path": "d.jsonl", "fields": {"input": "text", "label": "intent", "id": "id", "split": "split"}},
        "eval": {"metric": "accuracy", "target": 0.9},
        "models": {"default": "instant:toy"},
        "sprint": {"strategies": ["zero_shot", "few_shot_random", {"type": "few_shot_knn", "k": 4},
                                  {"type": "few_shot_knn", "k": 8}, ["zero_shot", "json_output"]]},
    }))
    return spec


def one_run(spec_path: Path, out: Path, cache_path: Path, full_grid: bool) -> tuple[float, float, int]:
    from tunegate.models.cache import ResponseCache
    from tunegate.spec import load_spec
    from tunegate.sprint.stage import sprint_stage

    spec = load_spec(spec_path)
    backend = InstantBackend()
    cache = ResponseCache(cache_path)
    c0, w0 = time.process_time(), time.perf_counter()
    art = sprint_stage(spec, out, backend_factory=lambda m: backend, cache=cache, embedder_factory=InstantEmbedder,
                       full_grid=full_grid)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    cache.close()
    return cpu, wall, art["calls_used"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev", type=int, default=300)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--full-grid", action="store_true", help="every candidate on every dev item")
    args = ap.parse_args()
    import tunegate.sprint.stage  # noqa: F401  (imports are not part of the per-call cost)

    rows = {"cold": [], "warm": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            spec = make_task(d, args.dev, args.test, args.train)
            for kind in ("cold", "warm"):
                cpu, wall, calls = one_run(spec, d / f"out-{kind}", d / "c.sqlite", args.full_grid)
                rows[kind].append((cpu, wall, calls))
    print(f"sprint CPU per call: {args.dev} dev / {args.test} test items, 5 candidates, instant backend, "
          f"{args.rounds} rounds (median)")
    for kind, rs in rows.items():
        cpu = statistics.median(r[0] for r in rs)
        wall = statistics.median(r[1] for r in rs)
        calls = rs[0][2]
        print(f"  {kind}: {calls} calls, CPU {cpu:.2f} s, wall {wall:.2f} s, CPU per call {cpu / calls * 1000:.2f} ms")


if __name__ == "__main__":
    main()
