"""`tunegate probe`: does learning from the labels close the gap, and would more labels help?

Each probe is trained on train, tuned on dev and scored on test with the same metrics and intervals as an
evaluation run, then compared item by item with the best prompt (the verdict's one definition: the sprint's
selection) on the task's primary scorer: the paired-bootstrap CI of the difference as the effect size, an exact
paired test for significance. A probe closes the gap only by reaching the target with its interval. The learning
curve retrains the embedding head at per-class sizes from 2 examples per class up to the training set, several
seeds at the small sizes, and extrapolates only when its back-test holds (docs/learning-curve.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.artifact_models import ProbeArtifact, eval_runs, load_eval
from tunegate.artifacts import ARTIFACT_SCHEMA_VERSION, RunInfo, json_safe, now_iso, package_versions
from tunegate.data.examples import Example, load_examples
from tunegate.errors import TunegateError
from tunegate.evals.metrics import macro_f1_ci, mean_ci
from tunegate.evals.stats import paired_comparison
from tunegate.probe.embedding_head import fit_head, stratified_subset
from tunegate.progress import Progress
from tunegate.spec import Spec

KINDS = ("embedding_head", "lora")


def _r(x: Any) -> Any:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def _prompt_run_dir(run_dir: Path) -> Path | None:
    """Where "the best prompt"'s per-item test results live — the one definition the verdict uses
    (tunegate.verdict.best_prompt): the sprint's selection (sprint-best/, chosen on dev), else the earliest
    test-split evaluation; never the evaluation with the highest test value."""
    from tunegate.verdict.prompting import is_prompt_eval

    sprint_best = run_dir / "sprint-best"
    if (run_dir / "sprint.json").exists() and (sprint_best / "results.jsonl").exists():
        return sprint_best
    found = [(e.artifact.run.started or "", str(e.path), e.path.parent) for e in eval_runs(run_dir)
             if is_prompt_eval(e) and (e.path.parent / "results.jsonl").exists()]
    return min(found)[2] if found else None


def read_item_scores(results_path: Path, metric: str) -> tuple[str | None, dict[str, float]]:
    """Per-item scores of a run's results.jsonl under the task's primary scorer (unscored and failed = 0)."""
    from tunegate.evals.primary import primary_scorer

    items: dict[str, float] = {}
    primary = None
    for line in results_path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        scores = rec.get("scores") or {}
        if primary is None and scores:
            primary = primary_scorer(metric, list(scores))
        v = scores.get(primary) if primary else None
        items[str(rec["id"])] = 0.0 if v is None else float(v)  # unscored or failed counts as wrong here
    return primary, items


def best_prompt_items(run_dir: Path, metric: str = "accuracy") -> tuple[str | None, dict[str, float]]:
    """The best prompt's name and per-item primary scores (for the paired comparison with each probe)."""
    d = _prompt_run_dir(run_dir)
    if d is None:
        return None, {}
    _, items = read_item_scores(d / "results.jsonl", metric)
    art = load_eval(d / "eval.json")
    return (f"{art.model} ({art.method}) [{d.name}]" if art else None), items


def compare_with_prompt(probe_items: dict[str, float], prompt_items: dict[str, float], *, seed: int,
                        primary: str | None = None) -> dict | None:
    """The probe against the best prompt on the items both answered: the paired-bootstrap CI of the difference
    (an effect size) and an exact paired test (McNemar for 0/1 scores, sign-flip otherwise) for significance."""
    from tunegate.evals.significance import paired_test

    shared = sorted(set(probe_items) & set(prompt_items))
    if not shared:
        return None
    a, b = [prompt_items[i] for i in shared], [probe_items[i] for i in shared]
    pc = paired_comparison(a, b, seed=seed)
    test = paired_test(a, b, seed=seed)
    m = pc.mcnemar
    return {"n_shared": pc.n, "prompt_value": _r(pc.mean_a), "probe_value": _r(pc.mean_b),
            "diff": _r(pc.mean_b - pc.mean_a), "diff_ci_low": _r(pc.diff.low), "diff_ci_high": _r(pc.diff.high),
            "test": test.to_dict(), "significant": test.significant(0.05),
            "mcnemar_p": float(m.pvalue) if m else None, "mcnemar_b01": m.b01 if m else None,
            "mcnemar_b10": m.b10 if m else None, "primary_scorer": primary,
            "note": "unscored prompt outputs count as wrong here; significance from the exact paired test, not "
                    "from the bootstrap interval"}


