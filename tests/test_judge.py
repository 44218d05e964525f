"""The LLM-as-judge scorer: verdict parsing, refusals, cache by repeat, usage role, and the gate's consistency
check against a judge that answers at random (a real HTTP stub) and the real local model."""

from __future__ import annotations

import csv
import json
import random
import threading
from pathlib import Path

import pytest
import yaml

from tunegate.data.examples import Example
from tunegate.errors import SpecError
from tunegate.evals.evalcheck import check_eval_stage
from tunegate.evals.judge import parse_verdict
from tunegate.evals.scorers import ScorerContext, build_scorers
from tunegate.models.cache import ResponseCache
from tunegate.models.usage import UsageTracker
from tunegate.spec import parse_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "support-triage"


def spec_with(judge: dict, check_eval: dict | None = None, backends: dict | None = None, **raw_extra):
    raw = yaml.safe_load((EXAMPLE / "tunegate.yaml").read_text())
    raw["eval"]["scorers"] = [{"type": "label_match"}, {"type": "llm_judge", **judge}]
    raw["eval"]["bootstrap"]["n_resamples"] = 300
    raw["check_eval"] = {**raw["check_eval"], **(check_eval or {})}
    raw["models"]["backends"].update(backends or {})
    raw.update(raw_extra)
    return parse_spec(yaml.safe_dump(raw), source=EXAMPLE / "judge-test.yaml")


RUBRIC = "The answer names exactly the intent of the message."


@pytest.mark.parametrize("text, scale, expected", [
    ("VERDICT: PASS", "pass_fail", 1), ("verdict: fail", "pass_fail", 0), ("**Verdict:** Pass", "pass_fail", 1),
    ("It could pass or fail. VERDICT: FAIL", "pass_fail", 0), ("The answer passes.", "pass_fail", 1),
    ("pass or fail, hard to say", "pass_fail", None), ("refund_request", "pass_fail", None), ("", "pass_fail", None),
    ("SCORE: 4", "1-5", 4), ("Score = 2/5", "1-5", 2), ("3", "1-5", 3), ("between 2 and 3", "1-5", None),
    ("score: 7", "1-5", None), ("version 1.5 is great", "1-5", None),
])
def test_parse_verdict(text, scale, expected):
    assert parse_verdict(text, scale) == expected


def test_spec_errors_name_the_key():
    with pytest.raises(SpecError, match=r"eval\.scorers\.1\.model: .*subject model"):
        build_scorers(spec_with({"rubric": RUBRIC}))
    with pytest.raises(SpecError, match=r"eval\.scorers\.1\.scale: .*'1-10' cannot be parsed"):
        build_scorers(spec_with({"rubric": RUBRIC, "model": "openai:gpt-4o-mini", "scale": "1-10"}))
    with pytest.raises(SpecError, match=r"eval\.scorers\.1\.rubric: .*needs a rubric"):
        build_scorers(spec_with({"model": "openai:gpt-4o-mini"}))
    with pytest.raises(SpecError, match=r"eval\.scorers\.1\.rubrik: unknown llm_judge option"):
        build_scorers(spec_with({"rubrik": RUBRIC, "model": "openai:gpt-4o-mini"}))
    judge = build_scorers(spec_with({"rubric": RUBRIC, "allow_self_judge": True}))[1]
    assert judge.warnings and "own judge" in judge.warnings[0]
    five = build_scorers(spec_with({"rubric": RUBRIC, "model": "openai:gpt-4o-mini", "scale": "1-5"}))[1]
    assert five.accept_at == pytest.approx(0.75) and not five.binary


def _stub_spec(stub, judge_extra=None, check_eval=None):
    return spec_with({"rubric": RUBRIC, "model": "openai:judge", "repeats": 3, "temperature": 1.0,
                      **(judge_extra or {})}, check_eval,
                     backends={"openai:judge": {"base_url": stub.base_url, "model": "stub-model",
                                                "max_retries": 0}})


def test_judge_cache_keyed_by_repeat_usage_role_and_unscored_reason(openai_stub, tmp_path):
    answers = iter(["VERDICT: PASS", "VERDICT: FAIL", "I cannot decide", "VERDICT: PASS"])
    lock = threading.Lock()

    def reply(body):
        with lock:
            return next(answers)

    openai_stub.reply = reply
    spec = _stub_spec(openai_stub)
    usage = UsageTracker()
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        ctx = ScorerContext(spec, subject_model=spec.models.default, cache=cache, usage=usage)
        judge = build_scorers(spec, ctx)[1]
        ex = Example("x1", "where is my parcel?", "order_status")
        first = judge.score_many(["order_status", "refund_request"], [ex, ex], epoch=0)
        again = judge.score_many(["order_status", "refund_request"], [ex, ex], epoch=0)  # cache hits
        second = judge.score_many(["order_status", "refund_request"], [ex, ex], epoch=1)  # new calls
        judge.close()
    assert [s.value for s in first] == [s.value for s in again]
    assert sorted(str(s.value) for s in first) == ["0.0", "1.0"]
    assert None in [s.value for s in second]
    assert any(s.reason == "no parseable verdict in the judge's answer" for s in second)
    u = usage.to_dict()["by_role"]["judge"]
    assert u["calls"] == 6 and u["cache_hits"] == 2 and u["backend_calls"] == 4


