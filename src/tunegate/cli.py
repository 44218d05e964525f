"""The ``tunegate`` command line: parse, call one function, print.

No logic lives here beyond turning flags into options and results into text or JSON. Errors the user can fix
print as one line on stderr with a non-zero exit code; progress goes to stderr so ``--json`` output on stdout
stays machine-readable.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from tunegate.cli_output import (
    EXIT_FAILED_CALLS,
    EXIT_INTERRUPTED,
    ExecutorOpt,
    RayAddressOpt,
    err,
    executor_for,
    fail as _fail,
    fmt,
    out,
    print_audit,
    print_cost,
    print_eval,
    print_json as _printed_json,
    print_probe,
    print_verdict,
    progress_bar,
)

from tunegate import __version__, cli_checkeval, cli_interop, cli_monitor, cli_portfolio, cli_run, cli_sprint
from tunegate.cli_guard import guard_commands, preflight as _preflight
from tunegate.errors import TunegateError

app = typer.Typer(
    name="tunegate",
    help=(
        "Keep prompting, or fine-tune? tunegate runs your task through your models on your data and reports "
        "every number with a confidence interval, cost and provenance.\n\n"
        "Start with `tunegate init DATA_FILE` to write a spec from your data, then `tunegate eval tunegate.yaml`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        out.print(f"tunegate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evidence for the keep-prompting / fine-tune decision."""


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[:60]


@app.command("eval")
def eval_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (tunegate.yaml), or a directory holding one.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model id, e.g. local:smollm2 or "
                                                 "openai:gpt-4o-mini (default: models.default in the spec).")] = None,
    prompt: Annotated[Optional[Path], typer.Option("--prompt", "-p", help="Prompt template file with "
                                                   "{{input}} etc. (default: eval.prompt in the spec).")] = None,
    split: Annotated[str, typer.Option("--split", "-s", help="Which split to evaluate: train, dev or test.")] = "test",
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Evaluate only the first N items.")] = None,
    method: Annotated[str, typer.Option("--method", help="generate (free text, parsed), label_logprobs (score each "
                                        "label's likelihood; local models), or auto.")] = "auto",
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory for eval.json and "
                                                    "results.jsonl (default: runs/eval-<task>-<model>-<time>).")] = None,
    cache: Annotated[Optional[Path], typer.Option("--cache", help="Response cache file (default: "
                                                  "$TUNEGATE_HOME/cache/responses.sqlite).")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip malformed data rows instead of "
                                               "stopping; each skipped row is listed in eval.json.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    max_failed_share: Annotated[Optional[float], typer.Option("--max-failed-share", help="Exit 5 when more than "
                                "this share of model calls failed (default: eval.max_failed_share, 0.05); a run "
                                "with every call failed always exits 5.")] = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Evaluate one prompt with one model on one split: metric with CI, unscored count, calls, cost.

    Every finished call is cached before the next one is used: re-run the same command after an interruption
    and it resumes without repeating calls.
    """
    from tunegate.evals.runner import EvalOptions, FailedCallsError, run_eval
    from tunegate.spec import load_spec

    try:
        spec = load_spec(config)
        model_id = model or spec.models.default
        if out_dir is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out_dir = Path("runs") / f"eval-{_slug(spec.task.name)}-{_slug(model_id)}-{split}-{stamp}"
        opts = EvalOptions(model=model_id, split=split, limit=limit, method=method, prompt_file=prompt,
                           out_dir=out_dir, cache_path=cache, skip_invalid=skip_invalid,
                           max_failed_share=max_failed_share if max_failed_share is not None
                           else spec.eval.max_failed_share)
        _preflight(spec, model=model_id, split=split, prompt_file=prompt, skip_invalid=skip_invalid)
        with executor_for(executor, ray_address) as ex:
            opts.executor = ex
            with progress_bar(enabled=not quiet, label=f"eval {model_id} on {split}") as progress:
                art = run_eval(spec, opts, progress=progress)
    except FailedCallsError as exc:
        if as_json:
            sys.stdout.write(exc.artifact.model_dump_json() + "\n")
        else:
            print_eval(exc.artifact)
        _fail(str(exc), EXIT_FAILED_CALLS)
    except TunegateError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted. Finished calls are cached: run the same command again to resume.", EXIT_INTERRUPTED)

    if as_json:
        sys.stdout.write(art.model_dump_json() + "\n")
        return
    print_eval(art)


@app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="First run directory (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="Second run directory (the challenger).")],
    metric: Annotated[Optional[str], typer.Option("--metric", help="Metric to compare (default: the runs').")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Paired comparison of two runs on their shared items: B − A with a paired-bootstrap CI and exact McNemar."""
    from tunegate.evals.compare import compare_runs

    try:
        res = compare_runs(run_a, run_b, metric=metric, seed=seed)
    except TunegateError as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(res.model_dump_json() + "\n")
        return
    pct = int(res.confidence * 100)
    out.print(f"{res.metric} on {res.n_shared} shared items (only in A: {res.n_only_a}, only in B: {res.n_only_b})")
    out.print(f"  A {escape(res.model_a)}: {fmt(res.value_a)}    B {escape(res.model_b)}: {fmt(res.value_b)}")
    out.print(f"  B − A: [bold]{fmt(res.diff)}[/]  ({pct}% paired-bootstrap CI {fmt(res.diff_ci_low)} to "
              f"{fmt(res.diff_ci_high)})")
    if res.mcnemar:
        m = res.mcnemar
        out.print(f"  exact McNemar: p = {m['p_value']:.4g} (A wrong/B right {m['b01']}, A right/B wrong {m['b10']})")
    if res.note:
        out.print(f"[yellow]note:[/] {escape(res.note)}")


