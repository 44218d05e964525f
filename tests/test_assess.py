"""`tunegate assess`: answers (from a file, or typed at the prompts) become declared evidence and a verdict."""

from __future__ import annotations

import json

import pytest

from typer.testing import CliRunner

from tunegate.assess import QUESTIONS
from tunegate.cli import app
from tunegate.spec import load_spec

runner = CliRunner()

STRONG = """task_name: ticket-router
target: 0.9
eval_reliable: yes
eval_auc: 0.93
alpha: 0.84
data_ok: yes
prompt_value: 0.78
prompt_n: 300
after_sprint: yes
finetune_value: 0.95
monthly_requests: 2000000
input_price: 2.5
output_price: 10
value_per_point: 3000
"""


def test_answers_file_gives_declared_fine_tune(tmp_path):
    (tmp_path / "a.yaml").write_text(STRONG)
    r = runner.invoke(app, ["assess", "--answers", str(tmp_path / "a.yaml"), "--out", str(tmp_path / "s.yaml"),
                            "--run-dir", str(tmp_path / "run"), "--json"])
    assert r.exit_code == 0, r.output
    v = json.loads(r.stdout)
    assert v["verdict"] == "FINE_TUNE" and v["confidence"] == "medium"  # declared evidence caps confidence
    assert {v["conditions"][k]["source"] for k in ("criterion", "data", "prompting_gap")} == {"declared"}
    spec = load_spec(tmp_path / "s.yaml")
    assert spec.evidence.prompting.n == 300 and spec.evidence.prompting.ci_high < 0.9
    assert spec.costs.quality.gain_points.mean() == 17.0
    assert spec.evidence.finetune.n == 300  # the same test set as the prompt: a Wilson interval
    assert (tmp_path / "run" / "cost.json").exists()


def test_weak_answers_keep_prompting_and_bad_answers_are_named(tmp_path):
    (tmp_path / "a.yaml").write_text(STRONG.replace("monthly_requests: 2000000", "monthly_requests: 5000")
                                     .replace("value_per_point: 3000", "value_per_point: 0"))
    r = runner.invoke(app, ["assess", "--answers", str(tmp_path / "a.yaml"), "--out", str(tmp_path / "s.yaml"),
                            "--run-dir", str(tmp_path / "run"), "--json"])
    assert json.loads(r.stdout)["verdict"] == "KEEP_PROMPTING"
    (tmp_path / "bad.yaml").write_text("target: high\n")
    r = runner.invoke(app, ["assess", "--answers", str(tmp_path / "bad.yaml")])
    assert r.exit_code == 2 and "bad.yaml: target: expected a number" in r.output
    (tmp_path / "bad.yaml").write_text("volume: 3\n")
    r = runner.invoke(app, ["assess", "--answers", str(tmp_path / "bad.yaml")])
    assert r.exit_code == 2 and "unknown question key(s): volume" in r.output


def test_interactive_prompts(tmp_path):
    typed = {"task_name": "faq-bot", "eval_reliable": "no", "target": "0.85"}
    lines = [typed.get(q.key, "") for q in QUESTIONS]
    lines.insert(3, "maybe")  # a bad answer to the yes/no question is re-asked, not accepted
    r = runner.invoke(app, ["assess", "--out", str(tmp_path / "s.yaml"), "--run-dir", str(tmp_path / "run")],
                      input="\n".join(lines[:3] + lines[3:]) + "\n")
    assert r.exit_code == 0, r.output
    assert "answer yes, no or don't know" in r.output
    assert "FIX_EVAL_FIRST" in r.output  # the evaluation suite was declared unreliable
    assert load_spec(tmp_path / "s.yaml").task.name == "faq-bot"


# ------------------------------------------------------------------------------ issue 16: plain words, numbers