def test_a_judge_that_answers_at_random_fails_consistency(openai_stub, tmp_path):
    rng = random.Random(7)
    lock = threading.Lock()

    def reply(body):
        with lock:
            return rng.choice(["VERDICT: PASS", "VERDICT: FAIL"])

    openai_stub.reply = reply
    spec = _stub_spec(openai_stub, check_eval={"items": 10, "judge_items": 10, "answer_method": "generate"})
    ticks: list[tuple[int, int]] = []
    notes: list[str] = []

    def progress(what: str, done: int | None = None, total: int | None = None) -> None:
        if done is None:
            notes.append(what)
        else:
            assert what == "judge calls"
            ticks.append((done, total))

    with ResponseCache(tmp_path / "c.sqlite") as cache:
        art = check_eval_stage(spec, tmp_path, cache=cache, progress=progress)
    assert notes and notes[0].startswith("criterion gate:")
    assert ticks[-1][0] == ticks[-1][1] == art["usage"]["by_role"]["judge"]["calls"] == (10 * 8 + 60) * 3
    cons = art["consistency"]["llm_judge"]
    assert cons["repeats"] == 3 and cons["n_compared"] >= 100
    # three fair coin flips agree with probability 1/4: the flip rate is near 0.75, alpha near 0
    assert 0.6 < art["flip_rate"] < 0.9
    assert abs(cons["retest_alpha"]) < 0.2
    check = next(c for c in art["checks"] if c["name"] == "consistency")
    assert check["status"] == "fail" and "llm_judge" in check["detail"]
    assert art["gate"] == "fail"
    # label_match is the primary scorer and passes; the random judge is named as not separating on its own
    assert next(c for c in art["checks"] if c["name"] == "scorer_discrimination")["status"] == "pass"
    assert art["discrimination"]["per_scorer"]["llm_judge"]["auc"] < 0.7
    assert any(w.startswith("scorer llm_judge alone does not separate") for w in art["warnings"])
    assert art["usage"]["by_role"]["judge"]["calls"] > 0 and "subject" not in art["usage"]["by_role"]


def test_a_judge_without_human_ratings_leaves_the_gate_unknown(openai_stub, tmp_path):
    def reply(body):  # a perfect, deterministic judge: passes exactly the gold answer
        text = body["messages"][-1]["content"]
        ref = text.split("Reference answer:\n")[1].split("\n")[0]
        ans = text.split("Answer to grade:\n")[1].split("\n\n")[0]
        return "VERDICT: PASS" if ans.strip() == ref.strip() else "VERDICT: FAIL"

    openai_stub.reply = reply
    spec = _stub_spec(openai_stub, check_eval={"items": 6, "judge_items": 6, "human_ratings": None,
                                               "rated_outputs": None})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        art = check_eval_stage(spec, None, cache=cache)
    assert art["auc"] == pytest.approx(1.0) and art["flip_rate"] == 0.0
    assert art["gate"] == "unknown"
    assert any("no human ratings" in r for r in art["reasons"])


@pytest.mark.integration
def test_full_gate_with_smollm2_as_judge_on_a_small_subset(tmp_path):
    rated = [json.loads(line) for line in (EXAMPLE / "rated_outputs.jsonl").read_text().splitlines()][:2]
    (tmp_path / "rated.jsonl").write_text("\n".join(json.dumps(r) for r in rated) + "\n")
    ids = {r["id"] for r in rated}
    with (EXAMPLE / "output_ratings.csv").open() as fh, (tmp_path / "ratings.csv").open("w", newline="") as out:
        w = csv.DictWriter(out, fieldnames=["item_id", "rater", "rating"])
        w.writeheader()
        w.writerows(r for r in csv.DictReader(fh) if r["item_id"] in ids)
    spec = spec_with({"rubric": RUBRIC, "allow_self_judge": True, "repeats": 2, "temperature": 0.7,
                      "max_tokens": 6},
                     {"items": 4, "judge_items": 2, "negatives": ["empty"], "answer_method": "generate",
                      "rated_outputs": str(tmp_path / "rated.jsonl"), "human_ratings": str(tmp_path / "ratings.csv")})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        art = check_eval_stage(spec, tmp_path, cache=cache)
    judge = art["discrimination"]["per_scorer"]["llm_judge"]
    assert judge["n_good"] + judge["n_bad"] == 2 * 2 + 2  # 2 items x (gold + empty) + 2 rated outputs
    assert art["gate"] in ("fail", "unknown")  # a 135M-parameter judge is not good enough, and the gate says so
    assert art["reasons"] and any("own judge" in w for w in art["warnings"])
    assert art["usage"]["by_role"]["judge"]["calls"] == 2 * 6
    assert art["consistency"]["llm_judge"]["repeats"] == 2
    assert art["human_agreement"]["per_scorer"]["llm_judge"]["n_outputs"] == 2
    assert (tmp_path / "evalcheck.json").exists()


def test_judge_inside_tunegate_eval_counts_as_role_judge(openai_stub, tmp_path):
    from tunegate.evals.runner import EvalOptions, run_eval

    openai_stub.reply = lambda body: ("VERDICT: PASS" if "Answer to grade" in body["messages"][-1]["content"]
                                      else "order_status")
    stub = {"base_url": openai_stub.base_url, "model": "stub-model", "max_retries": 0}
    spec = spec_with({"rubric": RUBRIC, "model": "openai:judge"},
                     backends={"openai:judge": stub, "openai:subject": stub})
    art = run_eval(spec, EvalOptions(model="openai:subject", limit=3, method="generate",
                                     cache_path=tmp_path / "c.sqlite"))
    assert art.usage["by_role"]["subject"]["calls"] == 3 and art.usage["by_role"]["judge"]["calls"] == 3
    assert art.metrics["llm_judge"].value == 1.0
    with pytest.raises(SpecError, match="subject model"):
        run_eval(spec, EvalOptions(model="openai:judge", limit=1, method="generate", cache_path=tmp_path / "d"))
