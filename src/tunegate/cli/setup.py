"""Commands that prepare a task rather than measure it: `tunegate init`, `validate`, `schema` and
`import-annotations` (parse, call one function, print)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tunegate.cli.errors import fail, renamed
from tunegate.cli.options import JsonOpt, deprecated_opt
from tunegate.cli.output import err, escape, out


def init_cmd(
    data_file: Annotated[Path, typer.Argument(help="Your examples: JSONL, CSV or Parquet.")],
    out_file: Annotated[Optional[Path], typer.Option("--out-file", help="Where to write the spec (default: "
                                                     "tunegate.yaml).")] = None,
    out_old: Annotated[Optional[Path], deprecated_opt("--out-file", "--out", "-o")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.")] = False,
) -> None:
    """Write a commented starter spec inferred from your data file (fields, label set, split)."""
    from tunegate.spec import load_spec
    from tunegate.starter import infer_spec

    out_file = renamed(out_file, out_old, "--out", "--out-file") or Path("tunegate.yaml")
    if out_file.exists() and not force:
        fail(f"{out_file} exists; pass --force to overwrite it")
    text, facts = infer_spec(data_file, spec_dir=out_file.parent)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    load_spec(out_file)  # what we write must itself validate
    out.print(f"wrote {out_file}: {facts['kind']} task, input '{facts['input']}'"
              + (f", label '{facts['label']}' ({len(facts['labels'])} labels)" if facts["label"] else "")
              + (f", split column '{facts['split']}'" if facts["split"] else ", seeded 60/20/20 split"))
    out.print(f"next: review it, then `tunegate validate {out_file}` and `tunegate eval {out_file} --limit 20`")


def validate_cmd(
    config: Annotated[Path, typer.Argument(help="The task spec (tunegate.yaml).")],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Report invalid rows instead of "
                                               "stopping at the first.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a spec and its data files: keys, fields, labels, splits. Exit 0 when all is well, 1 when rows were
    skipped (--skip-invalid), 2 for bad input."""
    from tunegate.evals.preflight import preflight
    from tunegate.spec import load_spec

    spec = load_spec(config)
    if spec.monitor is not None and spec.monitor.tests:  # drift tests' options, as `tunegate monitor` checks them
        from tunegate.monitor.drift import registered_tests
        from tunegate.monitor.test_base import configure_tests

        configure_tests(spec.monitor.tests, registry=registered_tests(), source=spec.source,
                        line_of=getattr(spec, "line_of", None))
    spec.require_data()
    checked = preflight(spec, skip_invalid=skip_invalid)  # what eval would refuse later, refused now
    ds, ann = checked.dataset, checked.annotations
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


def schema_cmd(
    out_file: Annotated[Optional[Path], typer.Option("--out-file", help="Write to a file instead of stdout.")] = None,
    out_old: Annotated[Optional[Path], deprecated_opt("--out-file", "--out", "-o")] = None,
    artifact: Annotated[Optional[str], typer.Option("--artifact", help="An artifact's JSON Schema instead: audit, "
                                                    "evalcheck, sprint, probe, cost, verdict, pipeline, monitor.")
                        ] = None,
) -> None:
    """Print the JSON Schema of tunegate.yaml (for editor completion and CI validation), or of an artifact."""
    from tunegate.artifact_models import artifact_schema
    from tunegate.spec import json_schema

    out_file = renamed(out_file, out_old, "--out", "--out-file")
    text = json.dumps(artifact_schema(artifact) if artifact else json_schema(), indent=2)
    if out_file:
        out_file.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {out_file}")
    else:
        sys.stdout.write(text + "\n")


def import_annotations_cmd(
    export: Annotated[Path, typer.Argument(help="A Label Studio or Argilla JSON/JSONL export.")],
    source: Annotated[str, typer.Option("--from", help="label-studio or argilla.")],
    out_file: Annotated[Optional[Path], typer.Option("--out-file", help="The long-format CSV to write (default: "
                                                     "annotations.csv).")] = None,
    out_old: Annotated[Optional[Path], deprecated_opt("--out-file", "--out", "-o")] = None,
    question: Annotated[Optional[str], typer.Option("--question", help="The label question / control name, when "
                                                    "the export has several.")] = None,
    id_field: Annotated[Optional[str], typer.Option("--id-field", help="A field of the task data to use as the "
                                                    "item id (default: the task / record id).")] = None,
) -> None:
    """Convert a labeling tool's export into long-format annotations (item_id, annotator, label, timestamp)."""
    from tunegate.data.importers import import_argilla, import_label_studio

    out_file = renamed(out_file, out_old, "--out", "--out-file") or Path("annotations.csv")
    if source == "label-studio":
        anns = import_label_studio(export, from_name=question, id_field=id_field)
    elif source == "argilla":
        anns = import_argilla(export, question=question, id_field=id_field)
    else:
        fail(f"--from must be label-studio or argilla, not '{source}'")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with out_file.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "annotator", "label", "timestamp"])
        for a in anns:
            w.writerow([a.item_id, a.annotator, a.label, a.timestamp or ""])
    rep = getattr(anns, "report", {})
    out.print(f"wrote {len(anns)} annotations to {escape(str(out_file))}; skipped {rep.get('n_skipped', 0)} "
              f"({escape(json.dumps(rep.get('skipped', {})))})")
