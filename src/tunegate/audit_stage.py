"""The data gate as a stage: the spec's examples and annotations audited into ``audit.json``.

The checks live in ``tunegate.data``; this module chooses which apply to the task's kind, reads the files the spec
names and adds the labels-on-hand block the verdict's label-quantity condition reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.artifact_models.audit import AuditArtifact
from tunegate.artifacts import ARTIFACT_SCHEMA_VERSION, RunInfo, now_iso, package_versions, write_json_atomic
from tunegate.data.annotations import Annotation, load_annotations
from tunegate.data.audit import (
    Check,
    audit_annotations,
    audit_examples,
    ANNOTATION_CHECKS,
    EXAMPLE_CHECKS,
    audit_targets,
    embed_texts,
    gate_from_checks,
    gold_vs_aggregate,
    not_applicable_checks,
)
from tunegate.data.examples import Example, load_examples
from tunegate.decision_stages import read_artifact_json as _read_json
from tunegate.progress import Progress
from tunegate.spec import AuditSpec, Spec


def _embedder_for(model_id: str, spec: Spec | None) -> Any:
    from tunegate.models.registry import create_embedder

    return create_embedder(model_id, spec.models if spec else None)


def build_audit(
    *, examples: list[Example] | None, annotations: list[Annotation] | None, labels: list[str], cfg: AuditSpec,
    embedding_model: str | None, spec: Spec | None = None, seed: int = 0, method: str | None = None,
    gold: dict[str, str] | None = None, progress: Progress | None = None, task: str = "",
    adjudications: list[Any] | None = None, kind: str = "classification",
) -> tuple[dict[str, Any], Any]:
    """Run every applicable audit check; returns (artifact dict, aggregation result or None).

    ``kind`` extraction or generation audits the examples' inputs and gold targets (``audit_targets``) and lists
    the label-only checks as not applicable; annotations are not used for those kinds."""
    labeled = kind == "classification"
    run = RunInfo(seed=seed, config_hash=spec.config_hash() if spec else None,
                  spec_path=str(spec.source) if spec and spec.source else None, packages=package_versions(
                      ("numpy", "scikit-learn", "sentence-transformers", "torch")))
    checks: list[Check] = []
    art: dict[str, Any] = {"schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "audit", "task": task}
    result = None
    if annotations and labeled:
        if progress:
            progress(f"agreement and {method or cfg.aggregation} aggregation over {len(annotations)} annotations")
        texts = {e.id: e.input_text() for e in examples} if examples else None
        rep, ann_checks, result = audit_annotations(annotations, cfg, labels=labels or None, method=method, seed=seed,
                                                    adjudications=adjudications or (), texts=texts)
        art.update(rep)
        checks += ann_checks
        if examples:
            checks.append(gold_vs_aggregate(examples, result))
        if gold:
            agg = dict(zip(result.item_ids, result.labels))
            shared = [i for i in gold if i in agg]
            acc = sum(agg[i] == gold[i] for i in shared) / len(shared) if shared else None
            art["aggregation"]["accuracy_vs_gold"] = None if acc is None else round(acc, 4)
            art["aggregation"]["n_gold"] = len(shared)
    else:
        art.update({"agreement": None, "aggregation": None, "annotators": [], "adjudication_queue": []})
    if not labeled:
        checks += not_applicable_checks(kind, ANNOTATION_CHECKS, annotations_given=bool(annotations))
    if examples:
        vectors = None
        if cfg.use_embeddings and embedding_model:
            vectors = embed_texts(_embedder_for(embedding_model, spec), [e.input_text() for e in examples], progress)
        if progress:
            progress(f"duplicates, leakage, {'label noise ' if labeled else 'conflicting gold '}and coverage over "
                     f"{len(examples)} examples")
        if labeled:
            rep, ex_checks = audit_examples(examples, cfg, labels=labels, vectors=vectors, seed=seed)
        else:
            rep, ex_checks = audit_targets(examples, cfg, kind=kind, vectors=vectors)
        art.update(rep)
        checks += ex_checks
    else:
        empty = {"count": 0, "items": []}
        art.update({"duplicates": empty, "near_duplicates": empty, "near_conflicts": empty, "conflicts": empty,
                    "leakage": empty, "noise": None, "coverage": None})
        if not labeled:
            checks += not_applicable_checks(kind, EXAMPLE_CHECKS)
    gate, reasons = gate_from_checks(checks)
    art["quantity"] = _quantity(art.get("coverage"), cfg, examples=None if labeled else examples or [])
    run.finished = now_iso()
    art.update({"gate": gate, "reasons": reasons, "checks": [c.to_dict() for c in checks],
                "thresholds": cfg.model_dump(mode="json"), "run": run.model_dump(mode="json")})
    # `gate` first for people reading the JSON
    ordered = {"gate": gate, **{k: v for k, v in art.items() if k != "gate"}}
    return ordered, result


def _quantity(cov: dict[str, Any] | None, cfg: AuditSpec, *, examples: list[Example] | None = None
              ) -> dict[str, Any] | None:
    """Labels on hand in the train split: per class for classification; for extraction and generation
    (``examples`` given) the train examples with a gold target, so the verdict's label-quantity condition sees it."""
    if examples is not None:
        n = sum(1 for e in examples if e.split == "train" and e.target is not None)
        return {"min_per_class": None, "train_per_class": {}, "n_train": n, "labels_needed_from_probe": None,
                "note": "train examples with a gold target; the fine-tune probe's learning curve (probe.json) "
                        "will estimate the labels needed"}
    if not cov:
        return None
    train = {lab: c.get("train", 0) for lab, c in cov["per_class"].items()}
    return {"min_per_class": cfg.min_per_class, "train_per_class": train,
            "n_train": sum(train.values()), "labels_needed_from_probe": None,
            "note": "the fine-tune probe's learning curve (probe.json) will estimate the labels needed"}


