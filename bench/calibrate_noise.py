"""Calibration of the data gate on real intent data (issue #15): the label-noise estimate and the near-duplicate
threshold.

Data: subsets of banking77 (every third intent, train + test) and CLINC150 (the 12 banking intents plus 18 others,
train + val + test) from ../shared/data, embedded with the project's `local:minilm` embedder; embeddings are
cached in $TG_EMB_CACHE (default /tmp/tg_emb) so a re-run takes seconds.

1. Noise: flip a share of the *training* labels (5–40%) to a uniformly drawn other intent, run the audit's
   estimator (`noise.label_noise`), and print injected vs the train split's estimate (and its interval), over
   seeds and both datasets.
2. Near-duplicates: train/dev↔test pairs at cosine ≥ t, and how many of them are near-copies (at most two words
   changed) rather than paraphrases.

    .venv/bin/python bench/calibrate_noise.py [--seeds 1] [--n 1200] [--datasets banking77,clinc150] [--skip-noise]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = Path(os.environ.get("TG_EMB_CACHE", "/tmp/tg_emb"))


def load(name: str) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """(text, label, split) rows and their embeddings, from the cache or embedded now."""
    rows_path, vec_path = CACHE / f"{name}.json", CACHE / f"{name}.npy"
    if rows_path.exists() and vec_path.exists():
        return [tuple(r) for r in json.loads(rows_path.read_text())], np.load(vec_path)
    import csv

    from tunegate.models.registry import create_embedder

    if name == "clinc150":
        from tests.support.intent_exports import CLINC_BANKING_12

        raw = json.loads((SHARED / "clinc150" / "data_full.json").read_text())
        intents = sorted({lab for _, lab in raw["train"]})
        keep = set(CLINC_BANKING_12) | set([i for i in intents if i not in CLINC_BANKING_12][::7][:18])
        rows = [(t, lab, s) for key, s in (("train", "train"), ("val", "dev"), ("test", "test"))
                for t, lab in raw[key] if lab in keep]
    else:
        rows = []
        for s in ("train", "test"):
            with open(SHARED / "banking77" / f"{s}.csv", encoding="utf-8") as fh:
                rows += [(r["text"], r["category"], s) for r in csv.DictReader(fh)]
        cats = set(sorted({r[1] for r in rows})[::3])
        rows = [r for r in rows if r[1] in cats]
    vecs = np.asarray(create_embedder("local:minilm").embed([r[0] for r in rows]), dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    rows_path.write_text(json.dumps(rows))
    np.save(vec_path, vecs)
    return rows, vecs


def flip(labels: np.ndarray, k: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = labels.copy()
    idx = rng.choice(len(labels), size=int(round(rate * len(labels))), replace=False)
    out[idx] = (labels[idx] + rng.integers(1, k, len(idx))) % k
    return out


def noise_table(seeds: int, n: int, rates=(0.05, 0.10, 0.20, 0.30, 0.40),
                datasets=("banking77", "clinc150")) -> list[tuple]:
    """Flip `rate` of the *training* labels of a random subset (dev/test stay clean, as in the issue's run) and
    compare the train split's estimate with the injected rate."""
    from tunegate.data.noise import label_noise

    out = []
    for name in datasets:
        rows, vecs = load(name)
        labels = sorted({r[1] for r in rows})
        y = np.array([labels.index(r[1]) for r in rows])
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            sub = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
            splits = [rows[i][2] for i in sub]
            train = np.array([s == "train" for s in splits])
            for rate in rates:
                noisy = y[sub].copy()
                noisy[train] = flip(y[sub][train], len(labels), rate, rng)
                rep = label_noise(vecs[sub], [labels[i] for i in noisy], labels, [str(i) for i in sub], splits,
                                  seed=seed)
                tr = rep.per_split["train"]
                out.append((name, rate, tr["estimated_noise_rate"], rep.estimated_noise_rate, rep.oof_accuracy,
                            tr.get("interval"), float((noisy != y[sub]).mean())))
                print(f"{name:9s} seed {seed} n {len(sub)} (train {int(train.sum())}) injected {rate:.2f}: train "
                      f"estimate {out[-1][2]:.3f} interval {out[-1][5]}; all splits {rep.estimated_noise_rate:.3f} "
                      f"(true {out[-1][6]:.3f}); probe out-of-fold accuracy {rep.oof_accuracy:.3f}", flush=True)
    return out


def near_table(name: str = "clinc150") -> None:
    from tunegate.data.duplicates import near_duplicate_pairs, normalize_for_dedup

    rows, vecs = load(name)
    pairs = near_duplicate_pairs(vecs, 0.85, max_pairs=10**7)
    cross = [(i, j, s) for i, j, s in pairs if {rows[i][2], rows[j][2]} in ({"train", "test"}, {"dev", "test"})
             and normalize_for_dedup(rows[i][0]) != normalize_for_dedup(rows[j][0])]

    def words_changed(a: str, b: str) -> int:
        x, y = normalize_for_dedup(a).split(), normalize_for_dedup(b).split()
        sm = difflib.SequenceMatcher(a=x, b=y)
        return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal")

    print(f"\n{name}: {len(rows)} texts; train/dev↔test pairs with different normalized text")
    print("| cosine ≥ | pairs | near-copies (≤ 2 words changed) | share |")
    print("|---|---|---|---|")
    for t in (0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99):
        sel = [(i, j, s) for i, j, s in cross if s >= t]
        copies = sum(words_changed(rows[i][0], rows[j][0]) <= 2 for i, j, _ in sel)
        print(f"| {t} | {len(sel)} | {copies} | {copies / len(sel):.0%} |" if sel else f"| {t} | 0 | 0 | – |")
    for t in (0.90, 0.95, 0.97):
        sel = sorted([(i, j, s) for i, j, s in cross if t <= s < t + 0.02], key=lambda p: -p[2])[:3]
        for i, j, s in sel:
            print(f"  {s:.3f}: {rows[i][0]!r} ({rows[i][2]}) ~ {rows[j][0]!r} ({rows[j][2]})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--n", type=int, default=1200, help="items per simulated dataset")
    ap.add_argument("--skip-noise", action="store_true")
    ap.add_argument("--datasets", default="banking77,clinc150")
    args = ap.parse_args()
    if not args.skip_noise:
        res = noise_table(args.seeds, args.n, datasets=tuple(args.datasets.split(",")))
        print("\n| dataset | injected (train) | train-split estimate (mean) | min–max | interval covers injected "
              "| all-splits estimate | all-splits true | probe out-of-fold accuracy |")
        print("|---|---|---|---|---|---|---|---|")
        for name in args.datasets.split(","):
            for rate in sorted({r[1] for r in res}):
                sel = [r for r in res if r[0] == name and r[1] == rate]
                est = [r[2] for r in sel]
                cover = sum(r[5] is not None and r[5][0] <= rate <= r[5][1] for r in sel)
                print(f"| {name} | {rate:.2f} | {np.mean(est):.3f} | {min(est):.3f}–{max(est):.3f} | "
                      f"{cover}/{len(sel)} | {np.mean([r[3] for r in sel]):.3f} | {np.mean([r[6] for r in sel]):.3f} "
                      f"| {np.mean([r[4] for r in sel]):.3f} |")
    near_table("clinc150")
    near_table("banking77")


if __name__ == "__main__":
    main()
