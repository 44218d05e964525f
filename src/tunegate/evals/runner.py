"""The evaluation runner: one prompt, one model, one split, scored, with confidence intervals.

How it stays resumable and light: every request gets a cache key; cached answers are replayed first, the rest go
to the backend, and each answer is committed to the response cache and appended to ``results.jsonl`` *before*
the next one is consumed. A killed run therefore loses at most the calls that were in flight (and, against a
near-instant endpoint, the answers of the last <= 10 ms, which the stream gathers into one commit: see
``models.streams.COALESCE_S``). Full per-item records stream to disk; memory holds only the compact facts the
statistics need.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tunegate.artifacts import EvalArtifact, RunInfo, SkippedRowModel, now_iso, package_versions
from tunegate.data.examples import Dataset, Example, load_examples
from tunegate.errors import SpecError, TunegateError
from tunegate.evals.metrics import ItemRecord, summarize
from tunegate.evals.prompts import PromptTemplate, load_template
from tunegate.evals.scorers import Scorer, ScorerContext, build_scorers
from tunegate.models.base import LABEL_LOGPROBS, GenerationRequest, require_capability
from tunegate.models.cache import ResponseCache
from tunegate.models.streams import generation_stream, logprob_stream  # noqa: F401  (public here too)
from tunegate.models.registry import check_models, create_backend, create_embedder, price_for
from tunegate.models.usage import Price, UsageTracker
from tunegate.progress import Progress
from tunegate.redact import redact_obj, secrets
from tunegate.spec import Spec

METHODS = ("auto", "generate", "label_logprobs")


@dataclass
class EvalOptions:
    """What ``tunegate eval`` takes besides the spec (the CLI flags, validated once)."""

    model: str | None = None
    split: str = "test"
    limit: int | None = None
    method: str = "auto"
    prompt_file: str | Path | None = None
    out_dir: str | Path | None = None
    cache_path: str | Path | None = None
    skip_invalid: bool = False
    role: str = "subject"
    params: dict[str, Any] = field(default_factory=dict)
    # Where the model calls run (tunegate.executors): None = in this process, through the backend directly.
    executor: Any = None
    # Failed-call share above which the run raises FailedCallsError (after writing its artifacts). None: the
    # spec's eval.max_failed_share for a run that writes a run directory; an in-memory run then only refuses
    # a run in which every call failed.
    max_failed_share: float | None = None
    # The examples, when a caller has loaded them already from this spec with the same skip_invalid (the CLI's
    # preflight does: loading them twice was ~10 ms of a cached run). None: the runner loads them.
    dataset: Dataset | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise TunegateError(f"--method must be one of {', '.join(METHODS)}, not '{self.method}'")
        if self.split not in ("train", "dev", "test"):
            raise TunegateError(f"--split must be train, dev or test, not '{self.split}'")
        if self.limit is not None and self.limit < 1:
            raise TunegateError("--limit must be at least 1")
        if self.max_failed_share is not None and not 0 <= self.max_failed_share <= 1:
            raise TunegateError(f"--max-failed-share must be in [0, 1], got {self.max_failed_share:g}")


class FailedCallsError(TunegateError):
    """Too many model calls failed for the run's numbers to mean anything; ``artifact`` was still written."""

    def __init__(self, message: str, artifact: EvalArtifact) -> None:
        super().__init__(message)
        self.artifact = artifact


def failed_calls_check(art: EvalArtifact, threshold: float | None) -> str | None:
    """A summary when the failed share exceeds ``threshold`` (or every call failed), else None."""
    if not art.n_total or not art.n_errors:
        return None
    share = art.n_errors / art.n_total
    if art.n_errors < art.n_total and (threshold is None or share <= threshold):
        return None
    top = max(art.unscored_reasons.items(), key=lambda kv: kv[1] if kv[0].startswith("call failed") else -1)
    limit = "" if threshold is None else f" (limit {threshold:.0%}, eval.max_failed_share or --max-failed-share)"
    return (f"{art.n_errors} of {art.n_total} model calls failed ({share:.1%}){limit}: the metric would describe "
            f"only the answered items. Most frequent: {top[0]} ({top[1]}x). Failed calls are not cached: fix the "
            "cause and run the same command again to retry only them.")


