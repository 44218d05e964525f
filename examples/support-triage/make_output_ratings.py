#!/usr/bin/env python3
"""Simulated human ratings of model outputs for the tunegate criterion gate (`tunegate check-eval`).

What it writes (deterministic for a given SEED, standard library only):
  rated_outputs.jsonl   60 outputs for 60 test items: {"id", "item_id", "output", "kind"}
  output_ratings.csv    item_id,rater,rating  (item_id = the output's id; rating = pass | fail)

The outputs are *written by this script*, not produced by a model. They imitate what a small classifier prompt
returns: the right intent (bare, or in a sentence), a near-miss intent, an unrelated intent, a hedge naming two
intents, an empty answer, and a chatty answer that names no intent. An output is truly good when it names
exactly the gold intent and nothing else.

The three raters are *simulated* too. Each rates every output; a rater errs (flips pass/fail) with a base rate
(rater_ana 3%, rater_ben 6%, rater_caro 10%) multiplied by 3 on hard items (edge_case multi_intent, ambiguous,
sarcasm) and by 2 for near-miss outputs, where the wrong intent is plausible. So the raters disagree most where
people really would, but the disagreement is simulated, not observed.

Usage:
  python3 make_output_ratings.py          # write both files and print a summary
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261128
N_OUTPUTS = 60
RATERS = {"rater_ana": 0.03, "rater_ben": 0.06, "rater_caro": 0.10}
HARD = {"multi_intent", "ambiguous", "sarcasm"}
NEAR = {  # the most plausible wrong intent for each gold intent
    "billing_dispute": "refund_request", "refund_request": "billing_dispute", "order_status": "shipping_address_change",
    "shipping_address_change": "order_status", "account_access": "fraud_report",
    "cancel_subscription": "refund_request", "product_defect": "refund_request", "payment_failed": "billing_dispute",
    "fraud_report": "billing_dispute", "feedback_praise": "product_defect",
}
KINDS = [  # (kind, weight): what the simulated model answered
    ("correct", 30), ("correct_sentence", 8), ("near_miss", 10), ("wrong", 5), ("hedge", 3), ("empty", 2),
    ("no_label", 2),
]


def _rank(item_id: str) -> str:
    return hashlib.sha256(f"{SEED}:{item_id}".encode()).hexdigest()


def main() -> None:
    rows = [json.loads(line) for line in (HERE / "data.jsonl").read_text(encoding="utf-8").splitlines() if line]
    test = sorted((r for r in rows if r["split"] == "test"), key=lambda r: _rank(r["id"]))[:N_OUTPUTS]
    intents = sorted({r["intent"] for r in rows})
    rng = random.Random(SEED)
    kinds = [k for k, w in KINDS for _ in range(w)]
    rng.shuffle(kinds)
    outputs, ratings = [], []
    for n, (item, kind) in enumerate(zip(test, kinds), start=1):
        gold = item["intent"]
        if kind == "correct":
            text = gold
        elif kind == "correct_sentence":
            text = f"The intent is {gold}."
        elif kind == "near_miss":
            text = NEAR[gold]
        elif kind == "wrong":
            text = rng.choice([i for i in intents if i not in (gold, NEAR[gold])])
        elif kind == "hedge":
            text = f"{gold} or {NEAR[gold]}"
        elif kind == "empty":
            text = ""
        else:
            text = "Thanks for reaching out! A member of our team will look into this."
        good = kind in ("correct", "correct_sentence")
        oid = f"out-{n:03d}"
        outputs.append({"id": oid, "item_id": item["id"], "output": text, "kind": kind})
        for rater, base in RATERS.items():
            p = base * (3 if item["edge_case"] in HARD else 1) * (2 if kind == "near_miss" else 1)
            verdict = good if rng.random() >= p else not good
            ratings.append({"item_id": oid, "rater": rater, "rating": "pass" if verdict else "fail"})
    with (HERE / "rated_outputs.jsonl").open("w", encoding="utf-8") as fh:
        for o in outputs:
            fh.write(json.dumps(o, ensure_ascii=False) + "\n")
    with (HERE / "output_ratings.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["item_id", "rater", "rating"])
        w.writeheader()
        w.writerows(ratings)
    truth = {o["id"]: o["kind"] in ("correct", "correct_sentence") for o in outputs}
    print(f"{len(outputs)} outputs: " + ", ".join(f"{k} {v}" for k, v in Counter(o['kind'] for o in outputs).items()))
    for rater in RATERS:
        mine = [r for r in ratings if r["rater"] == rater]
        right = sum((r["rating"] == "pass") == truth[r["item_id"]] for r in mine)
        print(f"{rater}: agrees with the truth on {right}/{len(mine)}")


if __name__ == "__main__":
    main()
