"""Embedding drift: has what users *ask about* changed, beyond what column statistics can see?

Two tests on a seeded sample of each window's inputs, each with a permutation p-value:
- ``mmd`` (default): the kernel maximum mean discrepancy (Gretton et al. 2012, JMLR 13:723) with an RBF kernel
  whose bandwidth is the median pairwise distance. All permutations reuse one kernel matrix, so thousands cost
  about a second. The witness function ranks the current items most responsible.
- ``classifier``: a logistic-regression domain classifier's out-of-fold ROC AUC (0.5 = indistinguishable); each
  permutation refits it, so it is slower and capped at 200 permutations.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tunegate.monitor.test_base import Context, TestResult, register_test
from tunegate.monitor.windows import Window

CLASSIFIER_MAX_PERMUTATIONS = 200  # each permutation refits the classifier
CLASSIFIER_RERUN_CAP = 1000  # at most this many when a floor-limited p-value is re-run for the family size
_CHUNK = 256


def rbf_kernel(z: np.ndarray) -> tuple[np.ndarray, float]:
    """RBF kernel matrix exp(-d^2 / median(d^2)) of the pooled sample, and that median (the bandwidth).
    Built in place in float32: at 4,000 items the matrix alone is 64 MB, and three temporaries would triple it."""
    z = np.asarray(z, dtype=np.float32)
    sq = np.sum(z * z, axis=1)
    k = z @ z.T
    k *= -2.0
    k += sq[:, None]
    k += sq[None, :]
    np.maximum(k, 0.0, out=k)
    iu = np.triu_indices(len(z), k=1)
    med = float(np.median(k[iu])) if len(z) > 1 else 1.0
    del iu
    med = med if med > 0 else 1.0
    k *= -1.0 / med
    np.exp(k, out=k)
    return k, med


def _weights(n: int, m: int) -> np.ndarray:
    return np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])


def mmd_test(x: np.ndarray, y: np.ndarray, *, permutations: int = 1000, seed: int = 0,
             kernel: tuple[np.ndarray, float] | None = None) -> dict[str, Any]:
    """Biased MMD^2 of x vs y, its permutation p-value, and the witness value of each y item. ``kernel`` is
    ``rbf_kernel(vstack([x, y]))`` when the caller already built it (a re-run at more permutations reuses it)."""
    n, m = len(x), len(y)
    k, bandwidth = kernel if kernel is not None else rbf_kernel(np.vstack([x, y]))
    w = _weights(n, m).astype(np.float32)
    observed = float(w @ (k @ w))
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    while done < permutations:
        b = min(_CHUNK, permutations - done)
        wp = np.stack([w[rng.permutation(n + m)] for _ in range(b)], axis=1)
        stats = np.einsum("ib,ib->b", wp, k @ wp)
        hits += int(np.sum(stats >= observed - 1e-12))
        done += b
    witness = k[n:, n:].mean(axis=1) - k[n:, :n].mean(axis=1)
    return {"statistic": max(observed, 0.0), "p_value": (1 + hits) / (1 + permutations),
            "bandwidth": bandwidth, "witness": witness}


def _auc(scores: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n1 = int(y.sum())
    n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _oof_scores(z: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(z, y):
        clf = LogisticRegression(C=1.0, max_iter=300).fit(z[tr], y[tr])
        out[te] = clf.predict_proba(z[te])[:, 1]
    return out


def classifier_test(x: np.ndarray, y: np.ndarray, *, permutations: int = 100, seed: int = 0,
                    cap: int = CLASSIFIER_MAX_PERMUTATIONS) -> dict[str, Any]:
    """Out-of-fold AUC of a reference-vs-current classifier and its permutation p-value (refit each time)."""
    z = np.vstack([x, y]).astype(np.float64)
    lab = np.concatenate([np.zeros(len(x), int), np.ones(len(y), int)])
    scores = _oof_scores(z, lab, seed)
    observed = _auc(scores, lab)
    rng = np.random.default_rng(seed)
    b = min(permutations, cap)
    hits = sum(_auc(_oof_scores(z, yp, seed), yp) >= observed - 1e-12
               for yp in (rng.permutation(lab) for _ in range(b)))
    return {"statistic": observed, "p_value": (1 + hits) / (1 + b), "permutations": b,
            "witness": scores[len(x):]}


def _sample(win: Window, k: int, rng: np.random.Generator) -> list[int]:
    idx = np.arange(len(win))
    if len(win) > k:
        idx = np.sort(rng.choice(len(win), size=k, replace=False))
    return idx.tolist()


def _embed(ctx: Context, texts: list[str]) -> tuple[str, np.ndarray]:
    """Embed the sampled texts, timing the model load and the encoding apart in monitor.json's ``seconds``
    (together they are most of a run's wall time, and a test timer alone hid which one)."""
    timings = ctx.summary.setdefault("seconds", {})
    t0 = time.perf_counter()
    emb = ctx.embedder()
    model_id = getattr(emb, "model_id", "embedder")
    load = getattr(emb, "load", None)  # local models load lazily; load here so encoding is timed alone
    if load is not None:
        ctx.note(f"loading {model_id}")
        load()
    t1 = time.perf_counter()
    ctx.note(f"embedding {len(texts)} texts with {model_id}")
    vecs = np.asarray(emb.embed(texts), dtype=np.float64)
    timings["embedding: model load"] = round(t1 - t0, 3)
    timings["embedding: encode"] = round(time.perf_counter() - t1, 3)
    return model_id, vecs


@register_test("embedding")
class EmbeddingDrift:
    """MMD or domain-classifier AUC on embeddings of a sample of inputs."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        cfg = ctx.cfg.embedding
        if not cfg.enabled:
            return ctx.skip("embedding", "embedding drift is disabled (monitor.embedding.enabled / --no-embeddings)")
        if ctx.embedder is None:
            return ctx.skip("embedding", "no embedding model configured")
        rng = np.random.default_rng(ctx.seed)
        ri, ci = _sample(reference, cfg.max_items, rng), _sample(current, cfg.max_items, rng)
        if "embedding" not in ctx.memo:  # a re-run with more permutations reuses the vectors
            ctx.memo["embedding"] = _embed(ctx, [reference.records[i].text for i in ri] +
                                           [current.records[i].text for i in ci])
        model_id, vecs = ctx.memo["embedding"]
        x, y = vecs[: len(ri)], vecs[len(ri):]
        b = ctx.resolution.get("embedding", cfg.permutations)
        ctx.note(f"embedding drift: {cfg.method} with {b} permutations")
        if cfg.method == "mmd":
            if "embedding_kernel" not in ctx.memo:  # the same pooled sample on a re-run: build the kernel once
                ctx.memo["embedding_kernel"] = rbf_kernel(np.vstack([x, y]))
            res = mmd_test(x, y, permutations=b, seed=ctx.seed, kernel=ctx.memo["embedding_kernel"])
            name, detail = "mmd:embedding", (f"MMD^2 (RBF, median bandwidth {res['bandwidth']:.3g}), "
                                             f"{b} permutations; {model_id}")
            extra = {"permutations": b}
        else:
            res = classifier_test(x, y, permutations=b, seed=ctx.seed,
                                  cap=max(CLASSIFIER_MAX_PERMUTATIONS, min(b, CLASSIFIER_RERUN_CAP)))
            name, detail = "auc:embedding", (f"domain-classifier out-of-fold AUC (0.5 = no drift), "
                                             f"{res['permutations']} permutations; {model_id}")
            extra = {"permutations": res["permutations"]}
        examples, seen = [], set()
        for j in np.argsort(-res["witness"]):
            rec = current.records[ci[j]]
            if len(examples) >= cfg.examples:
                break
            if rec.text not in seen:  # a repeated message is one example, not five
                seen.add(rec.text)
                examples.append({"line": rec.line, "text": rec.text[:200], "score": round(float(res["witness"][j]), 5)})
        quoted = "; ".join(f"“{e['text'][:80]}”" for e in examples[:3])
        msg = ("what users write about has changed (embedding drift)" +
               (f"; least like the reference: {quoted}" if quoted else ""))
        return [TestResult(name, "input", res["statistic"], p_value=res["p_value"], n_reference=len(ri),
                           n_current=len(ci), detail=detail, examples=examples, message=msg,
                           extra={**extra, "embedding_model": model_id})]
