"""Benchmark: racing vs full grid in the prompt sprint (issue #5), and label-likelihood vs generation speed.

What it measures, and how (printed as one JSON document):

1. ``example``: the support-triage task with the real local model (SmolLM2, label-likelihood candidates from the
   example's ``sprint:`` section). Every candidate is evaluated on every dev item once (the full grid; answers go
   to the response cache, so a rerun is instant) and each call's latency is recorded. For several seeds, racing
   (successive halving) is then *replayed* over those recorded per-item scores: it asks for exactly the calls it
   would make live (the same prompts and cache keys), so its call count is exact; its wall time is the sum of
   the recorded latencies of the calls it used (derived from measured latencies, not re-timed).
2. ``banking77``: 77 intents from ../shared/data. SmolLM2 would need hours on this CPU for a full grid with a
   77-way label set, so a cheap stand-in backend answers instead: it reads each prompt like a model would and
   scores every label by MiniLM cosine similarity of the message to the label name and to the few-shot examples
   that carry that label. Strategies therefore differ as they would (random shots rarely show the right intent;
   nearest-neighbour shots usually do). It measures racing's calls and winner agreement on a 77-way label set,
   not any language model's accuracy.
3. ``synthetic``: 16 candidates with known accuracies on 1,000 items (no model) — the regime of a real team's
   dev set and candidate count.
4. ``likelihood_vs_generate``: the same zero-shot prompt on the same dev items with SmolLM2, fresh caches.

Same-or-tied winner: racing's winner is the full grid's, or the exact McNemar test between the two on all dev
items gives p > 0.05.

    .venv/bin/python bench/sprint_racing.py --seeds 10 --example-dev 74 --b77-dev 300
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "support-triage" / "tunegate.yaml"
B77 = ROOT.parent / "shared" / "data" / "banking77"


def grid_matrix(spec, backend_factory, cache, dev_n: int, embedder_factory=None):
    """Every candidate of the spec's sprint on the first ``dev_n`` dev items: scores, latencies, names."""
    from tunegate.data.examples import load_examples
    from tunegate.evals.prompts import load_template
    from tunegate.evals.scorers import ScorerContext, build_scorers
    from tunegate.models.registry import create_embedder
    from tunegate.models.usage import UsageTracker
    from tunegate.sprint.candidates import build_candidates
    from tunegate.sprint.evaluate import SprintContext, run_candidate
    from tunegate.sprint.stage import _instructions

    backends = {}

    def backend_for(m):
        if m not in backends:
            backends[m] = backend_factory(m)
        return backends[m]

    usage = UsageTracker()
    instr, _ = _instructions(spec, backend_for, cache, usage)
    models = [spec.models.default]
    cands = build_candidates(spec.sprint, spec.task.kind, instr, models, dict(spec.models.params),
                             {m: backend_for(m).capabilities for m in models})
    ds = load_examples(spec)
    dev = ds.split("dev")[:dev_n]
    scorers = build_scorers(spec, ScorerContext(spec))
    ctx = SprintContext(spec, spec.sprint, ds, load_template(spec), scorers, "label_match", backend_for, cache, usage,
                        spec.seed, embedder_factory=embedder_factory or (
                            lambda: create_embedder(spec.models.embedding, spec.models)))
    for c in cands:
        for s in c.strategies:
            s.prepare(ctx)
    scores, lat, wall = {}, {}, {}
    for c in cands:
        t0 = time.perf_counter()
        outs = run_candidate(c, dev, ctx, phase="selection")
        wall[c.name] = time.perf_counter() - t0
        scores[c.index] = np.array([o.score for o in outs])
        lat[c.index] = np.array([o.latency_s for o in outs])
        print(f"  {c.name}: {scores[c.index].mean():.3f} on {len(dev)} dev items", file=sys.stderr)
    return cands, scores, lat, len(dev)