def test_answers_accept_numbers_as_people_write_them(tmp_path):
    """Issue 16: `tunegate assess --answers` takes "90%", "12,000" and "$800" as a person writes them."""
    human = {"target: 0.9": 'target: "90%"', "prompt_value: 0.78": 'prompt_value: "78%"',
             "monthly_requests: 2000000": 'monthly_requests: "2,000,000"', "input_price: 2.5": 'input_price: "$2.50"',
             "value_per_point: 3000": 'value_per_point: "$3k"'}
    text = STRONG
    for old, new in human.items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "a.yaml").write_text(text + 'n_labeled: "12,000"\nengineer_day: "$800"\nmonthly_growth: "2%"\n')
    r = runner.invoke(app, ["assess", "--answers", str(tmp_path / "a.yaml"), "--out", str(tmp_path / "s.yaml"),
                            "--run-dir", str(tmp_path / "run"), "--json"])
    assert r.exit_code == 0, r.output
    spec = load_spec(tmp_path / "s.yaml")
    assert spec.eval.target == 0.9 and spec.evidence.prompting.best_value == 0.78
    assert spec.evidence.data.n_labeled == 12000 and spec.costs.rates.engineer_day.mean() == 800
    assert spec.costs.monthly_requests.mean() == 2_000_000 and spec.costs.prices.input_per_1m.mean() == 2.5
    assert spec.costs.quality.value_per_point_per_month.mean() == 3000 and spec.costs.monthly_growth.mean() == 0.02
    assert json.loads(r.stdout)["verdict"] == "FINE_TUNE"


def test_number_forms_and_located_errors():
    from tunegate.assess import _BY_KEY, parse_answer
    from tunegate.errors import InputError

    q = _BY_KEY
    assert parse_answer(q["target"], "90%") == 0.9 and parse_answer(q["target"], "0.9") == 0.9
    assert parse_answer(q["monthly_requests"], "40k") == 40_000 and parse_answer(q["n_labeled"], "12,000") == 12_000
    assert parse_answer(q["input_price"], "$2") == 2.0 and parse_answer(q["engineer_day"], "$800") == 800
    assert parse_answer(q["value_per_point"], "$2k/month") == 2000 and parse_answer(q["monthly_growth"], "2%") == 0.02
    for bad, why in (("target", "90"), ("n_labeled", "1,5"), ("alpha", "85%"), ("prompt_n", "12.5"),
                     ("alpha", "2"), ("monthly_requests", "lots")):
        with pytest.raises(InputError) as e:
            parse_answer(q[bad], why, where="a.yaml")
        assert str(e.value).startswith(f"a.yaml: {bad}: ")
    assert "not alpha or kappa" in _err(q["alpha"], "85%") and "0.9 or 90%" in _err(q["target"], "90")


def _err(q, raw):
    from tunegate.assess import parse_answer
    from tunegate.errors import InputError

    try:
        parse_answer(q, raw)
    except InputError as exc:
        return str(exc)
    raise AssertionError("no error")


def test_dont_know_is_accepted_for_every_question():
    from tunegate.assess import parse_answer

    for q in QUESTIONS:
        for raw in ("don't know", "Don’t know", "not sure", ""):
            assert parse_answer(q, raw) == q.default


def test_questions_explain_jargon_in_plain_words():
    text = " ".join(q.text for q in QUESTIONS)
    assert "ROC AUC" in text and "good one higher" in text  # the term only beside what it means
    assert "alpha" in text and "no better than chance" in text


def test_plain_verdict_explains_itself_with_actions_for_a_team_without_ml_engineers(tmp_path):
    from tunegate.assess import load_answers
    from tunegate.assess_plain import run_assess

    (tmp_path / "a.yaml").write_text(STRONG)
    _, _, v = run_assess(load_answers(tmp_path / "a.yaml"), tmp_path / "s.yaml", tmp_path / "run")
    assert v["verdict"] == "FINE_TUNE" and v["plain"]["headline"] == "Fine-tune."
    why = v["plain"]["why"]
    assert "78% right on 300 test cases" in why and "90% target" in why and "95% right" in why and "$" in why
    assert json.loads((tmp_path / "run" / "verdict.json").read_text())["plain"]["why"] == why
    weak = "task_name: faq\ntarget: 90%\nprompt_value: 80%\nprompt_n: 400\nafter_sprint: don't know\n"
    (tmp_path / "b.yaml").write_text(weak)
    _, _, v = run_assess(load_answers(tmp_path / "b.yaml"), tmp_path / "s2.yaml", tmp_path / "run2")
    assert v["verdict"] == "KEEP_PROMPTING"
    assert "not known whether that was after a real effort" in v["plain"]["conditions"]["prompting_gap"]
    actions = " ".join(v["next_actions"])
    for jargon in ("audit.json", "cost.json", "tunegate probe", "tunegate audit", "check-eval", "evidence."):
        assert jargon not in actions, jargon
    assert "Have a second person label 100" in actions
    assert v["next_actions_for_pipeline"]  # the engine's own list is kept beside the plain one
    spec = load_spec(tmp_path / "s2.yaml")
    assert spec.evidence.prompting.after_sprint is None  # "don't know" is not turned into "no"
    assert "declared in tunegate assess" not in (tmp_path / "s2.yaml").read_text()
