"""The commands that run the whole pipeline (`tunegate run`, `tunegate demo`) and the declared-evidence path
(`tunegate assess`): parse, call one function, print."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tunegate.cli.errors import fail as _fail, on_interrupt, renamed
from tunegate.cli.evaluate import slug as _slug
from tunegate.cli.guard import preflight as _preflight
from tunegate.cli.options import JsonOpt, QuietOpt, deprecated_opt
from tunegate.cli.output import (err, escape, out, print_json as _printed_json, print_verdict, progress_bar, reporter,
                                 warn)


def _run(spec_path: Path, out_dir: Optional[Path], only: list[str] | None, profile: str, model: Optional[str],
         force: bool, resume: bool, quiet: bool, limit: int | None = None, spec: Any = None
         ) -> tuple[dict[str, Any], Path]:
    from tunegate.pipeline import PROFILES, remember_run_dir, resume_dir, run_pipeline, stage_summary
    from tunegate.spec import load_spec

    if profile not in PROFILES:
        _fail(f"--profile must be one of {', '.join(PROFILES)}")
    spec = spec if spec is not None else load_spec(spec_path)
    if out_dir is None:
        prefix = f"run-{_slug(spec.task.name)}-"
        previous = resume_dir(spec_path, prefix) if resume else None
        out_dir = previous or Path("runs") / (prefix + datetime.now().strftime("%Y%m%d-%H%M%S"))
        if resume and previous is None and not quiet:
            err.print("[yellow]--resume: no earlier run of this spec found; starting a new run directory[/]")
    remember_run_dir(spec_path, out_dir)

    def done(stage: str, info: dict[str, Any]) -> None:  # each stage's result as it finishes, not only at the end
        if not quiet:
            err.print(f"[bold]✓ {escape(stage_summary(stage, info))}[/] [dim]({info.get('seconds', 0):.0f} s)[/]")

    from tunegate.runlock import run_lock

    _preflight(spec, model=model)
    with run_lock(out_dir, command="run"), progress_bar(enabled=not quiet, label="model calls") as bar:
        def calls(done: int, total: int | None) -> None:  # the sprint's calls, once estimated, on the same bar
            if bar is not None and total:
                bar(done, total)

        progress = reporter(quiet, {"items": bar, "calls": calls if bar is not None else None})
        manifest = run_pipeline(spec, out_dir, only=only, profile=profile, model=model, force=force,
                                progress=progress, stage_done=done, limit=limit)
    return manifest, out_dir


def _dry_run(config: Path, profile: str, model: Optional[str], limit: Optional[int], only: list[str] | None,
             json_out: bool) -> None:
    from tunegate.pipeline import PROFILES
    from tunegate.run_estimate import estimate_run
    from tunegate.spec import load_spec

    if profile not in PROFILES:
        _fail(f"--profile must be one of {', '.join(PROFILES)}")
    est = estimate_run(load_spec(config), profile=profile, model=model, limit=limit, only=only)
    if json_out:
        _printed_json(est, True)
        return
    from rich.table import Table

    t = Table(title=f"dry run ({profile} profile): nothing was called", title_justify="left")
    for col in ("stage", "calls", "tokens in", "tokens out", "cost", "time"):
        t.add_column(col, justify="left" if col == "stage" else "right")
    for r in est["stages"] + [{"stage": "total", **est["total"]}]:
        cost = "–" if r.get("cost") is None else f"{r['cost']:,.2f}"
        t.add_row(r["stage"], f"{r['calls']:,}", f"{r.get('input_tokens', 0):,}", f"{r.get('output_tokens', 0):,}",
                  cost, f"{r['seconds']:,.0f} s")
    out.print(t)
    for r in est["stages"]:
        model = escape(f" [{r['model']}]") if r.get("model") else ""
        out.print(f"{r['stage']}{model}: {escape(r.get('note') or '')}")
    for a in est["assumptions"]:
        out.print(f"[dim]· {escape(a)}[/]")


@on_interrupt("interrupted. Re-run with --resume to continue where it stopped.")
def run_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default: "
                                                    "runs/run-<task>-<time>).")] = None,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Run only these stages (repeatable): "
                                                      "check-eval, audit, eval, sprint, probe, cost, decide, "
                                                      "report, or a plug-in stage (docs/plugins.md).")] = None,
    profile: Annotated[str, typer.Option("--profile", help="quick (the sprint stands in for the single-prompt "
                                         "eval, embedding-head probe, 20,000 cost draws) or full (every stage, "
                                         "all test items, embedding head and LoRA).")] = "full",
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model for the evaluation stage.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue this spec's last run directory (the --out it "
                                         "was given, or the latest under runs/): finished stages are skipped and "
                                         "answered model calls come from the cache.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-run stages even when their inputs are unchanged.")
                     ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate calls, tokens, cost and time per stage, and "
                                          "stop before any model is called.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="For a quick look: at most N test items in "
                                                 "the criterion gate, the eval and the sprint (the probe still "
                                                 "trains and tests on its full splits).")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run the registered stages in order into one run directory (check-eval, audit, eval, sprint, probe, cost,
    decide, report, and any plug-in stage), printing each stage's result as it finishes and skipping stages whose inputs are unchanged; ends with
    the verdict and the report's path.

    With --json: the pipeline manifest and the verdict ({"run_dir", "pipeline", "verdict"}); with --dry-run, the
    estimate. Exit code 5 when too many model calls failed, 2 for bad input; the verdict itself exits 0.
    """
    if dry_run:
        _dry_run(config, profile, model, limit, only, as_json)
        return
    manifest, d = _run(config, out_dir, only, profile, model, force, resume, quiet or as_json, limit)
    if _ending(manifest, d, as_json):
        return
    out.print(f"run directory: {escape(str(d))}" + (f" · report: {escape(str(Path(d) / 'report.html'))}"
                                                     if (Path(d) / "report.html").exists() else ""))


