"""The portfolio store, the evaluation tax with the portfolio term, criterion versions, and the CLI."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.config.costs import parse_costs
from tunegate.cost.model import run_cost_model
from tunegate.errors import InputError, SpecError
from tunegate.monitor.portfolio import check_criterion, flags_for, portfolio_overview
from tunegate.monitor.store import SCHEMA_VERSION, PortfolioStore
from tunegate.monitor.tax import model_tax, portfolio_tax
from tunegate.spec import load_spec

runner = CliRunner()

# Point inputs, so every tax is checkable by hand (docs/cost-model.md, "Evaluation tax of one model per month").
POINT_COSTS = {
    "tokens": {"prompt_input": 1000, "prompt_output": 100, "finetuned_input": 200, "finetuned_output": 50},
    "prices": {"input_per_1m": 0.15, "output_per_1m": 0.60, "finetuned_multiplier": 2},
    "rates": {"reviewer_hour": 60},
    "evaluation": {
        "prompting": {"runs_per_month": 2, "set_size": 100, "judge_calls_per_item": 1, "judge_cost_per_call": 0.01,
                      "review_hours_per_month": 1},
        "finetuned": {"runs_per_month": 4, "set_size": 100, "judge_calls_per_item": 1, "judge_cost_per_call": 0.01,
                      "review_hours_per_month": 4},
    },
}
# prompt: per request (1000*0.15 + 100*0.60)/1e6 = 0.00021; run = 100*(0.01 + 0.00021) = 1.021;
#         tax = 2*1.021 + 1*60 = 62.042
# fine-tune: prices 0.30 / 1.20; per request (200*0.30 + 50*1.20)/1e6 = 0.00012; run = 100*(0.01 + 0.00012) = 1.012;
#         tax = 4*1.012 + 4*60 = 244.048
TAX_P, TAX_F = 62.042, 244.048


def test_model_tax_by_hand_and_equal_to_the_cost_model():
    costs = parse_costs(POINT_COSTS)
    assert model_tax(costs, "prompt")["mean"] == pytest.approx(TAX_P)
    assert model_tax(costs, "fine-tune")["mean"] == pytest.approx(TAX_F)
    t = model_tax(costs, "prompt")
    assert t["p05"] == pytest.approx(TAX_P) and t["p95"] == pytest.approx(TAX_P)  # all points: no spread
    # with the default (uncertain) inputs: the same draws as `tunegate cost`, so the same mean tax
    default = parse_costs({})
    res = run_cost_model(default, n_draws=4000, seed=3)
    assert model_tax(default, "prompt", seed=3)["mean"] == pytest.approx(
        res.tco["prompting"]["breakdown"]["evaluation_tax"] / default.horizon_months, rel=1e-12)
    assert model_tax(default, "prompt", seed=3)["p95"] > model_tax(default, "prompt", seed=3)["p05"]
    with pytest.raises(ValueError):
        model_tax(costs, "lora")


def test_portfolio_total_with_the_super_linear_term_by_hand():
    costs = parse_costs(POINT_COSTS)
    pin = parse_costs({"portfolio": {"overhead_per_model_month": 500, "beta": 1.5}}).portfolio
    doc = portfolio_tax([("p", "prompt", costs), ("f1", "fine-tune", costs), ("f2", "fine-tune", costs),
                         ("f3", "fine-tune", costs)], portfolio=pin)
    by_n = {r["n"]: r for r in doc["by_n"]}
    # N=1: one prompted model, no fine-tuned one: no portfolio term
    assert by_n[1]["total"]["mean"] == pytest.approx(TAX_P) and by_n[1]["portfolio_overhead_mean"] == 0
    # N=2: + one fine-tune + c * 1^1.5 = 500
    assert by_n[2]["total"]["mean"] == pytest.approx(TAX_P + TAX_F + 500)
    # N=3: two fine-tunes: 500 * 2^1.5 = 1414.2136
    assert by_n[3]["portfolio_overhead_mean"] == pytest.approx(1414.2135624, rel=1e-9)
    assert by_n[3]["total"]["mean"] == pytest.approx(TAX_P + 2 * TAX_F + 1414.2135624)  # 1964.3516
    assert by_n[3]["total"]["mean"] == pytest.approx(1964.3516, abs=1e-3)
    # N=4: three fine-tunes: 500 * 3^1.5 = 2598.0762; the overhead per fine-tuned model grows (super-linear)
    assert by_n[4]["total"]["mean"] == pytest.approx(TAX_P + 3 * TAX_F + 2598.0762114)
    per = [by_n[n]["overhead_per_finetuned_model_mean"] for n in (2, 3, 4)]
    assert per == pytest.approx([500, 707.1067812, 866.0254038])
    assert doc["total"] == by_n[4]["total"] and doc["n_finetuned"] == 3
    # beta = 1 is linear: the per-model overhead stays c
    lin = parse_costs({"portfolio": {"overhead_per_model_month": 500, "beta": 1}}).portfolio
    flat = portfolio_tax([("f1", "fine-tune", costs), ("f2", "fine-tune", costs)], portfolio=lin)
    assert [r["overhead_per_finetuned_model_mean"] for r in flat["by_n"]] == pytest.approx([500, 500])


def test_store_crud_errors_and_schema(tmp_path):
    db = tmp_path / "p.sqlite"
    with PortfolioStore(db) as st:
        m = st.add_model("triage", path="prompt", base_model="openai:gpt-4o-mini", retirement_date="2027-03-01",
                         owner="ana", costs=POINT_COSTS)
        assert m["costs_source"] == "spec" and m["status"] is None and m["open_alerts"] == []
        st.add_model("triage-ft", path="fine-tune", base_model="openai:gpt-4o-mini")
        assert [x["name"] for x in st.list_models()] == ["triage", "triage-ft"]
        with pytest.raises(InputError, match="already in the portfolio"):
            st.add_model("triage", path="prompt", base_model="x")
        with pytest.raises(InputError, match="path: must be one of prompt, fine-tune"):
            st.add_model("bad", path="lora", base_model="x")
        with pytest.raises(InputError, match="retirement_date: expected a date"):
            st.add_model("bad", path="prompt", base_model="x", retirement_date="next spring")
        with pytest.raises(SpecError, match="costs.evaluation.prompting.runs_per_mnth"):
            st.add_model("bad", path="prompt", base_model="x",
                         costs={"evaluation": {"prompting": {"runs_per_mnth": 2}}})
        with pytest.raises(InputError, match="no model named 'nope'.*known: triage, triage-ft"):
            st.get("nope")
        assert st.remove("triage-ft")["name"] == "triage-ft"
        with pytest.raises(InputError, match="no model named"):
            st.remove("triage-ft")
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="schema version 99 is newer"):
        PortfolioStore(db)


def test_default_path_follows_tunegate_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    with PortfolioStore() as st:
        assert st.path == tmp_path / "home" / "portfolio.sqlite"
    assert (tmp_path / "home" / "portfolio.sqlite").exists()


def _doc(status, alerted=(), ok=(), value=None, finished=None):
    tests = [{"name": n, "statistic": 0.3, "p_value": 0.001, "threshold": 0.01, "status": "alert"} for n in alerted]
    tests += [{"name": n, "statistic": 0.01, "p_value": 0.5, "threshold": 0.01, "status": "ok"} for n in ok]
    doc = {"schema_version": 1, "status": status, "tests": tests, "run": {"finished": finished}}
    if value is not None:
        doc["evaluation"] = {"metric": "accuracy", "value": value, "ci_low": value - 0.05, "ci_high": value + 0.05}
    return doc


def test_monitor_history_open_alerts_and_trend(tmp_path):
    with PortfolioStore(tmp_path / "p.sqlite") as st:
        st.add_model("m", path="fine-tune", base_model="b")
        st.record_monitor_run("m", _doc("ok", ok=["psi.text_length"], value=0.90, finished="2026-01-01T00:00:00+00:00"))
        m = st.record_monitor_run("m", _doc("alert", alerted=["psi.text_length", "embedding.mmd"], value=0.84,
                                            finished="2026-01-08T00:00:00+00:00"))
        assert m["status"] == "alert" and [a["name"] for a in m["open_alerts"]] == ["psi.text_length", "embedding.mmd"]
        assert m["last_evaluation"] == {"at": "2026-01-08T00:00:00+00:00", "metric": "accuracy", "value": 0.84,
                                        "ci_low": pytest.approx(0.79), "ci_high": pytest.approx(0.89)}
        m = st.record_monitor_run("m", _doc("alert", alerted=["embedding.mmd"], ok=["psi.text_length"],
                                            finished="2026-01-15T00:00:00+00:00"))
        # the still-open alert keeps its first time; the one that cleared is closed; no evaluation block keeps
        # the last measured value but moves the last-checked time
        assert m["open_alerts"] == [{"name": "embedding.mmd", "since": "2026-01-08T00:00:00+00:00",
                                     "statistic": 0.3, "p_value": 0.001, "threshold": 0.01}]
        assert m["last_evaluation"]["value"] == 0.84 and m["last_evaluation"]["at"] == "2026-01-15T00:00:00+00:00"
        m = st.record_monitor_run("m", _doc("ok", ok=["embedding.mmd"], value=0.9, finished="2026-01-22T00:00:00+00:00"))
        assert m["status"] == "ok" and m["open_alerts"] == []
        h = st.history("m")
        assert [x["status"] for x in h] == ["ok", "alert", "alert", "ok"]
        assert [x["value"] for x in h] == [0.9, 0.84, None, 0.9]
        assert h[1]["alerted"] == ["psi.text_length", "embedding.mmd"] and h[0]["kind"] == "monitor"
        assert [x["at"][:10] for x in st.history("m", limit=2)] == ["2026-01-15", "2026-01-22"]
        with pytest.raises(InputError, match="status must be 'ok' or 'alert'"):
            st.record_monitor_run("m", {"status": "fine", "tests": []})
        with pytest.raises(InputError, match="no model named"):
            st.record_monitor_run("other", _doc("ok"))
        st.remove("m")
        st.add_model("m", path="prompt", base_model="b")
        assert st.history("m") == []  # history went with the model


def test_flags_stale_and_retirement():
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    m = {"last_eval_at": (now - timedelta(days=45)).isoformat(), "retirement_date": "2026-07-01",
         "open_alerts": [{"name": "x"}]}
    assert flags_for(m, now=now, stale_days=30, retire_days=90) == [
        "stale: last evaluated 45 days ago (> 30)", "base model retires in 30 days", "1 open alert(s)"]
    m = {"last_eval_at": (now - timedelta(days=5)).isoformat(), "retirement_date": "2026-12-01", "open_alerts": []}
    assert flags_for(m, now=now, stale_days=30, retire_days=90) == []
    assert flags_for({**m, "retirement_date": "2026-05-01"}, now=now, stale_days=30, retire_days=90) == [
        "base model retired 31 days ago"]
    assert flags_for({"last_eval_at": None}, now=now, stale_days=30, retire_days=90) == ["never evaluated"]


def _toy_spec(tmp_path: Path, rows: list[tuple[str, str, str]], scorer: str = "label_match") -> Path:
    (tmp_path / "d.jsonl").write_text("".join(
        json.dumps({"id": i, "text": t, "intent": lab, "split": "test"}) + "\n" for i, t, lab in rows))
    p = tmp_path / "tunegate.yaml"
    p.write_text(f"""\
