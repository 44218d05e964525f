"""Stages as functions of a spec (or of loose files) that write one artifact each into a run directory.

The pipeline owns what is common to stages: choosing the run directory, recording provenance, writing the
artifact atomically, and the exit code a stage's gate maps to (0 pass, 3 fail, 4 unknown), so cron jobs and CI
can act on a gate without parsing JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.artifacts import ARTIFACT_SCHEMA_VERSION, RunInfo, now_iso, package_versions, write_json_atomic
from tunegate.data.annotations import Annotation, load_annotations
from tunegate.data.audit import (
    Check,
    audit_annotations,
    audit_examples,
    embed_texts,
    gate_from_checks,
    gold_vs_aggregate,
)
from tunegate.data.examples import Example, load_examples
from tunegate.spec import AuditSpec, Spec

GATE_EXIT_CODES = {"pass": 0, "fail": 3, "unknown": 4}
ProgressFn = Callable[[str], None]


def _embedder_for(model_id: str, spec: Spec | None) -> Any:
    from tunegate.models.registry import create_embedder

    return create_embedder(model_id, spec.models if spec else None)


def build_audit(
    *, examples: list[Example] | None, annotations: list[Annotation] | None, labels: list[str], cfg: AuditSpec,
    embedding_model: str | None, spec: Spec | None = None, seed: int = 0, method: str | None = None,
    gold: dict[str, str] | None = None, progress: ProgressFn | None = None, task: str = "",
    adjudications: list[Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """Run every applicable audit check; returns (artifact dict, aggregation result or None)."""
    run = RunInfo(seed=seed, config_hash=spec.config_hash() if spec else None,
                  spec_path=str(spec.source) if spec and spec.source else None, packages=package_versions(
                      ("numpy", "scikit-learn", "sentence-transformers", "torch")))
    checks: list[Check] = []
    art: dict[str, Any] = {"schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "audit", "task": task}
    result = None
    if annotations:
        if progress:
            progress(f"agreement and {method or cfg.aggregation} aggregation over {len(annotations)} annotations")
        rep, ann_checks, result = audit_annotations(annotations, cfg, labels=labels or None, method=method, seed=seed,
                                                    adjudications=adjudications or ())
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
    if examples:
        vectors = None
        if cfg.use_embeddings and embedding_model:
            vectors = embed_texts(_embedder_for(embedding_model, spec), [e.input_text() for e in examples], progress)
        if progress:
            progress(f"duplicates, leakage, label noise and coverage over {len(examples)} examples")
        rep, ex_checks = audit_examples(examples, cfg, labels=labels, vectors=vectors, seed=seed)
        art.update(rep)
        checks += ex_checks
    else:
        empty = {"count": 0, "items": []}
        art.update({"duplicates": empty, "near_duplicates": empty, "conflicts": empty, "leakage": empty,
                    "noise": None, "coverage": None})
    gate, reasons = gate_from_checks(checks)
    art["quantity"] = _quantity(art.get("coverage"), cfg)
    run.finished = now_iso()
    art.update({"gate": gate, "reasons": reasons, "checks": [c.to_dict() for c in checks],
                "thresholds": cfg.model_dump(mode="json"), "run": run.model_dump(mode="json")})
    # `gate` first for people reading the JSON
    ordered = {"gate": gate, **{k: v for k, v in art.items() if k != "gate"}}
    return ordered, result


def _quantity(cov: dict[str, Any] | None, cfg: AuditSpec) -> dict[str, Any] | None:
    if not cov:
        return None
    train = {lab: c.get("train", 0) for lab, c in cov["per_class"].items()}
    return {"min_per_class": cfg.min_per_class, "train_per_class": train,
            "n_train": sum(train.values()), "labels_needed_from_probe": None,
            "note": "the fine-tune probe's learning curve (probe.json) will estimate the labels needed"}


def audit_stage(
    spec: Spec, *, out_dir: str | Path | None = None, skip_invalid: bool = False, progress: ProgressFn | None = None,
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
    examples = dataset.examples if spec.task.kind == "classification" else []
    art, result = build_audit(examples=examples, annotations=annotations, labels=labels, cfg=spec.audit,
                              embedding_model=spec.models.embedding, spec=spec, seed=spec.seed,
                              progress=progress, task=spec.task.name, adjudications=adjudications)
    art["skipped_rows"] = [vars(s) for s in dataset.skipped]
    if out_dir:
        out = Path(out_dir)
        write_json_atomic(out / "audit.json", art)
        if art.get("adjudication_queue"):
            from tunegate.data.aggregation import write_queue

            write_queue(art["adjudication_queue"], out / "adjudication_queue.csv")
    return art


# ------------------------------------------------------------------------------------------------- decide


def _read_json(path: Path) -> dict[str, Any] | None:
    import json

    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        from tunegate.errors import InputError

        raise InputError(f"unreadable artifact: {exc}", file=path) from None


def collect_artifacts(run_dir: str | Path) -> dict[str, Any]:
    """Every stage artifact in a run directory (missing ones as None); eval runs from any subdirectory."""
    d = Path(run_dir)
    found: dict[str, Any] = {name: _read_json(d / f"{name}.json")
                             for name in ("evalcheck", "audit", "sprint", "probe", "cost")}
    evals = []
    for p in sorted(d.glob("**/eval.json")):
        art = _read_json(p)
        if art and art.get("artifact") == "eval":
            evals.append({**art, "_path": str(p)})
    found["evals"] = evals
    return found


def decide_stage(run_dir: str | Path, spec: Spec | None = None) -> dict[str, Any]:
    """`tunegate decide`: the verdict from whatever artifacts exist; writes ``verdict.json``."""
    from tunegate.verdict import decide

    arts = collect_artifacts(run_dir)
    declared = spec.evidence.model_dump(exclude_none=True) if spec else {}
    target = spec.eval.target if spec else None
    doc = decide(evalcheck=arts["evalcheck"], audit=arts["audit"], sprint=arts["sprint"], evals=arts["evals"],
                 probe=arts["probe"], cost=arts["cost"], declared=declared, target=target)
    run = RunInfo(seed=spec.seed if spec else 0, config_hash=spec.config_hash() if spec else None,
                  spec_path=str(spec.source) if spec and spec.source else None)
    run.finished = now_iso()
    inputs = {k: (str(Path(run_dir) / f"{k}.json") if arts[k] else None)
              for k in ("evalcheck", "audit", "sprint", "probe", "cost")}
    inputs["evals"] = [e["_path"] for e in arts["evals"]]
    art = {"schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "verdict", **doc, "inputs": inputs,
           "run": run.model_dump(mode="json")}
    write_json_atomic(Path(run_dir) / "verdict.json", art)
    return art
