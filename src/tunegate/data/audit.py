"""The data gate: is the labeled data good enough to learn from?

Condition 2 of the framework asks for "enough high-quality labeled data — labeled by people who understand the
task, with disagreements adjudicated, and with coverage of the edge cases that matter". This module runs every
check on what the team actually has (agreement, adjudication, label noise, duplicates, conflicts, leakage,
coverage, quantity) and turns them into one gate with reasons:

- ``fail`` when any check fails its threshold (spec ``audit:`` section, defaults documented in the README);
- ``unknown`` when nothing fails but agreement or label noise could not be measured (no annotations, a probe
  too weak to judge noise);
- ``pass`` otherwise. Checks that only mean something for labels (agreement, aggregation, label noise, per-class
  minimums) are ``not_applicable`` on extraction and generation tasks: listed with the reason, neither pass nor
  fail (``audit_targets``). Warnings (tentative alpha, duplicates, unreliable annotators) never pass silently: they
  are listed with the checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunegate.data.aggregation import (
    adjudication_queue,
    annotator_reliability,
    apply_adjudications,
    dawid_skene,
    encode,
    majority_vote,
)
from tunegate.data.agreement import agreement_report, reliability_matrix
from tunegate.data.annotations import Annotation
from tunegate.status import Status
from tunegate.data.coverage import coverage
from tunegate.data.duplicates import LIMIT, DupItem, canonical_target, find_duplicates
from tunegate.data.examples import Example
from tunegate.data.noise import label_noise
from tunegate.data.repeats import one_per_annotator, resolve, summarize
from tunegate.progress import Progress
from tunegate.spec import AuditSpec

# the one status vocabulary (tunegate.status): a label-only check on a task without labels is NOT_APPLICABLE
PASS, FAIL, WARN, UNKNOWN, INFO = Status.PASS, Status.FAIL, Status.WARN, Status.UNKNOWN, Status.INFO
NOT_APPLICABLE = Status.NOT_APPLICABLE
LABEL_ONLY = "label-only check"


@dataclass
class Check:
    name: str
    status: str
    value: Any = None
    threshold: Any = None
    detail: str = ""
    items: list[str] | None = None

    def to_dict(self, limit: int = 100) -> dict[str, Any]:
        d = {"name": self.name, "status": self.status, "value": self.value, "threshold": self.threshold,
             "detail": self.detail}
        if self.items is not None:
            d["items"] = self.items[:limit]
            d["n_items"] = len(self.items)
        return d


def _r(x: Any, nd: int = 4) -> Any:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else (
        round(float(x), nd) if isinstance(x, (float, np.floating)) else x)


def _clip(text: Any, n: int = 80) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "…"


def audit_annotations(
    annotations: Sequence[Annotation], cfg: AuditSpec, *, labels: list[str] | None = None, method: str | None = None,
    seed: int = 0, queue_size: int = 200, adjudications: Sequence[Any] = (), texts: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[Check], Any]:
    """Agreement, aggregation, annotator reliability and the adjudication queue. Returns (report, checks, result).

    Repeated judgments follow ``cfg.repeated_judgments`` (see ``data.repeats``): the aggregation model sees every
    judgment (or the latest, when asked), agreement one per annotator and item, and conflicting repeats are
    counted and listed with their texts."""
    policy = cfg.repeated_judgments
    used, set_aside = resolve(annotations, policy)
    data = reliability_matrix(one_per_annotator(annotations, policy),
                              categories=labels if cfg.agreement_level != "nominal" else None)
    agr = agreement_report(data, cfg.agreement_level, n_resamples=1000, seed=seed)
    enc = encode(used, labels=labels)
    method = method or cfg.aggregation
    result = dawid_skene(enc, seed=seed) if method == "dawid-skene" else majority_vote(enc, tie="random", seed=seed)
    if adjudications:  # human decisions override the model of the annotators; the queue then skips them
        result = apply_adjudications(result, adjudications)
    annotators = annotator_reliability(enc, result, floor=cfg.annotator_floor, min_gap=cfg.annotator_min_gap)
    queue = adjudication_queue(enc, result, top=queue_size)
    if texts:
        for q in queue:
            if q["item_id"] in texts:
                q["text"] = texts[q["item_id"]]
    repeats = summarize(annotations, policy, texts=texts)
    repeats["n_set_aside"] = set_aside
    alpha = agr.krippendorff_alpha
    checks = []
    if not math.isfinite(alpha):
        checks.append(Check("agreement", UNKNOWN, None, cfg.min_alpha, agr.alpha_note or "alpha is undefined"))
    else:
        ci = agr.alpha_ci
        status = FAIL if alpha < cfg.min_alpha else (WARN if alpha < cfg.reliable_alpha else PASS)
        checks.append(Check("agreement", status, _r(alpha), cfg.min_alpha,
                            f"Krippendorff alpha ({cfg.agreement_level}) {alpha:.3f}, 95% CI {ci.low:.3f}–"
                            f"{ci.high:.3f}: {agr.interpretation}"
                            + (" (one judgment per annotator and item: the first; see repeated_judgments)"
                               if repeats["n_repeated_pairs"] and policy == "all" else "")))
    flagged = [a for a in annotators if a.get("unreliable")]
    shown = "; ".join(f"{a['annotator']}: {a.get('evidence') or ''}" for a in flagged[:3])
    more = f" (and {len(flagged) - 3} more, listed under annotators)" if len(flagged) > 3 else ""
    checks.append(Check("annotators", WARN if flagged else PASS, len(flagged), 0,
                        f"{len(flagged)} of {len(annotators)} annotators look unreliable: {shown}{more}. Fix: "
                        "review their recent labels (the adjudication queue lists contested items) and retrain "
                        "or replace" if flagged else "no annotator stands out as unreliable",
                        [a["annotator"] for a in flagged]))
    if repeats["n_repeated_pairs"]:
        n_conf = repeats["n_conflicting"]
        ex = repeats["conflicts"][0] if repeats["conflicts"] else None
        example = (f", e.g. {ex['annotator']} on item {ex['item_id']}: {' → '.join(ex['labels'])}"
                   + (f" ('{_clip(ex['text'])}')" if ex.get("text") else "") if ex else "")
        checks.append(Check(
            "repeated_judgments", WARN if n_conf else INFO, n_conf, None,
            f"{repeats['n_repeated_pairs']} (item, annotator) pair(s) judged more than once "
            f"({repeats['n_extra_judgments']} extra judgments, self-agreement "
            f"{repeats['self_agreement'] if repeats['self_agreement'] is not None else 'n/a'}); {n_conf} "
            f"disagree with themselves{example}. {repeats['rule']}"
            + (". Fix: adjudicate the conflicting repeats (listed under repeated_judgments)" if n_conf else ""),
            [f"{c['item_id']}|{c['annotator']}" for c in repeats["conflicts"]]))
    agr_dict = agr.to_dict()
    agr_dict["repeats"] = (repeats["rule"] if repeats["n_repeated_pairs"] else "no repeated judgments")
    report = {
        "agreement": agr_dict,
        "aggregation": {**result.summary(), "adjudicated_by": dict(result.adjudicators),
                        "n_judgments_used": enc.n_rows},
        "annotators": annotators,
        "adjudication_queue": queue,
        "repeated_judgments": repeats,
    }
    return report, checks, result


def _pair_text(rec: dict[str, Any]) -> str:
    a, b = rec["items"][0], rec["items"][-1]
    return f"'{_clip(a['text'], 60)}' ({a['split']}) ↔ '{_clip(b['text'], 60)}' ({b['split']})"


def _duplicate_checks(found: dict[str, Any], n: int, cfg: AuditSpec, *, embedded: bool, gold: str = "label",
                      conflict_fails: bool = True) -> list[Check]:
    """Leakage, conflicts, duplicates and near-duplicates from ``find_duplicates``. ``gold`` names what a conflict
    disagrees on ("label", "gold JSON", "reference reply"); ``conflict_fails`` False makes conflicts a warning."""
    checks: list[Check] = []
    leak = found["leakage"]
    leak_ids = sorted({r["items"][1]["id"] for r in leak.records})
    checks.append(Check(
        "leakage", FAIL if len(leak_ids) > cfg.max_leakage else PASS, len(leak_ids), cfg.max_leakage,
        f"{len(leak_ids)} test item(s) have the same text (exact or after normalising case, spacing and "
        f"punctuation) in train/dev: {leak.count} pair(s), e.g. {_pair_text(leak.records[0])}. Fix: remove the "
        "test copies from train/dev (or move each identical text into one split) and re-split; "
        f"audit.max_leakage ({cfg.max_leakage}) is the tolerance" if leak.count
        else "no test item has the same text in train/dev", leak_ids))
    conf = found["conflicts"]
    conf_ids = sorted({i for g in conf.items for i in g})
    share = len(conf_ids) / n if n else 0.0
    ex = conf.records[0] if conf.records else None
    over = share > cfg.max_conflict_share
    checks.append(Check(
        "conflicts", FAIL if over and conflict_fails else (WARN if conf.count else PASS), _r(share),
        cfg.max_conflict_share,
        f"{conf.count} group(s) of the same text carry a different {gold} ({len(conf_ids)} items, {share:.1%}), "
        f"e.g. '{_clip(ex['items'][0]['text'])}': {' / '.join(_clip(x, 60) for x in ex['labels'])}. Fix: decide "
        f"the one {gold} for each text (or sharpen the guideline) and correct the copies; "
        f"audit.max_conflict_share ({cfg.max_conflict_share}) is the tolerance"
        + ("" if conflict_fails else " (a warning here: one message may have more than one good reply, but "
           "each item is scored against one)")
        if ex else f"no text carries two different {PLURAL.get(gold, gold + 's')}", conf_ids))
    dup_groups = found["exact_duplicates"].items + found["normalized_duplicates"].items
    checks.append(Check("duplicates", WARN if dup_groups else PASS, len(dup_groups), 0,
                        f"{len(dup_groups)} group(s) of the same text ({found['exact_duplicates'].count} exact, "
                        f"{found['normalized_duplicates'].count} after normalising); duplicates within a split "
                        "weigh those texts more in training. Fix: drop the extra copies" if dup_groups
                        else "no duplicate texts", sorted({i for g in dup_groups for i in g})))
    near = found["near_duplicates"]
    if embedded:
        cross = [r for r in near.records if r["crosses_test"]]
        thr = cfg.near_duplicate_threshold
        checks.append(Check(
            "near_duplicates", WARN if cross else PASS, len(cross), None,
            f"{len(cross)} train/dev↔test pair(s) of different texts are near-copies or close paraphrases "
            f"(embedding cosine ≥ {thr}), e.g. {_pair_text(cross[0])} (cosine {cross[0]['similarity']}); "
            f"{near.count - len(cross)} more pairs within splits. Not leakage (paraphrases are what intent data "
            "is made of); review the pairs and drop or move real near-copies. audit.near_duplicate_threshold "
            f"(now {thr}) moves the line" if cross else
            f"no train/dev↔test pair at embedding cosine ≥ {thr} ({near.count} pairs within splits); "
            "audit.near_duplicate_threshold moves the line",
            sorted({it["id"] for r in cross for it in r["items"]})))
        nc = found["near_conflicts"]
        if nc.count:
            checks.append(Check(
                "near_conflicts", WARN, nc.count, None,
                f"{nc.count} near-duplicate pair(s) carry different labels, e.g. {_pair_text(nc.records[0])}: "
                f"{' / '.join(nc.records[0]['labels'])}. Fix: check the labels, or the intents overlap",
                sorted({it["id"] for r in nc.records for it in r["items"]})))
    return checks


def _findings_report(found: dict[str, Any], cfg: AuditSpec) -> dict[str, Any]:
    def fdict(key: str) -> dict[str, Any]:
        return found[key].to_dict()

    dup_groups = found["exact_duplicates"].items + found["normalized_duplicates"].items
    leak_ids = sorted({r["items"][1]["id"] for r in found["leakage"].records})
    return {
        "duplicates": {"count": len(dup_groups), "items": dup_groups[:LIMIT], "exact": fdict("exact_duplicates"),
                       "normalized": fdict("normalized_duplicates")},
        "near_duplicates": {**fdict("near_duplicates"), "threshold": cfg.near_duplicate_threshold,
                            "setting": "audit.near_duplicate_threshold"},
        "near_conflicts": fdict("near_conflicts"),
        "conflicts": fdict("conflicts"),
        "leakage": {**fdict("leakage"), "n_test_items": len(leak_ids)},
    }


def _slice_check(cov: Any) -> list[Check]:
    if not cov.required_slices:
        return []
    unmet = [r for r in cov.required_slices if not r["met"]]
    return [Check("required_slices", FAIL if unmet else PASS, len(unmet), len(cov.required_slices),
                  ", ".join(f"{r['column']}={r['value']} has {r['count']} < {r['min']} ({r['split']} split)"
                            for r in unmet) or "every required slice meets its minimum",
                  [f"{r['column']}={r['value']}" for r in unmet])]


def audit_examples(
    examples: Sequence[Example], cfg: AuditSpec, *, labels: list[str], vectors: np.ndarray | None, seed: int = 0,
) -> tuple[dict[str, Any], list[Check]]:
    """Duplicates, conflicts, leakage, near-duplicates, label noise and coverage of the gold-labeled examples.

    Exact and normalized leakage and same-text conflicts fail the gate; near-duplicates (paraphrases) and
    near-duplicates with different labels are warnings. Every finding carries the items' texts."""
    items = [DupItem(e.id, e.input_text(), e.label, e.split) for e in examples]
    found = find_duplicates(items, vectors=vectors, near_threshold=cfg.near_duplicate_threshold)
    checks = _duplicate_checks(found, len(examples), cfg, embedded=vectors is not None)

    noise = None
    per_label: dict[str, int] = {}
    for e in examples:
        per_label[e.label] = per_label.get(e.label, 0) + 1
    too_few = vectors is not None and labels and len(per_label) > 1 and min(per_label.values()) < 2
    if too_few:
        checks.append(Check("label_noise", UNKNOWN, None, cfg.max_noise_rate, "not measured: out-of-fold "
                            "probabilities need at least 2 examples of every class ("
                            + ", ".join(sorted(k for k, c in per_label.items() if c < 2)[:5]) + " has 1)"))
    elif vectors is not None and labels and len(per_label) > 1:
        noise = label_noise(vectors, [e.label for e in examples], labels, [e.id for e in examples],
                            [e.split for e in examples], folds=cfg.noise_folds, seed=seed)
        text_of = {e.id: e.input_text() for e in examples}
        for issue in noise.issues:
            issue["text"] = text_of.get(issue["id"])
        weak = noise.oof_accuracy < 0.5
        # the gate judges the labels a fine-tune learns from: the train split's estimate when there is one (noise
        # injected in train only is diluted by clean dev/test in the all-splits figure), else all items
        train = noise.per_split.get("train")
        use_train = bool(train) and train["n"] >= 50
        rate = train["estimated_noise_rate"] if use_train else noise.estimated_noise_rate
        lo, hi = train["interval"] if use_train else (noise.interval or (None, None))
        status = UNKNOWN if weak else (FAIL if rate > cfg.max_noise_rate else PASS)
        scope = f"train split ({train['n']} items)" if use_train else f"all {noise.n} items"
        others = "; ".join(f"{k} {v['estimated_noise_rate']:.3f}" for k, v in noise.per_split.items()
                           if not (use_train and k == "train"))
        interval = f", 90% interval {lo:.3f}–{hi:.3f}" if lo is not None else ""
        checks.append(Check("label_noise", status, _r(rate), cfg.max_noise_rate,
                            f"estimated noise rate {rate:.3f} in the {scope}{interval}"
                            + (f" (other splits: {others})" if others else "")
                            + f"; {noise.n_issues} items flagged; {noise.note}"
                            + (". Fix: review the flagged items (largest margin first) and relabel"
                               if status == FAIL else ""), [i["id"] for i in noise.issues]))
    elif labels:
        checks.append(Check("label_noise", UNKNOWN, None, cfg.max_noise_rate, "not measured (embeddings off)"))

    cov = coverage(examples, labels=labels, min_per_class=cfg.min_per_class, required_slices=cfg.required_slices)
    below = cov.classes_below_min
    checks.append(Check("class_coverage", FAIL if below else PASS, len(below), cfg.min_per_class,
                        ", ".join(f"{b['label']} has {b['count']}" for b in below) + " (train split). Fix: label "
                        f"more examples of these classes (audit.min_per_class is {cfg.min_per_class})" if below
                        else f"every class has at least {cfg.min_per_class} training examples",
                        [b["label"] for b in below]))
    checks += _slice_check(cov)
    report = {**_findings_report(found, cfg), "gold": "label", "noise": noise.to_dict() if noise else None,
              "coverage": cov.to_dict()}
    return report, checks


