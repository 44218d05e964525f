#!/usr/bin/env python3
"""Simulated annotations for the tunegate support-triage example.

The gold `intent` in data.jsonl is the adjudicated label written by the dataset
author. The three annotators in annotations.csv are *simulated*: this script
draws their labels from the gold label with documented, seeded error rates, so
the disagreement is realistic in shape but not observed from real people.

How a label is drawn for one (item, annotator):
  1. The item's tier comes from its edge_case:
       clear    = none
       moderate = typo, very_short, non_english, code_mixed, long_rambling
       hard     = multi_intent, ambiguous, sarcasm
  2. Error probability = ERROR_RATE[annotator][tier] x item difficulty, where the
     difficulty is drawn once per item (shared by all three annotators, so
     errors cluster on the same items, as they do with real annotators) and
     "none" items that carry a near-miss hint count as 2x harder.
  3. ann_li additionally has systematic confusions (SYSTEMATIC), applied first:
     e.g. payment_failed is labelled billing_dispute 20% of the time.
  4. A wrong label is never random: it is the item's near-miss hint (HINTS,
     written by the dataset author for items with an obvious second reading)
     with probability 0.75, otherwise a draw from the intent's near-miss
     table (NEAR_MISS). Sarcastic items can also be read literally
     (feedback_praise).

Usage (python3, standard library only; deterministic for a given SEED):
  python3 make_annotations.py            # write annotations.csv, print the report
  python3 make_annotations.py --report   # only print the report (markdown) from the files
  python3 make_annotations.py --check    # validate data.jsonl and annotations.csv, exit 1 on error

HINTS are keyed by item id, so they belong to this exact data.jsonl; if items
are renumbered, the hints must be regenerated.
"""
from __future__ import annotations

import csv
import json
import random
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data.jsonl"
OUT = HERE / "annotations.csv"
SEED = 20260914

INTENTS = [
    "billing_dispute", "refund_request", "order_status", "shipping_address_change",
    "account_access", "cancel_subscription", "product_defect", "payment_failed",
    "fraud_report", "feedback_praise",
]
CHANNELS = ["email", "chat", "app_review", "phone_transcript"]
EDGE_CASES = ["none", "typo", "multi_intent", "sarcasm", "very_short", "non_english",
              "code_mixed", "long_rambling", "ambiguous"]
SPLITS = ["train", "dev", "test"]
TIER = {"none": "clear", "typo": "moderate", "very_short": "moderate",
        "non_english": "moderate", "code_mixed": "moderate", "long_rambling": "moderate",
        "multi_intent": "hard", "ambiguous": "hard", "sarcasm": "hard"}

# Per-annotator error probability by tier (before the per-item difficulty factor).
ERROR_RATE = {
    "ann_maria": {"clear": 0.035, "moderate": 0.06, "hard": 0.27},
    "ann_kofi":  {"clear": 0.045, "moderate": 0.075, "hard": 0.30},
    "ann_li":    {"clear": 0.10,  "moderate": 0.15, "hard": 0.40},
}
# (gold, label given, probability): systematic confusions, ann_li only.
SYSTEMATIC = {
    "ann_li": [("payment_failed", "billing_dispute", 0.20),
               ("cancel_subscription", "refund_request", 0.10)],
}
# Which wrong label a confused annotator reaches for, per gold intent (weights).
NEAR_MISS = {
    "billing_dispute": {"refund_request": 4, "fraud_report": 3, "payment_failed": 2, "cancel_subscription": 1},
    "refund_request": {"billing_dispute": 4, "product_defect": 2, "order_status": 2, "cancel_subscription": 1},
    "order_status": {"shipping_address_change": 4, "refund_request": 3, "product_defect": 1},
    "shipping_address_change": {"order_status": 6, "account_access": 1},
    "account_access": {"fraud_report": 5, "payment_failed": 1, "cancel_subscription": 1},
    "cancel_subscription": {"refund_request": 4, "billing_dispute": 4, "account_access": 1},
    "product_defect": {"refund_request": 5, "order_status": 2, "feedback_praise": 1},
    "payment_failed": {"billing_dispute": 6, "account_access": 1, "order_status": 1, "fraud_report": 1},
    "fraud_report": {"account_access": 4, "billing_dispute": 4, "refund_request": 1},
    "feedback_praise": {"product_defect": 2, "order_status": 1, "refund_request": 1},
}
ABBR = {"BD": "billing_dispute", "RR": "refund_request", "OS": "order_status",
        "SA": "shipping_address_change", "AA": "account_access", "CS": "cancel_subscription",
        "PD": "product_defect", "PF": "payment_failed", "FR": "fraud_report",
        "FP": "feedback_praise"}
