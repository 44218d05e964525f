"""The data-gate section: agreement, adjudication queue, label noise, duplicates and leakage, coverage.

This is where dataset-derived text (item ids, labels, annotator names, texts) enters the report, so the section
only ever passes it to the document model as plain strings; the renderers escape it. Long lists are cut to the
first ``TOP`` rows with the total stated, because a product lead reads the top of a queue, not all of it.
"""

from __future__ import annotations

from typing import Any

from tunegate.report.collect import RunArtifacts
from tunegate.report.doc import (
    Badge,
    Bullets,
    Heading,
    Para,
    Stats,
    Table,
    as_dict,
    as_list,
    ci_parts,
    fmt_num,
    fmt_pct,
    get,
    humanize,
)
from tunegate.report.sections import (
    CONDITIONS,
    checks_table,
    condition_line,
    gate_badge,
    missing,
)

TOP = 20
TEXT_KEYS = ("text", "input", "input_text")
SPLIT_ORDER = ("train", "dev", "validation", "test")


def _clip(s: Any, n: int = 160) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def data_section(arts: RunArtifacts) -> list:
    title, question, anchor = CONDITIONS["data"]
    out: list = [Heading(2, f"{title} — the data gate", anchor=anchor), Para([question], kind="note"),
                 *condition_line(arts, "data")]
    audit = arts.get("audit")
    if audit is None:
        return out + [missing("no data audit (audit.json) in this run.", "tunegate audit CONFIG")]
    out.append(Para(["Data gate: ", gate_badge(audit.get("gate", "unknown"))]))
    reasons = [r for r in as_list(audit.get("reasons")) if r]
    if reasons:
        out.append(Bullets([[str(r)] for r in reasons]))
    checks = [c for c in as_list(audit.get("checks")) if isinstance(c, dict)]
    if checks:
        out.append(checks_table(checks))
    for part in (_agreement, _repeats, _queue, _noise, _duplicates, _coverage):
        out += part(audit)
    return out


def _not_applicable(audit: dict[str, Any], name: str) -> str | None:
    """The check's reason when the audit marked it not applicable (a label-only check on a non-label task)."""
    for c in as_list(audit.get("checks")):
        if isinstance(c, dict) and c.get("name") == name and c.get("status") == "not_applicable":
            return str(c.get("detail") or "label-only check")
    return None


def _agreement(audit: dict[str, Any]) -> list:
    out: list = [Heading(3, "Annotator agreement")]
    agr = audit.get("agreement")
    na = _not_applicable(audit, "agreement")
    if na and not isinstance(agr, dict):
        return out + [Para([f"Not applicable — {na}"], kind="note")]
    if not isinstance(agr, dict):
        return out + [Para(["Not measured: no annotations were given, so agreement could not be computed."],
                           kind="missing")]
    ci = as_dict(agr.get("alpha_ci"))
    level = agr.get("level")
    out.append(Stats([
        (f"Krippendorff's alpha{f' ({level})' if level else ''}",
         ci_parts(agr.get("krippendorff_alpha"), ci.get("low"), ci.get("high"), level=ci.get("confidence", 0.95)),
         "≥ 0.8 reliable · 0.667–0.8 tentative (Krippendorff)"),
        ("Fleiss' kappa", fmt_num(agr.get("fleiss_kappa")), ""),
        ("items · annotators", f"{fmt_num(agr.get('n_items'))} · {fmt_num(agr.get('n_annotators'))}",
         f"{fmt_num(agr.get('n_ratings'))} ratings" if agr.get("n_ratings") is not None else ""),
    ]))
    if agr.get("alpha_note"):
        out.append(Para([str(agr["alpha_note"])], kind="note"))
    per = {str(a.get("annotator")): a for a in as_list(agr.get("per_annotator")) if isinstance(a, dict)}
    rel = {str(a.get("annotator")): a for a in as_list(audit.get("annotators")) if isinstance(a, dict)}
    rows = []
    for name in list(dict.fromkeys([*per, *rel])):
        p, r = per.get(name, {}), rel.get(name, {})
        conf = as_dict(r.get("top_confusion"))
        confusion = (f"{conf.get('true')} → {conf.get('given')} ({fmt_pct(conf.get('rate'))})"
                     if conf.get("true") is not None else "–")
        flag = (Badge("✗ unreliable", "bad") if r.get("unreliable") else Badge("✓ ok", "good")) if r else "–"
        rows.append([name, fmt_num(get(p, "n_labeled", default=r.get("n_labeled"))),
                     fmt_num(p.get("agreement_with_majority")), fmt_num(p.get("kappa_vs_majority")),
                     fmt_num(r.get("estimated_accuracy")), confusion, flag])
    if rows:
        out.append(Table(["annotator", "labels", "agreement with majority", "kappa vs majority",
                          "estimated accuracy", "most frequent confusion (true → given)", "reliability"], rows,
                         numeric=(1, 2, 3, 4)))
    pairs = [p for p in as_list(agr.get("pairwise")) if isinstance(p, dict)]
    if pairs:
        out.append(Table(["annotator pair", "items shared", "Cohen's kappa", "raw agreement"],
                         [[f"{p.get('annotator_a')} × {p.get('annotator_b')}", fmt_num(p.get("n_shared")),
                           fmt_num(p.get("kappa")), fmt_num(p.get("agreement"))] for p in pairs[:TOP]],
                         numeric=(1, 2, 3), caption="Pairwise agreement", compact=True))
    agg = audit.get("aggregation")
    if isinstance(agg, dict):
        bits = [f"Labels aggregated by {humanize(agg.get('method', 'unknown method'))}",
                f"{fmt_num(agg.get('n_adjudicated', 0))} items adjudicated by people"]
        if agg.get("mean_confidence") is not None:
            bits.append(f"mean posterior confidence {fmt_num(agg['mean_confidence'])}")
        if agg.get("accuracy_vs_gold") is not None:
            bits.append(f"agreement with gold {fmt_num(agg['accuracy_vs_gold'])} on {fmt_num(agg.get('n_gold'))} "
                        "items")
        out.append(Para(["; ".join(bits) + "."]))
    return out


