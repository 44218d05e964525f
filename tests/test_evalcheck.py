"""The criterion gate: each check against hand-computed values, the gate rule, and the CLI's exit codes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.data.examples import Example
from tunegate.errors import DataError, SpecError
from tunegate.evals.consistency import consistency
from tunegate.config.check_eval import RatingsFieldMap
from tunegate.evals.criterion_diff import diff_criteria, diff_gold
from tunegate.evals.discrimination import auc_ci, roc_auc
from tunegate.evals.evalcheck import _power, check_eval_stage
from tunegate.evals.human_agreement import consensus, human_ceiling, load_ratings, scorer_vs_humans
from tunegate.evals.negatives import build_candidates, near_miss_table
from tunegate.evals.scorers import ItemScore, Scorer, build_scorers, register_scorer
from tunegate.spec import BootstrapSpec, load_spec, parse_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "support-triage"
CONTRACT = {"schema_version", "run", "task", "gate", "reasons", "checks", "auc", "auc_ci_low", "auc_ci_high",
            "judge_human_kappa", "flip_rate", "minimal_detectable_difference"}


@register_scorer("test_accept_all")
class AcceptAll(Scorer):
    """A scorer that accepts everything: the gate must catch it."""

    def score(self, output: str, example: Example) -> ItemScore:
        return ItemScore(1.0, output)


def example_spec(scorers: list[dict] | None = None, check_eval: dict | None = None, **models) -> object:
    raw = yaml.safe_load((EXAMPLE / "tunegate.yaml").read_text())
    if scorers is not None:
        raw["eval"]["scorers"] = scorers
    raw["check_eval"] = {**raw.get("check_eval", {}), **(check_eval or {})}
    raw["eval"]["bootstrap"]["n_resamples"] = 500
    raw["models"].update(models)
    return parse_spec(yaml.safe_dump(raw), source=EXAMPLE / "test-spec.yaml")


# ------------------------------------------------------------------------------------------ discrimination


def test_roc_auc_hand_computed():
    # scikit-learn's roc_auc_score docstring example: 0.75
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # ties count half: pos(1) > neg(0) once, tie twice, pos(0) < neg(1) once -> (1 + 0.5 + 0.5 + 0) / 4
    assert roc_auc([1, 0, 1, 0], [1, 1, 0, 0]) == pytest.approx(0.5)
    assert math.isnan(roc_auc([1, 2], [1, 1]))


def test_auc_ci_resamples_clusters_and_brackets_the_estimate():
    scores = [0.9, 0.2, 0.8, 0.6, 0.7, 0.1, 0.4, 0.5]
    labels = [1, 0, 1, 0, 1, 0, 1, 0]
    clusters = ["a", "a", "b", "b", "c", "c", "d", "d"]
    iv = auc_ci(scores, labels, clusters, n_resamples=500, seed=1)
    assert iv.estimate == pytest.approx(roc_auc(scores, labels))
    assert iv.low <= iv.estimate <= iv.high
    assert iv == auc_ci(scores, labels, clusters, n_resamples=500, seed=1)  # seeded


def test_negatives_are_all_rejected_by_label_match_and_near_miss_comes_from_annotators():
    spec = example_spec()
    from tunegate.data.examples import load_examples
    from tunegate.evals.evalcheck import _near_miss

    ds = load_examples(spec)
    table = _near_miss(spec, ds)
    # the annotators' most frequent confusion for payment_failed (README: 25 times) is billing_dispute
    assert table["payment_failed"] == "billing_dispute"
    items = ds.split("test")[:10]
    cands, skipped = build_candidates(spec, items, ["wrong_label", "near_miss", "truncation", "broken_format",
                                                    "empty", "copy_of_input", "other_item"], seed=0, near_miss=table)
    assert not skipped
    assert {c.source for c in cands} == {"gold", "wrong_label", "near_miss", "truncation", "broken_format", "empty",
                                         "copy_of_input", "other_item"}
    lm = build_scorers(spec)[0]
    for c in cands:
        v = lm.score(c.output, c.example).value
        assert (v == 1.0) if c.good else (v != 1.0), c
    # without annotations the near-miss is the label whose description shares most words
    assert near_miss_table(spec)["refund_request"] != "refund_request"


def test_accept_everything_scorer_fails_the_gate_with_auc_one_half(tmp_path):
    spec = example_spec([{"type": "test_accept_all"}], {"items": 20, "answer_method": "generate"})
    art = check_eval_stage(spec, tmp_path)
    assert art["gate"] == "fail"
    assert art["auc"] == pytest.approx(0.5)
    assert CONTRACT <= set(art)
    assert json.loads((tmp_path / "evalcheck.json").read_text())["gate"] == "fail"
    assert any("test_accept_all" in r for r in art["reasons"])
    assert art["discrimination"]["accepts_broken"]["test_accept_all"] == ["truncation", "broken_format", "empty",
                                                                          "copy_of_input"]
    assert art["answer_method"]["method"] == "generate" and art["negatives"]["not_applicable"] == []
    # every failing check names its fix, in the reasons and in next_actions
    failed = [c for c in art["checks"] if c["status"] == "fail"]
    assert failed and all(c.get("fix") for c in failed)
    assert all(". Fix: " in r for r in art["reasons"] if " failed: " in r)
    assert art["next_actions"] and any("test_accept_all (eval.scorers.0) accepts an empty answer" in a
                                       for a in art["next_actions"])


def test_label_likelihood_cannot_produce_broken_outputs_so_they_are_not_applicable():
    # the example's sprint scores label likelihood on local:smollm2: answers are always one of the labels
    art = check_eval_stage(example_spec([{"type": "test_accept_all"}], {"items": 20}), None)
    assert art["answer_method"]["method"] == "label_likelihood"
    assert art["negatives"]["types"] == ["wrong_label", "near_miss", "other_item"]
    assert art["negatives"]["not_applicable"] == ["truncation", "broken_format", "empty", "copy_of_input"]
    assert set(art["negatives"]["not_applicable_why"].values()) == {
        "the answer method (label_likelihood) can only answer with a label"}
    by_type = art["discrimination"]["suite"]["by_type"]
    assert "copy_of_input" not in by_type and "empty" not in by_type  # not counted
    assert art["discrimination"]["accepts_broken"]["test_accept_all"] == []
    # still caught: it accepts every wrong label
    assert art["gate"] == "fail" and by_type["wrong_label"]["rate"] == 1.0
    assert any(r.startswith("not tested, since the answer method (label_likelihood)") for r in art["reasons"])


def _intent_task(tmp_path, scorer: dict, answer_method: str) -> object:
    """Messages that name their own intent, as CLINC150's "routing" messages do."""
    labels = ["routing", "balance", "transfer", "pin_change"]
    rows = [{"id": f"r{i}", "text": f"what is the {lab.replace('_', ' ')} thing for my account, number {i}",
             "intent": lab, "split": "test"} for i in range(40) for lab in [labels[i % 4]]]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "task": {"name": "intents", "kind": "classification", "labels": [{"name": n} for n in labels]},
        "data": {"path": "d.jsonl", "fields": {"input": "text", "label": "intent", "id": "id", "split": "split"}},
        "eval": {"metric": "accuracy", "target": 0.6, "scorers": [scorer], "bootstrap": {"n_resamples": 200}},
        "check_eval": {"answer_method": answer_method, "gap_that_matters": 0.4}}))
    return load_spec(tmp_path / "t.yaml")