def closes_gap(probe: dict, target: float | None, n_probes: int = 1) -> str:
    """yes: the probe reaches the target with its interval (Bonferroni-widened across ``n_probes``); no: its
    interval lies below the target; unknown otherwise. Beating the prompt below the target is not closing it."""
    from tunegate.evals.significance import lower_bound_for_family, upper_bound_for_family

    v, lo, hi = probe.get("value"), probe.get("ci_low"), probe.get("ci_high")
    if target is None or v is None or lo is None or hi is None:
        return "unknown"
    if lower_bound_for_family(v, lo, n_probes) >= target:
        return "yes"
    if upper_bound_for_family(v, hi, n_probes) < target:
        return "no"
    return "unknown"


def _score(preds: list[str], test: list[Example], labels: list[str], spec: Spec) -> dict[str, Any]:
    correct = np.asarray([float(p == e.label) for p, e in zip(preds, test)])
    acc = mean_ci(correct, spec.eval.bootstrap)
    f1 = macro_f1_ci([e.label for e in test], preds, labels, spec.eval.bootstrap)
    metric = spec.eval.metric if spec.eval.metric in ("accuracy", "macro_f1") else "accuracy"
    main = acc if metric == "accuracy" else f1
    return {"metric": metric, "value": _r(main.estimate), "ci_low": _r(main.low), "ci_high": _r(main.high),
            "ci_method": main.method, "n": len(test),
            "accuracy": {"value": _r(acc.estimate), "ci_low": _r(acc.low), "ci_high": _r(acc.high)},
            "macro_f1": {"value": _r(f1.estimate), "ci_low": _r(f1.low), "ci_high": _r(f1.high)}}


def embedding_head_probe(
    spec: Spec, train: list[Example], dev: list[Example], test: list[Example], *, vectors: dict[str, np.ndarray],
    curve: bool, progress: Progress | None, executor: Any = None,
) -> tuple[dict[str, Any], dict[str, float], dict[str, Any] | None]:
    labels = spec.task.label_names
    X = lambda exs: np.stack([vectors[e.id] for e in exs])  # noqa: E731
    t0 = time.perf_counter()
    head = fit_head(X(train), [e.label for e in train], classes=labels, X_dev=X(dev) if dev else None,
                    y_dev=[e.label for e in dev] if dev else None, seed=spec.seed)
    train_s = time.perf_counter() - t0
    preds = head.predict(X(test))
    probe = {"kind": "embedding_head", "name": f"embedding_head ({spec.models.embedding} + logistic regression)",
             **_score(preds, test, labels, spec), "train_seconds": round(train_s, 3), "train_examples": len(train),
             "C": head.C, "embedding_model": spec.models.embedding,
             "items": [{"id": e.id, "prediction": p} for p, e in zip(preds, test)]}  # for the report's item viewer
    items = {e.id: float(p == e.label) for p, e in zip(preds, test)}
    curve_doc = None
    if curve:
        curve_doc = _learning_curve(spec, train, dev, test, X, labels, progress, executor)
    return probe, items, curve_doc


def _fit_point(Xtr: np.ndarray, y_train: list[str], Xdev: np.ndarray | None, y_dev: list[str] | None,
               Xte: np.ndarray, y_test: np.ndarray, labels: list[str], idx: list[int], seed: int) -> float:
    """One learning-curve point: fit on the subset ``idx`` of train, return the test error. Runs on a worker."""
    head = fit_head(Xtr[idx], [y_train[i] for i in idx], classes=labels, X_dev=Xdev, y_dev=y_dev, seed=seed)
    return float(1.0 - (np.asarray(head.predict(Xte)) == y_test).mean())