# Near-miss hint per item ("NNNN:XX" = item st-NNNN, second reading XX), written by
# the dataset author while writing the messages.
HINTS_TEXT = """
    0004:FP 0006:OS 0010:FP 0014:SA 0015:FP 0018:BD 0020:BD 0021:BD
    0023:FP 0024:PD 0026:RR 0029:RR 0031:FP 0034:BD 0035:CS 0036:RR
    0038:PF 0043:CS 0044:CS 0048:BD 0052:FP 0053:AA 0065:FP 0066:FP
    0067:SA 0071:OS 0072:BD 0076:FR 0082:FP 0086:FP 0087:CS 0097:FR
    0100:SA 0101:BD 0103:BD 0104:CS 0108:FP 0112:BD 0113:RR 0117:CS
    0118:RR 0120:RR 0122:OS 0123:FP 0124:BD 0125:AA 0127:AA 0129:BD
    0131:PF 0139:CS 0143:OS 0148:BD 0149:OS 0150:FP 0158:FP 0160:BD
    0167:RR 0168:BD 0172:RR 0173:BD 0178:RR 0182:SA 0186:PD 0195:FP
    0198:BD 0201:BD 0202:PF 0206:RR 0207:RR 0211:BD 0217:RR 0218:BD
    0219:RR 0225:FP 0228:OS 0230:AA 0231:FP 0233:AA 0234:BD 0235:BD
    0238:FR 0242:BD 0249:AA 0253:BD 0263:FR 0264:CS 0275:RR 0279:RR
    0283:RR 0291:RR 0292:FP 0293:FR 0294:PD 0297:RR 0301:RR 0303:PF
    0304:PD 0306:OS 0308:PD 0310:SA 0314:FR 0315:FP 0318:OS 0320:OS
    0321:OS 0322:SA 0323:FR 0329:PF 0336:OS 0338:AA 0343:FP 0359:BD
    0363:AA 0370:OS 0371:BD 0373:BD 0374:FP 0380:OS 0382:OS 0383:RR
    0384:PD 0389:FP 0391:FP 0393:FP 0395:AA 0397:PD 0399:OS 0404:FP
    0411:CS 0416:CS 0418:RR 0420:PF 0424:OS 0427:CS 0431:SA 0434:RR
    0440:FP 0444:RR 0448:BD 0449:FP 0450:AA 0451:CS 0452:RR 0453:AA
    0457:BD 0461:FP 0462:RR 0468:AA 0469:FP 0471:PF 0474:BD 0477:PD
    0481:OS 0484:OS 0485:CS
"""
HINTS = {f"st-{tok.split(':')[0]}": ABBR[tok.split(':')[1]] for tok in HINTS_TEXT.split()}

# Working pattern per annotator: first day, items per working day, speed factor.
SCHEDULE = {
    "ann_maria": {"start": date(2026, 9, 2), "per_day": (55, 70), "speed": 1.0},
    "ann_kofi":  {"start": date(2026, 9, 8), "per_day": (40, 55), "speed": 1.25},
    "ann_li":    {"start": date(2026, 9, 14), "per_day": (85, 110), "speed": 0.65},
}
ANNOTATORS = list(ERROR_RATE)


