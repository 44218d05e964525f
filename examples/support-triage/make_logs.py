#!/usr/bin/env python3
"""Write a simulated production log for the support-triage example, with or without an injected shift.

Each row is one triaged message: ``timestamp, input, output, model_version, confidence, label, channel,
latency_ms``. Inputs are drawn (seeded, with replacement) from data.jsonl; the simulated model answers
correctly with probability equal to its confidence (so confidences are calibrated), and about 30% of rows
carry a reviewed gold label. From ``--shift-at`` (a fraction of the rows) on, one shift is injected:

  covariate  inputs come mostly from non-English / code-mixed / long messages, and mostly via app_review
  label      the intent mix changes: fraud_report and payment_failed make up 60% of traffic
  version    model_version v2 takes over and is right only ~60% of the time (confidence unchanged)

Usage (python3, standard library only):
  python3 make_logs.py --out /tmp/log.jsonl                  # no shift
  python3 make_logs.py --out /tmp/log.jsonl --shift covariate
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIFTS = ("none", "covariate", "label", "version")


def load_items() -> list[dict]:
    with (HERE / "data.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def make_rows(n: int = 2000, shift: str = "none", shift_at: float = 0.5, seed: int = 0,
              label_share: float = 0.3) -> list[dict]:
    if shift not in SHIFTS:
        raise ValueError(f"shift must be one of {SHIFTS}")
    rng = random.Random(seed)
    items = load_items()
    labels = sorted({it["intent"] for it in items})
    by_intent: dict[str, list[dict]] = {}
    for it in items:
        by_intent.setdefault(it["intent"], []).append(it)
    odd = [it for it in items if it["edge_case"] in ("non_english", "code_mixed", "long_rambling")]
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        shifted = shift != "none" and i >= int(n * shift_at)
        if shifted and shift == "covariate":
            item = rng.choice(odd) if rng.random() < 0.7 else rng.choice(items)
            channel = "app_review" if rng.random() < 0.7 else item["channel"]
        elif shifted and shift == "label":
            intent = rng.choice(["fraud_report", "payment_failed"]) if rng.random() < 0.6 else rng.choice(labels)
            item = rng.choice(by_intent[intent])
            channel = item["channel"]
        else:
            item = rng.choice(items)
            channel = item["channel"]
        version = "v2" if shifted and shift == "version" else "v1"
        confidence = round(rng.uniform(0.6, 1.0), 3)
        p_right = 0.6 if version == "v2" else confidence
        right = rng.random() < p_right
        output = item["intent"] if right else rng.choice([x for x in labels if x != item["intent"]])
        if rng.random() < 0.02:
            output = "I am not sure which team should handle this."  # unparseable: unscored
        rows.append({
            "timestamp": (start + timedelta(minutes=5 * i)).isoformat().replace("+00:00", "Z"),
            "input": item["text"],
            "output": output,
            "model_version": version,
            "confidence": confidence,
            "label": item["intent"] if rng.random() < label_share else None,
            "channel": channel,
            "latency_ms": round(rng.lognormvariate(6.0 + (0.3 if shifted and shift == "covariate" else 0), 0.3), 1),
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="Output JSONL file.")
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--shift", choices=SHIFTS, default="none")
    ap.add_argument("--shift-at", type=float, default=0.5, help="Fraction of rows after which the shift starts.")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = make_rows(args.rows, args.shift, args.shift_at, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {args.out} (shift: {args.shift})")


if __name__ == "__main__":
    main()
