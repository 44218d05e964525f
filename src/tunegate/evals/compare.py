"""Paired comparison of two evaluation runs on the items they share.

Two runs on the same items are compared item by item: the paired bootstrap interval of the difference is far
narrower than two overlapping marginal intervals suggest, and for 0/1 outcomes the exact McNemar test uses only
the items on which the runs disagree. Items scored in one run only are counted and left out, never imputed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tunegate.artifacts import CompareArtifact, EvalArtifact
from tunegate.errors import InputError
from tunegate.evals.significance import paired_test
from tunegate.evals.stats import MacroF1, mcnemar_exact, paired_bootstrap_diff


def load_run(run_dir: str | Path) -> tuple[EvalArtifact, dict[str, dict]]:
    """An eval run's artifact and its per-item results keyed by item id."""
    d = Path(run_dir)
    art_path = d / "eval.json" if d.is_dir() else d
    if not art_path.exists():
        raise InputError("no eval.json here (pass a run directory written by `tunegate eval --out`)", file=d)
    try:
        art = EvalArtifact.model_validate_json(art_path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise InputError(f"not a tunegate eval artifact: {str(exc).splitlines()[0]}", file=art_path) from None
    results_path = art_path.parent / "results.jsonl"
    if not results_path.exists():
        raise InputError("results.jsonl is missing beside eval.json", file=results_path)
    rows: dict[str, dict] = {}
    with results_path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON ({exc.msg})", file=results_path, line=lineno) from None
            rows[str(rec["id"])] = rec
    return art, rows


def compare_runs(
    run_a: str | Path, run_b: str | Path, *, metric: str | None = None, n_resamples: int = 2000, seed: int = 0,
    confidence: float = 0.95,
) -> CompareArtifact:
    art_a, rows_a = load_run(run_a)
    art_b, rows_b = load_run(run_b)
    metric = metric or art_a.metric
    corpus = metric == "macro_f1"
    scorer = "label_match" if metric in ("accuracy", "macro_f1") else metric

    def value(rec: dict) -> float | None:
        return None if rec.get("error") else (rec.get("scores") or {}).get(scorer)

    ids_a = {i for i, r in rows_a.items() if value(r) is not None}
    ids_b = {i for i, r in rows_b.items() if value(r) is not None}
    shared = sorted(ids_a & ids_b)
    note = None
    if not shared:
        raise InputError(f"the runs share no scored items on '{scorer}'", file=f"{run_a} vs {run_b}")
    if art_a.task != art_b.task or art_a.split != art_b.split:
        note = f"runs differ in task or split ({art_a.task}/{art_a.split} vs {art_b.task}/{art_b.split})"

    a = np.asarray([value(rows_a[i]) for i in shared], dtype=float)
    b = np.asarray([value(rows_b[i]) for i in shared], dtype=float)
    mcn = None
    if corpus:
        gold = np.asarray([rows_a[i]["gold"] for i in shared], dtype=object)
        pa = np.asarray([rows_a[i]["prediction"] for i in shared], dtype=object)
        pb = np.asarray([rows_b[i]["prediction"] for i in shared], dtype=object)
        labels = sorted(set(gold) | set(pa) | set(pb))
        stat = MacroF1(labels)  # counts every resample at once; the same interval as the per-resample loop
        iv = paired_bootstrap_diff((gold, pa), (gold, pb), stat, n_resamples=n_resamples, seed=seed,
                                   confidence=confidence)
        va, vb = stat(gold, pa), stat(gold, pb)
    else:
        iv = paired_bootstrap_diff(a, b, n_resamples=n_resamples, seed=seed, confidence=confidence)
        va, vb = float(a.mean()), float(b.mean())
    if np.all(np.isin(a, (0.0, 1.0))) and np.all(np.isin(b, (0.0, 1.0))):
        m = mcnemar_exact(a.astype(bool), b.astype(bool))
        mcn = {"b01": m.b01, "b10": m.b10, "n_discordant": m.n_discordant, "p_value": m.pvalue,
               "midp_p_value": m.midp_pvalue}

    def r(x: float) -> float | None:
        return None if x is None or not np.isfinite(x) else round(float(x), 6)

    return CompareArtifact(
        run_a=str(run_a), run_b=str(run_b), model_a=art_a.model, model_b=art_b.model, metric=metric,
        n_shared=len(shared), n_only_a=len(ids_a - ids_b), n_only_b=len(ids_b - ids_a), value_a=r(va),
        value_b=r(vb), diff=r(vb - va), diff_ci_low=r(iv.low), diff_ci_high=r(iv.high), confidence=confidence,
        mcnemar=mcn, test=paired_test(a, b, seed=seed).to_dict(), note=note,
    )
