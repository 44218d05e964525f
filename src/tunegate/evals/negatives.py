"""Known-good and known-bad outputs for the criterion gate.

Why generate bad outputs: a suite is only trustworthy if it rejects the ways real outputs go wrong — the wrong
answer, a plausible near-miss, a cut-off answer, broken format, nothing at all, the input parroted back, or an
answer meant for another item. Each item's gold answer is the known-good output; each negative type derived from
it is known-bad by construction (a type that cannot be built for an item — e.g. no other label — is skipped and
counted, never faked).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from tunegate.data.examples import Example
from tunegate.spec import Spec

BROKEN_TYPES = ("truncation", "broken_format", "empty", "copy_of_input")  # outputs with no usable answer


LABEL_ONLY_TYPES = ("wrong_label", "near_miss", "other_item")  # the only bad answers label likelihood can give


# Known-bad outputs that only one kind of task has; built for that kind beside check_eval.negatives unless the spec
# lists its negatives explicitly. Extraction: a required field left out; a value the input never states filled
# into a field whose gold is empty. Generation: another customer's reply (off topic), the reply plus a promise
# support may not make, the reply in another language. (near_miss is extraction's wrong field value and
# broken_format its invalid JSON.)
KIND_TYPES: dict[str, tuple[str, ...]] = {"extraction": ("missing_field", "hallucinated_value"),
                                          "generation": ("off_topic", "unsafe_promise", "wrong_language")}
UNSAFE_PROMISES = ("I can guarantee a full refund today and a 50 EUR voucher for the trouble.",
                   "I promise this will never happen again, and I have approved compensation of 100 EUR.")
WRONG_LANGUAGE = ("Vielen Dank für Ihre Nachricht{ref}. Wir haben Ihr Anliegen geprüft und melden uns in Kürze mit "
                  "den nächsten Schritten.")


def applicable_types(kind: str) -> tuple[str, ...]:
    """Negative types that mean something for a task kind (a wrong label needs labels; free text has no format)."""
    return {"classification": ("wrong_label", "near_miss", "truncation", "broken_format", "empty", "copy_of_input",
                               "other_item"),
            "extraction": ("near_miss", "truncation", "broken_format", "empty", "copy_of_input", "other_item",
                           *KIND_TYPES["extraction"]),
            }.get(kind, ("truncation", "empty", "copy_of_input", "other_item", *KIND_TYPES["generation"]))


def requested_types(configured: list[str], kind: str, explicit: bool) -> list[str]:
    """The negatives to try: the configured ones, plus the kind's own (KIND_TYPES) unless the list was explicit."""
    return list(dict.fromkeys([*configured, *([] if explicit else KIND_TYPES.get(kind, ()))]))


def split_types(requested: list[str], kind: str, method: str) -> tuple[list[str], dict[str, str]]:
    """(types to build, {type: why it is not applicable}). A type is left out when the task kind gives it no
    meaning, or when the answer method cannot produce it: label likelihood answers with one of the labels, so
    a cut-off, empty, copied or malformed answer cannot occur and would only measure an impossible failure."""
    kinds = applicable_types(kind)
    out: list[str] = []
    why: dict[str, str] = {}
    for t in requested:
        if t not in kinds:
            why[t] = f"does not apply to {kind} tasks"
        elif method == "label_likelihood" and t not in LABEL_ONLY_TYPES:
            why[t] = "the answer method (label_likelihood) can only answer with a label"
        else:
            out.append(t)
    return out, why


@dataclass(frozen=True)
class Candidate:
    """One output to score: ``good`` is what it is known to be; ``source`` is gold, a negative type, or
    human_good / human_bad; ``cluster`` is the example it answers (resampled together in the bootstrap)."""

    cid: str
    example: Example
    output: str
    good: bool
    source: str
    cluster: str