task: {{name: toy, kind: classification, labels: [a, b]}}
data: {{path: d.jsonl, fields: {{input: text, label: intent, id: id, split: split}}}}
eval: {{metric: accuracy, scorers: [{{type: {scorer}}}]}}
costs: {json.dumps(POINT_COSTS)}
""")
    return p


def test_criterion_versions_are_recorded_when_what_good_means_changes(tmp_path):
    rows = [("1", "hello", "a"), ("2", "world", "b"), ("3", "again", "a")]
    spec_path = _toy_spec(tmp_path, rows)
    with PortfolioStore(tmp_path / "p.sqlite") as st:
        from tunegate.monitor.portfolio import add_model_from_args

        m = add_model_from_args(st, "toy", path="prompt", base_model="b", spec_path=spec_path)
        assert m["costs_source"] == "spec" and m["monthly_tax"]["mean"] == pytest.approx(TAX_P)
        fp0 = m["criterion_fingerprint"]
        assert fp0 and check_criterion(st, "toy", load_spec(spec_path))["changed"] is False
        assert st.history("toy") == []
        # re-label item 2, drop item 3, add item 4, and change the scorer
        _toy_spec(tmp_path, [("1", "hello", "a"), ("2", "world", "a"), ("4", "new", "b")], scorer="exact_match")
        diff = check_criterion(st, "toy", load_spec(spec_path))
        assert diff["changed"] and diff["old_fingerprint"] == fp0 and diff["new_fingerprint"] != fp0
        assert (diff["added"], diff["removed"], diff["gold_changed"], diff["input_changed"]) == (["4"], ["3"], ["2"], [])
        assert diff["rubric_changed"] == ["scorers"]
        (h,) = st.history("toy")
        assert h["kind"] == "criterion_change" and h["detail"]["counts"]["gold_changed"] == 1
        # the stored version moved: checking again finds nothing new
        assert check_criterion(st, "toy", load_spec(spec_path))["changed"] is False
        assert st.get("toy")["criterion_fingerprint"] == diff["new_fingerprint"]


def test_criterion_change_with_the_criterion_gates_content_diff(tmp_path):
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    old_spec = _toy_spec(old_dir, [("1", "hello", "a"), ("2", "world", "b"), ("3", "again", "a")])
    new_spec = _toy_spec(new_dir, [("1", "hello", "a"), ("2", "world", "a"), ("3", "again", "a")])
    with PortfolioStore(tmp_path / "p.sqlite") as st:
        from tunegate.monitor.portfolio import add_model_from_args

        add_model_from_args(st, "toy", path="prompt", base_model="b", spec_path=old_spec)
        diff = check_criterion(st, "toy", load_spec(new_spec), against=old_spec)
        assert diff["changed"] and diff["gold_changed"] == ["2"]
        content = diff["criterion_diff"]
        assert content["gold"]["n_changed"] == 1 and content["gold"]["changed"][0] == {"id": "2", "old": "b",
                                                                                        "new": "a"}
        (h,) = st.history("toy")
        assert h["detail"]["criterion_diff"]["gold"]["n_changed"] == 1


def _cli(*args, home):
    return runner.invoke(app, ["portfolio", *args, "--store", str(home / "p.sqlite")])


def test_cli_add_list_show_remove(tmp_path):
    spec_path = _toy_spec(tmp_path, [("1", "hello", "a"), ("2", "world", "b")])
    soon = (datetime.now(timezone.utc) + timedelta(days=20)).date().isoformat()
    r = _cli("add", "triage", "--path", "prompt", "--base-model", "openai:gpt-4o-mini", "--spec", str(spec_path),
             "--owner", "ana", "--retires", soon, "--json", home=tmp_path)
    assert r.exit_code == 0, r.output
    added = json.loads(r.stdout)
    assert added["name"] == "triage" and added["monthly_tax"]["mean"] == pytest.approx(TAX_P)
    for name in ("ft1", "ft2"):
        r = _cli("add", name, "--path", "fine-tune", "--base-model", "openai:gpt-4o-mini", home=tmp_path)
        assert r.exit_code == 0, r.output
    with PortfolioStore(tmp_path / "p.sqlite") as st:
        st.record_monitor_run("ft1", _doc("alert", alerted=["embedding.mmd"], value=0.8))
    r = _cli("list", "--json", "--overhead", "500", "--beta", "1.5", home=tmp_path)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["n_models"] == 3 and "run" in doc
    models = {m["name"]: m for m in doc["models"]}
    assert "base model retires in 20 days" in models["triage"]["flags"]
    assert "never evaluated" in models["ft2"]["flags"]
    assert models["ft1"]["open_alerts"][0]["name"] == "embedding.mmd" and models["ft1"]["status"] == "alert"
    assert not any(f.startswith("stale") or f == "never evaluated" for f in models["ft1"]["flags"])
    tax = doc["tax"]
    assert [r["n"] for r in tax["by_n"]] == [1, 2, 3]
    # the default fine-tune inputs are uncertain, so check the portfolio term exactly and the tax by the cost model
    assert tax["by_n"][2]["portfolio_overhead_mean"] == pytest.approx(500 * 2**1.5)
    ft_tax = models["ft1"]["monthly_tax"]["mean"]
    assert tax["total"]["mean"] == pytest.approx(TAX_P + 2 * ft_tax + 500 * 2**1.5)
    r = _cli("list", home=tmp_path)
    assert r.exit_code == 0 and "c·N" in r.output and "need attention" in r.output
    r = _cli("show", "ft1", "--json", home=tmp_path)
    shown = json.loads(r.stdout)
    assert shown["model"]["status"] == "alert" and len(shown["history"]) == 1
    r = _cli("show", "ft1", home=tmp_path)
    assert r.exit_code == 0 and "open alert" in r.output and "embedding.mmd" in r.output
    r = _cli("criterion", "triage", "--json", home=tmp_path)
    assert r.exit_code == 0 and json.loads(r.stdout)["changed"] is False
    r = _cli("add", "triage", "--path", "prompt", "--base-model", "x", home=tmp_path)
    assert r.exit_code == 2 and "already in the portfolio" in r.output
    r = _cli("list", "--beta", "0.5", home=tmp_path)
    assert r.exit_code == 2 and "costs.portfolio.beta" in r.output
    r = _cli("remove", "ft2", "--json", home=tmp_path)
    assert r.exit_code == 0 and json.loads(r.stdout)["removed"] == "ft2"
    r = _cli("show", "ft2", home=tmp_path)
    assert r.exit_code == 2 and "no model named 'ft2'" in r.output


def test_overview_of_an_empty_portfolio(tmp_path):
    with PortfolioStore(tmp_path / "p.sqlite") as st:
        doc = portfolio_overview(st)
    assert doc["n_models"] == 0 and doc["tax"]["by_n"] == [] and doc["tax"]["total"]["mean"] == 0
    r = _cli("list", home=tmp_path)
    assert r.exit_code == 0 and "portfolio is empty" in r.output