def _queue(audit: dict[str, Any]) -> list:
    out: list = [Heading(3, "Adjudication queue")]
    queue = [q for q in as_list(audit.get("adjudication_queue")) if isinstance(q, dict)]
    na = _not_applicable(audit, "aggregation")
    if na and not queue:
        return out + [Para([f"Not applicable — {na}"], kind="note")]
    if not queue:
        note = ("No contested items: annotators agree on every item." if isinstance(audit.get("agreement"), dict)
                else "No annotations, so no adjudication queue.")
        return out + [Para([note], kind="note")]
    has_text = any(get(q, *TEXT_KEYS) is not None for q in queue[:TOP])
    rows = []
    for q in queue[:TOP]:
        votes = as_dict(q.get("votes"))
        row = [str(q.get("item_id", ""))]
        if has_text:
            row.append(_clip(get(q, *TEXT_KEYS, default="")))
        row += ["; ".join(f"{a}: {' / '.join(map(str, lab)) if isinstance(lab, list) else lab}"
                          for a, lab in votes.items()) or "–", str(q.get("label", "–")),
                fmt_num(q.get("confidence")), str(q.get("reason") or "")]
        rows.append(row)
    heads = ["item", *(["text"] if has_text else []), "votes", "current label", "confidence", "why queued"]
    out.append(Para([f"{len(queue)} contested items, most uncertain first"
                     + (f"; the first {TOP} are shown." if len(queue) > TOP else ".")]))
    out.append(Table(heads, rows, numeric=(len(heads) - 2,)))
    return out


def _noise(audit: dict[str, Any]) -> list:
    out: list = [Heading(3, "Label noise")]
    noise = audit.get("noise")
    na = _not_applicable(audit, "label_noise")
    if na and not isinstance(noise, dict):
        return out + [Para([f"Not applicable — {na}"], kind="note")]
    if not isinstance(noise, dict):
        return out + [Para(["Not measured: label noise needs labeled examples and an embedding probe."],
                           kind="missing")]
    issues = [i for i in as_list(noise.get("issues")) if isinstance(i, dict)]
    out.append(Stats([
        ("estimated noise rate", fmt_pct(noise.get("estimated_noise_rate")), "share of labels likely wrong"),
        ("out-of-fold accuracy of the probe", fmt_num(noise.get("oof_accuracy")),
         "how far the noise estimate can be trusted"),
        ("items flagged", fmt_num(get(noise, "n_issues", default=len(issues))), "for human review"),
    ]))
    if noise.get("note"):
        out.append(Para([str(noise["note"])], kind="note"))
    if issues:
        has_text = any(get(i, *TEXT_KEYS) is not None for i in issues[:TOP])
        rows = []
        for i in issues[:TOP]:
            rows.append([str(get(i, "id", "item_id", default="")),
                         *([_clip(get(i, *TEXT_KEYS, default=""))] if has_text else []),
                         str(i.get("given", "–")), str(i.get("suggested", "–")),
                         fmt_num(i.get("self_confidence")), fmt_num(i.get("suggested_probability")),
                         str(i.get("split") or "–")])
        heads = ["item", *(["text"] if has_text else []), "given label", "suggested label",
                 "confidence in given", "confidence in suggested", "split"]
        out.append(Table(heads, rows, numeric=(len(heads) - 3, len(heads) - 2),
                         caption=f"Label issues (first {min(TOP, len(issues))} of {len(issues)})"))
    return out