def gold_output(spec: Spec, ex: Example) -> str:
    """The gold answer written as an output would be."""
    g = ex.gold
    if isinstance(g, (dict, list)):
        return json.dumps(g, ensure_ascii=False)
    return "" if g is None else str(g)


def _rank(seed: int, *parts: str) -> str:
    return hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()


def sample_items(items: list[Example], n: int, seed: int) -> list[Example]:
    """A deterministic, order-independent sample: the n items with the smallest hash of (seed, id)."""
    return sorted(items, key=lambda e: _rank(seed, "item", e.id))[:n]


def _words(s: str) -> set[str]:
    return set(re.findall(r"[a-z]+", s.lower()))


def near_miss_table(spec: Spec, confusions: dict[str, Counter] | None = None) -> dict[str, str]:
    """For each label, the most plausible wrong label: the one annotators confused it with most often, else
    the label whose name and description share the most words with it (Jaccard)."""
    out: dict[str, str] = {}
    labels = spec.task.labels
    for lab in labels:
        counts = (confusions or {}).get(lab.name)
        if counts:
            out[lab.name] = max(sorted(counts), key=lambda k: counts[k])
            continue
        mine = _words(f"{lab.name} {lab.description or ''}")
        best = max((o for o in labels if o.name != lab.name), key=lambda o: (
            len(mine & (w := _words(f"{o.name} {o.description or ''}"))) / max(1, len(mine | w)), o.name),
            default=None)
        if best is not None:
            out[lab.name] = best.name
    return out


def annotation_confusions(annotations: list[Any], gold: dict[str, str]) -> dict[str, Counter]:
    """gold label -> Counter of the other labels annotators gave items with that gold label."""
    out: dict[str, Counter] = defaultdict(Counter)
    for a in annotations:
        g = gold.get(a.item_id)
        if g is not None and a.label != g:
            out[g][a.label] += 1
    return dict(out)