def metric_names(spec: Spec, scorer_names: list[str]) -> list[str]:
    """The metrics a run of this spec can report: every scorer's, plus accuracy and macro-F1 with labels."""
    names = list(scorer_names)
    if spec.task.label_names:
        names += [m for m in ("accuracy", "macro_f1") if m not in names]
    return names


def check_metric(spec: Spec, scorer_names: list[str]) -> None:
    """eval.metric must be one the scorers produce: checked before any call, not at the summary."""
    known = metric_names(spec, scorer_names)
    if spec.eval.metric not in known:
        raise SpecError(f"metric '{spec.eval.metric}' is not produced by the scorers (available: "
                        f"{', '.join(sorted(known))})", file=spec.source, field="eval.metric")


def select_items(dataset: Dataset, split: str, limit: int | None) -> list[Example]:
    items = dataset.split(split)
    if not items:
        raise TunegateError(f"the '{split}' split is empty ({dataset.summary()['splits']})")
    return items[:limit] if limit else items


def resolve_method(method: str, spec: Spec, backend: Any) -> str:
    """``auto``: label-likelihood scoring for classification when the backend can, else generation."""
    if method == "auto":
        can = LABEL_LOGPROBS in getattr(backend, "capabilities", ())
        return "label_logprobs" if spec.task.kind == "classification" and can else "generate"
    if method == "label_logprobs":
        if spec.task.kind != "classification":
            raise TunegateError("--method label_logprobs only applies to classification tasks")
        require_capability(backend, LABEL_LOGPROBS, needed_by="--method label_logprobs")
    return method


