"""The pipeline: the registered stages (``tunegate.stages``) run in order into one run directory.

The pipeline owns what is common to stages: choosing the run directory, recording provenance, skipping a stage
whose declared inputs are unchanged, the manifest (``pipeline.json``), and the exit code a stage's gate maps to
(0 pass, 3 fail, 4 unknown), so cron jobs and CI can act on a gate without parsing JSON. What a stage reads and
writes is declared by the stage itself, so adding one edits nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import tunegate.stages.builtin  # noqa: F401  (registers the built-in stages)
from tunegate.artifact_models.pipeline import PipelineArtifact
from tunegate.artifacts import ARTIFACT_SCHEMA_VERSION, RunInfo, now_iso, package_versions, write_json_atomic
from tunegate.audit_stage import audit_stage, build_audit  # noqa: F401  (re-exported: the stage functions)
from tunegate.decision_stages import collect_artifacts, cost_stage, decide_stage, spec_thresholds  # noqa: F401
from tunegate.progress import Progress, routed
from tunegate.spec import Spec
from tunegate.stages.base import PROFILES, STAGE_REGISTRY, Profile, Stage, StageContext  # noqa: F401
from tunegate.stages.builtin import report_stage  # noqa: F401  (re-exported: `tunegate report`, the API)



def __getattr__(name: str) -> Any:
    """``STAGES``: the registered stage names in pipeline order, read when asked (a plug-in may register late)."""
    if name == "STAGES":
        return tuple(STAGE_REGISTRY.names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _data_files(spec: Spec) -> list[Path]:
    """The files the spec points at (data, annotations, the criterion gate's ratings): an input of every stage."""
    data: list[Path] = []
    if spec.data is not None:
        data = [spec.resolve(p) for p in ([spec.data.path] if spec.data.path else list((spec.data.paths or {}).values()))]
        if spec.data.annotations:
            data.append(spec.resolve(spec.data.annotations.path))
    ce = spec.check_eval
    return data + [spec.resolve(p) for p in (ce.human_ratings, ce.rated_outputs) if p]


def _stage_hash(spec: Spec, stage: str | Stage, run_dir: Path, profile: Profile, model: str,
                limit: int | None = None) -> str:
    """What a stage's result depends on: the spec, its data files, the run-directory files the stage declares in
    ``needs`` (globs expanded, its own outputs left out), the profile and model."""
    import hashlib
    import json

    st = STAGE_REGISTRY[stage] if isinstance(stage, str) else stage
    files, matched = st.needed_paths(run_dir)
    # "upstream" / "evals" keep the keys of the hashes written before stages declared their needs, so a run
    # directory from then is not redone for nothing
    payload = {"stage": st.name, "config": spec.config_hash(), "data": _fingerprint(_data_files(spec)),
               "profile": profile.name, **({"limit": limit} if limit else {}),
               "model": model, "upstream": _fingerprint(files), "evals": _fingerprint(matched)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def stage_summary(stage: str, info: dict[str, Any]) -> str:
    """One line a person reads as soon as a stage finishes: its gate and first reason, the sprint's best, the
    probe's value — so a failing gate is seen in the first minutes, not at the end."""
    if stage in STAGE_REGISTRY:
        return STAGE_REGISTRY[stage].headline(info)
    return f"{stage}: " + (str(info["gate"]) if info.get("gate") is not None else "done")


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Validate against ``PipelineArtifact`` (a bad manifest names its key), then write it as built."""
    PipelineArtifact.from_dict(manifest, source=path)
    write_json_atomic(path, manifest)


def limited_spec(spec: Spec, limit: int | None) -> Spec:
    """The spec with at most ``limit`` test items for a quick look (the eval's limit, the sprint's test items,
    the criterion gate's items); stage hashes include the limit, so a limited run never passes for a full one."""
    if not limit:
        return spec
    sprint = spec.sprint.model_copy(update={"test_items": min(limit, spec.sprint.test_items or limit)})
    check_eval = spec.check_eval.model_copy(update={"items": min(limit, spec.check_eval.items)}) \
        if getattr(spec.check_eval, "items", None) else spec.check_eval
    return spec.model_copy(update={"sprint": sprint, "check_eval": check_eval})


def _legacy_progress(progress: Progress | None, eval_progress: Any, sprint_progress: Any) -> Progress | None:
    """The pre-protocol callbacks (eval (done, total), sprint (what, done, total)) as one ``Progress``; kept for
    one release so callers can move over. ``progress`` then hears notes only, as it did."""
    if eval_progress is None and sprint_progress is None:
        return progress
    import functools
    import warnings

    warnings.warn("run_pipeline(eval_progress=..., sprint_progress=...) is deprecated: pass one "
                  "progress(what, done, total) (tunegate.progress.Progress)", DeprecationWarning, stacklevel=3)
    counts = {"items": eval_progress} if eval_progress is not None else {}
    if sprint_progress is not None:
        counts |= {what: functools.partial(sprint_progress, what) for what in ("rounds", "calls")}
    return routed(progress, counts)


def run_pipeline(
    spec: Spec, run_dir: str | Path, *, only: list[str] | None = None, profile: str = "quick",
    model: str | None = None, force: bool = False, progress: Progress | None = None,
    eval_progress: Callable[[int, int | None], None] | None = None, sprint_progress: Any = None,
    stage_done: Callable[[str, dict[str, Any]], None] | None = None, limit: int | None = None,
) -> dict[str, Any]:
    """Run the registered stages in order into one run directory; a stage whose inputs are unchanged since its
    last run there is skipped. Returns the manifest (also ``pipeline.json``): per stage status, seconds, input
    hash, usage, and ``stages_run`` (the stages this call ran or found unchanged, in order).
    ``stage_done(stage, info)`` hears each stage's result as it finishes (``stage_summary`` words it);
    ``limit`` caps the test items of every stage (``limited_spec``). ``progress`` hears every stage's notes and
    counts; ``eval_progress`` / ``sprint_progress`` are deprecated aliases (the counts' old callbacks)."""
    import json
    import time

    from tunegate.errors import TunegateError

    progress = _legacy_progress(progress, eval_progress, sprint_progress)
    spec = limited_spec(spec, limit)
    prof = PROFILES[profile]
    names = STAGE_REGISTRY.names()
    unknown = [s for s in only or [] if s not in names]
    if unknown:
        raise TunegateError(f"unknown stage(s) {', '.join(unknown)} (stages: {', '.join(names)})")
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    manifest_path = d / "pipeline.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    stages = manifest.setdefault("stages", {})
    model_id = model or spec.models.default
    ran: list[str] = []
    manifest.update({"schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "pipeline", "task": spec.task.name,
                     "profile": prof.name, "model": model_id, "config_hash": spec.config_hash(),
                     "stages_run": ran,
                     "run": RunInfo(seed=spec.seed, config_hash=spec.config_hash(),
                                    spec_path=str(spec.source) if spec.source else None,
                                    packages=package_versions()).model_dump(mode="json")})
    ctx = StageContext(spec=spec, run_dir=d, profile=prof, model=model_id, limit=limit, progress=progress)
    for st in list(STAGE_REGISTRY):
        stage = st.name
        if (only and stage not in only) or (not only and stage in prof.skip):
            continue
        if st.needs_data and spec.data is None:
            if progress:
                progress(f"{stage}: skipped, the spec has no data (its evidence is declared)")
            continue
        why_not = st.skip_reason(ctx)
        if why_not:
            if progress:
                progress(f"{stage}: {why_not}")
            continue
        h = _stage_hash(spec, st, d, prof, model_id, limit)
        prev = stages.get(stage, {})
        ran.append(stage)
        if not force and prev.get("input_hash") == h and prev.get("status") == "done":
            stages[stage] = {**prev, "skipped": True}
            if progress:
                progress(f"{stage}: unchanged since the last run, skipped")
            continue
        if progress:
            progress(f"{stage}: running")
        t0 = time.perf_counter()
        info = st.summary(st.run(ctx))
        stages[stage] = {"status": "done", "input_hash": h, "seconds": round(time.perf_counter() - t0, 2),
                         "finished": now_iso(), "skipped": False, **info}
        _write_manifest(manifest_path, manifest)
        if stage_done:
            stage_done(stage, stages[stage])
    usage_by_stage = {k: v["usage"]["by_role"] for k, v in stages.items() if v.get("usage")}
    manifest["usage_by_stage_and_role"] = usage_by_stage
    manifest["run"]["finished"] = now_iso()
    _write_manifest(manifest_path, manifest)
    return manifest
