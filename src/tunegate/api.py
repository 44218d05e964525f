"""The public API: one verb per stage, for notebooks and scripts (``import tunegate``).

Each function takes a spec (a ``Spec`` or the path of a tunegate.yaml) and returns the stage's typed artifact
(``tunegate.artifact_models``; ``evaluate`` returns ``artifacts.EvalArtifact``), so a notebook reads
``tunegate.decide(run).verdict`` instead of taking a dict apart. They are thin: the stage functions the CLI runs do
the work, so the numbers are the CLI's. Stages that compare with earlier stages (sprint, probe, cost, decide,
report) read and write a run directory, as the CLI's do; ``evaluate``, ``check_eval``, ``audit`` and ``monitor``
write nothing unless given ``out_dir``. Every import is inside a function: ``import tunegate`` stays fast.
Verbs that take ``progress`` call it with notes and counts (``tunegate.progress.Progress``); None is silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunegate.artifact_models import (
        AuditArtifact,
        CostArtifact,
        EvalCheckArtifact,
        MonitorArtifact,
        ProbeArtifact,
        SprintArtifact,
        VerdictArtifact,
    )
    from tunegate.artifacts import EvalArtifact
    from tunegate.progress import Progress
    from tunegate.spec import Spec

__all__ = ["load_spec", "evaluate", "check_eval", "audit", "sprint", "probe", "cost", "decide", "report", "monitor"]


def load_spec(spec: str | Path | Mapping[str, Any], *, data: Any = None, annotations: Any = None,
              workdir: str | Path | None = None) -> Spec:
    """Read and validate a tunegate.yaml; errors name the file, line and key. In a notebook, ``spec`` may be a dict
    shaped like tunegate.yaml and ``data`` / ``annotations`` lists of dicts or DataFrames: they are written once
    to ``workdir`` (a temporary directory by default) so every error still names a file, line and key
    (``tunegate.inputs``)."""
    if isinstance(spec, Mapping) or data is not None or annotations is not None:
        from tunegate.inputs import spec_from_mapping

        if not isinstance(spec, Mapping):
            from tunegate.errors import SpecError

            raise SpecError("give the spec as a dict (e.g. yaml.safe_load of the file) to pass data or annotations in "
                            "memory: relative paths in a spec file would not resolve from the directory they are "
                            "written to", file=spec)
        return spec_from_mapping(spec, data=data, annotations=annotations, workdir=workdir)
    from tunegate.spec import load_spec as _load

    return _load(spec)


def _spec(spec: Spec | str | Path) -> Spec:
    if isinstance(spec, (str, Path)):
        return load_spec(spec)
    return spec


def evaluate(spec: Spec | str | Path, *, model: str | None = None, split: str = "test", limit: int | None = None,
             method: str = "auto", out_dir: str | Path | None = None, backend: Any = None,
             progress: Progress | None = None, **options: Any) -> EvalArtifact:
    """One prompt, one model, one split (``tunegate eval``). Extra keyword arguments are ``EvalOptions`` fields
    (``prompt_file``, ``cache_path``, ``params``, ``executor``, …); ``backend`` replaces the model registry's."""
    from tunegate.evals.runner import EvalOptions, run_eval

    opts = EvalOptions(model=model, split=split, limit=limit, method=method, out_dir=out_dir, **options)
    return run_eval(_spec(spec), opts, backend=backend, progress=progress)


def check_eval(spec: Spec | str | Path, *, out_dir: str | Path | None = None, progress: Progress | None = None,
               **kwargs: Any) -> EvalCheckArtifact:
    """The criterion gate (``tunegate check-eval``): does the suite tell good outputs from bad?"""
    from tunegate.artifact_models import EvalCheckArtifact
    from tunegate.evals.evalcheck import check_eval_stage

    return EvalCheckArtifact.from_dict(check_eval_stage(_spec(spec), out_dir, progress=progress, **kwargs))


def audit(spec: Spec | str | Path, *, out_dir: str | Path | None = None, skip_invalid: bool = False,
          progress: Progress | None = None) -> AuditArtifact:
    """The data gate (``tunegate audit``): agreement, noise, duplicates, leakage, coverage, quantity."""
    from tunegate.artifact_models import AuditArtifact
    from tunegate.audit_stage import audit_stage

    art = audit_stage(_spec(spec), out_dir=out_dir, skip_invalid=skip_invalid, progress=progress)
    return AuditArtifact.from_dict(art)


def sprint(spec: Spec | str | Path, run_dir: str | Path, *, progress: Progress | None = None, **kwargs: Any
           ) -> SprintArtifact:
    """The prompting gate (``tunegate sprint``): candidates raced on dev, finalists on test. Writes
    ``sprint.json``, ``sprint_results.jsonl`` and ``sprint-best/`` into ``run_dir`` (the probe compares with it).
    Keyword arguments are ``sprint.stage.sprint_stage``'s (``budget``, ``models``, ``backend_factory``, …)."""
    from tunegate.artifact_models import SprintArtifact
    from tunegate.sprint.stage import sprint_stage

    return SprintArtifact.from_dict(sprint_stage(_spec(spec), run_dir, progress=progress, **kwargs))


def probe(spec: Spec | str | Path, run_dir: str | Path, *, kinds: tuple[str, ...] = ("embedding_head",),
          curve: bool = True, progress: Progress | None = None, **kwargs: Any) -> ProbeArtifact:
    """The fine-tune probe (``tunegate probe``), compared item by item with the best prompt in ``run_dir``."""
    from tunegate.artifact_models import ProbeArtifact
    from tunegate.probe.stage import probe_stage

    return ProbeArtifact.from_dict(probe_stage(_spec(spec), run_dir, kinds=tuple(kinds), curve=curve,
                                               progress=progress, **kwargs))


def cost(spec: Spec | str | Path, run_dir: str | Path, *, n_draws: int = 20000) -> CostArtifact:
    """The 18-month economics (``tunegate cost``), with the labels and quality gain the run measured."""
    from tunegate.artifact_models import CostArtifact
    from tunegate.decision_stages import cost_stage

    return CostArtifact.from_dict(cost_stage(_spec(spec), run_dir, n_draws=n_draws))


def decide(run_dir: str | Path, spec: Spec | str | Path | None = None) -> VerdictArtifact:
    """The verdict (``tunegate decide``) from the artifacts in ``run_dir`` and the spec's declared evidence."""
    from tunegate.artifact_models import VerdictArtifact
    from tunegate.decision_stages import decide_stage

    return VerdictArtifact.from_dict(decide_stage(run_dir, _spec(spec) if spec is not None else None))


def report(run_dir: str | Path) -> tuple[Path, Path]:
    """``report.html`` (self-contained) and ``report.md`` from a run directory; returns their paths."""
    from tunegate.pipeline import report_stage

    return report_stage(run_dir)


def monitor(spec: Spec | str | Path, log: str | Path, *, out_dir: str | Path | None = None,
            embeddings: bool | None = None, webhook: bool = False, progress: Progress | None = None,
            **kwargs: Any) -> MonitorArtifact:
    """Drift and performance of a production log against the spec's monitor section (``tunegate monitor``).
    The webhook is off unless asked for (a notebook should not page anyone)."""
    from tunegate.artifact_models import MonitorArtifact
    from tunegate.monitor.stage import monitor_stage

    doc = monitor_stage(_spec(spec), log, out_dir=out_dir, embeddings=embeddings, webhook=webhook,
                        progress=progress, **kwargs)
    return MonitorArtifact.from_dict(doc)