@app.command("audit")
def audit_cmd(
    config: Annotated[Optional[Path], typer.Argument(help="The task spec (omit it with --annotations or "
                                                     "--examples).")] = None,
    annotations: Annotated[Optional[Path], typer.Option("--annotations", help="Stand-alone: a long-format "
                                                        "annotation file (CSV/TSV/JSONL/Parquet).")] = None,
    examples: Annotated[Optional[Path], typer.Option("--examples", help="Stand-alone: labeled examples "
                                                     "(CSV/JSONL/Parquet, or CLINC-style JSON with splits).")] = None,
    test: Annotated[Optional[Path], typer.Option("--test", help="Stand-alone: the test file, checked for "
                                                 "leakage against --examples.")] = None,
    level: Annotated[str, typer.Option("--level", help="Agreement level: nominal, ordinal, interval, ratio.")
                     ] = "nominal",
    method: Annotated[str, typer.Option("--method", help="Aggregation: dawid-skene or majority.")] = "dawid-skene",
    item_col: Annotated[str, typer.Option("--item-col", help="Annotation column with the item id.")] = "item_id",
    annotator_col: Annotated[str, typer.Option("--annotator-col", help="Annotation column with the annotator.")
                             ] = "annotator",
    label_col: Annotated[Optional[str], typer.Option("--label-col", help="Column with the label (annotations: "
                                                     "default 'label'; examples: inferred).")] = None,
    input_col: Annotated[Optional[str], typer.Option("--input-col", help="Examples: column with the text "
                                                     "(inferred).")] = None,
    gold_col: Annotated[Optional[str], typer.Option("--gold-col", help="Annotations: a column with known gold "
                                                    "labels, to measure aggregation accuracy.")] = None,
    export_labels: Annotated[Optional[Path], typer.Option("--export-labels", help="Write the adjudicated label "
                                                          "per item as item_id,label,confidence,method.")] = None,
    export_findings: Annotated[Optional[Path], typer.Option("--export-findings", help="Write every finding "
                                                            "(leakage, conflicts, duplicates, near-duplicates, "
                                                            "label issues, conflicting repeats) with its texts as "
                                                            "CSV, for review in a labeling tool.")] = None,
    no_embeddings: Annotated[bool, typer.Option("--no-embeddings", help="Skip near-duplicates and label noise "
                                                "(no embedding model).")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory for audit.json and the "
                                                    "adjudication queue.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print audit.json on stdout.")] = False,
) -> None:
    """The data gate: agreement, adjudication, label noise, duplicates, leakage, coverage.

    Exit code 0 when the gate passes, 3 when it fails, 4 when it is unknown (e.g. no annotations to measure
    agreement on).
    """
    from tunegate.artifacts import write_json_atomic
    from tunegate.audit_stage import audit_stage, build_audit
    from tunegate.pipeline import GATE_EXIT_CODES
    from tunegate.spec import AuditSpec, load_spec

    def note(msg: str) -> None:
        if not as_json:
            err.print(f"[dim]{escape(msg)}[/]")

    try:
        if config is not None:
            if annotations or examples:
                _fail("give a spec, or --annotations / --examples, not both")
            spec = load_spec(config)
            art = audit_stage(spec, out_dir=out_dir, progress=note)
            result_rows = None
        else:
            if not (annotations or examples):
                _fail("give a spec, or --annotations FILE and/or --examples FILE")
            if method not in ("dawid-skene", "majority"):
                _fail("--method must be dawid-skene or majority")
            from tunegate.data.standalone import load_annotation_file, load_example_file

            cfg = AuditSpec(agreement_level=level, aggregation=method, use_embeddings=not no_embeddings)  # type: ignore[arg-type]
            anns, gold = (load_annotation_file(annotations, item_col=item_col, annotator_col=annotator_col,
                                               label_col=label_col or "label", gold_col=gold_col)
                          if annotations else (None, {}))
            exs = None
            if examples:
                exs = load_example_file(examples, split=None if test is None else "train", input_col=input_col,
                                        label_col=label_col)
                if test is not None:
                    exs += load_example_file(test, split="test", input_col=input_col, label_col=label_col,
                                             id_prefix="test:")
            labels = sorted({e.label for e in exs or []} | {a.label for a in anns or []})
            art, result = build_audit(examples=exs, annotations=anns, labels=labels, cfg=cfg,
                                      embedding_model=None if no_embeddings else "local:minilm",
                                      method=method, gold=gold or None, progress=note,
                                      task=(annotations or examples).name)  # type: ignore[union-attr]
            result_rows = result.to_rows() if result is not None else None
            if out_dir:
                write_json_atomic(Path(out_dir) / "audit.json", art)
        if export_labels:
            rows = result_rows
            if rows is None:
                _fail("--export-labels needs --annotations (stand-alone form)")
            import csv

            export_labels.parent.mkdir(parents=True, exist_ok=True)
            with export_labels.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=["item_id", "label", "confidence", "method"])
                w.writeheader()
                for r in rows:
                    w.writerow({**r, "confidence": round(float(r["confidence"]), 6)})
        if export_findings:
            from tunegate.data.findings import write_findings_csv

            path, n_rows = write_findings_csv(art, export_findings)
            note(f"{n_rows} finding row(s) written to {path}")
    except TunegateError as exc:
        _fail(str(exc))
    except ValueError as exc:  # statistics refuse impossible input (e.g. no item rated twice)
        _fail(str(exc))

    if not _printed_json(art, as_json):
        print_audit(art)
    raise typer.Exit(GATE_EXIT_CODES[art["gate"]])


