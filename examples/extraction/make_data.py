#!/usr/bin/env python3
"""Writes data.jsonl for the Parcelo order-extraction example (tunegate issue 21). Deterministic, standard library.

Every message is composed by this script from hand-written templates for the made-up shop "Parcelo"; nothing is
real customer data and nothing was copied from another dataset. Each row carries its gold JSON (the `gold` field),
written by the same code that wrote the message, so gold and message agree by construction.

Gold object (task.output_schema in tunegate.yaml):
  order_ids  every order number the message names (PX-12345 style), [] when none
  amount     the money amount the request is about, a number, null when none is named
  currency   EUR | GBP | USD, null when no amount is named
  item       the product the request is about, lower case, null when none is named
  action     refund | replacement | cancel_order | track_order | change_address

Edge cases (the `edge_case` column): none, missing_order (no order number), missing_amount (no amount),
missing_item (no product named), two_orders (two order numbers), amount_in_words ("twenty-five pounds"),
distractor_number (another number - days waited, a phone number, a quantity - that is not the amount), typo.

Usage:  python3 make_data.py          # write data.jsonl and print counts
        python3 make_data.py --check  # verify data.jsonl equals what the script writes (exit 1 if not)
"""
from __future__ import annotations

import hashlib
import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261203
N = 360
SPLIT = (("train", 0.5), ("dev", 0.2), ("test", 0.3))

ITEMS = [  # (item as gold, low price, high price)
    ("wireless earbuds", 25, 90), ("desk lamp", 15, 60), ("running shoes", 40, 140), ("coffee grinder", 20, 80),
    ("phone case", 8, 30), ("yoga mat", 12, 45), ("bluetooth speaker", 30, 120), ("winter jacket", 60, 220),
    ("kettle", 18, 55), ("backpack", 25, 95), ("smart watch", 80, 300), ("bed sheets", 20, 70),
    ("water bottle", 9, 35), ("gaming mouse", 20, 85), ("air fryer", 50, 160), ("board game", 15, 60),
    ("electric toothbrush", 25, 110), ("hair dryer", 20, 90), ("office chair", 90, 320), ("tea set", 15, 65),
]
CURRENCY = {"EUR": ("€", "euros", "EUR"), "GBP": ("£", "pounds", "GBP"), "USD": ("$", "dollars", "USD")}
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

# action -> message templates. {oid} order reference, {amt} amount phrase, {item} product phrase.
TEMPLATES = {
    "refund": [
        "Hi, I returned the {item} from order {oid} two weeks ago and I'd like my refund of {amt}.",
        "Please refund {amt} for the {item} (order {oid}). It arrived after the date I needed it.",
        "Order {oid}: I sent the {item} back. When do I get the {amt} back?",
        "I want my money back for the {item}, order {oid}. That's {amt}.",
        "Can you refund me {amt}? The {item} in order {oid} was cancelled by the seller.",
    ],
    "replacement": [
        "The {item} from order {oid} arrived broken. Please send a replacement, I paid {amt}.",
        "My {item} (order {oid}, {amt}) stopped working after a day. I'd like a new one, not a refund.",
        "Order {oid} came with a cracked {item}. Could you replace it? It cost {amt}.",
        "Wrong colour {item} in order {oid}. Please exchange it for the one I ordered ({amt}).",
    ],
    "cancel_order": [
        "Please cancel order {oid} for the {item}, {amt}. I ordered it by mistake.",
        "I need to cancel my order {oid} ({item}, {amt}) before it ships.",
        "Cancel {oid} please - the {item} is cheaper elsewhere. It was {amt}.",
        "Hello, can order {oid} still be cancelled? It's the {item} for {amt}.",
    ],
    "track_order": [
        "Where is my order {oid}? The {item} was supposed to arrive yesterday.",
        "Tracking for {oid} hasn't moved in days. It's a {item} I paid {amt} for.",
        "Any update on order {oid}? Still waiting for my {item}.",
        "Hi, when will order {oid} with the {item} be delivered?",
    ],
    "change_address": [
        "I moved last week. Please send order {oid} ({item}) to 14 Elm Row, Leeds instead.",
        "Can you change the delivery address for {oid}? The {item} should go to my office at 2 Quay St.",
        "Order {oid}: please deliver the {item} to my neighbour at number 9, I'm away.",
        "Wrong address on order {oid} for the {item} ({amt}). New one: 77 Harbour Road, Cork.",
    ],
}
NO_ORDER = ["my last order", "my order", "the order I placed on Monday", "my recent order"]
NO_ITEM = ["the thing I bought", "my parcel", "everything in it", "the stuff"]
DISTRACTORS = [
    " I've been waiting 12 days already.", " Call me on 0161 496 0000 if needed.", " I bought 2 of them.",
    " This is my 3rd message about it.", " I've been a customer for 6 years.",
]
TYPOS = {"order": "ordr", "please": "pls", "refund": "refnd", "arrived": "arived", "address": "adress",
         "cancel": "cancell", "delivery": "delivry", "replacement": "replacment"}
