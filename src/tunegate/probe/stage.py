"""`tunegate probe`: does learning from the labels close the gap, and would more labels help?

Each probe is trained on train, tuned on dev and scored on test with the same metrics and intervals as an
evaluation run, then compared item by item with the best prompt evaluated in the same run directory (paired
bootstrap CI of the difference, exact McNemar). The learning curve retrains the embedding head at geometric
fractions of the training set, several seeds at the small sizes, and extrapolates only when its back-test holds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.artifacts import ARTIFACT_SCHEMA_VERSION, RunInfo, now_iso, package_versions, write_json_atomic
from tunegate.data.examples import Example, load_examples
from tunegate.errors import TunegateError
from tunegate.evals.metrics import macro_f1_ci, mean_ci
from tunegate.evals.stats import paired_comparison
from tunegate.probe.embedding_head import fit_head, stratified_subset
from tunegate.spec import Spec

KINDS = ("embedding_head", "lora")
ProgressFn = Callable[[str], None]


def _r(x: Any) -> Any:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def best_prompt_items(run_dir: Path) -> tuple[str | None, dict[str, float]]:
    """The best test-split eval in the run directory and its per-item 0/1 scores (for the paired comparison)."""
    best, best_val = None, -1.0
    for p in sorted(run_dir.glob("**/eval.json")):
        art = json.loads(p.read_text(encoding="utf-8"))
        if art.get("artifact") == "eval" and art.get("split") == "test" and (art.get("value") or -1) > best_val \
                and (p.parent / "results.jsonl").exists() and not p.parent.name.startswith("probe-"):
            best, best_val = p, art["value"]
    if best is None:
        return None, {}
    items: dict[str, float] = {}
    for line in (best.parent / "results.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        v = (rec.get("scores") or {}).get("label_match")
        items[str(rec["id"])] = 0.0 if v is None else float(v)  # unscored counts as wrong in the comparison
    art = json.loads(best.read_text(encoding="utf-8"))
    return f"{art.get('model')} ({art.get('method')}) [{best.parent.name}]", items


def compare_with_prompt(probe_items: dict[str, float], prompt_items: dict[str, float], *, seed: int) -> dict | None:
    shared = sorted(set(probe_items) & set(prompt_items))
    if not shared:
        return None
    pc = paired_comparison([prompt_items[i] for i in shared], [probe_items[i] for i in shared], seed=seed)
    m = pc.mcnemar
    return {"n_shared": pc.n, "prompt_value": _r(pc.mean_a), "probe_value": _r(pc.mean_b),
            "diff": _r(pc.mean_b - pc.mean_a), "diff_ci_low": _r(pc.diff.low), "diff_ci_high": _r(pc.diff.high),
            "mcnemar_p": float(m.pvalue) if m else None, "mcnemar_b01": m.b01 if m else None,
            "mcnemar_b10": m.b10 if m else None, "note": "unscored prompt outputs count as wrong here"}


def closes_gap(probe: dict, target: float | None) -> str:
    """yes: reaches the target, or beats the prompt significantly; no: neither, with the CI below target; else
    unknown."""
    cmp = probe.get("comparison") or {}
    if target is not None and probe["value"] is not None and probe["value"] >= target:
        return "yes"
    if cmp.get("diff_ci_low") is not None and cmp["diff_ci_low"] > 0:
        return "yes"
    below = target is not None and probe.get("ci_high") is not None and probe["ci_high"] < target
    no_better = cmp.get("diff_ci_low") is not None and cmp["diff_ci_low"] <= 0
    return "no" if below and (no_better or not cmp) else "unknown"


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
    curve: bool, progress: ProgressFn | None, executor: Any = None,
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
             "C": head.C, "embedding_model": spec.models.embedding}
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


def _learning_curve(spec, train, dev, test, X, labels, progress, executor=None) -> dict[str, Any]:
    from tunegate.executors import LocalExecutor
    from tunegate.probe.curve import CurvePoint, analyze_curve, geometric_sizes, seeds_for

    try:
        # the smallest anchor: 3 examples per class, and never fewer than 30 (smaller fits are mostly noise)
        sizes = geometric_sizes(len(train), min_size=max(3 * len({e.label for e in train}), 30))
    except ValueError as exc:
        raise TunegateError(f"learning curve: {exc} (use --no-curve, or label more data)") from None
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
    return doc


def external_probe(spec: Spec, model_id: str, run_dir: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """A fine-tune made elsewhere (e.g. served by an OpenAI-compatible endpoint), evaluated like any candidate."""
    import re

    from tunegate.evals.runner import EvalOptions, run_eval

    out = run_dir / ("probe-external-" + re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-"))
    art = run_eval(spec, EvalOptions(model=model_id, split="test", out_dir=out))
    primary = "label_match" if spec.task.kind == "classification" else next(iter(art.metrics))
    items = {}
    for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        v = (rec.get("scores") or {}).get(primary)
        items[str(rec["id"])] = 0.0 if v is None else float(v)
    total = art.usage.get("total", {})
    return ({"kind": "external", "name": f"external fine-tune {model_id}", "metric": art.metric, "value": art.value,
             "ci_low": art.ci_low, "ci_high": art.ci_high, "ci_method": art.ci_method, "n": art.n,
             "n_unscored": art.n_unscored, "train_seconds": None, "train_examples": None,
             "eval_cost": total.get("cost"), "backend": model_id}, items)


def probe_stage(
    spec: Spec, run_dir: str | Path, *, kinds: tuple[str, ...] = ("embedding_head",), curve: bool = True,
    progress: ProgressFn | None = None, lora_config: Any = None, external: tuple[str, ...] = (),
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
    prompt_name, prompt_items = best_prompt_items(d)
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
        probe["comparison"] = compare_with_prompt(items, prompt_items, seed=spec.seed)
        probes.append(probe)
    if "lora" in kinds:
        from tunegate.probe.lora_stage import lora_probe

        probe, items = lora_probe(spec, train, dev, d, progress=progress, config=lora_config)
        probe["comparison"] = compare_with_prompt(items, prompt_items, seed=spec.seed)
        probes.append(probe)
    for model_id in external:
        if progress:
            progress(f"external: evaluating {model_id} on the test split")
        probe, items = external_probe(spec, model_id, d)
        probe["comparison"] = compare_with_prompt(items, prompt_items, seed=spec.seed)
        probes.append(probe)
    target = spec.eval.target
    for p in probes:
        p["closes_gap"] = closes_gap(p, target)
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
    write_json_atomic(d / "probe.json", art)
    return art


def _chart_curve(curve_doc: dict | None, labels_needed: dict) -> dict | None:
    if not curve_doc:
        return None
    pts = [{"n": p["n"], "error": p.get("mean"), "seeds": p.get("errors")} for p in curve_doc.get("points", [])]
    value = labels_needed.get("value") if isinstance(labels_needed, dict) else labels_needed
    return {"points": pts, "fit": curve_doc.get("fit"), "labels_needed": value,
            "labels_needed_band": labels_needed if isinstance(labels_needed, dict) else None,
            "flags": curve_doc.get("flags", []), "status": curve_doc.get("status"),
            "series": curve_doc.get("series"), "target_error": curve_doc.get("target_error")}
