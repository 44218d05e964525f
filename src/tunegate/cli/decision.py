"""The commands after the gates: `tunegate probe`, `cost`, `decide`, `report` (parse, call one function, print)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tunegate.cli.errors import fail
from tunegate.cli.guard import holding, preflight
from tunegate.cli.options import ExecutorOpt, JsonOpt, QuietOpt, RayAddressOpt, StoreOpt
from tunegate.cli.output import escape, executor_for, out, print_cost, print_json, print_probe, print_verdict, reporter


def probe_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec.")],
    kind: Annotated[str, typer.Option("--kind", help="embedding_head (seconds), lora (minutes on a CPU; a GPU is "
                                      "used when present), all, or none (only --external).")] = "embedding_head",
    curve: Annotated[bool, typer.Option("--curve/--no-curve", help="Fit a learning curve (embedding head at "
                                        "per-class sizes from 2 examples per class up to the training set).")] = True,
    external: Annotated[Optional[list[str]], typer.Option("--external", help="A fine-tune made elsewhere, by model "
                                                          "id (repeatable), evaluated and compared like a probe.")
                        ] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory (an eval.json there is the prompt "
                                          "the probe is compared with).")] = Path("runs/probe"),
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Does learning from the labels close the gap? Probes trained on train, scored on test with CIs, compared
    with the best prompt item by item, and a learning curve with a back-test and the labels needed."""
    from tunegate.probe.stage import KINDS, probe_stage
    from tunegate.spec import load_spec

    kinds = KINDS if kind == "all" else (() if kind == "none" else (kind,))
    spec = load_spec(config)
    preflight(spec)
    for model_id in external or ():
        preflight(spec, model=model_id, data=False)
    with executor_for(executor, ray_address) as ex, holding(out_dir, "probe"):
        art = probe_stage(spec, out_dir, kinds=kinds, curve=curve, external=tuple(external or ()),
                          progress=reporter(quiet or as_json), executor=ex)
    if print_json(art, as_json):
        return
    print_probe(art)
    out.print(f"written: {escape(str(Path(out_dir) / 'probe.json'))}")


def cost_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (its costs: section holds the inputs).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory (probe.json there, if any, supplies "
                                          "labels needed and the quality gain).")] = Path("runs/cost"),
    draws: Annotated[int, typer.Option("--draws", help="Monte Carlo draws.")] = 20000,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The 18-month total cost of ownership of keep-prompting vs fine-tune, evaluation tax included, with
    uncertainty."""
    from tunegate.decision_stages import cost_stage
    from tunegate.spec import load_spec

    if draws < 2:
        fail(f"--draws must be at least 2 (a distribution needs more than one draw), got {draws}")
    art = cost_stage(load_spec(config), out_dir, n_draws=draws)
    if print_json(art, as_json):
        return
    print_cost(art)
    out.print(f"written: {escape(str(Path(out_dir) / 'cost.json'))}")


def decide_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory holding the stage artifacts.")],
    config: Annotated[Optional[Path], typer.Option("--spec", help="The spec (target and declared evidence).")] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The verdict from whatever artifacts exist: FIX_EVAL_FIRST, SHIP_PROMPT, IMPROVE_DATA_FIRST, KEEP_PROMPTING
    or FINE_TUNE, each condition held / not held / unknown with its evidence, and next actions."""
    from tunegate.decision_stages import decide_stage
    from tunegate.spec import load_spec

    spec = load_spec(config) if config else None
    if run_dir.exists() and not run_dir.is_dir():
        fail(f"{run_dir}: not a directory (give a run directory)")
    declared = spec is not None and any(vars(spec.evidence).values())
    if not run_dir.exists() and not declared:  # nothing measured and nothing declared: a typo, not a verdict
        fail(f"{run_dir}: run directory not found (give the directory the stages wrote into, or --spec with "
             "declared evidence)")
    art = decide_stage(run_dir, spec)
    if print_json(art, as_json):
        return
    print_verdict(art)


def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory holding the stage artifacts, or a monitoring run "
                                                 "(monitor.json: the drift report).")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write report.html (one self-contained file) and report.md from a run directory's artifacts; a monitoring
    run directory gets the drift report (before/after distributions, the tests, the history)."""
    if not run_dir.is_dir():
        fail(f"{run_dir}: run directory not found" if not run_dir.exists() else
             f"{run_dir}: not a directory (give a run directory)")
    if store is not None and store.exists() and not store.is_file():
        fail(f"--store {store}: not a file (give the portfolio's SQLite file)")
    from tunegate.report.render import render_report

    html, md = render_report(run_dir, store=store)
    if as_json:
        sys.stdout.write(json.dumps({"html": str(html), "md": str(md)}) + "\n")
        return
    out.print(f"wrote {escape(str(html))} and {escape(str(md))}")
