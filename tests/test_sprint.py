"""The prompt sprint: racing on synthetic candidates, strategies' parsing and accounting, leakage guard, and a
whole sprint against a fake backend (no model)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tunegate.errors import SpecError, TunegateError
from tunegate.models.base import Generation, LabelScores
from tunegate.models.cache import ResponseCache
from tunegate.spec import load_spec
from tunegate.sprint.racing import full_grid, planned_item_evaluations, successive_halving
from tunegate.sprint.strategies import majority

LABELS = ["billing", "shipping", "other"]


def _u(*parts: object) -> float:
    """A fixed pseudo-random number in [0, 1) for the given parts (stable across runs and processes)."""
    h = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def make_task(tmp_path: Path, n_train: int = 60, n_dev: int = 48, n_test: int = 40, sprint: str = "") -> Path:
    rows = []
    for split, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        for k in range(n):
            lab = LABELS[k % 3]
            rows.append({"id": f"{split}{k:03d}", "text": f"{split} message {k} about {lab}", "intent": lab,
                         "channel": "chat" if k % 2 else "email", "split": split})
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = tmp_path / "tunegate.yaml"
    spec.write_text(f"""\
task:
  name: toy
  kind: classification
  instruction: Sort the message.
  labels: [billing, shipping, other]
data:
  path: d.jsonl
  fields: {{input: text, label: intent, id: id, split: split, slices: [channel]}}
eval:
  metric: accuracy
  target: 0.9
models:
  default: fake:toy
{sprint}
""")
    return spec


def _truth(prompt: str) -> tuple[str, str]:
    """The gold label and the item key of the *question* (the last 'Message:' / text in the prompt)."""
    tail = prompt.rsplit("Message: ", 1)[-1]
    head = tail.split("\n")[0]
    return head.rsplit("about ", 1)[1].strip(), head.split(" about")[0]


def p_correct(prompt: str) -> float:
    """The fake model's accuracy by strategy: few-shot helps, and nearest-neighbour shots help most."""
    if "Examples:" not in prompt:
        return 0.4
    shots = prompt.split("Examples:")[1].rsplit("Message: ", 1)[0]
    q_lab, _ = _truth(prompt)
    return 0.9 if shots.count(f"about {q_lab}") >= 2 else 0.6


class FakeBackend:
    """Fixed per-item correctness: right iff u(item, strategy) < p_correct(prompt); otherwise a wrong label."""

    model_id = "fake:toy"

    def __init__(self, caps=("generate", "label_logprobs"), script=None) -> None:
        self.capabilities = frozenset(caps)
        self.seen: list[str] = []
        self.calls = 0
        self.script = script  # optional: function(messages, params, epoch) -> text

    def cache_identity(self):
        return {"kind": "fake", "model": "toy"}

    def _answer(self, prompt: str) -> str:
        lab, key = _truth(prompt)
        self.seen.append(key)
        ok = _u(key, "Examples:" in prompt) < p_correct(prompt)
        return lab if ok else LABELS[(LABELS.index(lab) + 1) % 3]

    def generate(self, requests):
        for i, r in enumerate(requests):
            self.calls += 1
            if self.script:
                yield i, Generation(self.script(r.messages, r.params, r.epoch), 20, 5, 0.01)
            else:
                yield i, Generation(self._answer(r.messages[-1]["content"]), 20, 2, 0.01)

    def label_logprobs(self, prompts, options):
        for i, p in enumerate(prompts):
            self.calls += 1
            ans = self._answer(p[-1]["content"])
            yield i, LabelScores([0.0 if o == ans else -3.0 for o in options], 30, 0.01)

    def close(self):
        pass


