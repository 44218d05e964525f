"""Interop: real Inspect AI / promptfoo fixtures (scripts/make_interop_fixtures.sh) import to known outcomes;
fine-tuning export validates; Label Studio / Argilla queue round trip feeds the next audit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.errors import InputError
from tunegate.evals.compare import compare_runs
from tunegate.interop.finetune_export import export_finetune, validate_chat_record
from tunegate.interop.inspect_import import import_inspect, score_value
from tunegate.interop.promptfoo_import import import_promptfoo
from tunegate.interop.runs import build_artifact, write_run

FIX = Path(__file__).parent / "fixtures" / "interop"
# What the stub answers (scripts/interop_stub.py): q01-q07 right, q08/q09 wrong, q10 HTTP 400; "carefully" fixes q08.
PLAIN = {**{f"q0{i}": 1.0 for i in range(1, 8)}, "q08": 0.0, "q09": 0.0, "q10": 0.0}
CAREFUL = {**PLAIN, "q08": 1.0}


def outcomes(run) -> dict[str, float]:
    _, recs = build_artifact(run)
    return {r["id"]: r["scores"]["label_match"] for r in recs}


@pytest.mark.parametrize("name,epochs", [("inspect_triage.eval", 2), ("inspect_triage.json", 1)])
def test_inspect_logs_import_with_known_accuracy_and_errors_counted_as_failed(name, epochs):
    runs = import_inspect(FIX / name)
    assert [r.name for r in runs] == [f"epoch-{e}" for e in range(1, epochs + 1)]
    for run in runs:
        art, recs = build_artifact(run)
        assert (art.value, art.n, art.n_total, art.n_errors, art.n_unscored) == (0.7, 10, 10, 1, 0)
        assert outcomes(run) == PLAIN
        q10 = next(r for r in recs if r["id"] == "q10")
        assert "400" in q10["tool_error"] and q10["scores"]["label_match"] == 0.0
        assert next(r for r in recs if r["id"] == "q01")["raw_score"] == "C"
        # Inspect's own accuracy drops the errored sample (7/9): recorded, not used
        assert run.tool_reported["metrics_all_epochs"]["accuracy"] == pytest.approx(7 / 9)
        assert run.tool.startswith("inspect_ai 0.3.")


def test_promptfoo_results_import_one_run_per_prompt():
    runs = {r.name: r for r in import_promptfoo(FIX / "promptfoo_results.json", gold_var="label")}
    assert set(runs) == {"plain__stub", "careful__stub"}
    assert outcomes(runs["plain__stub"]) == PLAIN and outcomes(runs["careful__stub"]) == CAREFUL
    art, _ = build_artifact(runs["careful__stub"])
    assert (art.value, art.n, art.n_errors) == (0.8, 10, 1)
    assert runs["careful__stub"].tool_reported["testErrorCount"] == 1
    assert art.per_label["shipping"].n == 3
    named = {r.name: r for r in import_promptfoo(FIX / "promptfoo_results.json", score="named:accuracy")}
    assert outcomes(named["plain__stub"]) == PLAIN


def test_inspect_value_mapping_and_bad_values():
    f = Path("x.eval")
    assert [score_value(v, where="s", file=f) for v in ("C", "I", "P", "N", "yes", True, 0.25, "3")] == \
        [1.0, 0.0, 0.5, 0.0, 1.0, 1.0, 0.25, 3.0]
    assert score_value(None, where="s", file=f) is None
    with pytest.raises(InputError, match="sample q1.*dict-valued"):
        score_value({"a": 1}, where="sample q1", file=f)


def test_partial_and_unscored_inspect_samples(tmp_path):
    log = json.loads((FIX / "inspect_triage.json").read_text())
    log["samples"][0]["scores"]["match"]["value"] = "P"
    log["samples"][1]["scores"] = {}
    (tmp_path / "edited.json").write_text(json.dumps(log))
    art, _ = build_artifact(import_inspect(tmp_path / "edited.json")[0])
    assert art.n_unscored == 1 and art.n == 9 and art.value == pytest.approx((0.5 + 5) / 9, abs=1e-6)


def test_imported_runs_pair_in_compare(tmp_path):
    pf = {r.name: r for r in import_promptfoo(FIX / "promptfoo_results.json")}
    a = write_run(pf["plain__stub"], tmp_path / "a")
    write_run(pf["careful__stub"], tmp_path / "b")
    write_run(import_inspect(FIX / "inspect_triage.eval")[0], tmp_path / "i")
    assert a.metric == "accuracy" and (tmp_path / "a" / "results.jsonl").exists()
    cmp = compare_runs(tmp_path / "a", tmp_path / "b")
    assert cmp.n_shared == 10 and cmp.diff == pytest.approx(0.1) and cmp.mcnemar["b01"] == 1
    same = compare_runs(tmp_path / "i", tmp_path / "a")  # Inspect vs promptfoo: same items, same outcomes
    assert same.n_shared == 10 and same.diff == 0.0


def _spec(tmp_path: Path, *, annotations: bool = False) -> Path:
    rows = [json.loads(x) for x in (FIX / "items.jsonl").read_text().splitlines() if x.strip()]
    splits = ["train"] * 6 + ["dev"] * 2 + ["test"] * 2
    with (tmp_path / "data.jsonl").open("w") as fh:
        for r, s in zip(rows, splits):
            fh.write(json.dumps({**r, "split": s}) + "\n")
    text = ("task:\n  name: interop\n  kind: classification\n  instruction: Classify the message.\n"
            "  labels: [billing, shipping, other]\n"
            "data:\n  path: data.jsonl\n  fields: {input: text, label: label, id: id, split: split}\n")
    if annotations:
        text += "  annotations:\n    path: annotations.csv\n"
    text += "eval:\n  metric: accuracy\nmodels:\n  default: openai:stub\naudit:\n  use_embeddings: false\n"
    (tmp_path / "tunegate.yaml").write_text(text)
    return tmp_path / "tunegate.yaml"


def test_tunegate_run_pairs_with_imported_run(tmp_path):
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.models.base import Generation
    from tunegate.spec import load_spec

    spec = load_spec(_spec(tmp_path))
    gold = {json.loads(x)["text"]: json.loads(x)["label"] for x in (FIX / "items.jsonl").read_text().splitlines()}

    class Oracle:  # answers every item right
        model_id, capabilities = "oracle", ()

        def cache_identity(self):
            return {"model": "oracle"}

        def generate(self, reqs):
            for i, r in enumerate(reqs):
                user = r.messages[-1]["content"]
                yield i, Generation(next(v for k, v in gold.items() if k in user), 1, 1, 0.0, "stop", None)

        def close(self):
            pass

    run_eval(spec, EvalOptions(split="test", out_dir=tmp_path / "tg", cache_path=tmp_path / "c.sqlite"),
             backend=Oracle())
    write_run(import_inspect(FIX / "inspect_triage.json")[0], tmp_path / "insp")
    cmp = compare_runs(tmp_path / "tg", tmp_path / "insp")
    assert cmp.n_shared == 2  # the spec's test split: q09 (Inspect wrong) and q10 (Inspect errored)
    assert cmp.value_a == 1.0 and cmp.value_b == 0.0 and cmp.mcnemar["b10"] == 2


def test_export_finetune_validates_and_loads(tmp_path):
    from tunegate.spec import load_spec

    spec = load_spec(_spec(tmp_path))
    (tmp_path / "adj.csv").write_text("item_id,label\nq01,shipping\n")
    res = export_finetune(spec, tmp_path / "ft", labels_file=tmp_path / "adj.csv", epochs=2, price_per_1m=10.0)
    assert res.counts == {"train": 6, "validation": 2} and res.relabeled == 1
    lines = [json.loads(x) for x in (tmp_path / "ft" / "train.jsonl").read_text().splitlines()]
    for n, rec in enumerate(lines):
        validate_chat_record(rec, f"line {n + 1}")
        assert [m["role"] for m in rec["messages"]][-1] == "assistant"
    assert lines[0]["messages"][-1]["content"] == "shipping"  # the adjudicated label won
    assert "Labels: billing, shipping, other" in lines[0]["messages"][-2]["content"]  # the probe's format
    assert res.cost_usd == pytest.approx(res.tokens["train"] * 2 * 10.0 / 1e6, abs=1e-4)
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "ft" / "hf" / "validation.parquet")
    assert t.num_rows == 2 and {"id", "messages", "prompt", "completion", "label"} <= set(t.column_names)
    try:
        import datasets
    except ImportError:
        return
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "ft" / "hf" / "train.jsonl"), split="train")
    assert len(ds) == 6


@pytest.mark.parametrize("bad,msg", [({"messages": [{"role": "user", "content": "x"}]}, "one assistant"),
                                     ({"messages": [{"role": "user", "content": "x"},
                                                    {"role": "assistant", "content": " "}]}, "empty assistant"),
                                     ({"messages": [{"role": "bot", "content": "x"}]}, "unknown role")])
def test_chat_record_validation_rejects(bad, msg):
    with pytest.raises(InputError, match=msg):
        validate_chat_record(bad, "line 1")


def test_queue_round_trip_label_studio_and_argilla(tmp_path):
    from tunegate.cli import app
    from tunegate.audit_stage import audit_stage
    from tunegate.spec import load_spec

    cfg = _spec(tmp_path, annotations=True)
    votes = {"q01": ("billing", "billing", "billing"), "q02": ("shipping", "other", "billing"),
             "q03": ("other", "other", "other"), "q04": ("billing", "shipping", "other")}
    with (tmp_path / "annotations.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "annotator", "label"])
        for item, labs in votes.items():
            for who, lab in zip(("ann1", "ann2", "ann3"), labs):
                w.writerow([item, who, lab])
    spec = load_spec(cfg)
    first = audit_stage(spec, out_dir=tmp_path / "run")
    queued = {q["item_id"] for q in first["adjudication_queue"]}
    assert {"q02", "q04"} <= queued
    runner = CliRunner()
    res = runner.invoke(app, ["export-queue", str(cfg), "--audit", str(tmp_path / "run"), "--out",
                              str(tmp_path / "review")])
    assert res.exit_code == 0, res.output
    tasks = json.loads((tmp_path / "review" / "label_studio_tasks.json").read_text())
    t2 = next(t for t in tasks if t["data"]["item_id"] == "q02")
    assert t2["data"]["text"].startswith("Where is my parcel")
    assert {p["model_version"] for p in t2["predictions"]} >= {"vote:ann1", "vote:ann2", "tunegate:aggregate"}
    # An annotator answers in Label Studio; its export adds annotations (predictions stay suggestions).
    for n, t in enumerate(tasks):
        t["id"] = 100 + n
        lab = {"q02": "shipping", "q04": "billing"}.get(t["data"]["item_id"])
        t["annotations"] = [] if lab is None else [{"id": n, "completed_by": {"email": "lead@x"}, "result": [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [lab]}}]}]
    (tmp_path / "ls_export.json").write_text(json.dumps(tasks))
    res = runner.invoke(app, ["import-annotations", str(tmp_path / "ls_export.json"), "--from", "label-studio",
                              "--id-field", "item_id", "--out", str(tmp_path / "answers.csv")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["import-queue", str(tmp_path / "answers.csv"), "--from", "annotations", "--out",
                              str(tmp_path / "adjudications.csv")])
    assert res.exit_code == 0, res.output
    # Argilla: records answered as Argilla 2.x exports them (responses per question), read back the same way.
    recs = [json.loads(x) for x in (tmp_path / "review" / "argilla_records.jsonl").read_text().splitlines()]
    assert next(r for r in recs if r["id"] == "q02")["suggestions"]["label"]["agent"] == "tunegate:aggregate"
    for r in recs:
        lab = {"q02": "shipping", "q04": "billing"}.get(r["id"])
        r["responses"] = {} if lab is None else {"label": [{"value": lab, "user_id": "lead@x", "status": "submitted"}]}
    (tmp_path / "argilla_export.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = runner.invoke(app, ["import-queue", str(tmp_path / "argilla_export.jsonl"), "--from", "argilla", "--out",
                              str(tmp_path / "adj_argilla.csv")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "adj_argilla.csv").read_text() == (tmp_path / "adjudications.csv").read_text()
    # The next audit applies the decisions: those items leave the queue, adjudicated by the lead.
    text = cfg.read_text().replace("path: annotations.csv\n", "path: annotations.csv\n"
                                   "    adjudications: adjudications.csv\n")
    cfg.write_text(text)
    second = audit_stage(load_spec(cfg), out_dir=tmp_path / "run2")
    assert second["aggregation"]["adjudicated_by"] == {"q02": "lead@x", "q04": "lead@x"}
    assert not {"q02", "q04"} & {q["item_id"] for q in second["adjudication_queue"]}


def test_bad_inputs_name_the_file(tmp_path):
    (tmp_path / "x.json").write_text('{"foo": 1}')
    with pytest.raises(InputError, match="x.json.*not an Inspect log"):
        import_inspect(tmp_path / "x.json")
    with pytest.raises(InputError, match="not a promptfoo results file"):
        import_promptfoo(tmp_path / "x.json")


def test_cli_import_evals_writes_one_run_per_prompt(tmp_path):
    from tunegate.cli import app

    res = CliRunner().invoke(app, ["import-evals", str(FIX / "promptfoo_results.json"), "--from", "promptfoo",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    arts = {d.name: json.loads((d / "eval.json").read_text()) for d in tmp_path.iterdir()}
    assert {k: v["value"] for k, v in arts.items()} == {"plain__stub": 0.7, "careful__stub": 0.8}
    assert all(v["n_errors"] == 1 and v["split"] == "test" for v in arts.values())
