"""Real intent data written the way a ticket system exports it, for `tunegate init` tests and the issue-15 runs.

Two exports from /work/shared/data (never copied into the repository; written where the caller says):
- ``clinc150_banking.csv``: 12 CLINC150 banking intents, columns id,text,intent,split (train/dev/test as
  published; ``val`` written as ``dev``);
- ``banking77_sorted.csv``: all 13,083 banking77 queries (train + test), sorted by intent, columns
  id,text,intent,split — the order that defeats reading only the first rows.

``per_intent`` keeps the first N rows of each intent per split, for small test slices.

    python -m tests.support.intent_exports OUT_DIR
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CLINC_BANKING_12 = ("transfer", "transactions", "balance", "freeze_account", "pay_bill", "bill_balance", "bill_due",
                    "interest_rate", "routing", "min_payment", "order_checks", "pin_change")


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "intent", "split"])
        w.writeheader()
        w.writerows(rows)
    return path


def _cap(rows: list[dict], per_intent: int | None) -> list[dict]:
    if per_intent is None:
        return rows
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in rows:
        k = (r["intent"], r["split"])
        seen[k] = seen.get(k, 0) + 1
        if seen[k] <= per_intent:
            out.append(r)
    return out


def clinc150_export(dest: Path, *, intents: tuple[str, ...] = CLINC_BANKING_12, per_intent: int | None = None,
                    data: Path = SHARED_DATA) -> Path:
    raw = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    rows = []
    for key, split in (("train", "train"), ("val", "dev"), ("test", "test")):
        rows += [{"text": t, "intent": lab, "split": split} for t, lab in raw[key] if lab in intents]
    rows = _cap(rows, per_intent)
    for i, r in enumerate(rows):
        r["id"] = f"c{i + 1:05d}"
    return _write(Path(dest), rows)


def banking77_export(dest: Path, *, per_intent: int | None = None, data: Path = SHARED_DATA) -> Path:
    rows = []
    for split in ("train", "test"):
        with (data / "banking77" / f"{split}.csv").open(encoding="utf-8", newline="") as fh:
            rows += [{"text": r["text"], "intent": r["category"], "split": split} for r in csv.DictReader(fh)]
    rows.sort(key=lambda r: r["intent"])  # stable: within an intent, train before test as published
    rows = _cap(rows, per_intent)
    for i, r in enumerate(rows):
        r["id"] = f"b{i + 1:05d}"
    return _write(Path(dest), rows)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    print(clinc150_export(out / "clinc150_banking.csv"))
    print(banking77_export(out / "banking77_sorted.csv"))
