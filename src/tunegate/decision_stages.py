"""The stages that read other stages' artifacts: the cost model and the verdict, and the one reader of a run
directory's artifacts they share (``collect_artifacts``, returning the artifact models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.artifact_models import (
    AuditArtifact,
    CostArtifact,
    EvalCheckArtifact,
    ProbeArtifact,
    RunArtifacts,
    RunBlock,
    SprintArtifact,
    eval_runs,
)
from tunegate.artifact_models.verdict import VerdictInputs
from tunegate.artifacts import json_safe, now_iso
from tunegate.spec import Spec


def read_artifact_json(path: Path) -> dict[str, Any] | None:
    import json

    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        from tunegate.errors import InputError

        raise InputError(f"unreadable artifact: {exc}", file=path) from None


def collect_artifacts(run_dir: str | Path) -> RunArtifacts:
    """Every stage artifact in a run directory as its model (missing ones as None), and the eval runs from any
    subdirectory; a file that does not match its model is an ``InputError`` naming the file and the key."""
    d = Path(run_dir)

    def one(model):  # noqa: ANN001, ANN202 - an ArtifactModel subclass
        p = d / model.FILENAME
        return model.load(p) if p.exists() else None

    return RunArtifacts(evalcheck=one(EvalCheckArtifact), audit=one(AuditArtifact), sprint=one(SprintArtifact),
                        probe=one(ProbeArtifact), cost=one(CostArtifact), evals=eval_runs(d))


def _run_block(spec: Spec | None) -> RunBlock:
    return RunBlock(seed=spec.seed if spec else 0, config_hash=spec.config_hash() if spec else None,
                    spec_path=str(spec.source) if spec and spec.source else None, finished=now_iso())


def decide_stage(run_dir: str | Path, spec: Spec | None = None) -> dict[str, Any]:
    """`tunegate decide`: the verdict from whatever artifacts exist; writes ``verdict.json`` (returned as a dict)."""
    from tunegate.verdict import decide

    d = Path(run_dir)
    declared_only = spec is not None and any(v is not None for v in spec.evidence.model_dump().values())
    if not d.is_dir() and not declared_only:
        from tunegate.errors import InputError

        raise InputError("not a run directory (it does not exist): run the stages first, or pass the directory "
                         "they wrote (a spec with declared evidence may name a new one)", file=d)
    d.mkdir(parents=True, exist_ok=True)
    arts = collect_artifacts(d)
    declared = spec.evidence.model_dump(exclude_none=True) if spec else {}
    target = spec.eval.target if spec else None
    verdict = decide(evalcheck=arts.evalcheck, audit=arts.audit, sprint=arts.sprint, evals=arts.evals,
                     probe=arts.probe, cost=arts.cost, declared=declared, target=target,
                     thresholds=spec_thresholds(spec))
    present = {"evalcheck": arts.evalcheck, "audit": arts.audit, "sprint": arts.sprint, "probe": arts.probe,
               "cost": arts.cost}
    verdict.inputs = VerdictInputs(**{k: str(Path(run_dir) / f"{k}.json") if a is not None else None
                                      for k, a in present.items()}, evals=[str(e.path) for e in arts.evals])
    verdict.run = _run_block(spec)
    verdict.save(d)
    return verdict.to_dict()


# --------------------------------------------------------------------------------------------------- cost


def spec_thresholds(spec: Spec | None) -> Any:
    """The spec's gate thresholds, which declared evidence must meet as measured evidence does."""
    from tunegate.verdict import Thresholds

    if spec is None:
        return Thresholds()
    return Thresholds(min_auc=spec.check_eval.min_auc, min_judge_kappa=spec.check_eval.min_judge_kappa,
                      min_alpha=spec.audit.min_alpha, max_noise_rate=spec.audit.max_noise_rate)


def cost_stage(spec: Spec, run_dir: str | Path, *, n_draws: int = 20000) -> dict[str, Any]:
    """`tunegate cost`: the 18-month cost model, with the labels still to buy (sampled from the learning curve's
    band) and the quality gain (measured or declared, sampled from its interval) when the run has them."""
    from tunegate.cost_evidence import labels_to_buy_samples, quality_gain_samples
    from tunegate.cost.model import run_cost_model

    arts = collect_artifacts(run_dir)
    declared = spec.evidence.model_dump(exclude_none=True)
    labels, labels_note = labels_to_buy_samples(arts, declared, n_draws=n_draws, seed=spec.seed)
    gain, gain_note = quality_gain_samples(arts, declared, n_draws=n_draws, seed=spec.seed)
    res = run_cost_model(spec.costs, labels_needed=labels, quality_gain=gain, seed=spec.seed, n_draws=n_draws)
    path = Path(run_dir) / CostArtifact.FILENAME
    art = CostArtifact.from_dict(json_safe({
        **res.to_dict(), "artifact": "cost", "caller_inputs": {"labels_to_buy": labels_note,
                                                               "quality_gain_points": gain_note},
        "run": _run_block(spec).model_dump(mode="json")}), source=path)
    art.save(run_dir)
    return art.to_dict()
