"""The data-gate section: agreement, adjudication queue, label noise, duplicates and leakage, coverage.

This is where dataset-derived text (item ids, labels, annotator names, texts) enters the report, so the section
only ever passes it to the document model as plain strings; the renderers escape it. Long lists are cut to the
first ``TOP`` rows with the total stated, because a product lead reads the top of a queue, not all of it.
"""

from __future__ import annotations

from typing import Any

from tunegate.artifact_models import AuditArtifact
from tunegate.artifact_models.audit import Findings, FindingItem
from tunegate.report.collect import RunArtifacts, given, present
from tunegate.report.doc import (
    Badge,
    Bullets,
    Heading,
    Para,
    Stats,
    Table,
    ci_parts,
    fmt_num,
    fmt_pct,
    humanize,
)
from tunegate.report.sections import (
    CONDITIONS,
    absent,
    checks_table,
    condition_line,
    gate_badge,
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
    audit = arts.audit
    if audit is None:
        return out + [absent(arts, "audit", "no data audit (audit.json) in this run.", "tunegate audit CONFIG")]
    out.append(Para(["Data gate: ", gate_badge(audit.gate)]))
    reasons = [r for r in audit.reasons if r]
    if reasons:
        out.append(Bullets([[r] for r in reasons]))
    if audit.checks:
        out.append(checks_table(audit.checks))
    for part in (_agreement, _repeats, _queue, _noise, _duplicates, _coverage):
        out += part(audit)
    return out


def _not_applicable(audit: AuditArtifact, name: str) -> str | None:
    """The check's reason when the audit marked it not applicable (a label-only check on a non-label task)."""
    for c in audit.checks:
        if c.name == name and c.status == "not_applicable":
            return c.detail or "label-only check"
    return None


def _agreement(audit: AuditArtifact) -> list:
    out: list = [Heading(3, "Annotator agreement")]
    agr = audit.agreement
    na = _not_applicable(audit, "agreement")
    if na and agr is None:
        return out + [Para([f"Not applicable — {na}"], kind="note")]
    if agr is None:
        return out + [Para(["Not measured: no annotations were given, so agreement could not be computed."],
                           kind="missing")]
    ci, level = agr.alpha_ci, agr.level
    out.append(Stats([
        (f"Krippendorff's alpha{f' ({level})' if level else ''}",
         ci_parts(agr.krippendorff_alpha, ci.low if ci else None, ci.high if ci else None,
                  level=ci.confidence if ci is not None else 0.95),
         "≥ 0.8 reliable · 0.667–0.8 tentative (Krippendorff)"),
        ("Fleiss' kappa", fmt_num(agr.fleiss_kappa), ""),
        ("items · annotators", f"{fmt_num(agr.n_items)} · {fmt_num(agr.n_annotators)}",
         f"{fmt_num(agr.n_ratings)} ratings" if agr.n_ratings is not None else ""),
    ]))
    if agr.alpha_note:
        out.append(Para([agr.alpha_note], kind="note"))
    per = {str(a.annotator): a for a in agr.per_annotator}
    rel = {str(a.annotator): a for a in audit.annotators}
    rows = []
    for name in list(dict.fromkeys([*per, *rel])):
        p, r = per.get(name), rel.get(name)
        conf = r.top_confusion if r is not None else None
        confusion = (f"{conf.true} → {conf.given} ({fmt_pct(conf.rate)})"
                     if conf is not None and conf.true is not None else "–")
        flag = (Badge("✗ unreliable", "bad") if r.unreliable else Badge("✓ ok", "good")) if r is not None else "–"
        labeled = p.n_labeled if p is not None and p.n_labeled is not None else (r.n_labeled if r else None)
        rows.append([name, fmt_num(labeled), fmt_num(p.agreement_with_majority if p else None),
                     fmt_num(p.kappa_vs_majority if p else None), fmt_num(r.estimated_accuracy if r else None),
                     confusion, flag])
    if rows:
        out.append(Table(["annotator", "labels", "agreement with majority", "kappa vs majority",
                          "estimated accuracy", "most frequent confusion (true → given)", "reliability"], rows,
                         numeric=(1, 2, 3, 4)))
    if agr.pairwise:
        out.append(Table(["annotator pair", "items shared", "Cohen's kappa", "raw agreement"],
                         [[f"{p.annotator_a} × {p.annotator_b}", fmt_num(p.n_shared), fmt_num(p.kappa),
                           fmt_num(p.agreement)] for p in agr.pairwise[:TOP]],
                         numeric=(1, 2, 3), caption="Pairwise agreement", compact=True))
    agg = audit.aggregation
    if agg is not None:
        bits = [f"Labels aggregated by {humanize(agg.method if agg.method is not None else 'unknown method')}",
                f"{fmt_num(agg.n_adjudicated if agg.n_adjudicated is not None else 0)} items adjudicated by people"]
        if agg.mean_confidence is not None:
            bits.append(f"mean posterior confidence {fmt_num(agg.mean_confidence)}")
        if agg.accuracy_vs_gold is not None:
            bits.append(f"agreement with gold {fmt_num(agg.accuracy_vs_gold)} on {fmt_num(agg.n_gold)} items")
        out.append(Para(["; ".join(bits) + "."]))
    return out


def _queue(audit: AuditArtifact) -> list:
    out: list = [Heading(3, "Adjudication queue")]
    queue = audit.adjudication_queue
    na = _not_applicable(audit, "aggregation")
    if na and not queue:
        return out + [Para([f"Not applicable — {na}"], kind="note")]
    if not queue:
        note = ("No contested items: annotators agree on every item." if audit.agreement is not None
                else "No annotations, so no adjudication queue.")
        return out + [Para([note], kind="note")]
    has_text = any(given(q, *TEXT_KEYS) is not None for q in queue[:TOP])
    rows = []
    for q in queue[:TOP]:
        row = [str(q.item_id if q.item_id is not None else "")]
        if has_text:
            row.append(_clip(given(q, *TEXT_KEYS) or ""))
        row += ["; ".join(f"{a}: {' / '.join(map(str, lab)) if isinstance(lab, list) else lab}"
                          for a, lab in q.votes.items()) or "–", str(q.label if q.label is not None else "–"),
                fmt_num(q.confidence), q.reason or ""]
        rows.append(row)
    heads = ["item", *(["text"] if has_text else []), "votes", "current label", "confidence", "why queued"]
    out.append(Para([f"{len(queue)} contested items, most uncertain first"
                     + (f"; the first {TOP} are shown." if len(queue) > TOP else ".")]))
    out.append(Table(heads, rows, numeric=(len(heads) - 2,)))
    return out


def _noise(audit: AuditArtifact) -> list:
    out: list = [Heading(3, "Label noise")]
    noise = audit.noise
    na = _not_applicable(audit, "label_noise")
    if na and noise is None:
        return out + [Para([f"Not applicable — {na}"], kind="note")]
    if noise is None:
        return out + [Para(["Not measured: label noise needs labeled examples and an embedding probe."],
                           kind="missing")]
    issues = noise.issues
    out.append(Stats([
        ("estimated noise rate", fmt_pct(noise.estimated_noise_rate), "share of labels likely wrong"),
        ("out-of-fold accuracy of the probe", fmt_num(noise.oof_accuracy),
         "how far the noise estimate can be trusted"),
        ("items flagged", fmt_num(noise.n_issues if noise.n_issues is not None else len(issues)), "for human review"),
    ]))
    if noise.note:
        out.append(Para([noise.note], kind="note"))
    if issues:
        has_text = any(given(i, *TEXT_KEYS) is not None for i in issues[:TOP])
        rows = []
        for i in issues[:TOP]:
            item_id = given(i, "id", "item_id")
            rows.append([str(item_id if item_id is not None else ""),
                         *([_clip(given(i, *TEXT_KEYS) or "")] if has_text else []),
                         str(i.given if i.given is not None else "–"),
                         str(i.suggested if i.suggested is not None else "–"),
                         fmt_num(i.self_confidence), fmt_num(i.suggested_probability), i.split or "–"])
        heads = ["item", *(["text"] if has_text else []), "given label", "suggested label",
                 "confidence in given", "confidence in suggested", "split"]
        out.append(Table(heads, rows, numeric=(len(heads) - 3, len(heads) - 2),
                         caption=f"Label issues (first {min(TOP, len(issues))} of {len(issues)})"))
    return out


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


def _item_cell(it: FindingItem) -> str:
    gold = _clip(it.label, 90)
    return f"{_clip(it.text if it.text is not None else '', 110)} [{it.id} · {it.split or '–'} · {gold}]"


def _findings_for(gold: str) -> tuple:
    """FINDINGS worded for what the gold is: a label, or (extraction, generation) a target compared per input."""
    if gold == "label":
        return FINDINGS
    how = "canonical JSON (sorted keys)" if "JSON" in gold else "text with spacing collapsed"
    return tuple((key, sub, f"Conflicts: the same input with a different {gold}" if key == "conflicts" else title,
                  f"two gold answers for one input, compared as {how}" if key == "conflicts" else what,
                  "warning (two replies can both be good)" if key == "conflicts" and "JSON" not in gold else effect)
                 for key, sub, title, what, effect in FINDINGS if key != "near_conflicts")


def _finding(audit: AuditArtifact, key: str, sub: str | None) -> Findings | None:
    """One findings block as the file wrote it (the model's empty default for a key it lacks is not a finding)."""
    block = getattr(audit, key) if key in audit.model_fields_set else None
    if block is not None and sub is not None:
        block = getattr(block, sub)
    return block if present(block) else None


def _duplicates(audit: AuditArtifact) -> list:
    out: list = []
    summary = []
    gold = audit.gold or "label"
    for key, sub, title, what, effect in _findings_for(gold):
        d = _finding(audit, key, sub)
        if d is None:
            continue
        summary.append([title, what, effect, fmt_num(d.count)])
        records = [r for r in d.records if r.items]
        if not records:
            continue
        rows = []
        for r in records[:TOP]:
            extra = (fmt_num(r.similarity) if r.similarity is not None
                     else " / ".join(map(str, r.labels or [])) or str(r.how if r.how is not None else ""))
            rows.append([_item_cell(r.items[0]), " ‖ ".join(_item_cell(x) for x in r.items[1:]), extra])
        last = "cosine" if key.startswith("near") else ("labels" if key == "conflicts" else "how")
        if key == "conflicts" and gold != "label":
            last = f"{gold}s" if not gold.endswith("y") else f"{gold[:-1]}ies"
        shown = f" (first {TOP} of {len(records)})" if len(records) > TOP else ""
        word = "label" if gold == "label" else "gold"
        out.append(Table([f"text [id · split · {word}]", "the other text(s)", last], rows,
                         caption=f"{title}{shown}", compact=True))
    if not summary:
        return []
    near = _finding(audit, "near_duplicates", None)
    note = (f"The line between a paraphrase and a near-copy is audit.near_duplicate_threshold "
            f"(now {fmt_num(near.threshold if near is not None else None)}); raise it to see fewer pairs. Export "
            "every finding with its texts for review: tunegate audit … --export-findings findings.csv")
    return [Heading(3, "Duplicates, conflicts and leakage"),
            Table(["finding", "meaning", "effect on the gate", "count"], summary, numeric=(3,)),
            Para([note], kind="note"), *out]


def _repeats(audit: AuditArtifact) -> list:
    rep = audit.repeated_judgments
    if rep is None or not rep.n_repeated_pairs:
        return []
    out: list = [Heading(3, "Repeated judgments"),
                 Para([f"{fmt_num(rep.n_repeated_pairs)} (item, annotator) pairs were judged more than once "
                       f"({fmt_num(rep.n_extra_judgments)} extra judgments; self-agreement "
                       f"{fmt_num(rep.self_agreement)}). {rep.rule or ''}."])]
    if rep.conflicts:
        rows = [[str(c.item_id), _clip(c.text or "–"), str(c.annotator), " → ".join(map(str, c.labels))]
                for c in rep.conflicts[:TOP]]
        out.append(Table(["item", "text", "annotator", "labels in order"], rows,
                         caption=f"Repeats that disagree ({len(rep.conflicts)})", compact=True))
    return out


def _coverage(audit: AuditArtifact) -> list:
    out: list = [Heading(3, "Coverage and quantity")]
    cov = audit.coverage
    if cov is None:
        return out + [Para(["Not measured: no labeled examples."], kind="missing")]
    na = _not_applicable(audit, "class_coverage")
    if na:
        out.append(Para([f"Per-class minimums: not applicable — {na}"], kind="note"))
    per_class = cov.per_class
    below = {str(x) for x in cov.classes_below_min}
    quantity = audit.quantity
    min_pc = quantity.min_per_class if quantity is not None else None
    agr_pc = audit.agreement.per_class if audit.agreement is not None else {}
    splits = _splits(per_class.values())
    if per_class:
        rows = []
        for lab, counts in per_class.items():
            row: list = [str(lab), *[fmt_num(counts.get(s, 0)) for s in splits]]
            if agr_pc:
                row.append(fmt_num(agr_pc.get(lab)))
            row.append(Badge("✗ below minimum", "bad") if str(lab) in below else Badge("✓ ok", "good"))
            rows.append(row)
        heads = ["label", *splits, *(["per-class agreement"] if agr_pc else []), "status"]
        cap = "Examples per class and split" + (f" (minimum {fmt_num(min_pc)} training examples per class)"
                                                 if min_pc is not None else "")
        out.append(Table(heads, rows, numeric=tuple(range(1, len(heads) - 1)), caption=cap))
    if cov.per_slice:
        splits_s = _splits([c for g in cov.per_slice.values() for c in g.values()])
        rows = [[f"{g}: {v}", *[fmt_num(c.get(s, 0)) for s in splits_s]]
                for g, vals in cov.per_slice.items() for v, c in vals.items()]
        out.append(Table(["slice", *splits_s], rows, numeric=tuple(range(1, len(splits_s) + 1)),
                         caption="Examples per slice and split"))
    if cov.required_slices:
        out.append(Para(["Required slices: ", ", ".join(_fmt_required(r) for r in cov.required_slices)]))
    tail = cov.long_tail
    stats = []
    if quantity is not None and quantity.n_train is not None:
        stats.append(("training examples", fmt_num(quantity.n_train),
                      "" if na is None else "train examples with a gold target"))
    if tail is not None and tail.imbalance_ratio is not None:
        stats.append(("class imbalance (largest / smallest)", fmt_num(tail.imbalance_ratio), ""))
    if tail is not None and tail.rare_classes is not None:
        rare = tail.rare_classes
        stats.append(("rare classes", fmt_num(len(rare)), ", ".join(map(str, rare[:8])) or "none"))
    needed = quantity.labels_needed_from_probe if quantity is not None else None
    stats.append(("labels needed (from the probe)", fmt_num(needed) if needed is not None else "not estimated",
                  "" if needed is not None else "the probe's learning curve estimates it"))
    out.append(Stats(stats))
    return out


def _splits(count_dicts: Any) -> list[str]:
    seen: dict[str, None] = {}
    for c in count_dicts:
        for k in c:
            seen.setdefault(str(k), None)
    ordered = [s for s in SPLIT_ORDER if s in seen]
    rest = [s for s in seen if s not in ordered and s != "all"]
    return ordered + rest + (["all"] if "all" in seen else [])


def _fmt_required(r: Any) -> str:
    if isinstance(r, dict):
        return "; ".join(f"{humanize(k)} {v}" for k, v in r.items())
    return str(r)