def test_lenient_label_match_accepts_a_copied_message_and_the_fix_names_strict(tmp_path):
    art = check_eval_stage(_intent_task(tmp_path, {"type": "label_match"}, "generate"), None)
    assert art["discrimination"]["suite"]["by_type"]["copy_of_input"]["rate"] == 1.0
    assert art["gate"] == "fail"
    (fix,) = [c["fix"] for c in art["checks"] if c["name"] == "known_bad_rejected"]
    assert "set `strict: true` on eval.scorers.0" in fix and "normalized_match" in fix and "json_output" in fix
    assert "check_eval.answer_method: label_likelihood" in fix
    assert art["next_actions"] == [fix]
    for scorer in ({"type": "label_match", "strict": True}, {"type": "normalized_match"}):
        ok = check_eval_stage(_intent_task(tmp_path, scorer, "generate"), None)
        assert ok["gate"] == "pass", (scorer, ok["reasons"])
        assert ok["discrimination"]["suite"]["by_type"]["copy_of_input"]["rate"] == 0.0
    # the same lenient scorer passes when answers come from label likelihood: it can never see such an output
    assert check_eval_stage(_intent_task(tmp_path, {"type": "label_match"}, "label_likelihood"), None)["gate"] == "pass"


def test_power_fix_names_the_items_needed_and_the_missing_target():
    spec = example_spec(check_eval={"gap_that_matters": 0.1})
    spec.eval.target = None
    art = check_eval_stage(spec, None)
    (power,) = [c for c in art["checks"] if c["name"] == "power"]
    assert power["status"] == "fail"
    assert "395 are needed" in power["fix"] and "set eval.target" in power["fix"]
    assert "at a 0.9 target 202 items suffice" in power["fix"] and "check_eval.gap_that_matters" in power["fix"]


