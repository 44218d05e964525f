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
from tunegate.audit_stage import audit_stage, build_audit  # noqa: F401  (re-exported: the stage functions)
from tunegate.decision_stages import collect_artifacts, cost_stage, decide_stage, spec_thresholds  # noqa: F401
from tunegate.spec import Spec

GATE_EXIT_CODES = {"pass": 0, "fail": 3, "unknown": 4}
ProgressFn = Callable[[str], None]


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