GOLD_WORD = {"extraction": "gold JSON object", "generation": "reference reply"}
PLURAL = {"reference reply": "reference replies"}


ANNOTATION_CHECKS = ("agreement", "aggregation")
EXAMPLE_CHECKS = ("label_noise", "class_coverage")


def not_applicable_checks(kind: str, names: Sequence[str] = ANNOTATION_CHECKS + EXAMPLE_CHECKS, *,
                          annotations_given: bool = False) -> list[Check]:
    """The label-only checks ``names``, stated as not applicable to a ``kind`` task (never silently absent)."""
    what = {"extraction": "a JSON object", "generation": "free text"}.get(kind, "not a class label")
    a_kind = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"
    ann = " The annotations file is not used for this kind." if annotations_given else ""
    why = {
        "agreement": f"Krippendorff alpha compares annotators' class labels; {a_kind} target is {what}.{ann}",
        "aggregation": f"Dawid–Skene and majority vote combine annotators' class labels; {a_kind} target is {what}",
        "label_noise": f"confident learning needs class probabilities; {a_kind} target is {what}",
        "class_coverage": f"audit.min_per_class counts examples per class; {a_kind} task has no classes "
                          "(audit.required_slices covers its edge cases)",
    }
    return [Check(n, NOT_APPLICABLE, None, None, f"{LABEL_ONLY}: {why[n]}") for n in names]


