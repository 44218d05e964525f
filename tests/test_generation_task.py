"""The reply-drafting example (examples/generation) through the criterion gate: the proper suite (a judge whose
rubric checks correctness + rouge_l) passes; a length check and a judge whose rubric ignores correctness fail,
and the reasons name them. The judge is a deterministic stand-in served over real HTTP on 127.0.0.1: it grades
by what its rubric asks for (correctness against the reference, or tone only)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tunegate.data.examples import Example
from tunegate.evals.evalcheck import check_eval_stage
from tunegate.evals.negatives import build_candidates
from tunegate.evals.scorers import build_scorers
from tunegate.models.cache import ResponseCache
from tunegate.spec import parse_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "generation"
UNSAFE = re.compile(r"guarantee|promise|voucher|compensation", re.IGNORECASE)
GERMAN = re.compile(r"\b(Vielen|Hallo|danke|Ihre|Ihrem|Nachricht)\b")
ORDER = re.compile(r"PX-\d{5}")


def _section(text: str, head: str, until: str) -> str:
    return text.split(f"{head}:\n", 1)[1].split(f"\n\n{until}", 1)[0] if f"{head}:\n" in text else ""


def _lcs_f(a: str, b: str) -> float:
    x, y = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    if not x or not y:
        return 0.0
    prev = [0] * (len(y) + 1)
    for t in x:
        cur = [0]
        for j, u in enumerate(y, 1):
            cur.append(prev[j - 1] + 1 if t == u else max(prev[j], cur[j - 1]))
        prev = cur
    return 2 * prev[-1] / (len(x) + len(y))


def stand_in_judge(body: dict) -> str:
    """Grades as its rubric asks: a rubric about agreeing with the reference gets a correctness check; any other
    rubric (tone only) passes every non-empty answer without rude words."""
    text = body["messages"][-1]["content"]
    rubric, answer = _section(text, "Rubric", "Input:"), _section(text, "Answer to grade", "Reply with")
    message, reference = _section(text, "Input", "Reference answer:"), _section(text, "Reference answer", "Answer")
    if not answer.strip() or answer.strip() == "(empty)":
        return "VERDICT: FAIL"
    if "reference" not in rubric.lower():  # tone only
        return "VERDICT: PASS"
    ok = (answer.strip() != message.strip() and not UNSAFE.search(answer) and not GERMAN.search(answer)
          and set(ORDER.findall(answer)) <= set(ORDER.findall(message)) and answer.rstrip()[-1:] in ".!?"
          and _lcs_f(answer, reference) >= 0.6)
    return "VERDICT: PASS" if ok else "VERDICT: FAIL"


def spec_for(stub, *, scorers: list | None = None, rubric_file: str = "rubric.md", metric: str | None = None,
             check_eval: dict | None = None):
    raw = yaml.safe_load((EXAMPLE / "tunegate.yaml").read_text())
    raw["models"]["backends"]["openai:gpt-4o-mini"] = {"base_url": stub.base_url, "model": "stub", "max_retries": 0}
    if scorers is not None:
        raw["eval"]["scorers"] = scorers
    else:
        raw["eval"]["scorers"][0]["rubric_file"] = rubric_file
    if metric:
        raw["eval"]["metric"] = metric
    raw["eval"]["bootstrap"]["n_resamples"] = 300
    raw["check_eval"].update(check_eval or {})
    return parse_spec(yaml.safe_dump(raw), source=EXAMPLE / "gate-test.yaml")


def _gate(spec, tmp_path):
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        return check_eval_stage(spec, None, cache=cache)


def test_data_files_are_what_make_data_writes():
    assert subprocess.run([sys.executable, str(EXAMPLE / "make_data.py"), "--check"], capture_output=True).returncode == 0
    rows = [json.loads(x) for x in (EXAMPLE / "data.jsonl").read_text().splitlines()]
    rated = [json.loads(x) for x in (EXAMPLE / "rated_outputs.jsonl").read_text().splitlines()]
    ratings = (EXAMPLE / "output_ratings.csv").read_text().splitlines()[1:]
    assert len(rows) == 260 and len({r["text"] for r in rows}) == 260
    assert len(rated) >= 60 and len(ratings) == 3 * len(rated)
    test_ids = {r["id"] for r in rows if r["split"] == "test"}
    assert {r["item_id"] for r in rated} <= test_ids


def test_generation_negatives_fit_the_kind(openai_stub):
    spec = spec_for(openai_stub)
    items = [Example(f"g{i}", f"Where is my order PX-1000{i}? - Ana", target=f"Hi Ana, order PX-1000{i} is on its "
                     f"way; the courier will update tracking within {i + 2} days.") for i in range(4)]
    items.append(Example("g9", "I can't log in, the reset email never arrives.", target="Hi, please use "
                         "'Forgot password' on the sign-in page and check your spam folder."))
    types = ["off_topic", "unsafe_promise", "wrong_language", "truncation", "copy_of_input", "empty"]
    cands, skipped = build_candidates(spec, items, types, seed=0)
    by = {(c.cluster, c.source): c.output for c in cands}
    assert by[("g0", "off_topic")] == items[-1].target  # the reply to the least similar message
    assert by[("g0", "unsafe_promise")].startswith(items[0].target) and UNSAFE.search(by[("g0", "unsafe_promise")])
    assert GERMAN.search(by[("g0", "wrong_language")]) and "PX-10000" in by[("g0", "wrong_language")]
    assert by[("g0", "copy_of_input")] == items[0].input and not skipped


def test_rouge_l_hand_computed(openai_stub):
    spec = spec_for(openai_stub, scorers=[{"type": "rouge_l"}, {"type": "rouge_l", "threshold": 0.5}], metric="rouge_l")
    cont, thr = build_scorers(spec)
    ex = Example("x", "msg", target="the cat sat on the mat")  # normalised: cat sat on mat (4 tokens)
    # output tokens: cat on mat today (4); LCS = cat on mat = 3 -> F = 2*3/(4+4) = 0.75
    assert cont.score("The cat on the mat today", ex).value == pytest.approx(0.75)
    assert thr.score("The cat on the mat today", ex).value == 1.0 and thr.score("dog", ex).value == 0.0
    assert cont.score("", ex).value == 0.0


def test_proper_suite_passes_the_gate(openai_stub, tmp_path):
    openai_stub.reply = stand_in_judge
    art = _gate(spec_for(openai_stub), tmp_path)
    assert art["primary_scorer"] == "llm_judge"
    assert set(art["negatives"]["types"]) >= {"off_topic", "unsafe_promise", "wrong_language", "truncation",
                                              "copy_of_input"}
    judge = art["discrimination"]["per_scorer"]["llm_judge"]
    assert judge["auc"] >= 0.9
    assert art["human_agreement"]["ceiling"]["kappa"] > 0.6
    assert art["judge_human_kappa"] >= art["human_human_kappa"] - 0.1
    assert art["flip_rate"] == 0.0
    assert art["gate"] == "pass", art["reasons"]
    # rouge_l alone lets the unsafe promise through: it is named as a companion that does not separate alone
    assert judge["by_type"]["unsafe_promise"]["rate"] == 0.0
    assert art["discrimination"]["per_scorer"]["rouge_l"]["by_type"]["unsafe_promise"]["rate"] > 0.5


def test_a_length_check_fails_the_gate_and_is_named(openai_stub, tmp_path):
    length = {"type": "regex", "pattern": r"(?s)^.{40,600}$", "fullmatch": True}
    art = _gate(spec_for(openai_stub, scorers=[length], metric="regex"), tmp_path)
    assert art["gate"] == "fail"
    text = " ".join(art["reasons"])
    assert "regex" in text and "scorer discrimination failed" in text
    assert re.search(r"accepts .*(off_topic|unsafe_promise|wrong_language)", text)
    assert art["human_agreement"]["per_scorer"]["regex"]["kappa"] < 0.6


def test_a_judge_whose_rubric_ignores_correctness_fails_and_is_named(openai_stub, tmp_path):
    openai_stub.reply = stand_in_judge
    art = _gate(spec_for(openai_stub, rubric_file="rubric-style-only.md"), tmp_path)
    assert art["gate"] == "fail"
    failed = {c["name"] for c in art["checks"] if c["status"] == "fail"}
    assert {"scorer_discrimination", "known_bad_rejected", "human_agreement"} <= failed
    text = " ".join(art["reasons"])
    assert "llm_judge" in text and "rubric" in text
    by_type = art["discrimination"]["per_scorer"]["llm_judge"]["by_type"]
    assert by_type["off_topic"]["rate"] == 1.0 and by_type["unsafe_promise"]["rate"] == 1.0
