"""The monitor stage: stream the log, cut windows, run every registered drift test, correct for multiplicity,
write ``monitor.json`` and (optionally) POST a webhook.

Multiple testing: with many columns, a per-test alpha of 0.05 alarms on almost every run. All p-value tests of
one run form one family, Holm-corrected at ``thresholds.alpha`` (default 0.01), so the chance that a run with no
real change alerts on *any* of them is at most alpha (Holm holds under any dependence between tests). PSI is an
effect size: it alerts only above its threshold *and* when its paired significance test (KS or chi-square on the
same column) survives the correction. Significance is not enough on large windows (250,000 rows detect a
0.03-SD wobble), so a KS or chi-square test alerts only when its effect also reaches a floor
(``thresholds.min_ks_d`` / ``min_smd`` / ``min_tvd``, or PSI above ``psi``). Findings (a model-version change)
alert by themselves. Every alert carries a sentence saying what changed (``messages`` in monitor.json).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.artifacts import (
    ARTIFACT_SCHEMA_VERSION,
    RunInfo,
    now_iso,
    package_versions,
    write_json_atomic,
)
from tunegate.data.readers import detect_format
from tunegate.errors import SpecError
from tunegate.evals.stats import holm_correction
from tunegate.config.monitor import LogColumns, MonitorSpec
from tunegate.monitor.drift import Context, TestResult, registered_tests
from tunegate.monitor.test_base import configure_tests
from tunegate.monitor.explain import messages
from tunegate.monitor.logs import ReadStats, Record, read_log_tables
from tunegate.monitor.windows import Window, cut_table_windows, whole_file_window
from tunegate.progress import Progress

EXIT_CODES = {"ok": 0, "alert": 3}


def finalize(results: list[TestResult], alpha: float) -> None:
    """Holm-correct every p-value test together and set each status (see the module docstring)."""
    tested = [r for r in results if r.p_value is not None]
    if tested:
        for r, adj in zip(tested, holm_correction([min(1.0, max(0.0, r.p_value)) for r in tested])):
            r.p_adjusted = float(adj)
            if r.status is None:
                r.status = "alert" if adj < alpha and r.effect_met is not False else "ok"
                if adj < alpha and r.effect_met is False:
                    r.detail += "; significant, but the effect is below its floor (thresholds.min_*): not an alert"
    by_name = {r.name: r for r in results}
    for r in results:
        if r.status is not None:
            continue
        if r.threshold is not None and r.statistic is not None:
            big = r.statistic > r.threshold
            pair = by_name.get(r.pair) if r.pair else None
            r.status = "alert" if big and (pair is None or pair.status == "alert") else "ok"
        else:
            r.status = "ok"


def run_tests(reference: Window, current: Window, ctx: Context) -> list[TestResult]:
    """Every selected registered test, then the family-wise correction."""
    tests = configure_tests(ctx.cfg.tests or None, registry=registered_tests(), source=ctx.spec_path)
    names = list(tests)
    timings = ctx.summary.setdefault("seconds", {})
    by_test: dict[str, list[TestResult]] = {}

    skipped_by_test: dict[str, list[dict[str, str]]] = {}  # kept per test, so a re-run replaces its own notes

    def run_one(name: str) -> None:
        ctx.note(f"drift test: {name}")
        t0 = time.perf_counter()
        shared, ctx.not_run = ctx.not_run, []
        try:
            by_test[name] = tests[name].run(reference, current, ctx)
        finally:
            skipped_by_test[name], ctx.not_run = ctx.not_run, shared
        # summed over a re-run: the first run (embedding included) is most of the time, and must not be overwritten
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 3)

    for name in names:
        run_one(name)
    # A permutation / simulation p-value cannot go below 1/(B+1); in a Holm family of m tests its adjusted value
    # is then at least m/(B+1). Re-run such a test, once, with B >= 2m/alpha so a real shift can still alert.
    alpha = ctx.cfg.thresholds.alpha
    m = sum(1 for res in by_test.values() for r in res if r.p_value is not None)
    need = math.ceil(2 * m / alpha)
    for name in names:
        if any(_at_floor(r) and m / (_resamples(r) + 1) >= alpha and _resamples(r) < need
               for r in by_test[name]):
            ctx.resolution[name] = need
            run_one(name)
    results = [r for name in names for r in by_test[name]]
    ctx.not_run += [x for name in names for x in skipped_by_test[name]]
    for r in results:
        if _at_floor(r) and m / (_resamples(r) + 1) >= alpha:
            r.detail += (f"; with {_resamples(r)} resamples this p-value cannot go below {1 / (_resamples(r) + 1):.4f},"
                         f" too coarse to reach alpha {alpha:g} across {m} tests")
    finalize(results, alpha)
    return results


def _resamples(r: TestResult) -> int:
    return int(r.extra.get("permutations") or r.extra.get("simulations") or 0)


def _at_floor(r: TestResult) -> bool:
    """The observed statistic beat every resample: the p-value is at its floor 1/(B+1)."""
    b = _resamples(r)
    return bool(b and r.p_value is not None and r.p_value <= 1.0 / (b + 1) + 1e-12)


def build_doc(results: list[TestResult], reference: Window, current: Window, ctx: Context, *, run: RunInfo,
              reads: list[ReadStats], task: str | None = None, model: str | None = None) -> dict[str, Any]:
    tests = [r.as_dict() for r in results]
    alerts = [t["name"] for t in tests if t["status"] == "alert"]
    th = ctx.cfg.thresholds
    n_p = sum(1 for t in tests if t["p_value"] is not None)
    run.finished = now_iso()
    return {
        "schema_version": ARTIFACT_SCHEMA_VERSION,
        "artifact": "monitor",
        "task": task,
        "model": model,
        "status": "alert" if alerts else "ok",
        "alerts": alerts,
        "messages": messages(tests),
        "tests": tests,
        "not_run": ctx.not_run,
        "performance": ctx.summary.get("performance"),
        "seconds": ctx.summary.get("seconds", {}),
        "multiple_testing": {
            "method": "holm", "alpha": th.alpha, "family_size": n_p,
            "note": (f"all {n_p} p-value tests are Holm-corrected together: with no real change, P(any of them "
                     f"alerts) <= {th.alpha}. PSI alerts only above {th.psi} and with its paired test "
                     "significant."),
            "effect_floors": {"min_ks_d": th.min_ks_d, "min_smd": th.min_smd, "min_tvd": th.min_tvd, "psi": th.psi,
                              "note": "a KS / chi-square test alerts only when significant after Holm and its "
                                      "effect reaches a floor (KS D, |SMD| or PSI; total variation or PSI)"},
        },
        "reference": reference.describe(),
        "current": current.describe(),
        "inputs": [r.as_dict() for r in reads],
        "run": run.model_dump(mode="json"),
    }


def webhook_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The document the webhook summary is built from: each alerting test's detail leads with what changed in
    words, so a chat message says "3 labels unseen in the reference now carry 41% of traffic", not "dof 11"."""
    tests = [{**t, "detail": f"{t['message']} ({t.get('detail', '')})"}
             if t.get("status") == "alert" and t.get("message") else t for t in doc["tests"]]
    return {**doc, "tests": tests}