def load_items(path: Path = DATA) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_annotations(path: Path = OUT) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    labels = sorted(weights)
    return rng.choices(labels, weights=[weights[k] for k in labels])[0]


def wrong_label(rng: random.Random, item: dict) -> str:
    gold = item["intent"]
    hint = HINTS.get(item["id"])
    if hint and hint != gold and rng.random() < 0.75:
        return hint
    table = dict(NEAR_MISS[gold])
    if item["edge_case"] == "sarcasm" and gold != "feedback_praise":
        table["feedback_praise"] = table.get("feedback_praise", 0) + 2
    return _weighted(rng, table)


def simulate(items: list[dict]) -> list[dict]:
    rng = random.Random(SEED)
    difficulty = {it["id"]: rng.uniform(0.4, 1.6) for it in items}  # mean 1.0, shared
    labels: dict[tuple[str, str], str] = {}
    for ann in ANNOTATORS:
        arng = random.Random(f"{SEED}-{ann}")
        for it in items:
            gold = it["intent"]
            label = gold
            for g, given, p in SYSTEMATIC.get(ann, []):
                if gold == g and arng.random() < p:
                    label = given
            if label == gold:
                p_err = ERROR_RATE[ann][TIER[it["edge_case"]]] * difficulty[it["id"]]
                if it["edge_case"] == "none" and it["id"] in HINTS:
                    p_err *= 2.0
                if arng.random() < min(p_err, 0.9):
                    label = wrong_label(arng, it)
            labels[(it["id"], ann)] = label
    stamps = {ann: timestamps(items, ann) for ann in ANNOTATORS}
    rows = []
    for it in items:
        for ann in ANNOTATORS:
            rows.append({"item_id": it["id"], "annotator": ann,
                         "label": labels[(it["id"], ann)], "timestamp": stamps[ann][it["id"]]})
    return rows


def timestamps(items: list[dict], ann: str) -> dict[str, str]:
    """Each annotator works through the queue in id order, on weekdays, with a lunch break."""
    cfg = SCHEDULE[ann]
    rng = random.Random(f"{SEED}-{ann}-time")
    out: dict[str, str] = {}
    day, i = cfg["start"], 0
    while i < len(items):
        if day.weekday() >= 5:
            day += timedelta(days=1)
            continue
        quota = rng.randint(*cfg["per_day"])
        t = datetime.combine(day, time(rng.choice([8, 9, 9, 10]), rng.randint(0, 59)), tzinfo=timezone.utc)
        for j in range(quota):
            if i >= len(items):
                break
            if j == quota // 2:
                t += timedelta(minutes=rng.randint(35, 70))
            words = len(items[i]["text"].split())
            secs = (14 + 0.55 * words) * cfg["speed"] * rng.lognormvariate(0, 0.35)
            t += timedelta(seconds=round(secs))
            out[items[i]["id"]] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            i += 1
        day += timedelta(days=1)
    return out


# ----------------------------------------------------------------------------- report

def fleiss_kappa(per_item: list[list[str]]) -> float:
    n = len(per_item[0])
    cats = Counter()
    p_items = []
    for labs in per_item:
        c = Counter(labs)
        cats.update(c)
        p_items.append((sum(v * v for v in c.values()) - n) / (n * (n - 1)))
    total = n * len(per_item)
    p_bar = sum(p_items) / len(p_items)
    p_e = sum((v / total) ** 2 for v in cats.values())
    return (p_bar - p_e) / (1 - p_e)


