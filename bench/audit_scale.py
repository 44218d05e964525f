"""Benchmark: the data gate on 15,000 items with 3 annotations each, embeddings included (issue #4).

Items are CLINC150's 15,000 training queries (150 intents, from ../shared/data); three simulated annotators label
each one (accuracy 0.92 / 0.88 / 0.80, errors spread over the other intents), so agreement, Dawid-Skene, the
adjudication queue, duplicates, leakage, label noise and coverage all run at full size. Prints the time of each
step and the split between embedding and the rest. Also times Dawid-Skene alone on 10,000 items × 10 annotators.

    .venv/bin/python bench/audit_scale.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLINC = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"


def main() -> None:
    from tunegate.data.aggregation import dawid_skene, encode
    from tunegate.data.annotations import Annotation
    from tunegate.data.audit import audit_annotations, audit_examples
    from tunegate.data.examples import Example
    from tunegate.models.embeddings_local import create_local_embedder
    from tunegate.spec import AuditSpec

    data = json.loads(CLINC.read_text())
    rows = data["train"]
    labels = sorted({lab for _, lab in rows})
    rng = np.random.default_rng(0)
    examples = [Example(f"c{i}", t, label=lab, split=("test" if i % 5 == 0 else "train")) for i, (t, lab) in
                enumerate(rows)]
    anns = []
    for who, acc in (("ann_a", 0.92), ("ann_b", 0.88), ("ann_c", 0.80)):
        wrong = rng.random(len(rows)) > acc
        other = rng.integers(0, len(labels) - 1, len(rows))
        for i, (_, lab) in enumerate(rows):
            given = lab
            if wrong[i]:
                k = labels.index(lab)
                given = labels[other[i] + (other[i] >= k)]
            anns.append(Annotation(f"c{i}", who, given))
    cfg = AuditSpec(min_per_class=10)
    times = {}
    t0 = time.perf_counter()
    audit_annotations(anns, cfg, labels=labels, seed=0)
    times["agreement_aggregation_queue_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    emb = create_local_embedder("local:minilm")
    vectors = emb.embed([e.input_text() for e in examples])
    times["embedding_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rep, checks = audit_examples(examples, cfg, labels=labels, vectors=vectors, seed=0)
    times["duplicates_noise_coverage_s"] = time.perf_counter() - t0

    big = []
    truth = rng.integers(0, 5, 10_000)
    for a in range(10):
        acc = 0.6 + 0.035 * a
        wrong = rng.random(10_000) > acc
        given = np.where(wrong, (truth + rng.integers(1, 5, 10_000)) % 5, truth)
        big += [Annotation(f"i{i}", f"w{a}", str(g)) for i, g in enumerate(given.tolist())]
    enc = encode(big)
    t0 = time.perf_counter()
    res = dawid_skene(enc)
    times["dawid_skene_10000x10_s"] = time.perf_counter() - t0
    total = times["agreement_aggregation_queue_s"] + times["embedding_s"] + times["duplicates_noise_coverage_s"]
    out = {k: round(v, 2) for k, v in times.items()}
    out.update(total_audit_s=round(total, 1), embedding_share=round(times["embedding_s"] / total, 3),
               n_items=len(examples), n_annotations=len(anns), ds_converged=res.converged, ds_iterations=res.n_iter,
               findings={c.name: c.status for c in checks}, noise_oof_accuracy=round(rep["noise"]["oof_accuracy"], 3))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
