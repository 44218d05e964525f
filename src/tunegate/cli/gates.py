"""The gate commands before any model is tuned: `tunegate check-eval` (the criterion gate) and `tunegate audit`
(the data gate). Each exits by its gate: 0 pass, 3 fail, 4 unknown (2 for bad input)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from tunegate.cli.errors import exit_for_gate, fail, on_interrupt, renamed
from tunegate.cli.options import CacheOpt, JsonOpt, QuietOpt, deprecated_opt
from tunegate.cli.output import escape, fmt, new_table, out, print_audit, print_json, progress_bar, reporter

if TYPE_CHECKING:
    from tunegate.progress import Progress


def print_evalcheck(art: dict[str, Any]) -> None:
    colour = {"pass": "green", "fail": "red", "unknown": "yellow"}
    out.print(f"[bold]{escape(art['task'])}[/] · criterion gate: [bold {colour[art['gate']]}]{art['gate']}[/]")
    for r in art["reasons"]:
        out.print(f"  • {escape(r)}")
    table = new_table()
    for col in ("check", "status", "value", "95% CI", "threshold"):
        table.add_column(col)
    for c in art["checks"]:
        ci = f"{fmt(c['ci_low'])}–{fmt(c['ci_high'])}" if c.get("ci_low") is not None else "–"
        val = c["value"] if isinstance(c["value"], (int, float)) or c["value"] is None else None
        st = c["status"] + ("" if c.get("required", True) else " (optional)")
        table.add_row(c["name"], f"[{colour[c['status']]}]{st}[/]", fmt(val), ci, fmt(c.get("threshold")))
    out.print(table)
    per = art["discrimination"]["per_scorer"]
    for name, t in per.items():
        out.print(f"  {escape(name)}: AUC {fmt(t['auc'])} ({fmt(t['auc_ci_low'])}–{fmt(t['auc_ci_high'])}), "
                  f"accepts {fmt(t['good_accepted_rate'], 2)} of good, {fmt(t['bad_accepted_rate'], 2)} of bad")
    for w in art.get("warnings", []):
        out.print(f"[yellow]warning:[/] {escape(w)}")
    am = art.get("answer_method") or {}
    if am:
        out.print(f"[dim]answer method: {escape(am['method'])} ({escape(am['why'])})[/]")
    for i, a in enumerate(art.get("next_actions") or [], 1):
        out.print(f"[bold]next {i}:[/] {escape(a)}")


@on_interrupt("interrupted. Finished judge calls are cached: run the same command again to resume.")
def check_eval_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (tunegate.yaml).")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory for evalcheck.json.")] = None,
    against: Annotated[Optional[Path], typer.Option("--against", help="An older spec (.yaml) or golden-set "
                                                    "file: show what changed in what 'good' means.")] = None,
    items: Annotated[Optional[int], typer.Option("--items", help="Items for discrimination (overrides "
                                                 "check_eval.items).", min=2)] = None,
    judge_items: Annotated[Optional[int], typer.Option("--judge-items", help="Items for LLM judges "
                                                       "(overrides check_eval.judge_items).", min=2)] = None,
    repeats: Annotated[Optional[int], typer.Option("--repeats", help="Judge re-runs for test-retest "
                                                   "(overrides check_eval.repeats).", min=2)] = None,
    cache_path: CacheOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The criterion gate: does the eval suite tell known-good outputs from known-bad ones, consistently,
    in agreement with people, with enough items to see the gap that matters?

    Exit code 0 when the gate passes, 3 when it fails, 4 when it is unknown (evidence missing, e.g. an LLM
    judge without human ratings), 2 for bad input.
    """
    from tunegate.evals.evalcheck import check_eval_stage
    from tunegate.spec import load_spec

    quiet = quiet or as_json
    spec = load_spec(config)
    overrides = {k: v for k, v in (("items", items), ("judge_items", judge_items), ("repeats", repeats))
                 if v is not None}
    if overrides:
        spec.check_eval = spec.check_eval.model_copy(update=overrides)
    cache = None
    if cache_path is not None:
        from tunegate.models.cache import ResponseCache

        cache = ResponseCache(cache_path)
    try:
        with progress_bar(enabled=not quiet, label="judge calls") as bar:
            art = check_eval_stage(spec, out_dir, against=against, cache=cache,
                                   progress=reporter(quiet, {"judge calls": bar}))
    finally:
        if cache is not None:
            cache.close()
    if not print_json(art, as_json):
        print_evalcheck(art)
    exit_for_gate(art["gate"])


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
    aggregation: Annotated[Optional[str], typer.Option("--aggregation", help="Stand-alone: how votes become one "
                                                       "label: dawid-skene (default) or majority.")] = None,
    method_old: Annotated[Optional[str], deprecated_opt("--aggregation", "--method")] = None,
    item_col: Annotated[str, typer.Option("--item-col", help="Annotation column with the item id.")] = "item_id",
    annotator_col: Annotated[str, typer.Option("--annotator-col", help="Annotation column with the annotator.")
                             ] = "annotator",
    label_col: Annotated[Optional[str], typer.Option("--label-col", help="Column with the label (annotations: "
                                                     "default 'label'; examples: inferred).")] = None,
    input_col: Annotated[Optional[str], typer.Option("--input-col", help="Examples: column with the input text "
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
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The data gate: agreement, adjudication, label noise, duplicates, leakage, coverage.

    Exit code 0 when the gate passes, 3 when it fails, 4 when it is unknown (e.g. no annotations to measure
    agreement on), 2 for bad input.
    """
    quiet = quiet or as_json
    method = renamed(aggregation, method_old, "--method", "--aggregation", quiet=quiet) or "dawid-skene"
    progress = reporter(quiet)
    if config is not None:
        if annotations or examples:
            fail("give a spec, or --annotations / --examples, not both")
        from tunegate.audit_stage import audit_stage
        from tunegate.spec import load_spec

        art = audit_stage(load_spec(config), out_dir=out_dir, progress=progress)
        result_rows = None
    else:
        art, result_rows = _standalone_audit(annotations, examples, test, level, method, item_col, annotator_col,
                                             label_col, input_col, gold_col, no_embeddings, out_dir, progress)
    if export_labels:
        if result_rows is None:
            fail("--export-labels needs --annotations (stand-alone form)")
        export_labels.parent.mkdir(parents=True, exist_ok=True)
        with export_labels.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["item_id", "label", "confidence", "method"])
            w.writeheader()
            for r in result_rows:
                w.writerow({**r, "confidence": round(float(r["confidence"]), 6)})
    if export_findings:
        from tunegate.data.findings import write_findings_csv

        path, n_rows = write_findings_csv(art, export_findings)
        if progress:
            progress(f"{n_rows} finding row(s) written to {path}")
    if not print_json(art, as_json):
        print_audit(art)
    exit_for_gate(art["gate"])


def _standalone_audit(annotations: Path | None, examples: Path | None, test: Path | None, level: str, method: str,
                      item_col: str, annotator_col: str, label_col: str | None, input_col: str | None,
                      gold_col: str | None, no_embeddings: bool, out_dir: Path | None, progress: Progress | None
                      ) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """The audit of files without a spec (tunegate.data.standalone); returns audit.json and the label rows."""
    from tunegate.artifacts import write_json_atomic
    from tunegate.audit_stage import build_audit
    from tunegate.data.standalone import load_annotation_file, load_example_file
    from tunegate.spec import AuditSpec

    if not (annotations or examples):
        fail("give a spec, or --annotations FILE and/or --examples FILE")
    if method not in ("dawid-skene", "majority"):
        fail(f"--aggregation must be dawid-skene or majority, not '{method}'")
    cfg = AuditSpec(agreement_level=level, aggregation=method,  # type: ignore[arg-type]
                    use_embeddings=not no_embeddings)
    anns, gold = (load_annotation_file(annotations, item_col=item_col, annotator_col=annotator_col,
                                       label_col=label_col or "label", gold_col=gold_col)
                  if annotations else (None, {}))
    exs = None
    if examples:
        exs = load_example_file(examples, split=None if test is None else "train", input_col=input_col,
                                label_col=label_col)
        if test is not None:
            exs += load_example_file(test, split="test", input_col=input_col, label_col=label_col, id_prefix="test:")
    labels = sorted({e.label for e in exs or []} | {a.label for a in anns or []})
    art, result = build_audit(examples=exs, annotations=anns, labels=labels, cfg=cfg,
                              embedding_model=None if no_embeddings else "local:minilm", method=method,
                              gold=gold or None, progress=progress,
                              task=(annotations or examples).name)  # type: ignore[union-attr]
    if out_dir:
        write_json_atomic(Path(out_dir) / "audit.json", art)
    return art, (result.to_rows() if result is not None else None)
