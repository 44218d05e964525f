"""Regression check on a base-model change: the saved suite on both versions, compared item by item.

A hosted endpoint can lose 30 points between snapshots, and a fine-tune dies with its base model, so a model change
is the one event that must always trigger a re-evaluation. Both versions answer the *same* test items, so the
comparison is paired: the bootstrap interval of (new − old) over items, and the exact McNemar test on the items
where exactly one version is right. Per slice the same, with Holm's correction across slices so that many small
slices do not raise false alarms. The result has the monitor's shape (``status``, ``tests``) so a monitor run and
a regression run land in the same history.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.artifacts import RunInfo, now_iso, package_versions, write_json_atomic
from tunegate.errors import TunegateError
from tunegate.evals.compare import load_run
from tunegate.evals.runner import EvalOptions, run_eval
from tunegate.evals.significance import paired_test
from tunegate.evals.stats import holm_correction, paired_comparison
from tunegate.progress import Progress
from tunegate.spec import Spec

REGRESSION_SCHEMA_VERSION = 1
ALPHA = 0.05
MIN_SLICE_ITEMS = 5  # below this a slice's test has almost no power; it is tabled but not tested


def _r(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def _scorer_for(metric: str) -> str:
    return "label_match" if metric in ("accuracy", "macro_f1") else metric


def _value(rec: dict, scorer: str) -> float | None:
    """The item's score; an answer the scorer could not parse counts as 0 (a new version that stops following the
    output format has regressed), a failed call is None (infrastructure, not the model: left out)."""
    if rec.get("error"):
        return None
    v = (rec.get("scores") or {}).get(scorer)
    return 0.0 if v is None else float(v)


def _paired(a: np.ndarray, b: np.ndarray, spec: Spec) -> dict[str, Any]:
    """Means, the paired-bootstrap CI of b − a (the spec's bootstrap settings) and exact McNemar for 0/1 scores."""
    boot = spec.eval.bootstrap
    pc = paired_comparison(a, b, n_resamples=boot.n_resamples, confidence=boot.confidence, seed=boot.seed)
    m = pc.mcnemar
    exact = paired_test(a, b, seed=boot.seed)  # the test; the bootstrap CI is the effect size, not a test
    return {"n": pc.n, "old": _r(pc.mean_a), "new": _r(pc.mean_b), "diff": _r(pc.mean_b - pc.mean_a),
            "diff_ci_low": _r(pc.diff.low), "diff_ci_high": _r(pc.diff.high), "confidence": boot.confidence,
            "test": exact.to_dict(),
            "mcnemar": None if m is None else {"b01": m.b01, "b10": m.b10, "n_discordant": m.n_discordant,
                                               "p_value": m.pvalue, "midp_p_value": m.midp_pvalue}}


def _slice_rows(rows_old: dict, rows_new: dict, shared: list[str], scorer: str, spec: Spec, alpha: float,
                ) -> list[dict[str, Any]]:
    """Per slice value: both versions' mean score, the paired difference with CI, McNemar, Holm across slices."""
    groups: dict[tuple[str, str], list[str]] = {}
    for i in shared:
        for col, val in (rows_old[i].get("slices") or {}).items():
            groups.setdefault((col, str(val)), []).append(i)
    table = []
    for (col, val), ids in sorted(groups.items()):
        a = np.asarray([_value(rows_old[i], scorer) for i in ids], dtype=float)
        b = np.asarray([_value(rows_new[i], scorer) for i in ids], dtype=float)
        row: dict[str, Any] = {"column": col, "value": val, "n": len(ids), "old": _r(a.mean()), "new": _r(b.mean()),
                               "diff": _r(b.mean() - a.mean()), "diff_ci_low": None, "diff_ci_high": None,
                               "mcnemar": None, "p_value_raw": None, "p_value_holm": None, "status": "untested"}
        if len(ids) >= MIN_SLICE_ITEMS:
            pr = _paired(a, b, spec)
            row.update(diff_ci_low=pr["diff_ci_low"], diff_ci_high=pr["diff_ci_high"], mcnemar=pr["mcnemar"])
            row["p_value_raw"] = pr["test"]["pvalue"]
            row["test"] = pr["test"]
        table.append(row)
    tested = [r for r in table if r["p_value_raw"] is not None]
    if tested:
        for r, p in zip(tested, holm_correction([r["p_value_raw"] for r in tested])):
            r["p_value_holm"] = float(p)
            worse = r["test"]["wins_a"] > r["test"]["wins_b"]  # the old version won more items
            r["status"] = "alert" if (p < alpha and worse) else "ok"
    return table


def _unscorable_side(results: Path, model: str, spec: Spec) -> tuple[dict[str, Any], dict[str, dict]]:
    """A side on which no answer could be scored: the runner has no metric to report (it stops with a
    ValueError after writing results.jsonl), but for a regression check that is the worst case, not an error."""
    rows: dict[str, dict] = {}
    with results.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                rows[str(rec["id"])] = rec
    n_err = sum(1 for r in rows.values() if r.get("error"))
    side = {"model": model, "value": None, "ci_low": None, "ci_high": None,
            "confidence": spec.eval.bootstrap.confidence, "n": 0, "n_total": len(rows),
            "n_unscored": len(rows) - n_err, "n_errors": n_err, "method": None, "usage": {},
            "note": "no answer could be scored"}
    return side, rows


def _side(art: Any) -> dict[str, Any]:
    return {"model": art.model, "value": art.value, "ci_low": art.ci_low, "ci_high": art.ci_high,
            "confidence": art.confidence, "n": art.n, "n_total": art.n_total, "n_unscored": art.n_unscored,
            "n_errors": art.n_errors, "method": art.method, "usage": art.usage.get("total", {})}


def run_regression(
    spec: Spec,
    old_model: str,
    new_model: str,
    *,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    backend_factory: Callable[[str], Any] | None = None,
    cache: Any = None,
    split: str = "test",
    limit: int | None = None,
    method: str = "auto",
    old_params: dict[str, Any] | None = None,
    new_params: dict[str, Any] | None = None,
    alpha: float = ALPHA,
    cache_path: str | Path | None = None,
) -> dict[str, Any]:
    """Run the spec's eval suite (``split``, default test) on ``old_model`` and ``new_model`` and compare.

    ``backend_factory(model_id)`` builds each backend (default: the registry); ``cache`` is a shared
    ``ResponseCache`` (default: the one at ``cache_path`` / ``$TUNEGATE_HOME``). ``old_params`` / ``new_params``
    override sampling parameters per side, so one model id under two settings is a valid "version change".
    ``status`` is ``alert`` when the new version is significantly worse overall (exact McNemar p < alpha, or the
    paired-bootstrap CI of new − old wholly below 0) or on some slice (Holm-adjusted McNemar p < alpha).
    With ``out_dir``, both eval runs and ``regression.json`` are written there.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    run = RunInfo(seed=spec.seed, config_hash=spec.config_hash(),
                  spec_path=str(spec.source) if spec.source else None, packages=package_versions())
    tmp = tempfile.TemporaryDirectory(prefix="tunegate-regress-") if out_dir is None else None
    base = Path(tmp.name if tmp else out_dir)
    try:
        sides: dict[str, dict[str, Any]] = {}
        rows: dict[str, dict[str, dict]] = {}
        offset = [0]

        def step(what: str, done: int | None = None, total: int | None = None) -> None:
            if progress:  # both sides' items on one count: old first, then new
                progress(what, None if done is None else offset[0] + done, None if total is None else 2 * total)

        for side, model, params in (("old", old_model, old_params), ("new", new_model, new_params)):
            backend = backend_factory(model) if backend_factory else None
            try:
                opts = EvalOptions(model=model, split=split, limit=limit, method=method, out_dir=base / side,
                                   cache_path=cache_path, params=dict(params or {}))
                sides[side] = _side(run_eval(spec, opts, backend=backend, cache=cache, progress=step))
                rows[side] = load_run(base / side)[1]
            except ValueError as exc:
                if "not produced by the scorers" not in str(exc):
                    raise
                sides[side], rows[side] = _unscorable_side(base / side / "results.jsonl", model, spec)
            finally:
                if backend is not None:
                    backend.close()
            offset[0] = sides[side]["n_total"]
        rows_old, rows_new = rows["old"], rows["new"]
    finally:
        if tmp is not None:
            tmp.cleanup()
    scorer = _scorer_for(spec.eval.metric)
    shared = sorted(i for i in rows_old if i in rows_new and _value(rows_old[i], scorer) is not None
                    and _value(rows_new[i], scorer) is not None)
    if not shared:
        raise TunegateError(f"the two versions share no answered items on the {split} split (every call failed?)")
    a = np.asarray([_value(rows_old[i], scorer) for i in shared], dtype=float)
    b = np.asarray([_value(rows_new[i], scorer) for i in shared], dtype=float)
    overall = _paired(a, b, spec)
    slices = _slice_rows(rows_old, rows_new, shared, scorer, spec, alpha)
    metric = "accuracy" if scorer == "label_match" else scorer

    tests = []
    diff, ci_hi = overall["diff"], overall["diff_ci_high"]
    tests.append({
        "name": "regression.overall.paired_bootstrap", "kind": "regression", "statistic": diff,
        "p_value": None, "threshold": 0.0, "ci_low": overall["diff_ci_low"], "ci_high": ci_hi,
        "status": "alert" if ci_hi is not None and ci_hi < 0 and overall["test"]["pvalue"] < alpha else "ok",
        "detail": f"{metric} new − old on {len(shared)} shared items; alert when the whole "
                  f"{overall['confidence']:.0%} CI is below 0 and the exact paired test agrees (a CI is an "
                  "effect size, not a test: 3 losses and 0 wins keep it above 0 in no case that matters)",
    })
    if not overall["mcnemar"]:
        t = overall["test"]
        tests.append({
            "name": "regression.overall.sign_flip", "kind": "regression", "statistic": diff,
            "p_value": t["pvalue"], "threshold": alpha, "wins_new": t["wins_b"], "wins_old": t["wins_a"],
            "status": "alert" if t["pvalue"] < alpha and t["wins_a"] > t["wins_b"] and (diff or 0) < 0 else "ok",
            "detail": f"exact sign-flip permutation test on graded scores ({t['method']})",
        })
    if overall["mcnemar"]:
        m = overall["mcnemar"]
        tests.append({
            "name": "regression.overall.mcnemar", "kind": "regression", "statistic": diff,
            "p_value": m["p_value"], "threshold": alpha, "b01": m["b01"], "b10": m["b10"],
            "status": "alert" if m["p_value"] < alpha and m["b10"] > m["b01"] else "ok",
            "detail": f"exact McNemar: old right/new wrong {m['b10']}, old wrong/new right {m['b01']}",
        })
    for s in slices:
        if s["p_value_holm"] is None:
            continue
        tests.append({
            "name": f"regression.slice.{s['column']}={s['value']}."
                    + ("mcnemar" if s.get("mcnemar") else "sign_flip"), "kind": "regression",
            "statistic": s["diff"], "p_value": s["p_value_holm"], "p_value_raw": s["p_value_raw"],
            "threshold": alpha, "status": s["status"],
            "detail": f"n={s['n']}, Holm-adjusted across {sum(x['p_value_holm'] is not None for x in slices)} slices",
        })
    status = "alert" if any(t["status"] == "alert" for t in tests) else "ok"
    worse = [t["name"] for t in tests if t["status"] == "alert"]
    summary = (f"{new_model} vs {old_model} on {len(shared)} {split} items: {metric} "
               f"{_fmt(overall['old'])} → {_fmt(overall['new'])} (new − old {_fmt(diff, sign=True)}, "
               f"CI {_fmt(overall['diff_ci_low'], sign=True)} to {_fmt(ci_hi, sign=True)})"
               + (f"; significantly worse: {', '.join(worse)}" if worse else "; no significant regression"))
    run.finished = now_iso()
    new = sides["new"]
    doc = {
        "schema_version": REGRESSION_SCHEMA_VERSION,
        "artifact": "regression",
        "status": status,
        "summary": summary,
        "task": spec.task.name,
        "split": split,
        "metric": metric,
        "scorer": scorer,
        "spec_metric": spec.eval.metric,
        "n_items": sides["old"]["n_total"],
        "n_shared": len(shared),
        "alpha": alpha,
        "old_model": old_model,
        "new_model": new_model,
        "old_params": old_params or {},
        "new_params": new_params or {},
        "old": sides["old"],
        "new": new,
        "evaluation": {"metric": spec.eval.metric, "value": new["value"], "ci_low": new["ci_low"],
                       "ci_high": new["ci_high"], "model": new_model},
        "comparison": overall,
        "runs": {"old": str(base / "old"), "new": str(base / "new")} if tmp is None else None,
        "tests": tests,
        "slices": slices,
        "run": run.model_dump(mode="json"),
    }
    if out_dir is not None:
        write_json_atomic(Path(out_dir) / "regression.json", doc)
    return doc


def _fmt(x: float | None, sign: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.3f}" if sign else f"{x:.3f}"