def assess_cmd(
    answers: Annotated[Optional[Path], typer.Option("--answers", help="A YAML file of answers (keys as in "
                                                    "`tunegate assess --list`) instead of asking.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory for cost.json and "
                                                    "verdict.json (default: runs/assess).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out-file", help="Where to write the answers as a spec "
                                                     "(default: assess.yaml).")] = None,
    run_dir_old: Annotated[Optional[Path], deprecated_opt("--out", "--run-dir")] = None,
    list_questions: Annotated[bool, typer.Option("--list", help="List the question keys and exit.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Walk through the framework's questions (criterion, data, sprint results, volumes, prices, team), write the
    answers as a spec with declared evidence, and print the verdict and the 18-month cost model at once."""
    from tunegate.assess import QUESTIONS, ask, load_answers
    from tunegate.assess_plain import run_assess

    quiet = quiet or as_json
    if out_dir is not None and out_dir.suffix in (".yaml", ".yml"):  # the old meaning: --out was the spec file
        warn(f"--out {out_dir}: --out is now the run directory; write the spec with --out-file", quiet)
        out_file = renamed(out_file, out_dir, "--out FILE.yaml", "--out-file", quiet=True)
        out_dir = None
    out_dir = renamed(out_dir, run_dir_old, "--run-dir", "--out", quiet=quiet) or Path("runs/assess")
    out_file = out_file or Path("assess.yaml")
    if list_questions:
        for q in QUESTIONS:
            out.print(f"{q.key:<18} {escape(q.text)}" + (f" [default {q.default}]" if q.default is not None else ""))
        return
    if answers is not None:
        got = load_answers(answers)
    else:
        got = ask(lambda q: typer.prompt(q.text, default="" if q.default is None else str(q.default),
                                         show_default=q.default is not None),
                  echo=lambda s: out.print(f"[bold]{escape(s)}[/]" if s.strip() else ""))
    path, cost, verdict = run_assess(got, out_file, out_dir)
    if _printed_json(verdict, as_json):
        return
    written = "cost.json, verdict.json" if cost else "verdict.json (no monthly volume given: costs not modelled)"
    out.print(f"wrote {escape(str(path))} (declared evidence) and {escape(str(out_dir))}/{written}")
    if cost:
        env = cost["expected_net_value_of_finetuning"]
        out.print(f"18-month TCO median: prompting {cost['tco']['prompting']['median']:,.0f}, fine-tuning "
                  f"{cost['tco']['fine_tuning']['median']:,.0f}; P(fine-tune cheaper) "
                  f"{cost['p_finetune_cheaper']:.2f}; expected net value of fine-tuning {env['mean']:,.0f}")
    plain = verdict.get("plain") or {}
    if plain:
        out.print(f"[bold]{escape(plain.get('headline', ''))}[/] {escape(plain.get('why', ''))}")
    print_verdict(verdict)


def _find_example() -> Path:
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        p = base / "examples" / "support-triage" / "tunegate.yaml"
        if p.exists():
            return p
    _fail("the example task examples/support-triage was not found (run from the tunegate checkout)")
    raise AssertionError  # unreachable


@on_interrupt("interrupted. Run `tunegate demo` again: finished stages and model calls are reused.")
def demo_cmd(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory.")] = Path("runs/demo"),
    profile: Annotated[str, typer.Option("--profile", help="quick (default: no single-prompt eval beside the "
                                         "sprint, embedding-head probe, 20,000 cost draws) or full.")] = "quick",
    task: Annotated[str, typer.Option("--task", help="classification (the support-triage example), extraction "
                                      "(order fields to JSON) or generation (reply drafting, judged by rouge_l "
                                      "offline).")] = "classification",
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The whole pipeline on an example task with the embedded offline models, ending with the verdict and the
    report's path. The default model (SmolLM2-135M) shows the pipeline, not what a capable model achieves."""

    quiet = quiet or as_json
    if task == "classification":
        manifest, d = _run(_find_example(), out_dir, None, profile, None, False, False, quiet)
    else:
        from tunegate.demo_tasks import demo_spec

        spec = demo_spec(task)
        manifest, d = _run(Path(spec.source), out_dir, None, profile, None, False, False, quiet, spec=spec)
    if not _ending(manifest, d, as_json):
        out.print(f"report: {escape(str(Path(d) / 'report.html'))}")


def _ending(manifest: dict[str, Any], run_dir: Path, as_json: bool) -> bool:
    """The one ending `run` and `demo` share: the verdict, as text or (--json) with the manifest; True if JSON."""
    from tunegate.decision_stages import read_artifact_json

    verdict = read_artifact_json(Path(run_dir) / "verdict.json")
    if as_json:
        return _printed_json({"run_dir": str(run_dir), "pipeline": manifest, "verdict": verdict}, True)
    if verdict:
        print_verdict(verdict)
    return False