class _Sink:
    """Appends one JSON line per finished item, flushed at most every FLUSH_S (and at close), so the lines of a
    killed run are on disk up to its last moments. The response cache, not this file, is what a resumed run
    reads; a flush per line was one system call (and one thread hand-off) per item."""

    FLUSH_S = 0.05

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self._flushed = time.monotonic()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("w", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if self._fh is not None:  # outputs and errors are response bodies: no secret may reach the file
            self._fh.write(_redacted_line(record) + "\n")
            now = time.monotonic()
            if now - self._flushed >= self.FLUSH_S:
                self._fh.flush()
                self._flushed = now

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


_JSON_ESCAPED = frozenset('"\\' + "".join(map(chr, range(32))))
_LINE = json.JSONEncoder(ensure_ascii=False, default=str)  # json.dumps with options builds one per call


def _redacted_line(record: dict[str, Any]) -> str:
    """The record as one JSON line with every secret masked. Serialise first and look for the secrets in the
    line: a secret free of characters JSON escapes appears verbatim in the line if it is in any string of the
    record, so a clean line (the usual case) skips walking the record; otherwise redact value by value."""
    line = _LINE.encode(record)
    known = secrets()
    if any(s in line or not _JSON_ESCAPED.isdisjoint(s) for s in known):
        line = _LINE.encode(redact_obj(record, known))
    return line


def _softmax(xs: list[float]) -> list[float]:
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = sum(e)
    return [v / s for v in e]


def run_eval(
    spec: Spec,
    options: EvalOptions,
    *,
    backend: Any = None,
    cache: ResponseCache | None = None,
    progress: Progress | None = None,
) -> EvalArtifact:
    """Run the evaluation and return its artifact (also written to ``out_dir/eval.json`` when given).

    A run directory is held for the whole run (tunegate.runlock): a second run into it refuses at once. A run
    whose failed calls exceed the threshold raises FailedCallsError after writing its artifacts."""
    from contextlib import nullcontext

    from tunegate.runlock import run_lock

    held = run_lock(options.out_dir, command="eval") if options.out_dir else nullcontext()
    with held:
        art = _run_eval(spec, options, backend=backend, cache=cache, progress=progress)
    threshold = options.max_failed_share
    if threshold is None and options.out_dir:
        threshold = spec.eval.max_failed_share
    problem = failed_calls_check(art, threshold)
    if problem:
        raise FailedCallsError(problem, art)
    return art


def _run_eval(
    spec: Spec,
    options: EvalOptions,
    *,
    backend: Any = None,
    cache: ResponseCache | None = None,
    progress: Progress | None = None,
) -> EvalArtifact:
    run = RunInfo(seed=spec.seed, config_hash=spec.config_hash(),
                  spec_path=str(spec.source) if spec.source else None, packages=package_versions())
    model_id = options.model or spec.models.default
    dataset = options.dataset if options.dataset is not None else load_examples(spec, skip_invalid=options.skip_invalid)
    items = select_items(dataset, options.split, options.limit)
    template: PromptTemplate = load_template(spec, options.prompt_file)
    embedder_cache: dict[str, Any] = {}

    def embedder() -> Any:
        if "e" not in embedder_cache:
            embedder_cache["e"] = create_embedder(spec.models.embedding, spec.models)
        return embedder_cache["e"]

    scorer_ctx = ScorerContext(spec, embedder, subject_model=model_id)  # a judge must not be the subject model
    if backend is None:
        check_models(spec.models, model_id, source=spec.source)  # before any backend or paid call
    scorers: list[Scorer] = build_scorers(spec, scorer_ctx)
    try:
        check_metric(spec, [s.name for s in scorers])  # a misspelt metric used to crash after every call
    except BaseException:
        for scorer in scorers:
            scorer.close()
        raise
    own_backend = backend is None
    if backend is None:
        if options.executor is not None and options.executor.name != "local":
            from tunegate.executors.sharded import sharded_backend

            backend = sharded_backend(options.executor, model_id, spec.models)
        else:
            backend = create_backend(model_id, spec.models)
    own_cache = cache is None
    if cache is None:
        cache = ResponseCache(options.cache_path)
    method = resolve_method(options.method, spec, backend)
    price: Price = price_for(model_id, spec.models)
    identity = backend.cache_identity()
    params = {**spec.models.params, **options.params}
    out_dir = Path(options.out_dir) if options.out_dir else None
    sink = _Sink(out_dir / "results.jsonl" if out_dir else None)
    usage = UsageTracker()
    scorer_ctx.cache, scorer_ctx.usage = cache, usage  # an LLM judge shares the run's cache; its usage is 'judge'
    records: list[ItemRecord] = []
    errors: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    labels = spec.task.label_names

    def finish_item(ex: Example, output: str, *, extra: dict[str, Any]) -> None:
        cost = usage.record(role=options.role, model=model_id, input_tokens=extra.get("input_tokens", 0),
                            output_tokens=extra.get("output_tokens", 0), latency_s=extra.get("latency_s", 0.0),
                            price=price, cached=extra.get("cached", False), error=bool(extra.get("error")))
        if extra.get("error"):
            errors[extra["error"][:120]] += 1
            rec = ItemRecord(ex.id, ex.label, None, {s.name: None for s in scorers}, ex.slices, error=True)
            sink.write({"id": ex.id, "split": ex.split, "gold": ex.gold, "output": None, "error": extra["error"],
                        "slices": ex.slices, "scores": rec.scores})
        else:
            scores = {s.name: s.score(output, ex) for s in scorers}
            pred = next((sc.prediction for name, sc in scores.items() if name == "label_match"), None)
            rec = ItemRecord(ex.id, ex.label, pred, {n: sc.value for n, sc in scores.items()}, ex.slices)
            unscored = {n: sc.reason for n, sc in scores.items() if sc.value is None}
            for r in unscored.values():
                reasons[r or "unscored"] += 1
            sink.write({"id": ex.id, "split": ex.split, "gold": ex.gold, "output": output,
                        "prediction": pred if pred is not None else _jsonable(scores), "slices": ex.slices,
                        "scores": rec.scores, "unscored": unscored or None, "cost": round(cost, 8), **extra})
        records.append(rec)
        if progress:
            progress("items", len(records), len(items))

    if progress:
        progress("items", 0, len(items))  # the total is known before the first answer: bars read 0/N, not "starting"
    try:
        prompts = [template.render(spec, ex) for ex in items]
        if method == "generate":
            reqs = [GenerationRequest(p, params) for p in prompts]
            for i, gen in generation_stream(backend, cache, identity, reqs):
                extra = {"cached": gen.cached, "input_tokens": gen.input_tokens, "output_tokens": gen.output_tokens,
                         "latency_s": round(gen.latency_s, 6), "error": gen.error}
                finish_item(items[i], gen.text, extra=extra)
        else:
            for i, res in logprob_stream(backend, cache, identity, prompts, labels):
                probs = _softmax(res["logprobs"])
                best = max(range(len(labels)), key=lambda k: res["logprobs"][k])
                extra = {"cached": res["cached"], "input_tokens": res.get("input_tokens", 0),
                         "latency_s": res.get("latency_s", 0.0), "confidence": round(probs[best], 6),
                         "label_logprobs": dict(zip(labels, res["logprobs"]))}
                finish_item(items[i], labels[best], extra=extra)
    finally:
        sink.close()
        if own_cache:
            cache.close()
        if own_backend:
            backend.close()
        for scorer in scorers:
            scorer.close()

    # Completion order varies (concurrent HTTP calls, executor shards): the bootstrap must not see it.
    position = {ex.id: k for k, ex in enumerate(items)}
    records.sort(key=lambda r: position[r.id])
    summary = summarize(records, metric=spec.eval.metric, scorer_names=[s.name for s in scorers], labels=labels,
                        boot=spec.eval.bootstrap)
    main = summary["metrics"][spec.eval.metric]
    run.finished = now_iso()
    artifact = EvalArtifact(
        task=spec.task.name, model=model_id, split=options.split, method=method,
        prompt_source=template.source, prompt_sha=template.sha, metric=spec.eval.metric,
        value=main.value, ci_low=main.ci_low, ci_high=main.ci_high, confidence=main.confidence,
        ci_method=main.ci_method, n=main.n, n_total=len(items), n_unscored=main.n_unscored,
        n_errors=sum(errors.values()), value_unscored_as_wrong=_lower_bound(main, len(items)),
        unscored_reasons=dict(reasons | Counter({f"call failed: {k}": v for k, v in errors.items()})),
        target=spec.eval.target, metrics=summary["metrics"], per_label=summary["per_label"],
        per_slice=summary["per_slice"], usage=usage.to_dict(),
        skipped_rows=[SkippedRowModel(**vars(s)) for s in dataset.skipped],
        results_file=str(out_dir / "results.jsonl") if out_dir else None, run=run,
    )
    if out_dir:
        from tunegate.artifacts import write_json_atomic

        write_json_atomic(out_dir / "eval.json", artifact)
    return artifact


def _lower_bound(main: Any, n_total: int) -> float | None:
    """The metric with every unscored item *and every failed call* counted as wrong (a mean over all items);
    None for corpus metrics such as macro-F1, which have no per-item value to count."""
    if main.name == "macro_f1" or not n_total:
        return None
    return round(main.value * main.n / n_total, 6) if main.value is not None else 0.0


def _jsonable(scores: dict[str, Any]) -> Any:
    preds = {n: sc.prediction for n, sc in scores.items() if sc.prediction is not None}
    if not preds:
        return None
    return next(iter(preds.values())) if len(preds) == 1 else preds