def _finish(doc: dict[str, Any], out_dir: Path | None, webhook_env: str | None,
            webhook_on: str = "alert") -> dict[str, Any]:
    if webhook_env and (webhook_on == "always" or doc["status"] == "alert"):
        from tunegate.monitor.alerts import send_webhook

        doc["webhook"] = send_webhook(webhook_view(doc), webhook_env)
    if out_dir is not None:
        write_json_atomic(Path(out_dir) / "monitor.json", doc)
    return doc


def _run_info(seed: int, spec: Any = None) -> RunInfo:
    return RunInfo(seed=seed, config_hash=spec.config_hash() if spec else None,
                   spec_path=str(spec.source) if spec is not None and spec.source else None,
                   packages=package_versions(("numpy", "scipy", "scikit-learn", "sentence-transformers", "torch")))


def _embedder_factory(model_id: str, models: Any = None, executor: Any = None) -> Callable[[], Any]:
    def make() -> Any:
        if executor is not None and executor.name != "local":  # texts embedded on the workers, in shards
            from tunegate.executors.sharded import ShardedEmbedder

            return ShardedEmbedder(executor, model_id, models)
        from tunegate.models.registry import create_embedder

        return create_embedder(model_id, models)

    return make


def _training_reference(spec: Any, skip_invalid: bool) -> Window:
    from tunegate.data.examples import load_examples

    ds = load_examples(spec, skip_invalid=skip_invalid)
    train = ds.split("train") or ds.examples
    recs = [Record(line=i + 1, ts=None, text=e.input_text(), output=None, version=None, label=e.label,
                   feedback=None, confidence=None,
                   numeric=tuple(None for _ in spec.monitor.columns.numeric),
                   categorical=tuple(None for _ in spec.monitor.columns.categorical))
            for i, e in enumerate(train)]
    return Window("reference", f"training data ({len(recs)} train examples)", recs, training=True)


