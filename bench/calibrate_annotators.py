"""Calibration of the unreliable-annotator rule by simulation (issue #15).

Three (or five) annotators label N items of 10 classes; errors go to a near-miss class 75% of the time (as in the
support-triage example's generator), otherwise uniformly. One annotator's accuracy is set to `sloppy`, the others
are drawn from 0.88–0.93. The table prints how often the rule flags the sloppy annotator (power) and how often it
flags any of the good ones (false flags), over R seeds, with Dawid-Skene aggregation as in the audit.

    .venv/bin/python bench/calibrate_annotators.py [R]
"""

from __future__ import annotations

import sys

import numpy as np


def simulate(rng: np.random.Generator, n_items: int, accs: list[float], k: int = 10) -> tuple:
    from tunegate.data.aggregation import Encoded

    truth = rng.integers(0, k, n_items)
    near = (np.arange(k) + 1) % k  # each class's near-miss class
    ii, jj, ll = [], [], []
    for j, acc in enumerate(accs):
        wrong = rng.random(n_items) > acc
        other = np.where(rng.random(n_items) < 0.75, near[truth], (truth + rng.integers(1, k, n_items)) % k)
        given = np.where(wrong, other, truth)
        ii.append(np.arange(n_items))
        jj.append(np.full(n_items, j))
        ll.append(given)
    enc = Encoded([f"i{i}" for i in range(n_items)], [f"a{j}" for j in range(len(accs))],
                  [f"c{c}" for c in range(k)], np.concatenate(ii), np.concatenate(jj), np.concatenate(ll))
    return enc, truth


def main(reps: int = 200) -> None:
    from tunegate.data.aggregation import annotator_reliability, dawid_skene

    print("| annotators | items | sloppy accuracy | others | sloppy flagged | a good one flagged |")
    print("|---|---|---|---|---|---|")
    for n_ann, n_items in ((3, 485), (3, 200), (5, 485)):
        for sloppy in (0.81, 0.85, 0.88, None):
            hit = false = 0
            for r in range(reps):
                rng = np.random.default_rng(1000 * n_ann + r)
                good = list(rng.uniform(0.88, 0.93, n_ann - 1))
                accs = ([sloppy] if sloppy is not None else [float(rng.uniform(0.88, 0.93))]) + good
                enc, _ = simulate(rng, n_items, accs)
                rel = annotator_reliability(enc, dawid_skene(enc))
                hit += rel[0]["unreliable"] and sloppy is not None
                false += any(x["unreliable"] for x in (rel if sloppy is None else rel[1:]))
            label = f"{sloppy:.2f}" if sloppy is not None else "none (all 0.88–0.93)"
            print(f"| {n_ann} | {n_items} | {label} | 0.88–0.93 | "
                  f"{hit / reps:.1%} | {false / reps:.1%} |" if sloppy is not None else
                  f"| {n_ann} | {n_items} | {label} | 0.88–0.93 | – | {false / reps:.1%} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
