"""The order-extraction example (examples/extraction): its data, the criterion gate on json_fields (known-bad
objects that fit extraction), self-consistency by field-wise majority and JSON repair in the sprint, and the
probe's comparison on the primary scorer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tunegate.data.examples import Example, load_examples
from tunegate.evals.evalcheck import check_eval_stage
from tunegate.evals.negatives import build_candidates
from tunegate.models.base import Generation
from tunegate.models.cache import ResponseCache
from tunegate.spec import load_spec, parse_spec
from tunegate.sprint.strategies import field_majority

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "extraction"


def spec_with(**sections):
    raw = yaml.safe_load((EXAMPLE / "tunegate.yaml").read_text())
    for k, v in sections.items():
        raw[k] = {**raw.get(k, {}), **v} if isinstance(v, dict) else v
    raw["eval"]["bootstrap"]["n_resamples"] = 300
    return parse_spec(yaml.safe_dump(raw), source=EXAMPLE / "test.yaml")


def test_data_is_what_make_data_writes_and_covers_the_edge_cases():
    assert subprocess.run([sys.executable, str(EXAMPLE / "make_data.py"), "--check"], capture_output=True).returncode == 0
    ds = load_examples(load_spec(EXAMPLE / "tunegate.yaml"))
    assert len(ds.examples) >= 300
    edges = {e.slices["edge_case"] for e in ds.examples}
    assert {"missing_order", "missing_amount", "two_orders", "amount_in_words"} <= edges
    for e in ds.examples:  # gold agrees with the message it was written with
        assert all(o.lower() in e.input.lower() for o in e.target["order_ids"])
        if e.slices["edge_case"] == "two_orders":
            assert len(e.target["order_ids"]) == 2
        if e.slices["edge_case"] == "missing_order":
            assert e.target["order_ids"] == [] and not re.search(r"PX-\d", e.input, re.IGNORECASE)
        if e.slices["edge_case"] == "amount_in_words":
            word = {"EUR": "euros", "GBP": "pounds", "USD": "dollars"}[e.target["currency"]]
            assert re.search(rf"[a-z] {word}\b", e.input) and not re.search(r"[€£$]", e.input)


def test_extraction_negatives_missing_field_and_hallucinated_value():
    spec = spec_with()
    a = Example("a", "Where is order PX-11111? It's the kettle.", target={"order_ids": ["PX-11111"], "amount": None,
                                                                          "currency": None, "item": "kettle",
                                                                          "action": "track_order"})
    b = Example("b", "Refund 20 EUR for the lamp, order PX-22222.", target={"order_ids": ["PX-22222"], "amount": 20.0,
                                                                            "currency": "EUR", "item": "desk lamp",
                                                                            "action": "refund"})
    cands, skipped = build_candidates(spec, [a, b], ["missing_field", "hallucinated_value"], seed=0)
    by = {(c.cluster, c.source): json.loads(c.output) for c in cands}
    assert len(by[("a", "missing_field")]) == 4 and set(by[("a", "missing_field")]) < set(a.target)
    assert by[("a", "hallucinated_value")]["amount"] == 20.0  # stated nowhere in a's message
    assert skipped == {"hallucinated_value": 1}  # b has no empty field to fill: skipped and counted, not faked


def test_gate_passes_the_example_and_names_partial_credit_and_format_checks():
    art = check_eval_stage(spec_with(), None)
    assert art["gate"] == "pass", art["reasons"]
    assert art["primary_scorer"] == "json_fields"
    assert {"missing_field", "hallucinated_value", "near_miss", "broken_format"} <= set(art["negatives"]["types"])
    assert art["discrimination"]["per_scorer"]["json_fields"]["auc"] == pytest.approx(1.0)
    # partial credit at the default accept threshold: an object with one wrong field (F1 0.8) is accepted
    lax = check_eval_stage(spec_with(check_eval={"accept_threshold": 0.5}), None)
    assert lax["gate"] == "fail"
    assert any("json_fields" in r and "partial credit" in r for r in lax["reasons"])
    # the guard alone (a format check as the primary scorer) fails, named
    fmt = check_eval_stage(spec_with(eval={"metric": "json_valid", "scorers": [{"type": "json_valid"}]}), None)
    assert fmt["gate"] == "fail" and any("json_valid" in r and "format" in r for r in fmt["reasons"])


def test_field_majority_votes_per_field():
    gold = {"order_ids": ["PX-1"], "amount": 5.0, "currency": "EUR", "item": "kettle", "action": "refund"}
    samples = [json.dumps({**gold, "amount": 6.0}), json.dumps({**gold, "item": "lamp"}),
               json.dumps({**gold, "action": "cancel_order"}), "not json"]
    out, share = field_majority(samples)
    assert json.loads(out) == gold  # every sample is wrong somewhere, the field-wise majority is right
    assert share == pytest.approx((3 + 2 + 3 + 2 + 2) / 5 / 4)  # 3 of 4 agree on order_ids/currency, 2 on others
    assert field_majority(["x", None]) == (None, 0.0)
    # a key most samples leave out is left out
    assert "extra" not in json.loads(field_majority([json.dumps({"a": 1, "extra": 2}), '{"a": 1}', '{"a": 1}'])[0])


class ScriptedExtractor:
    """Answers each message with its gold object, corrupting field number ``epoch`` of each sample at temperature
    > 0 (so no two samples agree as whole objects) and replying with broken JSON before a repair turn."""

    model_id = "fake:extractor"
    capabilities = frozenset({"generate"})

    def __init__(self, gold: dict[str, dict]) -> None:
        self.gold = gold

    def cache_identity(self):
        return {"kind": "fake", "model": "extractor"}

    def _answer(self, messages, params, epoch) -> str:
        text = messages[0]["content"]
        msg = re.findall(r"Message: (.*)", text)[-1].strip()
        g = dict(self.gold[msg])
        if params.get("temperature", 0.0) > 0:
            key = sorted(g)[epoch % len(g)]
            g[key] = {"action": "cancel_order" if g["action"] != "cancel_order" else "refund", "amount": 999.0,
                      "currency": "USD" if g["currency"] != "USD" else "EUR", "item": "wrong item",
                      "order_ids": ["PX-00000"]}[key]  # valid under the schema, but wrong
            return json.dumps(g)
        return json.dumps(g) if len(messages) > 1 else "Sure! " + json.dumps(g)[:-1]  # broken until repaired

    def generate(self, requests):
        for i, r in enumerate(requests):
            yield i, Generation(self._answer(r.messages, r.params, r.epoch), 40, 30, 0.01)

    def close(self):
        pass


def test_sprint_json_repair_and_field_wise_self_consistency(tmp_path):
    from tunegate.sprint.stage import sprint_stage

    spec = spec_with(sprint={"strategies": [[{"type": "zero_shot"}, {"type": "json_output", "repairs": 1}],
                                            [{"type": "zero_shot"}, {"type": "json_output", "repairs": 0},
                                             {"type": "self_consistency", "n": 3, "temperature": 0.7}]],
                             "racing": {"min_items": 4, "finalists": 2, "dev_items": 8}, "test_items": 6})
    gold = {e.input: e.target for e in load_examples(spec).examples}
    art = sprint_stage(spec, tmp_path / "out", backend_factory=lambda m: ScriptedExtractor(gold),
                       cache=ResponseCache(tmp_path / "c.sqlite"), full_grid=True)
    tried = {c["strategy"]: c for c in art["tried"]}
    rep = tried["zero_shot+json_output-repairs1"]
    assert rep["dev_value"] == 1.0 and rep["dev_calls"] == 2 * rep["dev_items"]  # one repair call per item
    sc = tried["zero_shot+json_output-repairs0+self_consistency-n3-temperature0.7"]
    assert sc["dev_value"] == 1.0  # each sample has one wrong field; the field-wise vote recovers every field


def test_lora_probe_items_are_read_on_the_primary_scorer(tmp_path, monkeypatch):
    """The adapter's per-item scores, which the probe compares with the prompt's, come from json_fields (the
    primary scorer) even when json_valid is listed first; they used to come from the first metric."""
    from types import SimpleNamespace

    import tunegate.evals.runner as runner
    import tunegate.probe.lora as lora
    from tunegate.probe.lora_stage import lora_probe

    spec = spec_with(eval={"metric": "json_fields", "scorers": [{"type": "json_valid"}, {"type": "json_fields"}]})

    def fake_train(spec, train, dev, *, base_model_id, out_dir, config, progress):
        Path(out_dir).mkdir(parents=True)
        return SimpleNamespace(train_seconds=1.0, n_train_used=len(train), train_tokens=100, tokens_per_second=100.0,
                               device="cpu", best_epoch=0, dev_loss=[1.0], dev_loss_base=2.0, warnings=[])

    def fake_eval(spec, opts, progress=None):
        opts.out_dir.mkdir(parents=True)
        rows = [{"id": f"t{i}", "scores": {"json_valid": 1.0, "json_fields": 0.6}} for i in range(3)]
        (opts.out_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return SimpleNamespace(metric="json_fields", value=0.6, ci_low=0.5, ci_high=0.7, ci_method="bca", n=3,
                               n_unscored=0, usage={"total": {}}, metrics={"json_valid": 1, "json_fields": 0})

    monkeypatch.setattr(lora, "train_lora", fake_train)
    monkeypatch.setattr(runner, "run_eval", fake_eval)
    probe, items = lora_probe(spec, [], [], tmp_path)
    assert items == {"t0": 0.6, "t1": 0.6, "t2": 0.6} and probe["metric"] == "json_fields"
