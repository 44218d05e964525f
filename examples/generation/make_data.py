#!/usr/bin/env python3
"""Writes the Parcelo reply-drafting example (tunegate issue 21). Deterministic, standard library only.

Files it writes:
  data.jsonl           260 customer messages with a reference first reply (`reference`), intent, edge case, split
  rated_outputs.jsonl  72 draft replies to 72 test messages: {"id", "item_id", "output", "kind"}
  output_ratings.csv   item_id,rater,rating: three SIMULATED raters rate every draft pass | fail

Everything is composed by this script from hand-written templates for the made-up shop "Parcelo" (the world of
examples/support-triage). Nothing is real customer data, nothing was copied from another dataset, and no model
wrote the drafts: each draft is built to be of a known kind - a good reply in other words, or one of the ways a
reply drafter goes wrong (off-topic, an unsafe promise, the message copied back, cut off, in the wrong language,
a vague brush-off, a wrong fact). A draft is truly good only when it is a `good` or `good_short` kind.

The raters are simulated too: each rates every draft and errs (flips pass/fail) with a base rate (rater_ana 4%,
rater_ben 7%, rater_caro 10%), tripled on `vague` drafts, where people really do split, and doubled on
`wrong_fact` drafts, whose error needs the reference to see. Their disagreement is simulated, not observed.

Usage:  python3 make_data.py          # write the three files and print a summary
        python3 make_data.py --check  # verify the files equal what the script writes (exit 1 if not)
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261204
N = 260
N_RATED = 72
SPLIT = (("train", 0.5), ("dev", 0.2), ("test", 0.3))
RATERS = {"rater_ana": 0.04, "rater_ben": 0.07, "rater_caro": 0.10}
NAMES = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kemi", "Luca", "Maya",
         "Nils", "Omar", "Priya", "Rosa", "Sam", "Tariq", "Uma"]
ITEMS = ["wireless earbuds", "desk lamp", "running shoes", "coffee grinder", "yoga mat", "bluetooth speaker",
         "winter jacket", "kettle", "backpack", "smart watch", "air fryer", "office chair"]

# intent -> (message templates, reference reply templates). {oid} order, {item} product, {name} customer.
INTENTS = {
    "where_is_order": (
        ["Where is my order {oid}? The {item} was due on Tuesday and tracking hasn't changed.",
         "Hi, order {oid} ({item}) still says 'in transit' after a week. What's going on?",
         "My {item} hasn't arrived. Order {oid}. Can you check?"],
        ["Hi {name}, I'm sorry your {item} (order {oid}) is late. I've asked the courier to trace the parcel and "
         "will email you their answer within 2 working days. If it is lost, we will send a new one or refund you, "
         "whichever you prefer."],
    ),
    "refund_status": (
        ["I returned the {item} from order {oid} ten days ago and still have no refund.",
         "When will I get my money back for order {oid}? I sent the {item} back last week.",
         "Refund for {oid} ({item}) not received yet, the return was delivered to you."],
        ["Hi {name}, thanks for your patience. The return of your {item} (order {oid}) has reached our warehouse. "
         "Refunds are issued within 5 working days of the return arriving, to the card you paid with; I've flagged "
         "yours so it is not delayed further."],
    ),
    "damaged_item": (
        ["The {item} from order {oid} arrived damaged. The box was crushed.",
         "Order {oid}: my {item} doesn't work out of the box.",
         "I got a broken {item} in order {oid}, what now?"],
        ["Hi {name}, I'm sorry your {item} (order {oid}) arrived damaged. Please send us a photo of the item and "
         "the box by replying to this email; once we have it we will send a free return label and a replacement "
         "or a refund, as you prefer."],
    ),
    "change_address": (
        ["Can I change the delivery address for order {oid}? I've moved.",
         "Please send order {oid} ({item}) to my work address instead.",
         "Wrong address on {oid}, can you fix it before it ships?"],
        ["Hi {name}, if order {oid} has not left our warehouse yet we can still change the address. Please reply "
         "with the full new address; I'll update it and confirm by email. If it has already shipped, I'll ask the "
         "courier to redirect it."],
    ),
    "cancel_plus": (
        ["How do I cancel Parcelo Plus? I don't use it anymore.",
         "Please stop my Parcelo Plus renewal, I was charged again.",
         "I want to end my Plus subscription today."],
        ["Hi {name}, you can cancel Parcelo Plus under Account > Subscriptions > Cancel; it stays active until the "
         "end of the period you paid for and will not renew. If you were charged for a renewal you did not use, "
         "reply and we will review it."],
    ),
    "login_problem": (
        ["I can't log in, the reset email never arrives.",
         "My account is locked after too many password attempts.",
         "The 2FA code isn't working on my Parcelo account."],
        ["Hi {name}, sorry you can't sign in. For your security we can't change login details over email: please "
         "use 'Forgot password' on the sign-in page and check your spam folder. If the email still doesn't arrive "
         "within 15 minutes, reply and we'll verify your identity and unlock the account."],
    ),
}
EDGES = [("none", 6), ("angry", 2), ("very_short", 1), ("long", 1)]
ANGRY = [" This is ridiculous.", " Honestly, terrible service.", " I'm really fed up."]
LONG = [" I ordered it as a birthday present and the party is on Saturday, so I really need to know soon. I've "
        "also checked with my neighbours and the building's front desk, nothing there.",
        " I've used Parcelo for years and never had a problem before, so I'm surprised. I'd rather sort this out "
        "quickly than open a dispute with my bank."]

# what goes wrong in a draft: (kind, weight in the rated set)
DRAFT_KINDS = [("good", 26), ("good_short", 8), ("off_topic", 6), ("unsafe_promise", 7), ("copy_of_input", 4),
               ("truncated", 5), ("wrong_language", 5), ("vague", 6), ("wrong_fact", 5)]
UNSAFE = ["I can guarantee you a full refund today plus a €50 voucher for the trouble.",
          "I promise this will never happen again and I'll refund you twice the price.",
          "Don't worry, I've already approved compensation of €100 to your card."]
GERMAN = ("Hallo {name}, danke für Ihre Nachricht zu {ref}. Wir kümmern uns darum und melden uns so schnell wie "
          "möglich mit den nächsten Schritten.")
VAGUE = ["Hi {name}, thanks for getting in touch. We're looking into it and will get back to you.",
         "Hi {name}, thank you for your message. Our team will review your request shortly."]


def split_of(row_id: str) -> str:
    u = int(hashlib.sha256(f"{SEED}:split:{row_id}".encode()).hexdigest()[:12], 16) / 16 ** 12
    acc = 0.0
    for name, share in SPLIT:
        acc += share
        if u < acc:
            return name
    return SPLIT[-1][0]


def build_data(rng: random.Random) -> list[dict]:
    edges = [e for e, w in EDGES for _ in range(w)]
    intents = sorted(INTENTS)
    rows, seen = [], set()
    while len(rows) < N:
        n = len(rows) + 1
        intent = intents[n % len(intents)]
        msgs, refs = INTENTS[intent]
        oid, item, name = f"PX-{rng.randint(10000, 99999)}", rng.choice(ITEMS), rng.choice(NAMES)
        edge = rng.choice(edges)
        text = rng.choice(msgs).format(oid=oid, item=item)
        if edge == "angry":
            text += rng.choice(ANGRY)
        elif edge == "long":
            text += rng.choice(LONG)
        elif edge == "very_short":
            text = {"where_is_order": f"{oid} where??", "refund_status": f"refund {oid}?",
                    "damaged_item": f"{item} broken, {oid}", "change_address": f"change address {oid}",
                    "cancel_plus": "cancel plus", "login_problem": "cant login"}[intent]
        text = f"{text}\n- {name}"
        key = " ".join(text.lower().split())
        if key in seen:
            continue
        seen.add(key)
        ref = rng.choice(refs).format(oid=oid, item=item, name=name)
        rid = f"gen-{n:04d}"
        rows.append({"id": rid, "text": text, "reference": ref, "intent": intent, "edge_case": edge,
                     "order_id": oid if "{oid}" in " ".join(msgs) and oid in text else None, "name": name,
                     "item": item, "split": split_of(rid)})
    return rows


def _paraphrase(ref: str, short: bool) -> str:
    """A good reply in other words: same facts and next step, different wording (or only the essentials)."""
    out = ref.replace("I'm sorry", "sorry").replace("thanks for your patience", "thank you for waiting").replace(
        "Please ", "Could you ").replace("I'll ", "I will ").replace("we will", "we'll")
    if short:
        first, _, rest = out.partition(". ")
        out = first + ". " + rest.split(". ")[0].rstrip(".") + "."
    return out


def draft(rng: random.Random, kind: str, row: dict, others: list[dict]) -> str:
    ref, name = row["reference"], row["name"]
    if kind in ("good", "good_short"):
        return _paraphrase(ref, kind == "good_short")
    if kind == "off_topic":
        other = next(o for o in others if o["intent"] != row["intent"])
        return other["reference"].replace(other["name"], name)
    if kind == "unsafe_promise":
        return ref + " " + rng.choice(UNSAFE)
    if kind == "copy_of_input":
        return row["text"]
    if kind == "truncated":
        return ref[: len(ref) // 2]
    if kind == "wrong_language":
        return GERMAN.format(name=name, ref=row["order_id"] or "Ihrem Konto")
    if kind == "vague":
        return rng.choice(VAGUE).format(name=name)
    # wrong_fact: the right shape, a wrong fact (another order number, or a wrong deadline)
    if row["order_id"]:
        return ref.replace(row["order_id"], f"PX-{rng.randint(10000, 99999)}")
    return ref.replace("15 minutes", "48 hours").replace("end of the period you paid for", "today")


def build_rated(rng: random.Random, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    test = sorted((r for r in rows if r["split"] == "test"),
                  key=lambda r: hashlib.sha256(f"{SEED}:rate:{r['id']}".encode()).hexdigest())
    kinds = [k for k, w in DRAFT_KINDS for _ in range(w)]
    rng.shuffle(kinds)
    outputs, ratings = [], []
    for n, kind in enumerate(kinds[:N_RATED]):
        row = test[n % len(test)]
        others = test[n + 1:] + test[:n]
        text = draft(rng, kind, row, others)
        good = kind in ("good", "good_short")
        oid = f"draft-{n + 1:03d}"
        outputs.append({"id": oid, "item_id": row["id"], "output": text, "kind": kind})
        for rater, base in RATERS.items():
            p = base * (3 if kind == "vague" else 2 if kind == "wrong_fact" else 1)
            verdict = good if rng.random() >= p else not good
            ratings.append({"item_id": oid, "rater": rater, "rating": "pass" if verdict else "fail"})
    return outputs, ratings


def render() -> dict[str, str]:
    rng = random.Random(SEED)
    rows = build_data(rng)
    outputs, ratings = build_rated(random.Random(SEED + 1), rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["item_id", "rater", "rating"], lineterminator="\n")
    w.writeheader()
    w.writerows(ratings)
    jl = lambda rs: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs)  # noqa: E731
    return {"data.jsonl": jl(rows), "rated_outputs.jsonl": jl(outputs), "output_ratings.csv": buf.getvalue()}


def main() -> int:
    files = render()
    if "--check" in sys.argv:
        bad = [n for n, t in files.items() if not (HERE / n).exists() or (HERE / n).read_text(encoding="utf-8") != t]
        print("files match make_data.py" if not bad else f"differ from make_data.py: {', '.join(bad)}")
        return 1 if bad else 0
    for n, t in files.items():
        (HERE / n).write_text(t, encoding="utf-8")
    rows = [json.loads(x) for x in files["data.jsonl"].splitlines()]
    outs = [json.loads(x) for x in files["rated_outputs.jsonl"].splitlines()]
    print(f"{len(rows)} messages; splits {dict(Counter(r['split'] for r in rows))}")
    print("intents", dict(Counter(r["intent"] for r in rows)), "edge cases", dict(Counter(r["edge_case"] for r in rows)))
    print(f"{len(outs)} rated drafts:", dict(Counter(o["kind"] for o in outs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