def _items(items: Any, k: int = 6) -> str:
    shown = []
    for it in as_list(items)[:k]:
        shown.append(" / ".join(str(x) for x in it) if isinstance(it, list) else str(
            get(it, "id", "item_id", default=it) if isinstance(it, dict) else it))
    return ", ".join(shown) + (" …" if len(as_list(items)) > k else "") if shown else "–"


FINDINGS = (  # (key in audit.json, sub-key, title, what it means, gate effect)
    ("leakage", None, "Leakage: the same text in train/dev and test",
     "exact or normalised copies; inflates every test number", "fails the gate"),
    ("conflicts", None, "Conflicts: the same text with different labels",
     "a labeling error or a guideline gap", "fails the gate above audit.max_conflict_share"),
    ("near_duplicates", None, "Near-duplicates (paraphrases)",
     "different texts with embedding cosine ≥ audit.near_duplicate_threshold; normal in intent data", "warning"),
    ("near_conflicts", None, "Near-duplicates with different labels", "check both labels", "warning"),
    ("duplicates", "exact", "Exact duplicates", "the same text more than once", "warning"),
    ("duplicates", "normalized", "Duplicates after normalising case, spacing and punctuation", "", "warning"),
)


def _item_cell(it: dict[str, Any]) -> str:
    gold = _clip(it.get("label"), 90)
    return f"{_clip(it.get('text', ''), 110)} [{it.get('id')} · {it.get('split') or '–'} · {gold}]"


def _findings_for(gold: str) -> tuple:
    """FINDINGS worded for what the gold is: a label, or (extraction, generation) a target compared per input."""
    if gold == "label":
        return FINDINGS
    how = "canonical JSON (sorted keys)" if "JSON" in gold else "text with spacing collapsed"
    return tuple((key, sub, f"Conflicts: the same input with a different {gold}" if key == "conflicts" else title,
                  f"two gold answers for one input, compared as {how}" if key == "conflicts" else what,
                  "warning (two replies can both be good)" if key == "conflicts" and "JSON" not in gold else effect)
                 for key, sub, title, what, effect in FINDINGS if key != "near_conflicts")


def _duplicates(audit: dict[str, Any]) -> list:
    out: list = []
    summary = []
    gold = str(audit.get("gold") or "label")
    for key, sub, title, what, effect in _findings_for(gold):
        d = as_dict(audit.get(key))
        d = as_dict(d.get(sub)) if sub else d
        if not d:
            continue
        summary.append([title, what, effect, fmt_num(d.get("count"))])
        records = [r for r in as_list(d.get("records")) if isinstance(r, dict) and as_list(r.get("items"))]
        if not records:
            continue
        rows = []
        for r in records[:TOP]:
            items = [as_dict(x) for x in as_list(r.get("items"))]
            extra = (fmt_num(r.get("similarity")) if r.get("similarity") is not None
                     else " / ".join(map(str, as_list(r.get("labels")))) or str(r.get("how", "")))
            rows.append([_item_cell(items[0]), " ‖ ".join(_item_cell(x) for x in items[1:]), extra])
        last = "cosine" if key.startswith("near") else ("labels" if key == "conflicts" else "how")
        if key == "conflicts" and gold != "label":
            last = f"{gold}s" if not gold.endswith("y") else f"{gold[:-1]}ies"
        shown = f" (first {TOP} of {len(records)})" if len(records) > TOP else ""
        word = "label" if gold == "label" else "gold"
        out.append(Table([f"text [id · split · {word}]", "the other text(s)", last], rows,
                         caption=f"{title}{shown}", compact=True))
    if not summary:
        return []
    near = as_dict(audit.get("near_duplicates"))
    note = (f"The line between a paraphrase and a near-copy is audit.near_duplicate_threshold "
            f"(now {fmt_num(near.get('threshold'))}); raise it to see fewer pairs. Export every finding with its "
            "texts for review: tunegate audit … --export-findings findings.csv")
    return [Heading(3, "Duplicates, conflicts and leakage"),
            Table(["finding", "meaning", "effect on the gate", "count"], summary, numeric=(3,)),
            Para([note], kind="note"), *out]