def replay(cands, scores, lat, n, seeds: int, min_items: int, eta: int) -> dict:
    from tunegate.evals.stats import mcnemar_exact
    from tunegate.sprint.racing import full_grid, successive_halving

    ids = [c.index for c in cands]
    ev = lambda cs, idx: {c: scores[c][idx].tolist() for c in cs}  # noqa: E731
    grid = full_grid(ids, n, ev, finalists=1, seed=0)
    g = grid.finalists[0]
    grid_calls = len(ids) * n
    grid_time = float(sum(lat[c].sum() for c in ids))
    runs = []
    for seed in range(seeds):
        used_time = []

        def ev_t(cs, idx):
            used_time.append(sum(float(lat[c][idx].sum()) for c in cs))
            return ev(cs, idx)

        race = successive_halving(ids, n, ev_t, min_items=min_items, eta=eta, finalists=1, seed=seed)
        w = race.finalists[0]
        binary = all(np.isin(scores[c], (0.0, 1.0)).all() for c in (w, g))
        p = 1.0 if w == g or not binary else mcnemar_exact(scores[g].astype(bool), scores[w].astype(bool)).pvalue
        runs.append({"seed": seed, "winner": cands[w].name, "calls": race.item_evaluations(),
                     "seconds": round(sum(used_time), 2), "same": w == g, "tied_p": round(p, 4)})
    calls = [r["calls"] for r in runs]
    return {"candidates": [c.name for c in cands], "dev_items": n, "min_items": min_items, "eta": eta,
            "grid_values": {cands[c].name: round(float(scores[c].mean()), 4) for c in ids},
            "grid_winner": cands[g].name, "grid_calls": grid_calls, "grid_seconds": round(grid_time, 2),
            "racing_calls_mean": float(np.mean(calls)), "racing_calls_share": round(float(np.mean(calls)) / grid_calls, 3),
            "racing_seconds_mean": round(float(np.mean([r["seconds"] for r in runs])), 2),
            "same_winner": sum(r["same"] for r in runs), "same_or_tied": sum(r["same"] or r["tied_p"] > 0.05
                                                                               for r in runs),
            "seeds": seeds, "runs": runs}


# ------------------------------------------------------------------------------------------- banking77 stand-in


class EmbeddingStandIn:
    """A label-likelihood 'model' made of MiniLM similarities (see the module docstring, part 2)."""

    model_id = "standin:minilm"
    capabilities = frozenset({"label_logprobs"})

    def __init__(self) -> None:
        from tunegate.models.registry import create_embedder

        self.emb = create_embedder("local:minilm")
        self.vec: dict[str, np.ndarray] = {}

    def cache_identity(self):
        return {"kind": "standin", "model": "minilm-label-similarity"}

    def _v(self, texts):
        todo = [t for t in dict.fromkeys(texts) if t not in self.vec]
        if todo:
            for t, v in zip(todo, np.asarray(self.emb.embed(todo))):
                self.vec[t] = v / (np.linalg.norm(v) or 1)
        return np.stack([self.vec[t] for t in texts])

    @staticmethod
    def _read(text):
        q = text.rsplit("Message: ", 1)[1].split("\n")[0]
        shots = []
        if "Examples:" in text:
            block = text.split("Examples:")[1].rsplit("Message: ", 1)[0]
            for part in block.split("Message: ")[1:]:
                msg, _, ans = part.partition("\nAnswer: ")
                shots.append((msg.strip(), ans.strip()))
        return q, shots

    def label_logprobs(self, prompts, options):
        opts = self._v([o.replace("_", " ") for o in options])
        read = [self._read(p[-1]["content"]) for p in prompts]
        self._v([t for q, shots in read for t in [q, *(m for m, _ in shots)]])  # one batched embedding call
        for i, (q, shots) in enumerate(read):
            qv = self.vec[q]
            score = opts @ qv
            for msg, ans in shots:
                if ans in options:
                    k = options.index(ans)
                    score[k] = max(score[k], float(self.vec[msg] @ qv) + 0.1)
            yield i, _scores(list(map(float, score * 20)))

    def close(self):
        pass


def _scores(lp):
    from tunegate.models.base import LabelScores

    return LabelScores(lp, 0, 0.0005)


def banking77_spec(tmp: Path, dev_n: int, pool_n: int, seed: int = 0):
    from tunegate.spec import load_spec

    rows = list(csv.DictReader((B77 / "train.csv").open()))
    random.Random(seed).shuffle(rows)
    test = list(csv.DictReader((B77 / "test.csv").open()))[:50]
    labels = sorted({r["category"] for r in rows})
    out = [{"id": f"tr{i}", "text": r["text"], "intent": r["category"], "split": "train"}
           for i, r in enumerate(rows[:pool_n])]
    out += [{"id": f"dv{i}", "text": r["text"], "intent": r["category"], "split": "dev"}
            for i, r in enumerate(rows[pool_n:pool_n + dev_n])]
    out += [{"id": f"te{i}", "text": r["text"], "intent": r["category"], "split": "test"} for i, r in enumerate(test)]
    (tmp / "b77.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    (tmp / "tunegate.yaml").write_text(json.dumps({
        "task": {"name": "banking77", "kind": "classification", "instruction": "Classify the banking query.",
                 "labels": labels},
        "data": {"path": "b77.jsonl", "fields": {"input": "text", "label": "intent", "id": "id", "split": "split"}},
        "models": {"default": "standin:minilm"},
        "sprint": {"strategies": ["zero_shot", {"type": "few_shot_random", "k": 4}, {"type": "few_shot_random", "k": 8},
                                  {"type": "few_shot_knn", "k": 2}, {"type": "few_shot_knn", "k": 4},
                                  {"type": "few_shot_knn", "k": 8}],
                   "instructions": [{"name": "names", "text": "Classify the banking query.",
                                     "label_descriptions": False}]},
    }))
    return load_spec(tmp / "tunegate.yaml")


