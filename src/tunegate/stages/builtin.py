"""The eight built-in stages as thin adapters over their stage functions, registered in pipeline order.

Each adapter only maps ``StageContext`` onto its function's signature and picks the numbers the manifest keeps;
the work stays in the stage's own module (imported when the stage runs, so importing this module is cheap).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.stages.base import STAGE_REGISTRY, Stage, StageContext, register_stage

# what the decision stages read; "**/eval.json" as decision_stages.collect_artifacts and the report read it
EVAL_RUNS = "**/eval.json"


def report_stage(run_dir: str | Path) -> tuple[Path, Path]:
    """`tunegate report`: report.html (self-contained) and report.md from the artifacts in a run directory."""
    from tunegate.report.render import render_report

    return render_report(run_dir)


def _first(items: Any) -> str | None:
    return str(items[0]) if isinstance(items, list) and items else None


def _ci(d: dict) -> str:
    v, lo, hi = d.get("value"), d.get("ci_low"), d.get("ci_high")
    if v is None:
        return "no value"
    return f"{v:.3f}" + (f" (95% CI {lo:.3f}–{hi:.3f})" if lo is not None and hi is not None else "")


def _gate_line(label: str, info: dict[str, Any]) -> str:
    reason = info.get("reason")
    return f"{label}: {info.get('gate')}" + (f" — {reason}" if reason else "")


class CheckEvalStage(Stage):
    name, produces, needs_data = "check-eval", "evalcheck.json", True

    def run(self, ctx: StageContext) -> Any:
        from tunegate.evals.evalcheck import check_eval_stage

        return check_eval_stage(ctx.spec, ctx.run_dir, progress=ctx.progress)

    def summary(self, art: Any) -> dict[str, Any]:
        return {"gate": art["gate"], "auc": art.get("auc"), "reason": _first(art.get("reasons"))}

    def headline(self, info: dict[str, Any]) -> str:
        return _gate_line("criterion gate", info)


class AuditStage(Stage):
    # audit_stage also reads probe.json (labels needed, from a later stage); not a declared need, or every full
    # run would redo the audit once after the probe
    name, produces, needs_data, writes = "audit", "audit.json", True, ("adjudication_queue.csv",)

    def run(self, ctx: StageContext) -> Any:
        from tunegate.audit_stage import audit_stage

        return audit_stage(ctx.spec, out_dir=ctx.run_dir, progress=ctx.progress)

    def summary(self, art: Any) -> dict[str, Any]:
        return {"gate": art["gate"], "reason": _first(art.get("reasons"))}

    def headline(self, info: dict[str, Any]) -> str:
        return _gate_line("data gate", info)


class EvalStage(Stage):
    name, produces, needs_data, writes = "eval", "eval-test/eval.json", True, ("eval-test",)

    def run(self, ctx: StageContext) -> Any:
        from tunegate.evals.runner import EvalOptions, run_eval

        eval_limit = min(x for x in (ctx.profile.eval_limit, ctx.limit, 10**12) if x)
        opts = EvalOptions(model=ctx.model, split="test", limit=eval_limit if eval_limit < 10**12 else None,
                           out_dir=ctx.run_dir / "eval-test")
        return run_eval(ctx.spec, opts, progress=ctx.progress)

    def summary(self, art: Any) -> dict[str, Any]:
        return {"value": art.value, "ci_low": art.ci_low, "ci_high": art.ci_high, "usage": art.usage}

    def headline(self, info: dict[str, Any]) -> str:
        return f"eval: {_ci(info)}"


class SprintStage(Stage):
    name, produces, needs_data = "sprint", "sprint.json", True
    writes = ("sprint_results.jsonl", "sprint-best")

    def run(self, ctx: StageContext) -> Any:
        from tunegate.sprint.stage import sprint_stage

        return sprint_stage(ctx.spec, ctx.run_dir, progress=ctx.progress)

    def summary(self, art: Any) -> dict[str, Any]:
        best = art.get("best") or {}
        return {"gate": art.get("gate"), "best": best.get("candidate"), "value": best.get("value"),
                "ci_low": best.get("ci_low"), "ci_high": best.get("ci_high"), "calls_used": art.get("calls_used"),
                "calls_full_grid": art.get("calls_full_grid"), "usage": art.get("usage")}

    def headline(self, info: dict[str, Any]) -> str:
        return (f"sprint: best {info.get('best')} {_ci(info)}; gap to target: {info.get('gate')}"
                + (f" ({info.get('calls_used')} calls)" if info.get("calls_used") is not None else ""))


class ProbeStage(Stage):
    # the best prompt's results: sprint-best/ after a sprint, else the earliest test evaluation (probe.stage)
    name, produces, needs_data = "probe", "probe.json", True
    needs = ("sprint.json", EVAL_RUNS)
    writes = ("adapter", "probe-lora", "probe-external-*")

    def skip_reason(self, ctx: StageContext) -> str | None:
        if ctx.spec.task.kind != "classification" and "lora" not in ctx.profile.probe_kinds:
            return "the quick profile's embedding head is for classification; skipped"
        return None

    def run(self, ctx: StageContext) -> Any:
        from tunegate.probe.stage import probe_stage

        classification = ctx.spec.task.kind == "classification"
        kinds = ctx.profile.probe_kinds if classification else ("lora",)
        return probe_stage(ctx.spec, ctx.run_dir, kinds=kinds, curve=classification, progress=ctx.progress)

    def summary(self, art: Any) -> dict[str, Any]:
        return {"closes_gap": art["closes_gap"],
                "probes": [{k: p.get(k) for k in ("kind", "value", "ci_low", "ci_high")} for p in art["probes"]]}

    def headline(self, info: dict[str, Any]) -> str:
        parts = [f"{p.get('kind')} {_ci(p)}" for p in info.get("probes") or []]
        return f"probe: {'; '.join(parts) or 'no probe'}; reaches the target: {info.get('closes_gap')}"


class CostStage(Stage):
    # cost_evidence reads labels on hand (probe, else audit) and the best prompt (sprint, else the eval runs)
    name, produces = "cost", "cost.json"
    needs = ("probe.json", "sprint.json", "audit.json", EVAL_RUNS)

    def run(self, ctx: StageContext) -> Any:
        from tunegate.decision_stages import cost_stage

        return cost_stage(ctx.spec, ctx.run_dir, n_draws=ctx.profile.cost_draws)

    def summary(self, art: Any) -> dict[str, Any]:
        return {"p_finetune_cheaper": art["p_finetune_cheaper"],
                "p_net_value_positive": (art.get("expected_net_value_of_finetuning") or {}).get("p_positive")}

    def headline(self, info: dict[str, Any]) -> str:
        p, cheaper = info.get("p_net_value_positive"), info.get("p_finetune_cheaper")
        return "cost: P(fine-tuning's net value > 0) " + (f"{p:.2f}" if p is not None else "unknown") + \
            (f", P(fine-tune cheaper) {cheaper:.2f}" if cheaper is not None else "")


class DecideStage(Stage):
    name, produces = "decide", "verdict.json"
    needs = ("evalcheck.json", "audit.json", "sprint.json", "probe.json", "cost.json", EVAL_RUNS)

    def run(self, ctx: StageContext) -> Any:
        from tunegate.decision_stages import decide_stage

        return decide_stage(ctx.run_dir, ctx.spec)

    def summary(self, art: Any) -> dict[str, Any]:
        return {"verdict": art["verdict"], "confidence": art["confidence"]}

    def headline(self, info: dict[str, Any]) -> str:
        return f"verdict: {info.get('verdict')} ({info.get('confidence')} confidence)"


class ReportStage(Stage):
    name, produces, writes = "report", "report.html", ("report.md",)
    needs = ("verdict.json", "cost.json", "audit.json", "probe.json", "evalcheck.json", "sprint.json", EVAL_RUNS)

    def run(self, ctx: StageContext) -> Any:
        return report_stage(ctx.run_dir)

    def summary(self, art: Any) -> dict[str, Any]:
        html, md = art
        return {"html": str(html), "md": str(md)}

    def headline(self, info: dict[str, Any]) -> str:
        return f"report: {info.get('html')}"


BUILTIN_STAGES = (CheckEvalStage(), AuditStage(), EvalStage(), SprintStage(), ProbeStage(), CostStage(),
                  DecideStage(), ReportStage())
for _stage in BUILTIN_STAGES:
    if _stage.name not in STAGE_REGISTRY:  # a re-import, or a user's replacement registered first, is kept
        register_stage(_stage)