def _learning_curve(spec, train, dev, test, X, labels, progress: Progress | None,
                    executor=None) -> dict[str, Any]:
    from tunegate.executors import LocalExecutor
    from tunegate.probe.curve import MIN_SIZES, CurvePoint, analyze_curve, plan_sizes, seeds_for

    # per-class budgets from 2 examples per class up to all of train, at most √2 apart (docs/learning-curve.md)
    n_classes = len({e.label for e in train})
    sizes = plan_sizes(len(train), n_classes)
    if len(sizes) == 1:
        raise TunegateError(f"learning curve: the train split has {len(train)} examples, not more than the smallest "
                            f"learning-curve anchor ({sizes[0]}: 2 per class for {n_classes} classes, at least 20); "
                            "use --no-curve, or label more data")
    if len(sizes) < MIN_SIZES and progress:
        progress(f"learning curve: only {len(sizes)} training sizes fit between 2 examples per class and "
                 f"{len(train)} labels; the curve will say 'insufficient'")
    y_train = [e.label for e in train]
    shared = (X(train), y_train, X(dev) if dev else None, [e.label for e in dev] if dev else None, X(test),
              np.asarray([e.label for e in test]), labels)
    jobs = [(n, s) for n in sizes for s in range(seeds_for(n, sizes[-1]))]
    args = [(stratified_subset(y_train, n, seed=spec.seed * 1000 + s), s) for n, s in jobs]
    errors: dict[tuple[int, int], float] = {}
    remaining = {n: sum(1 for m, _ in jobs if m == n) for n in sizes}
    for k, err in (executor or LocalExecutor()).map_unordered(_fit_point, args, shared=shared):
        n = jobs[k][0]
        errors[jobs[k]] = err
        remaining[n] -= 1
        if progress and remaining[n] == 0:
            errs = [errors[j] for j in jobs if j[0] == n]
            progress(f"learning curve: n={n}, error {np.mean(errs):.3f} over {len(errs)} seed(s)")
    # points in a fixed order whatever order the fits finished in: the same curve on any executor
    points = [CurvePoint(n, [errors[(m, s)] for m, s in jobs if m == n]) for n in sizes]
    target_error = None if spec.eval.target is None else 1.0 - spec.eval.target
    doc = analyze_curve(points, target_error=target_error, seed=spec.seed).to_dict()
    doc["metric"] = "error = 1 - accuracy on the test split"
    doc["n_train"] = len(train)  # labels on hand: what labels_needed is compared with
    doc["labels_needed"]["n_train"] = len(train)
    return doc