def monitor_stage(spec: Any, log: str | Path | None = None, *, out_dir: str | Path | None = None,
                  skip_invalid: bool = False, embeddings: bool | None = None, webhook: bool = True,
                  progress: Progress | None = None, model_name: str | None = None,
                  executor: Any = None) -> dict[str, Any]:
    """`tunegate monitor CONFIG --log FILE`: the spec's monitor section applied to one log. ``executor``
    (tunegate.executors) reads a Parquet log's row groups and embeds texts on its workers."""
    cfg: MonitorSpec = spec.monitor
    if embeddings is not None:
        cfg = cfg.model_copy(update={"embedding": cfg.embedding.model_copy(update={"enabled": embeddings})})
    path = log or cfg.log
    if path is None:
        raise SpecError("no log file: pass --log FILE or set monitor.log", file=spec.source, field="monitor.log")
    path = spec.resolve(path) if log is None else Path(path)
    seed = cfg.seed if cfg.seed is not None else spec.seed
    labels = spec.task.label_names if spec.task.kind == "classification" else None
    ctx = Context(cfg=cfg, labels=labels or None, seed=seed, progress=progress,
                  spec_path=str(spec.source) if spec.source else "tunegate.yaml",
                  embedder=_embedder_factory(cfg.embedding.model or spec.models.embedding, spec.models,
                                             executor))
    reference = _training_reference(spec, skip_invalid) if cfg.window.reference == "training" else None
    stats = ReadStats(str(path), "")
    if progress:
        progress(f"reading {path}")
    t_read = time.perf_counter()
    distributed = executor is not None and executor.name != "local"
    if distributed and detect_format(Path(path), cfg.format) == "parquet":
        from tunegate.monitor.parallel import cut_parquet_windows

        ref, cur = cut_parquet_windows(executor, path, cfg.columns, cfg.window, skip_invalid=skip_invalid,
                                       stats=stats, reference=reference)
    else:
        ref, cur = cut_table_windows(read_log_tables(path, cfg.columns, fmt=cfg.format, skip_invalid=skip_invalid,
                                                     stats=stats), cfg.window, source=str(path), reference=reference)
    ctx.summary["seconds"] = {"read log": round(time.perf_counter() - t_read, 3)}  # streaming + cutting windows
    results = run_tests(ref, cur, ctx)
    doc = build_doc(results, ref, cur, ctx, run=_run_info(seed, spec), reads=[stats], task=spec.task.name,
                    model=model_name or cfg.portfolio_model)
    doc["window"] = cfg.window.model_dump(mode="json")
    return _finish(doc, Path(out_dir) if out_dir else None, cfg.webhook_url_env if webhook else None,
                   cfg.webhook_on)


def monitor_files(reference: str | Path, current: str | Path, *, columns: LogColumns | None = None,
                  cfg: MonitorSpec | None = None, labels: list[str] | None = None,
                  out_dir: str | Path | None = None, skip_invalid: bool = False, embedding_model: str = "local:minilm",
                  webhook_env: str | None = None, progress: Progress | None = None,
                  seed: int = 0, executor: Any = None) -> dict[str, Any]:
    """The stand-alone form: one whole file is the reference window, another the current one."""
    cfg = cfg or MonitorSpec()
    if columns is not None:
        cfg = cfg.model_copy(update={"columns": columns})
    ctx = Context(cfg=cfg, labels=labels, seed=seed, progress=progress,
                  embedder=_embedder_factory(embedding_model, executor=executor))
    reads = []
    wins = []
    t_read = time.perf_counter()
    for name, p in (("reference", reference), ("current", current)):
        st = ReadStats(str(p), "")
        if progress:
            progress(f"reading {p}")
        wins.append(whole_file_window(read_log_tables(p, cfg.columns, skip_invalid=skip_invalid, stats=st), name,
                                      str(p), min_rows=cfg.window.min_rows))
        reads.append(st)
    ctx.summary["seconds"] = {"read log": round(time.perf_counter() - t_read, 3)}
    results = run_tests(wins[0], wins[1], ctx)
    doc = build_doc(results, wins[0], wins[1], ctx, run=_run_info(seed), reads=reads)
    return _finish(doc, Path(out_dir) if out_dir else None, webhook_env, cfg.webhook_on)