class FakeEmbedder:
    """Bag-of-words hashing: texts sharing the label word are near each other."""

    def embed(self, texts):
        out = np.zeros((len(texts), 32), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                if not w.isdigit():
                    out[i, int(_u("w", w) * 32)] += 1.0
        return out


# ------------------------------------------------------------------------------------------------ racing


def _synthetic(accs, n, seed):
    rng = np.random.default_rng(seed)
    return {c: (rng.random(n) < p).astype(float) for c, p in enumerate(accs)}


def test_racing_finds_the_true_best_with_a_fraction_of_the_calls():
    accs = [0.50, 0.55, 0.60, 0.62, 0.65, 0.70, 0.74, 0.85]
    n, wins, grid_wins, ratios = 400, 0, 0, []
    for seed in range(40):
        truth = _synthetic(accs, n, 1000 + seed)
        ev = lambda ids, idx: {c: truth[c][idx].tolist() for c in ids}  # noqa: E731
        race = successive_halving(list(range(8)), n, ev, min_items=16, eta=2, finalists=1, seed=seed)
        grid = full_grid(list(range(8)), n, ev, finalists=1, seed=seed)
        wins += race.finalists == [7]
        grid_wins += grid.finalists == [7]
        ratios.append(race.item_evaluations() / grid.item_evaluations())
        assert race.item_evaluations() == planned_item_evaluations(8, n, min_items=16, eta=2)
    assert wins >= 36  # >= 90% of seeds
    assert grid_wins == 40
    assert max(ratios) <= 1 / 3
    assert max(ratios) == pytest.approx((8 * 16 + 4 * 32 + 2 * 64) / 3200)


def test_racing_is_paired_seeded_and_respects_the_budget():
    truth = _synthetic([0.3, 0.6, 0.9, 0.5], 200, 7)
    calls = []

    def ev(ids, idx):
        calls.append((tuple(ids), tuple(idx)))
        return {c: truth[c][idx].tolist() for c in ids}

    a = successive_halving([0, 1, 2, 3], 200, ev, min_items=10, eta=2, finalists=2, seed=3)
    b = successive_halving([0, 1, 2, 3], 200, lambda i, x: {c: truth[c][x].tolist() for c in i}, min_items=10,
                           eta=2, finalists=2, seed=3)
    assert a.finalists == b.finalists and a.items_order == b.items_order
    assert len(set(a.items_order)) == len(a.items_order)  # each round's items are new
    assert a.finalists[0] == 2
    assert a.rounds[0].new_items == 10 and a.rounds[0].candidates == [0, 1, 2, 3]
    capped = successive_halving([0, 1, 2, 3], 200, ev, min_items=10, eta=2, finalists=1, seed=3, budget=60)
    assert capped.stopped_by_budget and capped.item_evaluations() <= 60 and len(capped.finalists) == 1


def test_majority_vote():
    assert majority(["a", "b", "a", None, "b", "a"]) == (0, 0.5)
    assert majority(["b", "a", "a", "b"])[0] == 0  # a tie keeps the answer sampled first
    assert majority([None, None]) == (None, 0.0)
    assert majority([None, "c"]) == (1, 0.5)


# ------------------------------------------------------------------------------------------------ whole sprint


def run_sprint(tmp_path, spec_path, backend, **kw):
    from tunegate.sprint.stage import sprint_stage

    spec = load_spec(spec_path)
    return sprint_stage(spec, tmp_path / "out", backend_factory=lambda m: backend,
                        cache=ResponseCache(tmp_path / "c.sqlite"), embedder_factory=FakeEmbedder, **kw)


def test_sprint_end_to_end_with_a_fake_backend(tmp_path):
    backend = FakeBackend()
    art = run_sprint(tmp_path, make_task(tmp_path, sprint="sprint: {racing: {min_items: 8}}"), backend)
    assert [c["strategy"] for c in art["tried"]] == ["zero_shot", "few_shot_random", "few_shot_knn"]
    assert all(c["method"] == "label_likelihood" for c in art["tried"])
    assert art["best"]["candidate"] == art["finalists"][0] == "few_shot_knn ll"
    assert art["candidates"][0]["n"] == 40 and art["baseline"]["name"] == "zero_shot ll"
    best = art["candidates"][0]
    assert best["ci_low"] < best["value"] < best["ci_high"]
    assert {c["comparison"] for c in art["comparisons"]} == {"best_vs_baseline", "best_vs_runner_up"}
    vs_base = next(c for c in art["comparisons"] if c["comparison"] == "best_vs_baseline")
    assert vs_base["diff"] > 0 and vs_base["p_holm"] >= vs_base["p"]
    assert art["gate"] in ("met", "gap", "unknown") and art["gap"]["value"] == pytest.approx(best["value"] - 0.9)
    # calls: racing spends 1/3 of the grid's 3 x 48 dev calls: all 3 on 8 items, then (the budget cannot pay for
    # every survivor on the rest of dev) the best 2 on 12 more; the full grid would put every candidate on all 48
    assert art["calls_selection"] == 3 * 8 + 2 * 12 == 3 * 48 // 3
    sel = art["selection"]
    assert sel["method"] == "race" and sel["dev_items"] == 48 and sel["dev_items_used"] == 20
    assert sel["calls"] == 48 and sel["grid_calls"] == 3 * 48 and sel["calls_share_of_grid"] == 0.3333
    assert 0 <= sel["p_within_1pt"] <= 1 and "few_shot_knn ll" not in sel["indistinguishable"]
    assert set(sel["eliminated_by_rank"]) | set(sel["eliminated_by_test"]) == {"zero_shot ll", "few_shot_random ll"}
    assert art["calls_test"] == 3 * 40 and art["calls_used"] == backend.calls
    assert art["calls_full_grid"] == 3 * 48 + 3 * 40
    assert art["usage_by_role"]["subject"]["calls"] == art["calls_used"]
    assert set(art["slices"][best["name"]]["channel"]) == {"chat", "email"}
    on_disk = json.loads((tmp_path / "out" / "sprint.json").read_text())
    assert on_disk["best"] == art["best"] and "_outcomes" not in on_disk
    lines = (tmp_path / "out" / "sprint_results.jsonl").read_text().splitlines()
    assert len(lines) == 3 * 40
    # the best finalist also as an ordinary eval.json (the probe compares with it item by item)
    from tunegate.probe.stage import best_prompt_items

    name, items = best_prompt_items(tmp_path / "out")
    assert name is not None and len(items) == 40
    assert np.mean(list(items.values())) == pytest.approx(best["value"])


def test_leakage_guard_test_items_never_become_shots_and_selection_never_sees_test(tmp_path):
    spec_path = make_task(tmp_path, sprint="sprint: {racing: {min_items: 8}}")
    # a train row that duplicates a test row's text must leave the few-shot pool
    rows = (tmp_path / "d.jsonl").read_text().splitlines()
    dup = json.loads(next(r for r in rows if '"split": "test"' in r))
    dup.update(id="leak1", split="train")
    (tmp_path / "d.jsonl").write_text("\n".join(rows + [json.dumps(dup)]) + "\n")
    backend = FakeBackend()
    seen_prompts: list[str] = []
    orig = backend.label_logprobs

    def spy(prompts, options):
        seen_prompts.extend(p[-1]["content"] for p in prompts)
        yield from orig(prompts, options)

    backend.label_logprobs = spy
    art = run_sprint(tmp_path, spec_path, backend)
    assert art["split_sizes"]["pool_excluded_duplicates"] == 1
    test_texts = {json.loads(r)["text"] for r in rows if '"split": "test"' in r}
    for p in seen_prompts:
        shots = p.split("Examples:")[1].rsplit("Message: ", 1)[0] if "Examples:" in p else ""
        assert not any(t in shots for t in test_texts)
    n_sel = art["calls_selection"]
    assert all("test message" not in p.rsplit("Message: ", 1)[-1] for p in seen_prompts[:n_sel])


def test_check_shots_refuses_dev_or_test_examples(tmp_path):
    from tunegate.data.examples import load_examples
    from tunegate.evals.prompts import load_template
    from tunegate.models.usage import UsageTracker
    from tunegate.sprint.evaluate import SprintContext

    spec = load_spec(make_task(tmp_path))
    ds = load_examples(spec)
    ctx = SprintContext(spec, spec.sprint, ds, load_template(spec), [], "label_match", lambda m: None,
                        ResponseCache(tmp_path / "c.sqlite"), UsageTracker(), 0)
    assert len(ctx.random_shots(ds.split("test")[0], 4)) == 4
    with pytest.raises(TunegateError, match="leakage"):
        ctx.check_shots([ds.split("test")[0]])
    with pytest.raises(TunegateError, match="selection touched the test split"):
        ctx.record_access("selection", "x", ds.split("test")[:1])


def test_json_output_repairs_are_extra_calls(tmp_path):
    def script(messages, params, epoch):
        prompt = messages[0]["content"]
        lab, key = _truth(prompt)
        if len(messages) > 1:  # the repair turn
            return json.dumps({"label": lab})
        return "sure! " + lab if int(key.split()[-1]) % 2 else json.dumps({"label": lab})

    spec = make_task(tmp_path, n_dev=12, n_test=10, sprint="""\
sprint:
  strategies: [[zero_shot, json_output]]
  racing: {min_items: 4, finalists: 1}
""")
    backend = FakeBackend(caps=("generate",), script=script)
    art = run_sprint(tmp_path, spec, backend, full_grid=True)
    # the plain zero-shot baseline was added; the JSON candidate needed one repair call on each odd dev item
    json_c = next(c for c in art["tried"] if c["strategy"] == "zero_shot+json_output")
    base = next(c for c in art["tried"] if c["baseline"])
    assert json_c["method"] == "generate" and base["strategy"] == "zero_shot"
    assert json_c["dev_items"] == 12 and json_c["dev_calls"] == 12 + 6 and json_c["dev_value"] == 1.0
    assert base["dev_calls"] == 12 and base["dev_value"] == 1.0  # plain answers need no repair
    assert art["calls_full_grid_exact"] and art["calls_full_grid"] == art["calls_used"]


def test_self_consistency_votes_over_samples(tmp_path):
    def script(messages, params, epoch):
        lab, _ = _truth(messages[-1]["content"])
        if params["temperature"] == 0.0:  # the plain zero-shot baseline
            return lab
        assert params["temperature"] == 0.7
        wrong = LABELS[(LABELS.index(lab) + 1) % 3]
        return f"Final answer: {lab if epoch in (0, 2, 4) else wrong}"

    spec = make_task(tmp_path, n_dev=8, n_test=6, sprint="""\
sprint:
  strategies: [[zero_shot, cot, {type: self_consistency, n: 5}]]
  racing: {min_items: 8, finalists: 1}
""")
    backend = FakeBackend(caps=("generate",), script=script)
    art = run_sprint(tmp_path, spec, backend)
    sc = next(c for c in art["tried"] if "self_consistency" in c["strategy"])
    assert sc["dev_calls"] == 8 * 5 and sc["dev_value"] == 1.0


def test_spec_errors_name_the_key(tmp_path):
    with pytest.raises(SpecError, match="unknown key"):
        load_spec(make_task(tmp_path, sprint="sprint: {racin: {}}"))
    spec = load_spec(make_task(tmp_path, sprint="sprint: {strategies: [[zero_shot, cot, label_likelihood]]}"))
    from tunegate.sprint.stage import sprint_stage

    with pytest.raises(SpecError, match="cot need"):
        sprint_stage(spec, tmp_path / "o", backend_factory=lambda m: FakeBackend(),
                     cache=ResponseCache(tmp_path / "c.sqlite"))
    spec = load_spec(make_task(tmp_path, sprint="sprint: {strategies: [nope]}"))
    with pytest.raises(SpecError, match="unknown strategy 'nope'"):
        sprint_stage(spec, tmp_path / "o", backend_factory=lambda m: FakeBackend(),
                     cache=ResponseCache(tmp_path / "c.sqlite"))


def test_cli_sprint_prints_leaderboard_and_json(tmp_path):
    from typer.testing import CliRunner

    from tunegate.cli import app
    from tunegate.models.registry import register_backend

    register_backend("fakesprint")(lambda model_id, name, settings: FakeBackend())
    spec = make_task(tmp_path, sprint="sprint: {strategies: [zero_shot, few_shot_random], racing: {min_items: 8}}")
    text = spec.read_text().replace("default: fake:toy", "default: fakesprint:toy")
    spec.write_text(text)
    runner = CliRunner()
    res = runner.invoke(app, ["sprint", str(spec), "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c.sqlite")])
    assert res.exit_code == 3, res.output  # the gate: the best prompt's upper bound (0.800) is below the 0.9 target
    assert "leaderboard" in res.output and "gate:" in res.output and "full grid" in res.output
    res = runner.invoke(app, ["sprint", str(spec), "--out", str(tmp_path / "o2"), "--cache", str(tmp_path / "c.sqlite"),
                              "--json", "--budget", "200"])
    assert res.exit_code == 3, res.output
    art = json.loads(res.output.strip().splitlines()[-1])
    assert art["usage_by_role"]["subject"]["backend_calls"] == 0 and art["budget_calls"] == 200
    res = runner.invoke(app, ["sprint", str(spec), "--budget", "10", "--cache", str(tmp_path / "c.sqlite")])
    assert res.exit_code == 2 and "too small" in res.output