def external_probe(spec: Spec, model_id: str, run_dir: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """A fine-tune made elsewhere (e.g. served by an OpenAI-compatible endpoint), evaluated like any candidate."""
    import re

    from tunegate.evals.runner import EvalOptions, run_eval

    out = run_dir / ("probe-external-" + re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-"))
    art = run_eval(spec, EvalOptions(model=model_id, split="test", out_dir=out))
    _, items = read_item_scores(out / "results.jsonl", spec.eval.metric)
    total = art.usage.get("total", {})
    return ({"kind": "external", "name": f"external fine-tune {model_id}", "metric": art.metric, "value": art.value,
             "ci_low": art.ci_low, "ci_high": art.ci_high, "ci_method": art.ci_method, "n": art.n,
             "n_unscored": art.n_unscored, "train_seconds": None, "train_examples": None,
             "eval_cost": total.get("cost"), "backend": model_id}, items)


def probe_stage(
    spec: Spec, run_dir: str | Path, *, kinds: tuple[str, ...] = ("embedding_head",), curve: bool = True,
    progress: Progress | None = None, lora_config: Any = None, external: tuple[str, ...] = (),
    executor: Any = None,
) -> dict[str, Any]:
    """Run the requested probes; write ``probe.json`` into the run directory. ``executor`` (tunegate.executors)
    spreads the learning curve's fits over workers; the curve is the same on any executor."""
    if spec.task.kind != "classification" and "embedding_head" in kinds:
        raise TunegateError("the embedding_head probe is for classification tasks (use --kind lora)")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise TunegateError(f"unknown probe kind(s) {', '.join(bad)} (kinds: {', '.join(KINDS)})")
    d = Path(run_dir)
    ds = load_examples(spec)
    train, dev, test = ds.split("train"), ds.split("dev"), ds.split("test")
    if not train or not test:
        raise TunegateError(f"a probe needs train and test examples (splits: {ds.summary()['splits']})")
    if spec.task.kind == "classification":
        from collections import Counter

        counts = Counter(e.label for e in train)
        single = sorted(lab for lab, c in counts.items() if c == 1)
        if single:
            raise TunegateError(f"label(s) {', '.join(single)} have a single training example: a probe cannot "
                                "learn or tune on one example; label at least two per class")
        absent = [lab for lab in spec.task.label_names if lab not in counts]
        if absent and progress:
            progress(f"warning: no training examples for {', '.join(absent)}: the probe can never predict them")
    prompt_name, prompt_items = best_prompt_items(d, spec.eval.metric)
    primary = _primary_for(spec)
    run = RunInfo(seed=spec.seed, config_hash=spec.config_hash(), spec_path=str(spec.source) if spec.source else None,
                  packages=package_versions(("numpy", "scikit-learn", "torch", "transformers", "peft")))
    probes, curve_doc = [], None
    if "embedding_head" in kinds:
        from tunegate.models.registry import create_embedder

        if progress:
            progress(f"embedding {len(ds.examples)} examples with {spec.models.embedding}")
        t0 = time.perf_counter()
        emb = create_embedder(spec.models.embedding, spec.models)
        vecs = np.asarray(emb.embed([e.input_text() for e in ds.examples]), dtype=np.float32)
        embed_s = time.perf_counter() - t0
        vectors = {e.id: v for e, v in zip(ds.examples, vecs)}
        probe, items, curve_doc = embedding_head_probe(spec, train, dev, test, vectors=vectors, curve=curve,
                                                       progress=progress, executor=executor)
        probe["embed_seconds"] = round(embed_s, 2)
        probe["comparison"] = compare_with_prompt(items, prompt_items, seed=spec.seed, primary=primary)
        probes.append(probe)
    if "lora" in kinds:
        from tunegate.probe.lora_stage import lora_probe

        probe, items = lora_probe(spec, train, dev, d, progress=progress, config=lora_config)
        probe["comparison"] = compare_with_prompt(items, prompt_items, seed=spec.seed, primary=primary)
        probes.append(probe)
    for model_id in external:
        if progress:
            progress(f"external: evaluating {model_id} on the test split")
        probe, items = external_probe(spec, model_id, d)
        probe["comparison"] = compare_with_prompt(items, prompt_items, seed=spec.seed, primary=primary)
        probes.append(probe)
    target = spec.eval.target
    for p in probes:
        p["closes_gap"] = closes_gap(p, target, len(probes))
        cmp = p.get("comparison") or {}
        p["diff_ci_low"] = cmp.get("diff_ci_low")
    verdicts = [p["closes_gap"] for p in probes]
    overall = "yes" if "yes" in verdicts else ("no" if verdicts and all(v == "no" for v in verdicts) else "unknown")
    run.finished = now_iso()
    labels_needed = ((curve_doc or {}).get("labels_needed") or {})
    art = {"schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "probe", "task": spec.task.name,
           "target": target, "best_prompt": prompt_name, "probes": probes, "closes_gap": overall,
           "curve": curve_doc,
           # the shape the verdict, cost model and report read: labels needed as one number (None = unknown)
           "learning_curve": _chart_curve(curve_doc, labels_needed), "run": run.model_dump(mode="json")}
    model = ProbeArtifact.from_dict(json_safe(art), source=d / ProbeArtifact.FILENAME)  # a drifted writer fails here
    model.save(d)
    return model.to_dict()


def _primary_for(spec: Spec) -> str:
    """The task's primary scorer, by the one rule every stage uses (tunegate.evals.primary)."""
    from tunegate.evals.primary import primary_scorer
    from tunegate.evals.scorers import default_scorers

    entries = spec.eval.scorers or default_scorers(spec)
    return primary_scorer(spec.eval.metric, [getattr(e, "name", None) or e.type for e in entries])


def _chart_curve(curve_doc: dict | None, labels_needed: dict) -> dict | None:
    if not curve_doc:
        return None
    pts = [{"n": p["n"], "error": p.get("mean"), "seeds": p.get("errors")} for p in curve_doc.get("points", [])]
    value = labels_needed.get("value") if isinstance(labels_needed, dict) else labels_needed
    return {"points": pts, "fit": curve_doc.get("fit"), "labels_needed": value,
            "labels_needed_band": labels_needed if isinstance(labels_needed, dict) else None,
            "flags": curve_doc.get("flags", []), "status": curve_doc.get("status"),
            "series": curve_doc.get("series"), "target_error": curve_doc.get("target_error")}