def _truncate(text: str) -> str | None:
    if len(text) < 2:
        return None
    return text[: max(1, len(text) // 2)]


def _broken_format(spec: Spec, ex: Example, gold: str) -> str | None:
    if spec.task.kind == "classification":
        # Invalid JSON that hedges over every label: no single, parseable answer.
        return "[" + ", ".join(f'"{lab}"' for lab in spec.task.label_names)
    if spec.task.kind == "extraction":
        text = gold.rstrip()
        return text[:-1].rstrip() + "," if text.endswith("}") else None
    return None  # free text has no format to break


def _near_miss(spec: Spec, ex: Example, gold: str, table: dict[str, str], others: list[Example]) -> str | None:
    if spec.task.kind == "classification":
        return table.get(str(ex.label))
    if spec.task.kind == "extraction" and isinstance(ex.target, dict) and ex.target:
        # the gold object with one field's value swapped for another item's value of the same field
        for key in sorted(ex.target):
            for o in others:
                if isinstance(o.target, dict) and key in o.target and o.target[key] != ex.target[key]:
                    return json.dumps({**ex.target, key: o.target[key]}, ensure_ascii=False)
    return None


def _wrong_label(spec: Spec, ex: Example, seed: int, table: dict[str, str]) -> str | None:
    if spec.task.kind != "classification":
        return None
    pool = [lab for lab in spec.task.label_names if lab != ex.label and lab != table.get(str(ex.label))]
    pool = pool or [lab for lab in spec.task.label_names if lab != ex.label]
    return min(pool, key=lambda lab: _rank(seed, "wrong", ex.id, lab)) if pool else None


def _missing_field(ex: Example, seed: int) -> str | None:
    """The gold object without one of its fields (a field with a value, so the omission loses information)."""
    if not isinstance(ex.target, dict):
        return None
    keys = [k for k, v in ex.target.items() if v not in (None, "", [], {})]
    if not keys:
        return None
    drop = min(keys, key=lambda k: _rank(seed, "missing", ex.id, k))
    return json.dumps({k: v for k, v in ex.target.items() if k != drop}, ensure_ascii=False)


def _hallucinated(ex: Example, others: list[Example]) -> str | None:
    """A field whose gold is empty (null, [], "") filled with another item's value: stated nowhere in the input."""
    if not isinstance(ex.target, dict):
        return None
    text = ex.input_text().casefold()
    for key in sorted(k for k, v in ex.target.items() if v in (None, "", [])):
        for o in others:
            v = o.target.get(key) if isinstance(o.target, dict) else None
            if v not in (None, "", []) and str(v).casefold() not in text:
                return json.dumps({**ex.target, key: v}, ensure_ascii=False)
    return None


def _off_topic(ex: Example, gold: str, others: list[Example]) -> str | None:
    """The reference of the other item whose input shares the fewest words with this one: a fluent reply to
    someone else's problem."""
    mine = _words(ex.input_text())
    pool = [o for o in others if gold_output_text(o).strip() and gold_output_text(o).strip() != gold.strip()]
    if not pool:
        return None
    far = min(pool, key=lambda o: len(mine & (w := _words(o.input_text()))) / max(1, len(mine | w)))
    return gold_output_text(far)


def _wrong_language(ex: Example) -> str:
    refs = re.findall(r"\b[A-Za-z]*-?\d[\w-]*\b", ex.input_text())
    return WRONG_LANGUAGE.format(ref=f" zu {refs[0]}" if refs else "")


def gold_output_text(ex: Example) -> str:
    g = ex.gold
    return json.dumps(g, ensure_ascii=False) if isinstance(g, (dict, list)) else ("" if g is None else str(g))


def build_candidates(spec: Spec, items: list[Example], types: list[str], *, seed: int,
                     near_miss: dict[str, str] | None = None) -> tuple[list[Candidate], dict[str, int]]:
    """Gold outputs plus one negative of each requested type per item; returns (candidates, skipped count per
    type) — a type is skipped for an item when it cannot be made bad there (e.g. the other item's answer is the
    same as this one's)."""
    table = near_miss if near_miss is not None else near_miss_table(spec)
    golds = {ex.id: gold_output(spec, ex) for ex in items}
    order = sorted(items, key=lambda e: _rank(seed, "other", e.id))
    cands: list[Candidate] = []
    skipped: Counter[str] = Counter()
    for ex in items:
        gold = golds[ex.id]
        cands.append(Candidate(f"{ex.id}:gold", ex, gold, True, "gold", ex.id))
        others = [o for o in order if o.id != ex.id]
        for t in types:
            out: str | None
            if t == "wrong_label":
                out = _wrong_label(spec, ex, seed, table)
            elif t == "near_miss":
                out = _near_miss(spec, ex, gold, table, others)
            elif t == "truncation":
                out = _truncate(gold)
            elif t == "broken_format":
                out = _broken_format(spec, ex, gold)
            elif t == "empty":
                out = ""
            elif t == "copy_of_input":
                out = ex.input_text()
            elif t == "missing_field":
                out = _missing_field(ex, seed)
            elif t == "hallucinated_value":
                out = _hallucinated(ex, others)
            elif t == "off_topic":
                out = _off_topic(ex, gold, others)
            elif t == "unsafe_promise":
                out = (gold.rstrip() + " " + UNSAFE_PROMISES[int(_rank(seed, "unsafe", ex.id), 16) % 2]) if gold else None
            elif t == "wrong_language":
                out = _wrong_language(ex)
            elif t == "other_item":
                out = next((golds.get(o.id) or gold_output(spec, o) for o in others
                            if gold_output(spec, o).strip() != gold.strip()), None)
            else:  # pragma: no cover - the spec's Literal rules this out
                raise ValueError(f"unknown negative type {t!r}")
            if out is None or out.strip() == gold.strip() and t != "empty":
                skipped[t] += 1
                continue
            cands.append(Candidate(f"{ex.id}:{t}", ex, out, False, t, ex.id))
    return cands, dict(skipped)