@app.command("probe")
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
    as_json: Annotated[bool, typer.Option("--json", help="Print probe.json on stdout.")] = False,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Does learning from the labels close the gap? Probes trained on train, scored on test with CIs, compared
    with the best prompt item by item, and a learning curve with a back-test and the labels needed."""
    from tunegate.probe.stage import KINDS, probe_stage
    from tunegate.spec import load_spec

    from tunegate.runlock import run_lock

    kinds = KINDS if kind == "all" else (() if kind == "none" else (kind,))
    try:
        spec = load_spec(config)
        _preflight(spec)
        for model_id in external or ():
            _preflight(spec, model=model_id, data=False)
        with executor_for(executor, ray_address) as ex, run_lock(out_dir, command="probe"):
            art = probe_stage(spec, out_dir, kinds=kinds, curve=curve, external=tuple(external or ()),
                              progress=None if as_json else (lambda m: err.print(f"[dim]{escape(m)}[/]")),
                              executor=ex)
    except TunegateError as exc:
        _fail(str(exc))
    if _printed_json(art, as_json):
        return
    print_probe(art)
    out.print(f"written: {escape(str(Path(out_dir) / 'probe.json'))}")


@app.command("cost")
def cost_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (its costs: section holds the inputs).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory (probe.json there, if any, supplies "
                                          "labels needed and the quality gain).")] = Path("runs/cost"),
    draws: Annotated[int, typer.Option("--draws", help="Monte Carlo draws.")] = 20000,
    as_json: Annotated[bool, typer.Option("--json", help="Print cost.json on stdout.")] = False,
) -> None:
    """The 18-month total cost of ownership of keep-prompting vs fine-tune, evaluation tax included, with uncertainty."""
    from tunegate.decision_stages import cost_stage
    from tunegate.spec import load_spec

    try:
        if draws < 2:
            _fail(f"--draws must be at least 2 (a distribution needs more than one draw), got {draws}")
        art = cost_stage(load_spec(config), out_dir, n_draws=draws)
    except TunegateError as exc:
        _fail(str(exc))
    if _printed_json(art, as_json):
        return
    print_cost(art)
    out.print(f"written: {escape(str(Path(out_dir) / 'cost.json'))}")


@app.command("decide")
def decide_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory holding the stage artifacts.")],
    config: Annotated[Optional[Path], typer.Option("--spec", help="The spec (target and declared evidence).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print verdict.json on stdout.")] = False,
) -> None:
    """The verdict from whatever artifacts exist: FIX_EVAL_FIRST, SHIP_PROMPT, IMPROVE_DATA_FIRST, KEEP_PROMPTING
    or FINE_TUNE, each condition held / not held / unknown with its evidence, and next actions."""
    from tunegate.decision_stages import decide_stage
    from tunegate.spec import load_spec

    try:
        spec = load_spec(config) if config else None
        if run_dir.exists() and not run_dir.is_dir():
            _fail(f"{run_dir}: not a directory (give a run directory)")
        declared = spec is not None and any(vars(spec.evidence).values())
        if not run_dir.exists() and not declared:  # nothing measured and nothing declared: a typo, not a verdict
            _fail(f"{run_dir}: run directory not found (give the directory the stages wrote into, or --spec with "
                  "declared evidence)")
        art = decide_stage(run_dir, spec)
    except TunegateError as exc:
        _fail(str(exc))
    if _printed_json(art, as_json):
        return
    print_verdict(art)


@app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory holding the stage artifacts, or a monitoring run "
                                                 "(monitor.json: the drift report).")],
    store: Annotated[Optional[Path], typer.Option("--store", help="Portfolio store to read a monitored model's "
                                                   "history from (default: $TUNEGATE_HOME/portfolio.sqlite).")] = None,
) -> None:
    """Write report.html (one self-contained file) and report.md from a run directory's artifacts; a monitoring
    run directory gets the drift report (before/after distributions, the tests, the history)."""
    from tunegate.report.render import render_report

    try:
        if not run_dir.is_dir():
            _fail(f"{run_dir}: run directory not found" if not run_dir.exists() else
                  f"{run_dir}: not a directory (give a run directory)")
        if store is not None and store.exists() and not store.is_file():
            _fail(f"--store {store}: not a file (give the portfolio's SQLite file)")
        html, md = render_report(run_dir, store=store)
    except TunegateError as exc:
        _fail(str(exc))
    out.print(f"wrote {escape(str(html))} and {escape(str(md))}")


@app.command("import-annotations")
def import_annotations_cmd(
    export: Annotated[Path, typer.Argument(help="A Label Studio or Argilla JSON/JSONL export.")],
    source: Annotated[str, typer.Option("--from", help="label-studio or argilla.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The long-format CSV to write.")
                        ] = Path("annotations.csv"),
    question: Annotated[Optional[str], typer.Option("--question", help="The label question / control name, when "
                                                    "the export has several.")] = None,
    id_field: Annotated[Optional[str], typer.Option("--id-field", help="A field of the task data to use as the "
                                                    "item id (default: the task / record id).")] = None,
) -> None:
    """Convert a labeling tool's export into long-format annotations (item_id, annotator, label, timestamp)."""
    import csv

    from tunegate.data.importers import import_argilla, import_label_studio

    try:
        if source == "label-studio":
            anns = import_label_studio(export, from_name=question, id_field=id_field)
        elif source == "argilla":
            anns = import_argilla(export, question=question, id_field=id_field)
        else:
            _fail("--from must be label-studio or argilla")
    except TunegateError as exc:
        _fail(str(exc))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with out_file.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "annotator", "label", "timestamp"])
        for a in anns:
            w.writerow([a.item_id, a.annotator, a.label, a.timestamp or ""])
    rep = getattr(anns, "report", {})
    out.print(f"wrote {len(anns)} annotations to {escape(str(out_file))}; skipped {rep.get('n_skipped', 0)} "
              f"({escape(json.dumps(rep.get('skipped', {})))})")