def likelihood_vs_generate(spec, n: int) -> dict:
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.models.registry import create_backend

    backend = create_backend(spec.models.default, spec.models)
    getattr(backend, "loaded", None)
    out = {"items": n}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("label_logprobs", "generate"):
            t0 = time.perf_counter()
            art = run_eval(spec, EvalOptions(split="dev", limit=n, method=method,
                                             cache_path=Path(tmp) / f"{method}.sqlite"), backend=backend)
            out[method] = {"seconds": round(time.perf_counter() - t0, 2), "accuracy": art.value,
                           "n_unscored": art.n_unscored}
    out["generate_over_likelihood_time"] = round(out["generate"]["seconds"] / out["label_logprobs"]["seconds"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--example-dev", type=int, default=74, help="dev items of the example task (0: skip)")
    ap.add_argument("--b77-dev", type=int, default=300, help="banking77 dev items (0: skip)")
    ap.add_argument("--speed-items", type=int, default=8, help="items for likelihood vs generate (0: skip)")
    ap.add_argument("--cache", default=None, help="response cache (default: a fresh temporary file)")
    args = ap.parse_args()

    from tunegate.models.cache import ResponseCache
    from tunegate.models.registry import create_backend
    from tunegate.spec import load_spec
    from tunegate.sprint.racing import full_grid, successive_halving

    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(args.cache or Path(tmp) / "c.sqlite")
        if args.example_dev:
            spec = load_spec(SPEC)
            t0 = time.perf_counter()
            cands, scores, lat, n = grid_matrix(spec, lambda m: create_backend(m, spec.models), cache,
                                                args.example_dev)
            result["example"] = {"grid_wall_seconds": round(time.perf_counter() - t0, 1),
                                 **{f"min{m}": replay(cands, scores, lat, n, args.seeds, m, 2) for m in (8, 16)}}
        if args.b77_dev and (B77 / "train.csv").exists():
            spec = banking77_spec(Path(tmp), args.b77_dev, pool_n=1500)
            standin = EmbeddingStandIn()
            cands, scores, lat, n = grid_matrix(spec, lambda m: standin, cache, args.b77_dev,
                                                embedder_factory=lambda: standin.emb)
            result["banking77_standin"] = {f"min{m}": replay(cands, scores, lat, n, args.seeds, m, 2)
                                           for m in (16, 32)}
        accs = np.linspace(0.55, 0.80, 16)
        rng = np.random.default_rng(0)
        syn = {c: (rng.random(1000) < p).astype(float) for c, p in enumerate(accs)}
        ev = lambda cs, idx: {c: syn[c][idx].tolist() for c in cs}  # noqa: E731
        from tunegate.evals.stats import mcnemar_exact

        wins, tied, calls = 0, 0, []
        g = full_grid(list(range(16)), 1000, ev, finalists=1).finalists[0]
        for seed in range(max(args.seeds, 20)):
            r = successive_halving(list(range(16)), 1000, ev, min_items=16, eta=2, finalists=1, seed=seed)
            w = r.finalists[0]
            wins += w == g
            tied += w == g or mcnemar_exact(syn[g].astype(bool), syn[w].astype(bool)).pvalue > 0.05
            calls.append(r.item_evaluations())
        result["synthetic"] = {"candidates": 16, "items": 1000, "accuracies": [round(a, 3) for a in accs],
                               "grid_calls": 16000, "racing_calls": int(np.mean(calls)),
                               "racing_calls_share": round(float(np.mean(calls)) / 16000, 3),
                               "same_winner_as_grid": wins, "same_or_tied": int(tied), "seeds": max(args.seeds, 20)}
        if args.speed_items:
            result["likelihood_vs_generate"] = likelihood_vs_generate(load_spec(SPEC), args.speed_items)
    for part in result.values():
        for v in part.values() if isinstance(part, dict) else ():
            if isinstance(v, dict):
                v.pop("runs", None) if len(v.get("runs", [])) > 12 else None
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
