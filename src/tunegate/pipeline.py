"""Stages as functions of a spec (or of loose files) that write one artifact each into a run directory.

The pipeline owns what is common to stages: choosing the run directory, recording provenance, writing the
artifact atomically, and the exit code a stage's gate maps to (0 pass, 3 fail, 4 unknown), so cron jobs and CI
can act on a gate without parsing JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    d = Path(run_dir)
    declared_only = spec is not None and any(v is not None for v in spec.evidence.model_dump().values())
    if not d.is_dir() and not declared_only:
        from tunegate.errors import InputError

        raise InputError("not a run directory (it does not exist): run the stages first, or pass the directory "
                         "they wrote (a spec with declared evidence may name a new one)", file=d)
    d.mkdir(parents=True, exist_ok=True)
    arts = collect_artifacts(d)
    declared = spec.evidence.model_dump(exclude_none=True) if spec else {}
    target = spec.eval.target if spec else None
    doc = decide(evalcheck=arts["evalcheck"], audit=arts["audit"], sprint=arts["sprint"], evals=arts["evals"],
                 probe=arts["probe"], cost=arts["cost"], declared=declared, target=target,
                 thresholds=spec_thresholds(spec))
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


# --------------------------------------------------------------------------------------------------- cost


def spec_thresholds(spec: Spec | None) -> Any:
    """The spec's gate thresholds, which declared evidence must meet as measured evidence does."""
    from tunegate.verdict import Thresholds

    if spec is None:
        return Thresholds()
    return Thresholds(min_auc=spec.check_eval.min_auc, min_judge_kappa=spec.check_eval.min_judge_kappa,
                      min_alpha=spec.audit.min_alpha, max_noise_rate=spec.audit.max_noise_rate)


def cost_stage(spec: Spec, run_dir: str | Path, *, n_draws: int = 20000) -> dict[str, Any]:
    """`tunegate cost`: the 18-month cost model, with the labels still to buy (sampled from the learning curve's
    band) and the quality gain (measured or declared, sampled from its interval) when the run has them."""
    from tunegate.cost_evidence import labels_to_buy_samples, quality_gain_samples
    from tunegate.cost.model import run_cost_model

    arts = collect_artifacts(run_dir)
    declared = spec.evidence.model_dump(exclude_none=True)
    labels, labels_note = labels_to_buy_samples(arts, declared, n_draws=n_draws, seed=spec.seed)
    gain, gain_note = quality_gain_samples(arts, declared, n_draws=n_draws, seed=spec.seed)
    res = run_cost_model(spec.costs, labels_needed=labels, quality_gain=gain, seed=spec.seed, n_draws=n_draws)
    run = RunInfo(seed=spec.seed, config_hash=spec.config_hash(), spec_path=str(spec.source) if spec.source else None)
    run.finished = now_iso()
    art = {"schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "cost", **res.to_dict(),
           "caller_inputs": {"labels_to_buy": labels_note, "quality_gain_points": gain_note},
           "run": run.model_dump(mode="json")}
    write_json_atomic(Path(run_dir) / "cost.json", art)
    return art


# ------------------------------------------------------------------------------------------ report, run


def report_stage(run_dir: str | Path) -> tuple[Path, Path]:
    """`tunegate report`: report.html (self-contained) and report.md from the artifacts in a run directory."""
    from tunegate.report.render import render_report

    return render_report(run_dir)


@dataclass(frozen=True)
class Profile:
    """How much work `run` does: `quick` trims the evaluation to a subset so the demo fits in minutes on a CPU."""

    name: str
    eval_limit: int | None
    cost_draws: int
    probe_kinds: tuple[str, ...]
    skip: tuple[str, ...] = ()  # stages this profile leaves out


# quick leaves out the single-prompt eval: the sprint evaluates the spec's prompt as its zero-shot baseline anyway
PROFILES = {"quick": Profile("quick", 60, 20000, ("embedding_head",), skip=("eval",)),
            "full": Profile("full", None, 50000, ("embedding_head", "lora"))}
STAGES = ("check-eval", "audit", "eval", "sprint", "probe", "cost", "decide", "report")


def _fingerprint(paths: list[Path]) -> list[list[Any]]:
    return [[str(p), p.stat().st_size, int(p.stat().st_mtime)] if p.exists() else [str(p), None, None]
            for p in paths]


def _last_runs_file() -> Path:
    from tunegate.paths import tunegate_home

    return tunegate_home() / "last_runs.json"


def remember_run_dir(spec_path: str | Path, run_dir: str | Path) -> None:
    """Record the run directory a spec last ran into, so `run --resume` finds it even when it was a custom --out."""
    import json

    f = _last_runs_file()
    try:
        known = json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}
    except (OSError, ValueError):
        known = {}
    known[str(Path(spec_path).resolve())] = str(Path(run_dir).resolve())
    # keep the file small and current: forget directories that are gone, and all but the newest 100
    known = {k: v for k, v in known.items() if Path(v).is_dir() or v == str(Path(run_dir).resolve())}
    known = dict(list(known.items())[-100:])
    try:
        f.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(f, known)
    except OSError:  # a read-only home only costs the convenience
        pass