def test_proposer_paraphrases_become_instruction_variants_with_proposer_usage(tmp_path):
    def script(messages, params, epoch):
        text = messages[-1]["content"]
        if text.startswith("Rewrite the following instruction"):
            return ["Please sort this message.", "Sort the message."][epoch]  # the 2nd duplicates the task's
        return _truth(text)[0]

    spec = make_task(tmp_path, n_dev=8, n_test=6, sprint="""\
sprint:
  strategies: [zero_shot]
  paraphrases: 2
  racing: {min_items: 4, finalists: 1}
""")
    art = run_sprint(tmp_path, spec, FakeBackend(caps=("generate",), script=script))
    assert [c["instruction"] for c in art["tried"]] == ["task", "para1"]
    assert art["tried"][1]["instruction_source"] == "proposer"
    assert art["usage_by_role"]["proposer"]["calls"] == 2
    assert any("paraphrase 2" in n and "duplicate" in n for n in art["notes"])


# ------------------------------------------------------------------------------------------------ statistics


def test_gate_rule_and_items_needed_against_hand_values():
    from tunegate.sprint.results import gap_and_gate

    unknown = gap_and_gate({"value": 0.85, "ci_low": 0.80, "ci_high": 0.90, "n": 100}, 0.88, 0.95)
    assert unknown["gate"] == "unknown"
    # ((z_.975 sqrt(.88 * .12) + z_.8 sqrt(.85 * .15)) / .03)^2 = ((0.636914 + 0.300519) / .03)^2 = 976.4 -> 977,
    # minus the 100 seen
    assert unknown["more_items_needed"] == 877
    # a perfect score whose interval still reaches below the target: the target's own variance decides,
    # ((1.959964 * 0.3) / 0.1)^2 = 34.6 -> 35, minus 20; never "0 more" while the gate is unknown
    perfect = gap_and_gate({"value": 1.0, "ci_low": 0.839, "ci_high": 1.0, "n": 20}, 0.9, 0.95)
    assert perfect["gate"] == "unknown" and perfect["more_items_needed"] == 15
    assert unknown["gap"] == {"value": pytest.approx(-0.03), "ci_low": pytest.approx(-0.08),
                              "ci_high": pytest.approx(0.02)}
    assert gap_and_gate({"value": 0.95, "ci_low": 0.90, "ci_high": 0.98, "n": 100}, 0.9, 0.95)["gate"] == "met"
    assert gap_and_gate({"value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 100}, 0.9, 0.95)["gate"] == "gap"
    assert gap_and_gate({"value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 100}, None, 0.95)["gate"] == "unknown"


def test_paired_comparison_and_holm_against_hand_values():
    from tunegate.spec import BootstrapSpec
    from tunegate.sprint.evaluate import ItemOutcome
    from tunegate.sprint.results import compare, holm

    def outs(xs):
        return [ItemOutcome(f"i{k}", "test", "a", "a", "a", float(x), True, {}, {}) for k, x in enumerate(xs)]

    # 20 items: 10 both right, 9 only B right, 1 only A right -> exact McNemar p = 2 * (1 + 10) / 2^10
    a = [1] * 10 + [0] * 9 + [1]
    b = [1] * 10 + [1] * 9 + [0]
    c = compare(outs(a), outs(b), name_a="A", name_b="B", boot=BootstrapSpec(), what="x")
    assert (c["b01"], c["b10"]) == (9, 1) and c["p"] == pytest.approx(22 / 1024)
    assert c["diff"] == pytest.approx(0.4) and c["ci_low"] > 0
    assert c["p_midp"] == pytest.approx(22 / 1024 - 10 / 1024)  # mid-p: 2 P(X <= 1) - P(X = 1), X ~ Bin(10, 1/2)
    comps = [{"p": 0.01}, {"p": 0.04}, {"p": 0.03}]
    holm(comps, 0.05)
    assert [x["p_holm"] for x in comps] == pytest.approx([0.03, 0.06, 0.06])
    assert [x["significant"] for x in comps] == [True, False, False]


def test_a_race_stopped_by_the_budget_keeps_the_survivors_ahead_of_the_eliminated():
    acc = {0: 0.9, 1: 0.8, 2: 0.3, 3: 0.2}

    def ev(cands, idx):
        return {c: [float(_u("race", c, i) < acc[c]) for i in idx] for c in cands}

    res = successive_halving([0, 1, 2, 3], 200, ev, min_items=16, finalists=2, budget=70)
    assert res.stopped_by_budget
    assert res.finalists == [0, 1]  # candidate 1 survived round 1; 2 and 3 were eliminated there
    assert sorted(res.rounds[0].eliminated) == [2, 3]


def test_knn_few_shot_embeds_each_split_once_in_a_batch(tmp_path):
    calls: list[int] = []

    class CountingEmbedder(FakeEmbedder):
        def embed(self, texts):
            calls.append(len(texts))
            return super().embed(texts)

    from tunegate.sprint.stage import sprint_stage

    spec = load_spec(make_task(tmp_path, sprint="sprint: {racing: {min_items: 8}}"))
    art = sprint_stage(spec, tmp_path / "out", backend_factory=lambda m: FakeBackend(),
                       cache=ResponseCache(tmp_path / "c.sqlite"), embedder_factory=CountingEmbedder)
    assert "few_shot_knn ll" in [c["name"] for c in art["tried"]]
    # one batch for the train pool (60), one for the sprint's dev and test items (48 + 40); none per item
    assert calls == [60, 48 + 40]


def test_a_misspelt_strategy_option_in_a_real_sprint_names_the_spec_file_and_line(tmp_path):
    """The sprint builds its candidates with the spec, so a typo in a strategy's options points at the line."""
    from tunegate.errors import SpecError
    from tunegate.spec import load_spec
    from tunegate.sprint.stage import sprint_stage

    spec_path = make_task(tmp_path, sprint="sprint:\n  strategies:\n    - [zero_shot]\n"
                                           "    - [{type: few_shot_random, kk: 3}]\n")
    with pytest.raises(SpecError) as err:
        sprint_stage(load_spec(spec_path), tmp_path / "run", backend_factory=lambda m: FakeBackend(),
                     cache=ResponseCache(tmp_path / "c.sqlite"))
    msg = str(err.value)
    assert "tunegate.yaml" in msg and "sprint.strategies.1.0" in msg and "kk" in msg, msg
    line = int(msg.split("tunegate.yaml:")[1].split(":")[0])
    assert "kk: 3" in spec_path.read_text().splitlines()[line - 1]