def test_example_spec_passes_with_label_match(tmp_path):
    art = check_eval_stage(load_spec(EXAMPLE / "tunegate.yaml"), tmp_path)
    assert art["gate"] == "pass", art["reasons"]
    assert art["auc"] >= 0.99 and art["auc_ci_low"] <= art["auc"] <= art["auc_ci_high"]
    assert art["judge_human_kappa_of"] == "label_match" and art["judge_human_kappa"] > 0.6
    assert art["flip_rate"] is None  # deterministic suite: not re-run
    names = [c["name"] for c in art["checks"]]
    assert names == ["discrimination", "scorer_discrimination", "known_bad_rejected", "consistency",
                     "human_agreement", "power"]
    for c in art["checks"]:
        assert c["status"] in ("pass", "fail", "unknown")


# ------------------------------------------------------------------------------------------- consistency


def test_consistency_flip_rate_and_retest_alpha_hand_computed():
    # units (1,1) (1,0) (0,0) (0,0): n=8, n1=3, n0=5, disagreeing pairs 2 -> alpha = 1 - 7*2/(2*3*5) = 8/15
    c = consistency(["a", "b", "c", "d"], [[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], 0.5, n_resamples=200)
    assert c["flip_rate"] == pytest.approx(0.25)
    assert c["n_flipped"] == 1 and c["flipped"] == ["b"]
    assert c["retest_alpha"] == pytest.approx(8 / 15, abs=1e-4)
    # unscored repeats are missing, not disagreements
    c2 = consistency(["a", "b"], [[1.0, None], [1.0, 0.0]], 0.5, n_resamples=50)
    assert c2["n_compared"] == 1 and c2["flip_rate"] == 0.0


# ---------------------------------------------------------------------------------------- human agreement


def test_scorer_vs_humans_hand_computed():
    ids = ["o1", "o2", "o3", "o4"]
    ratings = {"o1": {"A": True, "B": True}, "o2": {"A": True, "B": False}, "o3": {"A": False, "B": False},
               "o4": {"A": False, "B": False}}
    boot = BootstrapSpec(n_resamples=200)
    # scorer = A: kappa(s, A) = 1; kappa(s, B) = (0.75 - 0.5) / 0.5 = 0.5; mean 0.75. kappa(A, B) = 0.5
    res = scorer_vs_humans(ids, [True, True, False, False], ratings, boot)
    assert res["kappa"] == pytest.approx(0.75)
    assert human_ceiling(ids, ratings, boot)["kappa"] == pytest.approx(0.5)
    assert consensus(ratings)["o2"] is None  # a tie
    assert res["confusion"]["human_tie"] == 1 and res["confusion"]["scorer_accepts_human_good"] == 1


def test_ratings_for_unknown_items_and_unreadable_ratings_are_errors(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("item_id,rater,rating\no1,A,pass\nnope,A,fail\n")
    with pytest.raises(DataError, match=r"r\.csv:3: item_id: rating for unknown item 'nope'"):
        load_ratings(p, RatingsFieldMap(), {"o1"}, 4)
    p.write_text("item_id,rater,rating\no1,A,great\n")
    with pytest.raises(DataError, match="neither pass/fail nor a number"):
        load_ratings(p, RatingsFieldMap(), {"o1"}, 4)
    p.write_text("item_id,rater,rating\no1,A,5\no1,B,2\n")
    assert load_ratings(p, RatingsFieldMap(), {"o1"}, 4) == {"o1": {"A": True, "B": False}}


def test_missing_ratings_file_pair_is_a_spec_error(tmp_path):
    spec = example_spec(check_eval={"human_ratings": None})
    with pytest.raises(SpecError, match="check_eval.human_ratings"):
        check_eval_stage(spec, None)


# ------------------------------------------------------------------------------------------------- power


def test_power_matches_connor_formula():
    spec = example_spec(check_eval={"gap_that_matters": 0.1})
    p = _power(spec, 121)
    # p1 = 0.8, p2 = 0.9: psi = 0.8*0.1 + 0.9*0.2 = 0.26
    assert p["discordance"] == pytest.approx(0.26)
    za, zb = 1.959964, 0.841621
    assert p["required_n"] == math.ceil((za * math.sqrt(0.26) + zb * math.sqrt(0.26 - 0.01)) ** 2 / 0.01) == 202
    mdd = math.sqrt(0.26) * (math.sqrt(121) * za + zb * math.sqrt(121 + zb**2 - za**2)) / (121 + zb**2)
    assert p["minimal_detectable_difference"] == pytest.approx(mdd, abs=1e-4)
    art = check_eval_stage(spec, None)
    assert art["gate"] == "fail" and any(r.startswith("power failed") for r in art["reasons"])


# ------------------------------------------------------------------------------------- criterion stability


def test_diff_gold_is_pure_and_counts_changes():
    d = diff_gold({"a": "x", "b": "y", "c": {"k": 1}}, {"a": "x", "b": "z", "c": {"k": 1}, "d": "w"})
    assert d["n_changed"] == 1 and d["changed"] == [{"id": "b", "old": "y", "new": "z"}]
    assert d["n_added"] == 1 and d["n_removed"] == 0 and d["changed_share"] == pytest.approx(1 / 3, abs=1e-4)


def test_against_an_older_golden_set_shows_changed_answers_and_the_metric_shift(tmp_path):
    rows = [json.loads(line) for line in (EXAMPLE / "data.jsonl").read_text().splitlines()]
    test_ids = [r["id"] for r in rows if r["split"] == "test"][:4]
    for r in rows:
        if r["id"] in test_ids:
            r["intent"] = "feedback_praise" if r["intent"] != "feedback_praise" else "order_status"
    old = tmp_path / "old.jsonl"
    old.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    spec = load_spec(EXAMPLE / "tunegate.yaml")
    art = check_eval_stage(spec, None, against=old)
    diff = art["criterion_diff"]
    assert diff["gold"]["n_changed"] == 4 and {c["id"] for c in diff["gold"]["changed"]} == set(test_ids)
    assert diff["changed"] and any("criterion changed" in w for w in art["warnings"])
    # outputs scored under both: the new gold answers of the changed items are wrong under the old golden set
    assert diff["metric_shift"]["n_changed_verdict"] > 0
    direct = diff_criteria(spec, spec)
    assert direct["changed"] is False and direct["metric_shift"]["shift"] == 0.0


# ----------------------------------------------------------------------------------------------------- CLI


def test_cli_exit_codes_and_weak_scorer_named(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["check-eval", str(EXAMPLE / "weak-scorer.yaml"), "--json", "--items", "20"])
    assert res.exit_code == 3, res.output
    art = json.loads(res.stdout)
    assert art["gate"] == "fail" and art["auc"] < 0.9
    assert any("regex" in r for r in art["reasons"])
    res = runner.invoke(app, ["check-eval", str(EXAMPLE / "tunegate.yaml"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "evalcheck.json").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLE / "tunegate.yaml").read_text().replace("  items: 60", "  itemz: 60")
                   .replace("path: data.jsonl", f"path: {EXAMPLE / 'data.jsonl'}"))
    res = runner.invoke(app, ["check-eval", str(bad)])
    assert res.exit_code == 2 and "check_eval.itemz" in res.output


def test_extraction_negatives_and_a_partial_credit_scorer_that_accepts_near_misses(tmp_path):
    rows = [{"id": f"e{i}", "text": f"Order {i % 7 + 1} tickets to {c}", "target": {"city": c, "count": i % 7 + 1},
             "split": "test"} for i, c in enumerate(["Paris", "Lyon", "Berlin", "Rome", "Madrid", "Oslo"] * 2)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "tunegate.yaml").write_text(yaml.safe_dump({
        "task": {"name": "ext", "kind": "extraction", "output_schema": {
            "type": "object", "properties": {"city": {"type": "string"}, "count": {"type": "integer"}}}},
        "data": {"path": "data.jsonl", "fields": {"input": "text", "target": "target", "id": "id", "split": "split"}},
        "eval": {"metric": "json_fields", "scorers": [{"type": "json_valid"}, {"type": "json_fields"}]}}))
    art = check_eval_stage(load_spec(tmp_path / "tunegate.yaml"), None)
    assert art["negatives"]["not_applicable"] == ["wrong_label"] and art["primary_scorer"] == "json_fields"
    by_type = art["discrimination"]["suite"]["by_type"]
    # one field of two changed: F1 0.5 passes the default accept threshold 0.5 -> the gate names it
    assert by_type["near_miss"]["rate"] == 1.0 and by_type["broken_format"]["rate"] == 0.0
    assert by_type["empty"]["rate"] == 0.0 and by_type["truncation"]["rate"] == 0.0
    assert art["gate"] == "fail" and any("near_miss" in r for r in art["reasons"])
    # json_valid only checks the format: named in the warnings, not failed as the primary scorer
    assert any(w.startswith("scorer json_valid alone does not separate") for w in art["warnings"])
