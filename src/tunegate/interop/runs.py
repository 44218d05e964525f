"""Imported per-item outcomes -> a tunegate evaluation run (``eval.json`` + ``results.jsonl``).

Why one writer: Inspect AI and promptfoo results must land in exactly the shape ``tunegate eval`` writes, so that
``compare`` pairs them by item id, the verdict counts them as measured evidence and the report lists them. The
one deliberate difference from the runner: an item the tool reports as errored is counted as *failed* (score 0,
in ``n``), never dropped — a tool that errors on hard items must not look better for it. ``n_errors`` still says
how many there were, and each such line keeps the tool's message under ``tool_error``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.artifacts import EvalArtifact, MetricCI, RunInfo, now_iso, write_json_atomic
from tunegate.errors import InputError
from tunegate.evals.metrics import mean_ci
from tunegate.spec import BootstrapSpec

PRIMARY_KEY = "label_match"  # the per-item key `compare` reads for metric "accuracy" (0/1 or partial credit)


@dataclass
class ImportedItem:
    """One item's outcome as the tool reported it, already mapped to a number (None = unscored)."""

    id: str
    value: float | None
    output: str | None = None
    gold: Any = None
    error: str | None = None  # the tool's error: the item counts as failed (value 0)
    raw: Any = None  # the tool's own score value (e.g. "C", "P", a named score)
    extra_scores: dict[str, float | None] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class ImportedRun:
    """The items of one prompt x provider (promptfoo) or one epoch (Inspect), plus what the tool said about them."""

    name: str  # a directory-safe name, unique within one import
    task: str
    model: str
    prompt_source: str
    items: list[ImportedItem]
    tool: str  # "inspect_ai 0.3.x" / "promptfoo 0.121.x"
    source_file: str
    scorer: str
    tool_reported: dict[str, Any] = field(default_factory=dict)  # the tool's own headline numbers, for the record
    usage: dict[str, Any] = field(default_factory=dict)


def _metric(name: str, values: np.ndarray, n_unscored: int, boot: BootstrapSpec, note: str | None) -> MetricCI:
    iv = mean_ci(values, boot)

    def f(x: float) -> float | None:
        return None if x is None or not np.isfinite(x) else round(float(x), 6)

    return MetricCI(name=name, value=f(iv.estimate), ci_low=f(iv.low), ci_high=f(iv.high), confidence=iv.confidence,
                    ci_method=iv.method, n=iv.n, n_unscored=n_unscored, note=" ".join(x for x in (iv.note, note) if x)
                    or None)


def build_artifact(run: ImportedRun, *, split: str = "test", boot: BootstrapSpec | None = None,
                   results_file: str | None = None) -> tuple[EvalArtifact, list[dict[str, Any]]]:
    """The eval artifact and the results.jsonl records of one imported run (pure: writes nothing)."""
    boot = boot or BootstrapSpec()
    seen: set[str] = set()
    for it in run.items:
        if it.id in seen:
            raise InputError(f"item id '{it.id}' appears twice in one run ({run.name}); pass an id field that is "
                             "unique per test", file=run.source_file)
        seen.add(it.id)
    values = [0.0 if it.error else it.value for it in run.items]
    scored = np.asarray([v for v in values if v is not None], dtype=float)
    n_unscored = sum(v is None for v in values)
    n_err = sum(1 for it in run.items if it.error)
    note = f"{n_err} errored item(s) counted as failed (score 0)" if n_err else None
    main = _metric("accuracy", scored, n_unscored, boot, note)
    metrics = {"accuracy": main, PRIMARY_KEY: main.model_copy(update={"name": PRIMARY_KEY})}
    for key in sorted({k for it in run.items for k in it.extra_scores}):
        vals = [0.0 if it.error else it.extra_scores.get(key) for it in run.items]
        arr = np.asarray([v for v in vals if v is not None], dtype=float)
        metrics[key] = _metric(key, arr, sum(v is None for v in vals), boot, None)
    per_label: dict[str, MetricCI] = {}
    golds = {str(it.gold) for it in run.items if isinstance(it.gold, (str, int)) and not isinstance(it.gold, bool)}
    for lab in sorted(golds):
        arr = np.asarray([v for it, v in zip(run.items, values) if str(it.gold) == lab and v is not None], dtype=float)
        if arr.size:
            per_label[lab] = _metric(lab, arr, 0, boot, None)
    lower = None
    if run.items:
        lower = round(float(scored.sum()) / len(run.items), 6) if scored.size else 0.0
    errors = Counter(it.error.splitlines()[0][:120] for it in run.items if it.error)
    info = RunInfo(seed=boot.seed, packages={"source": run.tool}, command=f"import-evals {run.source_file}")
    info.finished = now_iso()
    art = EvalArtifact(
        task=run.task, model=run.model, split=split, method="imported", prompt_source=run.prompt_source,
        prompt_sha=_sha(run.prompt_source), metric="accuracy", value=main.value, ci_low=main.ci_low,
        ci_high=main.ci_high, confidence=main.confidence, ci_method=main.ci_method, n=main.n,
        n_total=len(run.items), n_unscored=n_unscored, n_errors=n_err, value_unscored_as_wrong=lower,
        unscored_reasons=dict(Counter({"unscored by the tool": n_unscored} if n_unscored else {})
                              | Counter({f"errored (counted as failed): {k}": v for k, v in errors.items()})),
        metrics=metrics, per_label=per_label, usage={**run.usage, "imported_from": run.source_file,
                                                     "tool": run.tool, "scorer": run.scorer,
                                                     "tool_reported": run.tool_reported},
        results_file=results_file, run=info,
    )
    records = []
    for it, v in zip(run.items, values):
        scores = {PRIMARY_KEY: v, **{k: (0.0 if it.error else s) for k, s in it.extra_scores.items()}}
        records.append({"id": it.id, "split": split, "gold": it.gold, "output": it.output, "prediction": it.output,
                        "scores": scores, "raw_score": it.raw, "tool_error": it.error,
                        "unscored": None if v is not None else {PRIMARY_KEY: "unscored by the tool"},
                        "input_tokens": it.input_tokens, "output_tokens": it.output_tokens})
    return art, records


def write_run(run: ImportedRun, out_dir: str | Path, *, split: str = "test",
              boot: BootstrapSpec | None = None) -> EvalArtifact:
    """Write ``eval.json`` and ``results.jsonl`` into ``out_dir`` (created)."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    art, records = build_artifact(run, split=split, boot=boot, results_file=str(d / "results.jsonl"))
    with (d / "results.jsonl").open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    write_json_atomic(d / "eval.json", art)
    return art


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def safe_name(text: str) -> str:
    """A short directory name from a label (letters, digits, - and _)."""
    out = "".join(c if c.isalnum() or c in "-_" else "-" for c in text.strip()).strip("-")
    return (out or "run")[:60]