def resume_dir(spec_path: str | Path, prefix: str) -> Path | None:
    """The run directory to resume for a spec: the one it last ran into, else the latest runs/<prefix>*."""
    import json

    f = _last_runs_file()
    try:
        known = json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}
    except (OSError, ValueError):
        known = {}
    last = known.get(str(Path(spec_path).resolve()))
    if last and Path(last).is_dir():
        return Path(last)
    previous = sorted(Path("runs").glob(prefix + "*"))
    return previous[-1] if previous else None


def _stage_hash(spec: Spec, stage: str, run_dir: Path, profile: Profile, model: str, limit: int | None = None
                ) -> str:
    """What a stage's result depends on: the spec, its data files, upstream artifacts, the profile and model."""
    import hashlib
    import json

    data: list[Path] = []
    if spec.data is not None:
        data = [spec.resolve(p) for p in ([spec.data.path] if spec.data.path else list((spec.data.paths or {}).values()))]
        if spec.data.annotations:
            data.append(spec.resolve(spec.data.annotations.path))
    ce = spec.check_eval
    data += [spec.resolve(p) for p in (ce.human_ratings, ce.rated_outputs) if p]
    upstream = {"check-eval": [], "audit": [], "eval": [], "sprint": [], "probe": ["sprint.json"],
                "cost": ["probe.json", "sprint.json"],
                "decide": ["evalcheck.json", "audit.json", "sprint.json", "probe.json", "cost.json"],
                "report": ["verdict.json", "cost.json", "audit.json", "probe.json", "evalcheck.json", "sprint.json"]}[stage]
    payload = {"stage": stage, "config": spec.config_hash(), "data": _fingerprint(data), "profile": profile.name,
               **({"limit": limit} if limit else {}),
               "model": model, "upstream": _fingerprint([run_dir / u for u in upstream]),
               "evals": _fingerprint(sorted(run_dir.glob("eval-*/eval.json")))
               if stage in ("probe", "decide", "report") else []}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _first(items: Any) -> str | None:
    return str(items[0]) if isinstance(items, list) and items else None


def stage_summary(stage: str, info: dict[str, Any]) -> str:
    """One line a person reads as soon as a stage finishes: its gate and first reason, the sprint's best, the
    probe's value — so a failing gate is seen in the first minutes, not at the end."""
    def ci(d: dict) -> str:
        v, lo, hi = d.get("value"), d.get("ci_low"), d.get("ci_high")
        if v is None:
            return "no value"
        return f"{v:.3f}" + (f" (95% CI {lo:.3f}–{hi:.3f})" if lo is not None and hi is not None else "")

    if stage in ("check-eval", "audit"):
        name = "criterion gate" if stage == "check-eval" else "data gate"
        reason = info.get("reason")
        return f"{name}: {info.get('gate')}" + (f" — {reason}" if reason else "")
    if stage == "eval":
        return f"eval: {ci(info)}"
    if stage == "sprint":
        return (f"sprint: best {info.get('best')} {ci(info)}; gap to target: {info.get('gate')}"
                + (f" ({info.get('calls_used')} calls)" if info.get("calls_used") is not None else ""))
    if stage == "probe":
        probes = info.get("probes") or []
        parts = [f"{p.get('kind')} {ci(p)}" for p in probes]
        return f"probe: {'; '.join(parts) or 'no probe'}; reaches the target: {info.get('closes_gap')}"
    if stage == "cost":
        p = info.get("p_net_value_positive")
        return "cost: P(fine-tuning's net value > 0) " + (f"{p:.2f}" if p is not None else "unknown") + \
            (f", P(fine-tune cheaper) {info['p_finetune_cheaper']:.2f}" if info.get("p_finetune_cheaper") is not None
             else "")
    if stage == "decide":
        return f"verdict: {info.get('verdict')} ({info.get('confidence')} confidence)"
    return f"report: {info.get('html')}"


def limited_spec(spec: Spec, limit: int | None) -> Spec:
    """The spec with at most ``limit`` test items for a quick look (the eval's limit, the sprint's test items,
    the criterion gate's items); stage hashes include the limit, so a limited run never passes for a full one."""
    if not limit:
        return spec
    sprint = spec.sprint.model_copy(update={"test_items": min(limit, spec.sprint.test_items or limit)})
    check_eval = spec.check_eval.model_copy(update={"items": min(limit, spec.check_eval.items)}) \
        if getattr(spec.check_eval, "items", None) else spec.check_eval
    return spec.model_copy(update={"sprint": sprint, "check_eval": check_eval})


