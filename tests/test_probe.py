"""The fine-tune probe: embedding head on real data, probe.json shape, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.errors import TunegateError
from tunegate.probe.embedding_head import fit_head, stratified_subset
from tunegate.probe.stage import closes_gap, compare_with_prompt

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
EXAMPLE_DIR = ROOT / "examples" / "support-triage"
runner = CliRunner()


def test_stratified_subset_keeps_every_label_and_is_seeded():
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 3
    idx = stratified_subset(labels, 10, seed=1)
    assert len(idx) == 10 and {labels[i] for i in idx} == {"a", "b", "c"}
    assert np.array_equal(idx, stratified_subset(labels, 10, seed=1))
    assert not np.array_equal(idx, stratified_subset(labels, 10, seed=2))


def test_fit_head_needs_two_labels_and_covers_absent_classes():
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(TunegateError, match="at least two labels"):
        fit_head(X, ["a"] * 20, classes=["a", "b"])
    head = fit_head(X, ["a"] * 10 + ["b"] * 10, classes=["a", "b", "c"])
    assert head.predict_proba(X).shape == (20, 3) and np.all(head.predict_proba(X)[:, 2] == 0)


def test_comparison_and_closes_gap_rules():
    prompt = {f"i{k}": float(k % 4 == 0) for k in range(200)}  # 25% right
    probe = {f"i{k}": float(k % 10 != 0) for k in range(200)}  # 90% right
    cmp = compare_with_prompt(probe, prompt, seed=0)
    assert cmp["n_shared"] == 200 and cmp["diff"] == pytest.approx(0.65) and cmp["diff_ci_low"] > 0.5
    assert cmp["mcnemar_p"] < 1e-10 and cmp["test"]["method"] == "mcnemar_exact" and cmp["significant"]
    # beating the prompt significantly while staying below the target does not close the gap
    assert closes_gap({"value": 0.9, "ci_low": 0.85, "ci_high": 0.93, "comparison": cmp}, 0.95) == "no"
    assert closes_gap({"value": 0.97, "ci_low": 0.952, "ci_high": 0.99}, 0.95) == "yes"
    # the same bound is not enough for the best of three probes (Bonferroni-widened)
    assert closes_gap({"value": 0.97, "ci_low": 0.952, "ci_high": 0.99}, 0.95, n_probes=3) == "unknown"
    assert closes_gap({"value": 0.7, "ci_low": 0.65, "ci_high": 0.75}, 0.9) == "no"
    assert closes_gap({"value": 0.85, "ci_low": 0.78, "ci_high": 0.93}, 0.9) == "unknown"
    assert closes_gap({"value": 0.85, "ci_high": 0.93}, 0.9) == "unknown"  # no interval: unknown


def test_three_wins_and_no_losses_is_not_significant():
    prompt = {f"i{k}": 0.0 if k < 3 else float(k % 2) for k in range(100)}
    probe = {f"i{k}": 1.0 if k < 3 else float(k % 2) for k in range(100)}
    cmp = compare_with_prompt(probe, prompt, seed=0)
    assert cmp["diff_ci_low"] > 0  # the bootstrap CI excludes 0 ...
    assert cmp["test"]["pvalue"] == pytest.approx(0.25) and not cmp["significant"]  # ... but exact McNemar: p = 0.25


def _small_task(tmp_path: Path, keep_train: int | None = None, single_label: str | None = None) -> Path:
    rows = [json.loads(x) for x in (EXAMPLE_DIR / "data.jsonl").read_text().splitlines()]
    if single_label:
        seen = 0
        out = []
        for r in rows:
            if r["intent"] == single_label and r["split"] == "train":
                seen += 1
                if seen > 1:
                    continue
            out.append(r)
        rows = out
    if keep_train is not None:  # keep_train examples per label
        train, seen = [], {}
        for r in rows:
            if r["split"] == "train" and seen.get(r["intent"], 0) < keep_train:
                seen[r["intent"]] = seen.get(r["intent"], 0) + 1
                train.append(r)
        rows = train + [r for r in rows if r["split"] != "train"]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = (EXAMPLE_DIR / "tunegate.yaml").read_text().replace("template: prompts/zero_shot.txt",
                                                               "inline: '{{input}}'")
    text = text.replace("  annotations:\n    path: annotations.csv   # long format: item_id, annotator, label, "
                        "timestamp\n    fields: {item_id: item_id, annotator: annotator, label: label, timestamp: "
                        "timestamp}\n", "")
    (tmp_path / "tunegate.yaml").write_text(text)
    return tmp_path / "tunegate.yaml"


def test_bad_input_gives_clear_errors(tmp_path):
    spec = _small_task(tmp_path, single_label="fraud_report")
    r = runner.invoke(app, ["probe", str(spec), "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and "fraud_report have a single training example" in r.output
    other = tmp_path / "other"
    other.mkdir()
    spec = _small_task(other, keep_train=2)  # 20 training examples < the smallest anchor (30)
    r = runner.invoke(app, ["probe", str(spec), "--out", str(other / "run")])
    assert r.exit_code == 2 and "smallest learning-curve anchor" in r.output
    r = runner.invoke(app, ["probe", str(spec), "--kind", "svm", "--out", str(other / "run")])
    assert r.exit_code == 2 and "unknown probe kind" in r.output


@pytest.mark.integration
def test_probe_on_the_example_writes_the_documented_keys(tmp_path):
    spec = _small_task(tmp_path)
    r = runner.invoke(app, ["probe", str(spec), "--out", str(tmp_path / "run"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    p = d["probes"][0]
    assert {"kind", "value", "ci_low", "ci_high", "train_seconds"} <= set(p)
    assert p["kind"] == "embedding_head" and p["ci_low"] <= p["value"] <= p["ci_high"] and p["value"] > 0.6
    assert {"points", "fit", "backtest_error", "last1_error", "status", "labels_needed"} <= set(d["curve"])
    assert [pt["n"] for pt in d["curve"]["points"]] == sorted(pt["n"] for pt in d["curve"]["points"])
    assert d["closes_gap"] in ("yes", "no", "unknown")


@pytest.mark.integration
@pytest.mark.skipif(not (SHARED / "banking77").exists(), reason="shared datasets not present")
def test_embedding_head_beats_majority_baseline_on_banking77():
    from tunegate.models.embeddings_local import create_local_embedder

    with (SHARED / "banking77" / "train.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    labels = sorted({r["category"] for r in rows})[:20]
    rng = np.random.default_rng(0)
    train, test = [], []
    for lab in labels:
        mine = [r for r in rows if r["category"] == lab]
        pick = rng.permutation(len(mine))
        train += [mine[i] for i in pick[:25]]
        test += [mine[i] for i in pick[25:35]]
    emb = create_local_embedder("local:minilm")
    Xtr = emb.embed([r["text"] for r in train])
    Xte = emb.embed([r["text"] for r in test])
    head = fit_head(Xtr, [r["category"] for r in train], classes=labels)
    acc = float(np.mean([p == r["category"] for p, r in zip(head.predict(Xte), test)]))
    majority = 1 / len(labels)
    assert acc > 0.75 and acc > 10 * majority


def test_external_fine_tune_is_evaluated_and_compared_like_a_probe(tmp_path, openai_stub):
    """A fine-tune served elsewhere (here: a real HTTP server on 127.0.0.1) goes through the same comparison."""
    rows = {json.loads(x)["text"]: json.loads(x)["intent"] for x in (EXAMPLE_DIR / "data.jsonl").read_text().splitlines()}

    def reply(body):
        msg = body["messages"][-1]["content"]
        return rows.get(msg, "unknown")

    openai_stub.reply = reply
    spec = _small_task(tmp_path)
    text = spec.read_text()
    models_start, costs_start = text.index("\nmodels:"), text.index("\ncosts:")
    stub_models = (f"\nmodels:\n  default: local:smollm2\n  backends:\n    openai:ft-triage:\n"
                   f"      base_url: {openai_stub.base_url}\n      api_key_env: null")
    spec.write_text(text[:models_start] + stub_models + text[costs_start:])
    r = runner.invoke(app, ["probe", str(spec), "--kind", "none", "--external", "openai:ft-triage", "--out",
                            str(tmp_path / "run"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    (p,) = d["probes"]
    assert p["kind"] == "external" and p["value"] == 1.0 and p["n"] == 121
    assert d["closes_gap"] == "yes"  # reaches the 0.9 target
    assert openai_stub.stats()["requests"]["/v1/chat/completions"] == 121


def test_probe_compares_with_the_prompt_on_the_tasks_primary_scorer(tmp_path, openai_stub):
    """An extraction task whose metric is json_fields: the prompt's items are scored by json_fields (not
    label_match, which would make every prompt item 0 so that any probe "beats" it, nor json_valid)."""
    rows = [{"id": f"o{i}", "text": f"Order A{i:03d}, please refund.", "out": {"order": f"A{i:03d}"},
             "split": "train" if i < 20 else "test"} for i in range(40)]
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    spec_path = tmp_path / "tunegate.yaml"
    spec_path.write_text(
        "task: {name: x, kind: extraction, instruction: Extract the order id.,"
        " output_schema: {type: object, properties: {order: {type: string}}}}\n"
        "data: {path: x.jsonl, fields: {input: text, target: out, id: id, split: split}}\n"
        "eval: {metric: json_fields, target: 0.9}\n"
        f"models:\n  default: openai:stub-model\n  backends:\n    openai:ft-x:\n"
        f"      base_url: {openai_stub.base_url}\n      api_key_env: null\n")
    # the best prompt (as the sprint leaves it): valid JSON on every item, the right order id on half of them
    best = tmp_path / "run" / "sprint-best"
    best.mkdir(parents=True)
    (tmp_path / "run" / "sprint.json").write_text(json.dumps({"artifact": "sprint", "best": {"candidate": "p"}}))
    from tunegate.artifacts import EvalArtifact

    (best / "eval.json").write_text(EvalArtifact(  # the sprint's copy of its best: a whole eval.json, as it writes it
        task="x", model="m", split="test", method="g", prompt_source="sprint candidate: p", prompt_sha="p",
        metric="json_fields", value=0.5, ci_low=0.3, ci_high=0.7, confidence=0.95, ci_method="bca", n=20,
        n_total=20, n_unscored=0, n_errors=0).model_dump_json())
    (best / "results.jsonl").write_text("\n".join(json.dumps(
        {"id": f"o{i}", "scores": {"json_valid": 1.0, "json_fields": float(i % 2 == 0)}}) for i in range(20, 40)))

    def reply(body: dict) -> str:  # the "fine-tune": right on every item
        text = body["messages"][-1]["content"]
        return json.dumps({"order": text.split("Order ")[-1].split(",")[0]})

    openai_stub.reply = reply
    from tunegate.probe.stage import probe_stage
    from tunegate.spec import load_spec

    art = probe_stage(load_spec(spec_path), tmp_path / "run", kinds=(), curve=False, external=("openai:ft-x",))
    (p,) = art["probes"]
    cmp = p["comparison"]
    assert cmp["primary_scorer"] == "json_fields" and cmp["n_shared"] == 20
    assert cmp["prompt_value"] == pytest.approx(0.5) and cmp["probe_value"] == pytest.approx(1.0)
    assert cmp["test"]["method"] == "mcnemar_exact" and cmp["test"]["wins_b"] == 10 and cmp["test"]["wins_a"] == 0
