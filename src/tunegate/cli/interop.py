"""`tunegate import-evals`, `export-finetune`, `export-queue`, `import-queue`: meet teams where their evals and
labels already live (Inspect AI, promptfoo, OpenAI / Hugging Face fine-tuning files, Label Studio, Argilla).
Errors are raised as tunegate.errors exceptions; cli/errors.py maps them to one line and exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tunegate.cli.errors import renamed
from tunegate.cli.options import deprecated_opt
from tunegate.cli.output import escape, fmt, out
from tunegate.errors import InputError


def import_evals_cmd(
    results: Annotated[Path, typer.Argument(help="An Inspect AI log (.eval or .json) or a promptfoo results "
                                            "file (promptfoo eval -o results.json).")],
    source: Annotated[str, typer.Option("--from", help="inspect or promptfoo.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory; one run per epoch / prompt x "
                                          "provider is written under it (eval.json + results.jsonl).")],
    scorer: Annotated[Optional[str], typer.Option("--scorer", help="Inspect: the scorer (NAME or NAME.KEY); "
                                                  "default the log's headline scorer.")] = None,
    score: Annotated[str, typer.Option("--score", help="promptfoo: pass (default), score, or named:NAME.")
                     ] = "pass",
    id_var: Annotated[str, typer.Option("--id-var", help="promptfoo: the test variable holding the item id.")
                      ] = "id",
    gold_var: Annotated[Optional[str], typer.Option("--gold-var", help="promptfoo: the test variable holding "
                                                    "the expected answer (per-label recall).")] = None,
    split: Annotated[str, typer.Option("--split", help="Which split the items are (test feeds the verdict).")
                     ] = "test",
    task: Annotated[Optional[str], typer.Option("--task", help="Task name to record (default: the tool's).")
                    ] = None,
) -> None:
    """Turn Inspect AI or promptfoo results into tunegate evaluation runs (compare, verdict, report use them).

    Errored items count as failed, never dropped; each epoch (Inspect) or prompt x provider (promptfoo) is
    its own run, paired with others by item id in `tunegate compare`."""
    from tunegate.interop.runs import write_run

    if split not in ("train", "dev", "test"):
        raise InputError(f"--split must be train, dev or test, not '{split}'", field="split")
    if source == "inspect":
        from tunegate.interop.inspect_import import import_inspect

        runs = import_inspect(results, scorer=scorer)
    elif source == "promptfoo":
        from tunegate.interop.promptfoo_import import import_promptfoo

        runs = import_promptfoo(results, score=score, id_var=id_var, gold_var=gold_var, task=task)
    else:
        raise InputError(f"--from must be inspect or promptfoo, not '{source}'", field="from")
    for run in runs:
        if task:
            run.task = task
        art = write_run(run, out_dir / run.name, split=split)
        out.print(f"{escape(str(out_dir / run.name))}: {escape(art.model)} accuracy {fmt(art.value)} "
                  f"[{fmt(art.ci_low)}, {fmt(art.ci_high)}] n={art.n} (errored, counted as failed: "
                  f"{art.n_errors}; unscored: {art.n_unscored})")

def export_finetune_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for the training files.")] = Path(
        "finetune"),
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Adjudicated labels (item_id,label CSV from "
                                                   "`tunegate audit --export-labels`) overriding the data's.")
                      ] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs, for the cost estimate.")] = 3,
    price: Annotated[float, typer.Option("--price-per-1m", help="USD per 1M training tokens (check your "
                                         "provider's current price).")] = 3.0,
    parquet: Annotated[bool, typer.Option("--parquet/--no-parquet", help="Also write Parquet.")] = True,
) -> None:
    """Write OpenAI chat fine-tuning JSONL and Hugging Face datasets files (train + validation) in the
    probe's prompt format; print token counts and a cost estimate."""
    from tunegate.interop.finetune_export import export_finetune
    from tunegate.spec import load_spec

    res = export_finetune(load_spec(config), out_dir, labels_file=labels, epochs=epochs, price_per_1m=price,
                          parquet=parquet)
    for k, v in res.files.items():
        out.print(f"{k}: {escape(v)}")
    out.print(f"examples: train {res.counts['train']}, validation {res.counts['validation']}"
              + (f" ({res.relabeled} relabeled from --labels)" if res.relabeled else ""))
    out.print(f"tokens: train {res.tokens['train']:,}, validation {res.tokens['validation']:,} "
              f"({escape(res.token_method)})")
    out.print(f"estimated training cost: ${res.cost_usd:,.2f} = {res.tokens['train']:,} tokens x {res.epochs} "
              f"epochs x ${res.price_per_1m:g}/1M")

def export_queue_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (texts and labels of the queued items).")],
    audit: Annotated[Path, typer.Option("--audit", help="audit.json, or the run directory holding it.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for the import files.")] = Path(
        "review"),
    findings: Annotated[bool, typer.Option("--findings/--no-findings", help="Also queue items the data "
                                           "gate's checks flagged (label noise, conflicts, ...).")] = True,
) -> None:
    """Export the adjudication queue (and data-gate findings) as Label Studio and Argilla import files, votes
    as pre-annotations. Bring answers back with `tunegate import-queue`."""
    from tunegate.data.examples import load_examples
    from tunegate.interop.labeling_export import queue_from_audit, write_review_files
    from tunegate.spec import load_spec

    spec = load_spec(config)
    queue = queue_from_audit(audit, findings=findings)
    texts = {e.id: e.input_text() for e in load_examples(spec).examples}
    files = write_review_files(queue, texts, spec.task.label_names, out_dir)
    out.print(f"{len(queue)} items queued")
    for k, v in files.items():
        out.print(f"{k}: {escape(v)}")

def import_queue_cmd(
    export: Annotated[Path, typer.Argument(help="Answers: a Label Studio / Argilla export, or the CSV "
                                           "`tunegate import-annotations` wrote.")],
    source: Annotated[str, typer.Option("--from", help="label-studio, argilla or annotations (the CSV).")],
    out_file: Annotated[Optional[Path], typer.Option("--out-file", help="The adjudications CSV to write (point "
                                                     "data.annotations.adjudications at it; default "
                                                     "adjudications.csv).")] = None,
    out_old: Annotated[Optional[Path], deprecated_opt("--out-file", "--out", "-o")] = None,
) -> None:
    """Turn reviewers' answers to an exported queue into adjudications the next `tunegate audit` applies."""
    out_file = renamed(out_file, out_old, "--out", "--out-file") or Path("adjudications.csv")
    from tunegate.interop.labeling_export import QUESTION, answers_to_adjudications, read_annotations_csv

    if source == "annotations":
        rows = read_annotations_csv(export)
    elif source in ("label-studio", "argilla"):
        from tunegate.data.importers import import_argilla, import_label_studio

        anns = (import_label_studio(export, from_name=QUESTION, id_field="item_id") if source == "label-studio"
                else import_argilla(export, question=QUESTION))
        rows = [(a.item_id, a.annotator, a.label, a.timestamp) for a in anns]
    else:
        raise InputError(f"--from must be label-studio, argilla or annotations, not '{source}'", field="from")
    n = answers_to_adjudications(rows, out_file)
    out.print(f"wrote {n} adjudications to {escape(str(out_file))}")
    if not n:
        out.print("[yellow]no submitted answers found[/]")