def audit_targets(
    examples: Sequence[Example], cfg: AuditSpec, *, kind: str, vectors: np.ndarray | None,
) -> tuple[dict[str, Any], list[Check]]:
    """The data gate of an extraction or generation task: what fits a non-label target.

    Duplicates and train/dev↔test leakage run on the inputs exactly as for classification (leakage fails the
    gate, near-duplicates warn); a conflict is the same normalised input with a different gold target, compared
    in ``canonical_target`` form (fails above audit.max_conflict_share for extraction, whose gold is one right
    object; a warning for generation, where two references can both be good); required slices are counted from
    the slice columns. Label noise and per-class minimums are listed as not applicable."""
    items = [DupItem(e.id, e.input_text(), canonical_target(e.target, kind), e.split) for e in examples]
    found = find_duplicates(items, vectors=vectors, near_threshold=cfg.near_duplicate_threshold,
                            near_conflicts=False)
    checks = _duplicate_checks(found, len(examples), cfg, embedded=vectors is not None,
                               gold=GOLD_WORD.get(kind, "target"), conflict_fails=kind != "generation")
    cov = coverage(examples, labels=[], min_per_class=cfg.min_per_class, required_slices=cfg.required_slices)
    checks += _slice_check(cov)
    checks += not_applicable_checks(kind, EXAMPLE_CHECKS)
    report = {**_findings_report(found, cfg), "gold": GOLD_WORD.get(kind, "target"), "noise": None,
              "coverage": cov.to_dict()}
    return report, checks


