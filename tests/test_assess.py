"""`tunegate assess`: answers (from a file, or typed at the prompts) become declared evidence and a verdict."""

from __future__ import annotations

import json

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
    assert r.exit_code == 2 and "bad.yaml: target: expected a float" in r.output
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
    assert "answer yes, no or unknown" in r.output
    assert "FIX_EVAL_FIRST" in r.output  # the evaluation suite was declared unreliable
    assert load_spec(tmp_path / "s.yaml").task.name == "faq-bot"
