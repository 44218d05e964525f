"""Issue #14's must-show: `tunegate probe` on banking77 with 1,280 training labels, labels needed for 0.90.

Writes a spec and a data file under /tmp (never in the repository): 1,280 train labels (a seeded stratified sample
of the 9,003-item train pool of bench/curve_data.py), its 1,000-item dev split and the 3,080-item test split. Then:

    .venv/bin/python bench/curve_probe_banking77.py            # writes /tmp/tunegate-b77-1280/
    .venv/bin/tunegate validate /tmp/tunegate-b77-1280/tunegate.yaml
    .venv/bin/tunegate probe /tmp/tunegate-b77-1280/tunegate.yaml --out /tmp/tunegate-b77-1280/run

The measured truth to compare with: the mean test accuracy of heads trained on pool draws of each size
(bench/curve_runs.py, `truth`), 0.90 is first reached at about 2,750 labels (docs/learning-curve.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curve_data import texts  # noqa: E402

OUT = Path("/tmp/tunegate-b77-1280")
N_TRAIN = 1280


def main() -> None:
    from tunegate.probe.embedding_head import stratified_subset

    parts = texts("banking77")
    xtr, ytr = parts["train"]
    keep = stratified_subset(ytr, N_TRAIN, seed=1)
    rows = [("train", xtr[i], ytr[i]) for i in keep]
    rows += [(split, x, y) for split in ("dev", "test") for x, y in zip(*parts[split])]
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "data.jsonl").open("w", encoding="utf-8") as fh:
        for i, (split, x, y) in enumerate(rows):
            fh.write(json.dumps({"id": f"b77-{i}", "text": x, "intent": y, "split": split}) + "\n")
    labels = sorted(set(ytr))
    spec = ["task:", "  name: banking77-1280", "  kind: classification",
            "  instruction: Classify the banking customer query into one intent.", "  labels:"]
    spec += [f"    - name: {lab}" for lab in labels]
    spec += ["data:", "  path: data.jsonl", "  fields: {input: text, label: intent, id: id, split: split}",
             "eval:", "  metric: accuracy", "  target: 0.90", "  scorers:", "    - type: label_match",
             "models:", "  default: local:smollm2", "  embedding: local:minilm", "seed: 0", ""]
    (OUT / "tunegate.yaml").write_text("\n".join(spec), encoding="utf-8")
    print(f"wrote {OUT}/data.jsonl ({len(rows)} rows) and {OUT}/tunegate.yaml")


if __name__ == "__main__":
    main()