@app.command("schema")
def schema_cmd(
    out_file: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to a file instead of stdout.")] = None,
    artifact: Annotated[Optional[str], typer.Option("--artifact", help="An artifact's JSON Schema instead: audit, "
                                                    "evalcheck, sprint, probe, cost, verdict, pipeline, monitor.")
                        ] = None,
) -> None:
    """Print the JSON Schema of tunegate.yaml (for editor completion and CI validation), or of an artifact."""
    from tunegate.artifact_models import artifact_schema
    from tunegate.spec import json_schema

    try:
        text = json.dumps(artifact_schema(artifact) if artifact else json_schema(), indent=2)
    except TunegateError as exc:
        _fail(str(exc))
    if out_file:
        out_file.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {out_file}")
    else:
        sys.stdout.write(text + "\n")


@app.command("init")
def init_cmd(
    data_file: Annotated[Path, typer.Argument(help="Your examples: JSONL, CSV or Parquet.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Where to write the spec.")] = Path("tunegate.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.")] = False,
) -> None:
    """Write a commented starter spec inferred from your data file (fields, label set, split)."""
    from tunegate.spec import load_spec
    from tunegate.starter import infer_spec

    try:
        if out_file.exists() and not force:
            _fail(f"{out_file} exists; pass --force to overwrite it")
        text, facts = infer_spec(data_file, spec_dir=out_file.parent)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text, encoding="utf-8")
        load_spec(out_file)  # what we write must itself validate
    except TunegateError as exc:
        _fail(str(exc))
    out.print(f"wrote {out_file}: {facts['kind']} task, input '{facts['input']}'"
              + (f", label '{facts['label']}' ({len(facts['labels'])} labels)" if facts["label"] else "")
              + (f", split column '{facts['split']}'" if facts["split"] else ", seeded 60/20/20 split"))
    out.print(f"next: review it, then `tunegate validate {out_file}` and `tunegate eval {out_file} --limit 20`")


