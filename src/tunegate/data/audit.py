"""The data gate: is the labeled data good enough to learn from?

Condition 2 of the framework asks for "enough high-quality labeled data — labeled by people who understand the
task, with disagreements adjudicated, and with coverage of the edge cases that matter". This module runs every
check on what the team actually has (agreement, adjudication, label noise, duplicates, conflicts, leakage,
coverage, quantity) and turns them into one gate with reasons:

- ``fail`` when any check fails its threshold (spec ``audit:`` section, defaults documented in the README);
- ``unknown`` when nothing fails but agreement or label noise could not be measured (no annotations, a probe
  too weak to judge noise);
- ``pass`` otherwise. Warnings (tentative alpha, duplicates, unreliable annotators) never pass silently: they
  are listed with the checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
from tunegate.data.coverage import coverage
from tunegate.data.duplicates import DupItem, find_duplicates
from tunegate.data.examples import Example
from tunegate.data.noise import label_noise
from tunegate.spec import AuditSpec

PASS, FAIL, WARN, UNKNOWN, INFO = "pass", "fail", "warn", "unknown", "info"
ProgressFn = Callable[[str], None]


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


def audit_annotations(
    annotations: Sequence[Annotation], cfg: AuditSpec, *, labels: list[str] | None = None, method: str | None = None,
    seed: int = 0, queue_size: int = 200, adjudications: Sequence[Any] = (),
) -> tuple[dict[str, Any], list[Check], Any]:
    """Agreement, aggregation, annotator reliability and the adjudication queue. Returns (report, checks, result)."""
    data = reliability_matrix(annotations, categories=labels if cfg.agreement_level != "nominal" else None)
    agr = agreement_report(data, cfg.agreement_level, n_resamples=1000, seed=seed)
    enc = encode(annotations, labels=labels)
    method = method or cfg.aggregation
    result = dawid_skene(enc, seed=seed) if method == "dawid-skene" else majority_vote(enc, tie="random", seed=seed)
    if adjudications:  # human decisions override the model of the annotators; the queue then skips them
        result = apply_adjudications(result, adjudications)
    annotators = annotator_reliability(enc, result)
    queue = adjudication_queue(enc, result, top=queue_size)
    alpha = agr.krippendorff_alpha
    checks = []
    if not math.isfinite(alpha):
        checks.append(Check("agreement", UNKNOWN, None, cfg.min_alpha, agr.alpha_note or "alpha is undefined"))
    else:
        ci = agr.alpha_ci
        status = FAIL if alpha < cfg.min_alpha else (WARN if alpha < cfg.reliable_alpha else PASS)
        checks.append(Check("agreement", status, _r(alpha), cfg.min_alpha,
                            f"Krippendorff alpha ({cfg.agreement_level}) {alpha:.3f}, 95% CI {ci.low:.3f}–"
                            f"{ci.high:.3f}: {agr.interpretation}"))
    flagged = [a for a in annotators if a.get("unreliable")]
    shown = "; ".join(f"{a['annotator']}: {a.get('evidence') or ''}" for a in flagged[:3])
    more = f" (and {len(flagged) - 3} more, listed under annotators)" if len(flagged) > 3 else ""
    checks.append(Check("annotators", WARN if flagged else PASS, len(flagged), 0,
                        f"{len(flagged)} of {len(annotators)} annotators look unreliable: {shown}{more}" if flagged
                        else "no annotator stands out as unreliable", [a["annotator"] for a in flagged]))
    report = {
        "agreement": agr.to_dict(),
        "aggregation": {**result.summary(), "adjudicated_by": dict(result.adjudicators)},
        "annotators": annotators,
        "adjudication_queue": queue,
    }
    return report, checks, result


def audit_examples(
    examples: Sequence[Example], cfg: AuditSpec, *, labels: list[str], vectors: np.ndarray | None, seed: int = 0,
) -> tuple[dict[str, Any], list[Check]]:
    """Duplicates, conflicts, leakage, label noise and coverage of the gold-labeled examples."""
    items = [DupItem(e.id, e.input_text(), e.label, e.split) for e in examples]
    found = find_duplicates(items, vectors=vectors, near_threshold=cfg.near_duplicate_threshold)
    n = len(examples)
    checks: list[Check] = []
    leak = found["leakage"]
    leak_ids = sorted({i for g in leak.items for i in g if i in {e.id for e in examples if e.split == "test"}})
    checks.append(Check("leakage", FAIL if leak.count > cfg.max_leakage else PASS, leak.count, cfg.max_leakage,
                        f"{leak.count} group(s) of the same or near-same text span train/dev and test "
                        f"({len(leak_ids)} test items affected)" if leak.count else "no train/dev↔test overlap",
                        leak_ids))
    conf = found["conflicts"]
    conf_ids = sorted({i for g in conf.items for i in g})
    share = len(conf_ids) / n if n else 0.0
    checks.append(Check("conflicts", FAIL if share > cfg.max_conflict_share else (WARN if conf.count else PASS),
                        _r(share), cfg.max_conflict_share,
                        f"{conf.count} group(s) of the same or near-same text carry different labels", conf_ids))
    dup_groups = found["exact_duplicates"].items + found["normalized_duplicates"].items
    checks.append(Check("duplicates", WARN if dup_groups else PASS, len(dup_groups), 0,
                        f"{len(dup_groups)} duplicate group(s), {found['near_duplicates'].count} near-duplicate "
                        "pair(s)", sorted({i for g in dup_groups for i in g})))

    noise = None
    if vectors is not None and labels and len({e.label for e in examples}) > 1:
        noise = label_noise(vectors, [e.label for e in examples], labels, [e.id for e in examples],
                            [e.split for e in examples], folds=cfg.noise_folds, seed=seed)
        weak = noise.oof_accuracy < 0.5
        status = UNKNOWN if weak else (FAIL if noise.estimated_noise_rate > cfg.max_noise_rate else PASS)
        checks.append(Check("label_noise", status, _r(noise.estimated_noise_rate), cfg.max_noise_rate,
                            f"estimated noise rate {noise.estimated_noise_rate:.3f} ({noise.n_issues} items "
                            f"flagged); {noise.note}", [i["id"] for i in noise.issues]))
    elif labels:
        checks.append(Check("label_noise", UNKNOWN, None, cfg.max_noise_rate, "not measured (embeddings off)"))

    cov = coverage(examples, labels=labels, min_per_class=cfg.min_per_class, required_slices=cfg.required_slices)
    below = cov.classes_below_min
    checks.append(Check("class_coverage", FAIL if below else PASS, len(below), cfg.min_per_class,
                        ", ".join(f"{b['label']} has {b['count']}" for b in below) + " (train split)" if below
                        else f"every class has at least {cfg.min_per_class} training examples",
                        [b["label"] for b in below]))
    if cov.required_slices:
        unmet = [r for r in cov.required_slices if not r["met"]]
        checks.append(Check("required_slices", FAIL if unmet else PASS, len(unmet), len(cov.required_slices),
                            ", ".join(f"{r['column']}={r['value']} has {r['count']} < {r['min']}" for r in unmet)
                            or "every required slice meets its minimum",
                            [f"{r['column']}={r['value']}" for r in unmet]))

    def fdict(key: str) -> dict[str, Any]:
        return found[key].to_dict()

    dup = {"count": len(dup_groups), "items": dup_groups[:200], "exact": fdict("exact_duplicates"),
           "normalized": fdict("normalized_duplicates")}
    report = {
        "duplicates": dup,
        "near_duplicates": fdict("near_duplicates"),
        "conflicts": fdict("conflicts"),
        "leakage": fdict("leakage"),
        "noise": noise.to_dict() if noise else None,
        "coverage": cov.to_dict(),
    }
    return report, checks


def gate_from_checks(checks: Sequence[Check]) -> tuple[str, list[str]]:
    """``fail`` if any check fails; ``unknown`` if none fails but agreement or noise is unknown; else ``pass``."""
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
    return "pass", ["every check met its threshold"] + [f"warning: {w}" for w in warns]


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


def embed_texts(embedder: Any, texts: list[str], progress: ProgressFn | None = None) -> np.ndarray:
    if progress:
        progress(f"embedding {len(texts)} texts with {getattr(embedder, 'model_id', 'embedder')}")
    return np.asarray(embedder.embed(texts), dtype=np.float32)