def run_pipeline(
    spec: Spec, run_dir: str | Path, *, only: list[str] | None = None, profile: str = "quick",
    model: str | None = None, force: bool = False, progress: ProgressFn | None = None,
    eval_progress: Callable[[int, int], None] | None = None, sprint_progress: Any = None,
    stage_done: Callable[[str, dict[str, Any]], None] | None = None, limit: int | None = None,
) -> dict[str, Any]:
    """Run the stages in order into one run directory; a stage whose inputs are unchanged since its last run there
    is skipped. Returns the manifest (also ``pipeline.json``): per stage status, seconds, input hash, usage.
    ``stage_done(stage, info)`` hears each stage's result as it finishes (``stage_summary`` words it);
    ``limit`` caps the test items of every stage (``limited_spec``)."""
    import json
    import time

    from tunegate.errors import TunegateError
    from tunegate.evals.runner import EvalOptions, run_eval

    spec = limited_spec(spec, limit)
    prof = PROFILES[profile]
    unknown = [s for s in only or [] if s not in STAGES]
    if unknown:
        raise TunegateError(f"unknown stage(s) {', '.join(unknown)} (stages: {', '.join(STAGES)})")
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    manifest_path = d / "pipeline.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    stages = manifest.setdefault("stages", {})
    model_id = model or spec.models.default
    manifest.update({"schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "pipeline", "task": spec.task.name,
                     "profile": prof.name, "model": model_id, "config_hash": spec.config_hash(),
                     "run": RunInfo(seed=spec.seed, config_hash=spec.config_hash(),
                                    spec_path=str(spec.source) if spec.source else None,
                                    packages=package_versions()).model_dump(mode="json")})
    for stage in STAGES:
        if (only and stage not in only) or (not only and stage in prof.skip):
            continue
        if stage in ("check-eval", "audit", "eval", "sprint", "probe") and spec.data is None:
            if progress:
                progress(f"{stage}: skipped, the spec has no data (its evidence is declared)")
            continue
        h = _stage_hash(spec, stage, d, prof, model_id, limit)
        prev = stages.get(stage, {})
        if not force and prev.get("input_hash") == h and prev.get("status") == "done":
            stages[stage] = {**prev, "skipped": True}
            if progress:
                progress(f"{stage}: unchanged since the last run, skipped")
            continue
        if progress:
            progress(f"{stage}: running")
        t0 = time.perf_counter()
        info: dict[str, Any] = {}
        if stage == "check-eval":
            from tunegate.evals.evalcheck import check_eval_stage

            art = check_eval_stage(spec, d, progress=progress)
            info.update(gate=art["gate"], auc=art.get("auc"), reason=_first(art.get("reasons")))
        elif stage == "audit":
            art = audit_stage(spec, out_dir=d, progress=progress)
            info.update(gate=art["gate"], reason=_first(art.get("reasons")))
        elif stage == "eval":
            eval_limit = min(x for x in (prof.eval_limit, limit, 10**12) if x)
            opts = EvalOptions(model=model_id, split="test", limit=eval_limit if eval_limit < 10**12 else None,
                               out_dir=d / "eval-test")
            art = run_eval(spec, opts, progress=eval_progress)
            info.update(value=art.value, ci_low=art.ci_low, ci_high=art.ci_high, usage=art.usage)
        elif stage == "sprint":
            from tunegate.sprint.stage import sprint_stage

            art = sprint_stage(spec, d, progress=sprint_progress)
            best = art.get("best") or {}
            info.update(gate=art.get("gate"), best=best.get("candidate"), value=best.get("value"),
                        ci_low=best.get("ci_low"), ci_high=best.get("ci_high"), calls_used=art.get("calls_used"),
                        calls_full_grid=art.get("calls_full_grid"), usage=art.get("usage"))
        elif stage == "probe":
            if spec.task.kind != "classification" and "lora" not in prof.probe_kinds:
                if progress:
                    progress("probe: the quick profile's embedding head is for classification; skipped")
                continue
            from tunegate.probe.stage import probe_stage

            kinds = prof.probe_kinds if spec.task.kind == "classification" else ("lora",)
            art = probe_stage(spec, d, kinds=kinds, curve=spec.task.kind == "classification", progress=progress)
            info.update(closes_gap=art["closes_gap"], probes=[{k: p.get(k) for k in ("kind", "value", "ci_low",
                                                                                     "ci_high")}
                                                              for p in art["probes"]])
        elif stage == "cost":
            art = cost_stage(spec, d, n_draws=prof.cost_draws)
            info["p_finetune_cheaper"] = art["p_finetune_cheaper"]
            info["p_net_value_positive"] = (art.get("expected_net_value_of_finetuning") or {}).get("p_positive")
        elif stage == "decide":
            art = decide_stage(d, spec)
            info.update(verdict=art["verdict"], confidence=art["confidence"])
        else:
            html, md = report_stage(d)
            info.update(html=str(html), md=str(md))
        stages[stage] = {"status": "done", "input_hash": h, "seconds": round(time.perf_counter() - t0, 2),
                         "finished": now_iso(), "skipped": False, **info}
        write_json_atomic(manifest_path, manifest)
        if stage_done:
            stage_done(stage, stages[stage])
    usage_by_stage = {k: v["usage"]["by_role"] for k, v in stages.items() if v.get("usage")}
    manifest["usage_by_stage_and_role"] = usage_by_stage
    manifest["run"]["finished"] = now_iso()
    write_json_atomic(manifest_path, manifest)
    return manifest