@app.command("validate")
def validate_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (tunegate.yaml).")],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Report invalid rows instead of "
                                               "stopping at the first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check a spec and its data files: keys, fields, labels, splits. Exit 0 when all is well."""
    from tunegate.evals.preflight import preflight
    from tunegate.spec import load_spec

    try:
        spec = load_spec(config)
        spec.require_data()
        checked = preflight(spec, skip_invalid=skip_invalid)  # what eval would refuse later, refused now
        ds, ann = checked.dataset, checked.annotations
    except TunegateError as exc:
        _fail(str(exc))
    summary = {"spec": str(spec.source), "config_hash": spec.config_hash(), **ds.summary(),
               "annotations": len(ann), "annotators": len({a.annotator for a in ann})}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    out.print(f"[green]ok[/] {spec.source}: {summary['n']} examples {summary['splits']} "
              f"(split from {summary['split_source']}), {summary['annotations']} annotations by "
              f"{summary['annotators']} annotators, config hash {summary['config_hash']}")
    for s in ds.skipped:
        where = f"{s.file}:{s.line}: {s.field + ': ' if s.field else ''}{s.reason}"
        out.print(f"  [yellow]skipped[/] {escape(where)}")
    if ds.skipped:
        raise typer.Exit(1)


# Stage commands that live in their own modules (one job each) add themselves to `app` here.
for _module in (cli_checkeval, cli_sprint, cli_run, cli_monitor, cli_portfolio):
    _module.register(app)


guard_commands(app)  # sprint and monitor: model-free checks first, then their --out held (cli_guard)
cli_interop.register(app)  # import-evals, import-queue, export-finetune, export-queue

# --help lists commands in the order a user meets them (the pipeline's), each with its first paragraph on one line
_HELP_ORDER = ("init", "validate", "check-eval", "audit", "eval", "compare", "sprint", "probe", "cost", "decide",
               "report", "run", "demo", "assess", "monitor", "portfolio", "import-annotations", "import-evals",
               "import-queue", "export-finetune", "export-queue", "schema")


def _command_name(cmd: typer.models.CommandInfo) -> str:
    return cmd.name or (cmd.callback.__name__.removesuffix("_cmd").replace("_", "-") if cmd.callback else "")


def _tidy_help(application: typer.Typer) -> None:
    rank = {name: i for i, name in enumerate(_HELP_ORDER)}
    application.registered_commands.sort(key=lambda c: rank.get(_command_name(c), len(rank)))
    for cmd in application.registered_commands:
        doc = cmd.help or (cmd.callback.__doc__ if cmd.callback else None)
        if doc and not cmd.short_help:
            cmd.short_help = " ".join(doc.strip().split("\n\n")[0].split())


_tidy_help(app)


if __name__ == "__main__":  # pragma: no cover
    app()