def gate_from_checks(checks: Sequence[Check]) -> tuple[str, list[str]]:
    """``fail`` if any check fails; ``unknown`` if none fails but agreement or noise is unknown (or absent); else
    ``pass``. A ``not_applicable`` check counts as present and decides nothing, either way."""
    fails = [c for c in checks if c.status == FAIL]
    if fails:
        return "fail", [f"{c.name}: {c.detail}" for c in fails]
    core_unknown = [c for c in checks if c.status == UNKNOWN and c.name in ("agreement", "label_noise")]
    missing = {"agreement", "label_noise"} - {c.name for c in checks}
    if core_unknown or missing:
        reasons = [f"{c.name}: {c.detail}" for c in core_unknown]
        reasons += [f"{m}: not measured (no annotations given)" if m == "agreement" else f"{m}: not measured"
                    for m in sorted(missing)]
        return "unknown", reasons
    warns = [f"{c.name}: {c.detail}" for c in checks if c.status == WARN]
    na = [c.name for c in checks if c.status == NOT_APPLICABLE]
    head = (f"every applicable check met its threshold (not applicable, {LABEL_ONLY}s: {', '.join(na)})" if na
            else "every check met its threshold")
    return "pass", [head] + [f"warning: {w}" for w in warns]


def gold_vs_aggregate(examples: Sequence[Example], result: Any) -> Check:
    """How often the dataset's gold label equals the label aggregated from the annotations (informational)."""
    agg = dict(zip(result.item_ids, result.labels))
    pairs = [(e.id, e.label, agg[e.id]) for e in examples if e.id in agg]
    if not pairs:
        return Check("gold_vs_annotations", INFO, None, None, "no annotated item is in the examples")
    differ = [i for i, g, a in pairs if g != a]
    share = 1 - len(differ) / len(pairs)
    return Check("gold_vs_annotations", INFO, _r(share), None,
                 f"gold label equals the aggregated annotation on {share:.1%} of {len(pairs)} annotated items",
                 differ)


def embed_texts(embedder: Any, texts: list[str], progress: Progress | None = None) -> np.ndarray:
    if progress:
        progress(f"embedding {len(texts)} texts with {getattr(embedder, 'model_id', 'embedder')}")
    return np.asarray(embedder.embed(texts), dtype=np.float32)