EDGE = [("none", 30), ("missing_order", 10), ("missing_amount", 12), ("missing_item", 8), ("two_orders", 10),
        ("amount_in_words", 12), ("distractor_number", 10), ("typo", 8)]


def words(n: int) -> str:
    """An integer 1..999 in English words ("two hundred and forty-five")."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])
    rest = n % 100
    return ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + words(rest))


def order_id(rng: random.Random) -> str:
    return f"PX-{rng.randint(10000, 99999)}"


def amount_phrase(rng: random.Random, value: float, cur: str, in_words: bool) -> str:
    sym, word, code = CURRENCY[cur]
    if in_words:
        return f"{words(int(value))} {word}"
    text = f"{value:.2f}" if value != int(value) else str(int(value))
    style = rng.randrange(3)
    return f"{sym}{text}" if style == 0 else (f"{text} {code}" if style == 1 else f"{sym}{text}")


def make_row(rng: random.Random, n: int, edge: str) -> dict:
    action = rng.choice(sorted(TEMPLATES))
    item, lo, hi = rng.choice(ITEMS)
    cur = rng.choice(sorted(CURRENCY))
    whole = edge == "amount_in_words" or rng.random() < 0.4
    value = float(rng.randint(lo, hi)) if whole else round(rng.randint(lo * 100, hi * 100) / 100 - 0.01, 2)
    template = rng.choice(TEMPLATES[action])
    has_amount = "{amt}" in template and edge != "missing_amount"
    if edge == "amount_in_words" and "{amt}" not in template:
        template = template.rstrip(".?") + ". I paid {amt}."
        has_amount = True
    if edge == "missing_amount" and "{amt}" in template:
        template = template.replace(", I paid {amt}", "").replace(" It cost {amt}.", "").replace(
            " That's {amt}.", "").replace(" ({amt})", "").replace(", {amt}", "").replace(" for {amt}", "").replace(
            "{amt}", "the money").replace(" It was the money.", "")
    oids = [order_id(rng)]
    if edge == "two_orders":
        oids.append(order_id(rng))
        oid_text = (f"{oids[0]} (my second order, {oids[1]}, has the same problem)" if rng.random() < 0.5
                    else f"{oids[0]} and {oids[1]}")
    elif edge == "missing_order":
        oids, oid_text = [], rng.choice(NO_ORDER)
        template = template.replace("order {oid}", "{oid}").replace("Order {oid}", "{oid}")
    else:
        oid_text = oids[0] if rng.random() < 0.7 else "#" + oids[0]
    item_text = rng.choice(NO_ITEM) if edge == "missing_item" else item
    if edge == "missing_item":
        template = template.replace("the {item}", "{item}").replace("my {item}", "{item}").replace(
            "a {item}", "{item}").replace("a cracked {item}", "{item} damaged").replace("Wrong colour {item}",
                                                                                     "Wrong colour for {item}")
    text = template.format(oid=oid_text, item=item_text,
                           amt=amount_phrase(rng, value, cur, edge == "amount_in_words") if has_amount else "")
    if edge == "distractor_number":
        text += rng.choice(DISTRACTORS)
    if edge == "typo":
        for right, wrong in TYPOS.items():
            if right in text and rng.random() < 0.7:
                text = text.replace(right, wrong, 1)
        text = text.lower()
    text = text[0].upper() + text[1:] if text[0].islower() and edge != "typo" else text
    gold = {"order_ids": oids, "amount": value if has_amount else None, "currency": cur if has_amount else None,
            "item": None if edge == "missing_item" else item, "action": action}
    return {"id": f"ex-{n:04d}", "text": text, "gold": gold, "edge_case": edge, "action": action}


def split_of(row_id: str) -> str:
    u = int(hashlib.sha256(f"{SEED}:split:{row_id}".encode()).hexdigest()[:12], 16) / 16 ** 12
    acc = 0.0
    for name, share in SPLIT:
        acc += share
        if u < acc:
            return name
    return SPLIT[-1][0]


def build() -> list[dict]:
    rng = random.Random(SEED)
    edges = [e for e, w in EDGE for _ in range(w)]
    rows, seen = [], set()
    while len(rows) < N:
        row = make_row(rng, len(rows) + 1, edges[len(rows) % len(edges)])
        key = " ".join(row["text"].lower().split())
        if key in seen:
            continue
        seen.add(key)
        row["split"] = split_of(row["id"])
        rows.append(row)
    return rows


def dump(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> int:
    rows = build()
    path = HERE / "data.jsonl"
    if "--check" in sys.argv:
        same = path.exists() and path.read_text(encoding="utf-8") == dump(rows)
        print("data.jsonl matches make_data.py" if same else "data.jsonl differs from make_data.py")
        return 0 if same else 1
    path.write_text(dump(rows), encoding="utf-8")
    print(f"{len(rows)} messages; splits {dict(Counter(r['split'] for r in rows))}")
    print("edge cases", dict(Counter(r["edge_case"] for r in rows)))
    print("actions", dict(Counter(r["action"] for r in rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
