"""Real datasets for the learning-curve back-test (issue #14): banking77 and CLINC150 as MiniLM embeddings.

Each dataset is embedded once with the project's embedder (``local:minilm``) and cached as ``.npz`` under
``$TUNEGATE_CURVE_CACHE`` (default ``/tmp/tunegate-curve-cache``), never inside the repository. Splits:

- banking77: a seeded, stratified 1,000-item dev split carved from train (9,003 train / 1,000 dev / 3,080 test),
  the split behind the figures quoted in issue #14;
- CLINC150: the published in-scope train / val / test (15,000 / 3,000 / 4,500; out-of-scope rows left out).

    .venv/bin/python bench/curve_data.py            # embeds both (2-4 minutes each on 2 CPU cores)
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TUNEGATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
CACHE = Path(os.environ.get("TUNEGATE_CURVE_CACHE", "/tmp/tunegate-curve-cache"))
DATASETS = ("banking77", "clinc150")


def _banking77() -> dict[str, tuple[list[str], list[str]]]:
    def read(name: str) -> tuple[list[str], list[str]]:
        with (DATA / "banking77" / name).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [r["text"] for r in rows], [r["category"] for r in rows]

    xtr, ytr = read("train.csv")
    xte, yte = read("test.csv")
    # stratified dev of 1,000: per label a seeded share (largest remainder), the rest stays train
    rng = np.random.default_rng(0)
    y = np.asarray(ytr)
    labels = sorted(set(ytr))
    quota = {c: 1000 * np.sum(y == c) / len(y) for c in labels}
    base = {c: int(q) for c, q in quota.items()}
    for c in sorted(labels, key=lambda c: -(quota[c] - base[c]))[: 1000 - sum(base.values())]:
        base[c] += 1
    dev = np.zeros(len(y), dtype=bool)
    for c in labels:
        dev[rng.permutation(np.flatnonzero(y == c))[: base[c]]] = True
    pick = lambda m: ([xtr[i] for i in np.flatnonzero(m)], [ytr[i] for i in np.flatnonzero(m)])  # noqa: E731
    return {"train": pick(~dev), "dev": pick(dev), "test": (xte, yte)}


def _clinc150() -> dict[str, tuple[list[str], list[str]]]:
    d = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return {split: ([t for t, _ in d[key]], [lab for _, lab in d[key]])
            for split, key in (("train", "train"), ("dev", "val"), ("test", "test"))}


def texts(name: str) -> dict[str, tuple[list[str], list[str]]]:
    """{split: (texts, labels)} for ``name`` in DATASETS; raises FileNotFoundError when the data is absent."""
    return {"banking77": _banking77, "clinc150": _clinc150}[name]()


def load(name: str, *, embed: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (X float32, y str array)} from the cache; embeds and caches on a miss when ``embed``."""
    path = CACHE / f"{name}-minilm.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        return {s: (z[f"X_{s}"], z[f"y_{s}"]) for s in ("train", "dev", "test")}
    if not embed:
        raise FileNotFoundError(f"{path}: not cached (run .venv/bin/python bench/curve_data.py)")
    from tunegate.models.embeddings_local import create_local_embedder

    parts = texts(name)
    emb = create_local_embedder("local:minilm")
    t0 = time.perf_counter()
    out = {s: (np.asarray(emb.embed(x), dtype=np.float32), np.asarray(y)) for s, (x, y) in parts.items()}
    print(f"{name}: embedded {sum(len(x) for x, _ in parts.values())} texts in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{f"X_{s}": X for s, (X, _) in out.items()}, **{f"y_{s}": y for s, (_, y) in out.items()})
    tmp.replace(path)
    return out


if __name__ == "__main__":
    for name in sys.argv[1:] or DATASETS:
        d = load(name)
        print(name, {s: X.shape for s, (X, _) in d.items()})
