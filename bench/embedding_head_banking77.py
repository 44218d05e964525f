"""Benchmark (issue #6): the embedding-head probe on banking77 (10,003 train / 3,080 test, 77 intents).

MiniLM embeddings + logistic regression with C chosen on a seeded 10% dev split carved from train, as the probe
stage does. Prints wall time split into embedding and fitting, and test accuracy / macro-F1 with 95% CIs.

    .venv/bin/python bench/embedding_head_banking77.py
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "banking77"


def read(name: str) -> tuple[list[str], list[str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def main() -> None:
    from tunegate.evals.metrics import macro_f1_ci, mean_ci
    from tunegate.models.embeddings_local import create_local_embedder
    from tunegate.probe.embedding_head import fit_head
    from tunegate.spec import BootstrapSpec

    x_train, y_train = read("train.csv")
    x_test, y_test = read("test.csv")
    t0 = time.perf_counter()
    emb = create_local_embedder("local:minilm")
    V = emb.embed(x_train + x_test)
    embed_s = time.perf_counter() - t0
    Xtr, Xte = V[: len(x_train)], V[len(x_train):]
    rng = np.random.default_rng(0)
    dev = np.zeros(len(y_train), dtype=bool)
    dev[rng.choice(len(y_train), len(y_train) // 10, replace=False)] = True
    labels = sorted(set(y_train))
    t0 = time.perf_counter()
    yt = np.asarray(y_train)
    head = fit_head(Xtr[~dev], list(yt[~dev]), classes=labels, X_dev=Xtr[dev], y_dev=list(yt[dev]))
    head = fit_head(Xtr, y_train, classes=labels, Cs=(head.C,))  # refit on all of train at the chosen C
    fit_s = time.perf_counter() - t0
    preds = head.predict(Xte)
    boot = BootstrapSpec()
    acc = mean_ci(np.asarray([float(p == g) for p, g in zip(preds, y_test)]), boot)
    f1 = macro_f1_ci(y_test, preds, labels, boot)
    print(json.dumps({"n_train": len(x_train), "n_test": len(x_test), "n_labels": len(labels),
                      "embed_seconds": round(embed_s, 1), "fit_seconds": round(fit_s, 1), "C": head.C,
                      "accuracy": [round(acc.estimate, 4), round(acc.low, 4), round(acc.high, 4)],
                      "macro_f1": [round(f1.estimate, 4), round(f1.low, 4), round(f1.high, 4)],
                      "texts_per_second": round(len(V) / embed_s, 1)}, indent=2))


if __name__ == "__main__":
    main()