def audit_stage(
    spec: Spec, *, out_dir: str | Path | None = None, skip_invalid: bool = False, progress: Progress | None = None,
) -> dict[str, Any]:
    """`tunegate audit CONFIG`: audit the spec's examples and annotations; writes ``audit.json``."""
    dataset = load_examples(spec, skip_invalid=skip_invalid)
    labels = spec.task.label_names
    annotations = None
    adjudications = None
    if spec.data.annotations:
        annotations = load_annotations(spec.resolve(spec.data.annotations.path), spec.data.annotations.fields,
                                       labels=labels or None, item_ids=set(dataset.by_id()))
        if spec.data.annotations.adjudications:
            from tunegate.data.aggregation import import_adjudications

            adjudications = import_adjudications(spec.resolve(spec.data.annotations.adjudications), labels=labels,
                                                 item_ids={a.item_id for a in annotations})
    art, result = build_audit(examples=dataset.examples, annotations=annotations, labels=labels, cfg=spec.audit,
                              embedding_model=spec.models.embedding, spec=spec, seed=spec.seed,
                              progress=progress, task=spec.task.name, adjudications=adjudications,
                              kind=spec.task.kind)
    art["skipped_rows"] = [vars(s) for s in dataset.skipped]
    probe = _read_json(Path(out_dir) / "probe.json") if out_dir else None
    needed = ((probe or {}).get("learning_curve") or {}).get("labels_needed")
    if art.get("quantity") and needed is not None:
        art["quantity"].update(labels_needed_from_probe=needed,
                               note="labels needed to reach the target, from the probe's learning curve")
    # the typed contract the verdict and report read; the dict is written as built (the model would add defaults)
    AuditArtifact.from_dict(art, source=Path(out_dir or ".") / AuditArtifact.FILENAME)
    if out_dir:
        out = Path(out_dir)
        write_json_atomic(out / "audit.json", art)
        if art.get("adjudication_queue"):
            from tunegate.data.aggregation import write_queue

            write_queue(art["adjudication_queue"], out / "adjudication_queue.csv")
    return art