def _repeats(audit: dict[str, Any]) -> list:
    rep = as_dict(audit.get("repeated_judgments"))
    if not rep.get("n_repeated_pairs"):
        return []
    out: list = [Heading(3, "Repeated judgments"),
                 Para([f"{fmt_num(rep.get('n_repeated_pairs'))} (item, annotator) pairs were judged more than once "
                       f"({fmt_num(rep.get('n_extra_judgments'))} extra judgments; self-agreement "
                       f"{fmt_num(rep.get('self_agreement'))}). {rep.get('rule', '')}."])]
    conflicts = [c for c in as_list(rep.get("conflicts")) if isinstance(c, dict)]
    if conflicts:
        rows = [[str(c.get("item_id")), _clip(c.get("text", "") or "–"), str(c.get("annotator")),
                 " → ".join(map(str, as_list(c.get("labels"))))] for c in conflicts[:TOP]]
        out.append(Table(["item", "text", "annotator", "labels in order"], rows,
                         caption=f"Repeats that disagree ({len(conflicts)})", compact=True))
    return out


def _coverage(audit: dict[str, Any]) -> list:
    out: list = [Heading(3, "Coverage and quantity")]
    cov = audit.get("coverage")
    if not isinstance(cov, dict):
        return out + [Para(["Not measured: no labeled examples."], kind="missing")]
    na = _not_applicable(audit, "class_coverage")
    if na:
        out.append(Para([f"Per-class minimums: not applicable — {na}"], kind="note"))
    per_class = as_dict(cov.get("per_class"))
    below = {str(x) for x in as_list(cov.get("classes_below_min"))}
    quantity = as_dict(audit.get("quantity"))
    min_pc = num_or_none(quantity.get("min_per_class"))
    agr_pc = as_dict(as_dict(audit.get("agreement")).get("per_class"))
    splits = _splits(per_class.values())
    if per_class:
        rows = []
        for lab, counts in per_class.items():
            counts = as_dict(counts)
            row: list = [str(lab), *[fmt_num(counts.get(s, 0)) for s in splits]]
            if agr_pc:
                row.append(fmt_num(agr_pc.get(lab)))
            row.append(Badge("✗ below minimum", "bad") if str(lab) in below else Badge("✓ ok", "good"))
            rows.append(row)
        heads = ["label", *splits, *(["per-class agreement"] if agr_pc else []), "status"]
        cap = "Examples per class and split" + (f" (minimum {fmt_num(min_pc)} training examples per class)"
                                                 if min_pc is not None else "")
        out.append(Table(heads, rows, numeric=tuple(range(1, len(heads) - 1)), caption=cap))
    per_slice = as_dict(cov.get("per_slice"))
    if per_slice:
        groups = [as_dict(v) for v in per_slice.values()]
        splits_s = _splits([c for g in groups for c in g.values()])
        rows = [[f"{g}: {v}", *[fmt_num(as_dict(c).get(s, 0)) for s in splits_s]]
                for g, vals in per_slice.items() for v, c in as_dict(vals).items()]
        out.append(Table(["slice", *splits_s], rows, numeric=tuple(range(1, len(splits_s) + 1)),
                         caption="Examples per slice and split"))
    required = as_list(cov.get("required_slices"))
    if required:
        out.append(Para(["Required slices: ", ", ".join(_fmt_required(r) for r in required)]))
    tail = as_dict(cov.get("long_tail"))
    stats = []
    if quantity.get("n_train") is not None:
        stats.append(("training examples", fmt_num(quantity["n_train"]),
                      "" if na is None else "train examples with a gold target"))
    if tail.get("imbalance_ratio") is not None:
        stats.append(("class imbalance (largest / smallest)", fmt_num(tail["imbalance_ratio"]), ""))
    if tail.get("rare_classes") is not None:
        rare = as_list(tail.get("rare_classes"))
        stats.append(("rare classes", fmt_num(len(rare)), ", ".join(map(str, rare[:8])) or "none"))
    needed = quantity.get("labels_needed_from_probe")
    stats.append(("labels needed (from the probe)", fmt_num(needed) if needed is not None else "not estimated",
                  "" if needed is not None else "the probe's learning curve estimates it"))
    out.append(Stats(stats))
    return out


def num_or_none(x: Any) -> Any:
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _splits(count_dicts: Any) -> list[str]:
    seen: dict[str, None] = {}
    for c in count_dicts:
        for k in as_dict(c):
            seen.setdefault(str(k), None)
    ordered = [s for s in SPLIT_ORDER if s in seen]
    rest = [s for s in seen if s not in ordered and s != "all"]
    return ordered + rest + (["all"] if "all" in seen else [])


def _fmt_required(r: Any) -> str:
    if isinstance(r, dict):
        return "; ".join(f"{humanize(k)} {v}" for k, v in r.items())
    return str(r)