def cohen_kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return (po - pe) / (1 - pe)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def report(items: list[dict], rows: list[dict]) -> str:
    gold = {it["id"]: it["intent"] for it in items}
    edge = {it["id"]: it["edge_case"] for it in items}
    lab = defaultdict(dict)
    for r in rows:
        lab[r["item_id"]][r["annotator"]] = r["label"]
    ids = [it["id"] for it in items]
    L: list[str] = []
    L.append(f"Items: {len(items)}")
    L.append("")
    L.append("| intent | train | dev | test | total |")
    L.append("|---|---:|---:|---:|---:|")
    tab = Counter((it["intent"], it["split"]) for it in items)
    for intent in INTENTS:
        c = [tab[(intent, s)] for s in SPLITS]
        L.append(f"| {intent} | {c[0]} | {c[1]} | {c[2]} | {sum(c)} |")
    sc = Counter(it["split"] for it in items)
    L.append(f"| **total** | {sc['train']} | {sc['dev']} | {sc['test']} | {len(items)} |")
    L.append("")
    for field, order in (("channel", CHANNELS), ("edge_case", EDGE_CASES)):
        L.append(f"| {field} | train | dev | test | total |")
        L.append("|---|---:|---:|---:|---:|")
        t = Counter((it[field], it["split"]) for it in items)
        for v in order:
            c = [t[(v, s)] for s in SPLITS]
            L.append(f"| {v} | {c[0]} | {c[1]} | {c[2]} | {sum(c)} ({pct(sum(c) / len(items))}) |")
        L.append("")
    # accuracy vs gold
    L.append("| annotator | accuracy vs gold | clear items | moderate items | hard items |")
    L.append("|---|---:|---:|---:|---:|")
    for ann in ANNOTATORS:
        cells = []
        for tier in (None, "clear", "moderate", "hard"):
            sel = [i for i in ids if tier is None or TIER[edge[i]] == tier]
            acc = sum(lab[i][ann] == gold[i] for i in sel) / len(sel)
            cells.append(f"{pct(acc)} (n={len(sel)})" if tier else pct(acc))
        L.append(f"| {ann} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("| annotator pair | raw agreement | Cohen's kappa | agreement on clear items | agreement on hard items |")
    L.append("|---|---:|---:|---:|---:|")
    clear = [i for i in ids if TIER[edge[i]] == "clear"]
    hard = [i for i in ids if TIER[edge[i]] == "hard"]
    raws = []
    for a, b in combinations(ANNOTATORS, 2):
        la = [lab[i][a] for i in ids]
        lb = [lab[i][b] for i in ids]
        raw = sum(x == y for x, y in zip(la, lb)) / len(ids)
        raws.append(raw)
        rh = sum(lab[i][a] == lab[i][b] for i in hard) / len(hard)
        rc = sum(lab[i][a] == lab[i][b] for i in clear) / len(clear)
        L.append(f"| {a} / {b} | {pct(raw)} | {cohen_kappa(la, lb):.3f} | {pct(rc)} | {pct(rh)} |")
    L.append(f"| mean of pairs | {pct(sum(raws) / len(raws))} | | | |")
    L.append("")
    per_item = [[lab[i][a] for a in ANNOTATORS] for i in ids]
    unanimous = sum(len(set(x)) == 1 for x in per_item)
    three_way = sum(len(set(x)) == 3 for x in per_item)
    maj_ok = 0
    for i, labs in zip(ids, per_item):
        top, cnt = Counter(labs).most_common(1)[0]
        maj_ok += cnt >= 2 and top == gold[i]
    L.append(f"- Fleiss' kappa (3 annotators): {fleiss_kappa(per_item):.3f}")
    L.append(f"- All three agree: {unanimous}/{len(ids)} ({pct(unanimous / len(ids))}); "
             f"all three differ: {three_way}")
    L.append(f"- Majority vote equals gold: {maj_ok}/{len(ids)} ({pct(maj_ok / len(ids))})")
    pf = [i for i in ids if gold[i] == "payment_failed"]
    li_bd = sum(lab[i]["ann_li"] == "billing_dispute" for i in pf)
    L.append(f"- ann_li labelled payment_failed items as billing_dispute: {li_bd}/{len(pf)}")
    conf = Counter((gold[i], lab[i][a]) for i in ids for a in ANNOTATORS if lab[i][a] != gold[i])
    L.append("- Most frequent annotator confusions (gold -> given, count over all 3 annotators): "
             + "; ".join(f"{g} -> {p} ({n})" for (g, p), n in conf.most_common(8)))
    return "\n".join(L)


# ----------------------------------------------------------------------------- check

def check(items: list[dict], rows: list[dict]) -> list[str]:
    errs = []
    keys = {"id", "text", "intent", "channel", "edge_case", "split"}
    for it in items:
        if set(it) != keys:
            errs.append(f"{it.get('id')}: keys {sorted(it)}")
        if it.get("intent") not in INTENTS:
            errs.append(f"{it.get('id')}: intent {it.get('intent')}")
        if it.get("channel") not in CHANNELS:
            errs.append(f"{it.get('id')}: channel {it.get('channel')}")
        if it.get("edge_case") not in EDGE_CASES:
            errs.append(f"{it.get('id')}: edge_case {it.get('edge_case')}")
        if it.get("split") not in SPLITS:
            errs.append(f"{it.get('id')}: split {it.get('split')}")
        if not isinstance(it.get("text"), str) or not it["text"].strip():
            errs.append(f"{it.get('id')}: empty text")
    ids = [it["id"] for it in items]
    if len(set(ids)) != len(ids):
        errs.append("duplicate ids")
    if ids != [f"st-{k:04d}" for k in range(1, len(ids) + 1)]:
        errs.append("ids are not st-0001..st-N in order")
    texts = [it["text"].strip().lower() for it in items]
    if len(set(texts)) != len(texts):
        errs.append("duplicate texts")
    if len(items) < 440:
        errs.append(f"only {len(items)} items")
    n = len(items)
    sc = Counter(it["split"] for it in items)
    for s, target in (("train", .60), ("dev", .15), ("test", .25)):
        if abs(sc[s] / n - target) > 0.02:
            errs.append(f"split {s} is {sc[s] / n:.3f}, target {target}")
    ic = Counter(it["intent"] for it in items)
    for intent in INTENTS:
        if not 30 <= ic[intent] <= 60:
            errs.append(f"{intent}: {ic[intent]} items")
        for s in SPLITS:
            k = sum(1 for it in items if it["intent"] == intent and it["split"] == s)
            if k == 0 or (s == "test" and k < 10):
                errs.append(f"{intent}/{s}: {k} items")
    none_share = sum(it["edge_case"] == "none" for it in items) / n
    if not 0.55 <= none_share <= 0.65:
        errs.append(f"edge_case none share {none_share:.3f}")
    # annotations
    got = Counter((r["item_id"], r["annotator"]) for r in rows)
    for i in ids:
        for a in ANNOTATORS:
            if got[(i, a)] != 1:
                errs.append(f"annotation {i}/{a} appears {got[(i, a)]} times")
    extra = {r["item_id"] for r in rows} - set(ids)
    if extra:
        errs.append(f"annotations for unknown items: {sorted(extra)[:5]}")
    if len(rows) != 3 * n:
        errs.append(f"{len(rows)} annotation rows, expected {3 * n}")
    for r in rows:
        if r["label"] not in INTENTS:
            errs.append(f"bad label {r}")
        ts = datetime.strptime(r["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        if (ts.year, ts.month) != (2026, 9):
            errs.append(f"timestamp outside 2026-09: {r}")
    for a in ANNOTATORS:
        seq = [r["timestamp"] for r in sorted((r for r in rows if r["annotator"] == a), key=lambda r: r["item_id"])]
        if seq != sorted(seq) or len(set(seq)) != len(seq):
            errs.append(f"{a}: timestamps not strictly increasing in queue order")
    return errs


def main(argv: list[str]) -> int:
    items = load_items()
    if "--check" in argv:
        errs = check(items, load_annotations())
        for e in errs:
            print("ERROR:", e)
        print("OK" if not errs else f"{len(errs)} problem(s)")
        return 1 if errs else 0
    if "--report" not in argv:
        rows = simulate(items)
        with OUT.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["item_id", "annotator", "label", "timestamp"], lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        print(f"wrote {len(rows)} rows to {OUT.name}\n")
    print(report(items, load_annotations()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
