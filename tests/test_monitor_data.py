"""Monitoring on real data (banking77, CLINC150 with MiniLM embeddings), the command line (stand-alone form,
exit codes) and the webhook against a real HTTP server on 127.0.0.1 whose URL carries a secret."""

from __future__ import annotations

import csv
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.config.monitor import LogColumns, MonitorSpec
from tunegate.monitor.stage import monitor_files

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BANKING = DATA / "banking77" / "train.csv"
CLINC = DATA / "clinc150" / "data_full.json"
needs_data = pytest.mark.skipif(not (BANKING.exists() and CLINC.exists()), reason="shared datasets absent")


def _banking() -> list[dict]:
    with BANKING.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["text", "category"])
        w.writeheader()
        w.writerows({"text": r["text"], "category": r["category"]} for r in rows)
    return path


def _cfg() -> MonitorSpec:
    return MonitorSpec(columns=LogColumns(input="text", label="category", output=None, timestamp=None,
                                          model_version=None),
                       embedding={"max_items": 120, "permutations": 500})


@pytest.fixture(scope="module")
def banking_split(tmp_path_factory):
    rows = _banking()
    random.Random(0).shuffle(rows)
    d = tmp_path_factory.mktemp("b77")
    return d, _write_csv(d / "ref.csv", rows[:3000]), rows[3000:]


@needs_data
@pytest.mark.integration
def test_banking77_random_split_does_not_alert(banking_split):
    d, ref, rest = banking_split
    cur = _write_csv(d / "random.csv", rest[:400])
    doc = monitor_files(ref, cur, cfg=_cfg())
    names = {t["name"] for t in doc["tests"]}
    assert {"mmd:embedding", "chi2:label_distribution", "ks:text_length"} <= names
    assert doc["status"] == "ok", doc["alerts"]


@needs_data
@pytest.mark.integration
def test_banking77_few_intents_and_clinc150_alert(banking_split):
    d, ref, rest = banking_split
    few = [r for r in rest if r["category"] in ("card_arrival", "lost_or_stolen_card", "exchange_rate")][:300]
    doc = monitor_files(ref, _write_csv(d / "few.csv", few), cfg=_cfg())
    assert doc["status"] == "alert"
    assert {"mmd:embedding", "chi2:label_distribution"} <= set(doc["alerts"])
    mmd = next(t for t in doc["tests"] if t["name"] == "mmd:embedding")
    assert mmd["p_value"] == pytest.approx(1 / 501) and len(mmd["examples"]) == 5

    clinc = json.loads(CLINC.read_text(encoding="utf-8"))["test"]
    random.Random(1).shuffle(clinc)
    path = d / "clinc.jsonl"
    path.write_text("".join(json.dumps({"text": t, "category": i}) + "\n" for t, i in clinc[:300]))
    doc = monitor_files(ref, path, cfg=_cfg())
    assert doc["status"] == "alert" and "mmd:embedding" in doc["alerts"]


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook_server():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


def _small_logs(tmp_path: Path, shift: bool) -> tuple[Path, Path]:
    rng = random.Random(5)
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    for path, late in ((ref, False), (cur, shift)):
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["input", "output", "region"])
            for _ in range(300):
                region = rng.choice(["eu", "us"] if not late else ["apac", "apac", "us"])
                w.writerow(["x" * rng.randint(5, 40), rng.choice(["a", "b"]), region])
    return ref, cur


def test_cli_standalone_webhook_secret_and_exit_codes(tmp_path, hook_server, monkeypatch):
    secret = "T000/B000/s3cr3tXYZ"
    monkeypatch.setenv("MY_HOOK", f"http://127.0.0.1:{hook_server.server_port}/hooks/{secret}")
    ref, cur = _small_logs(tmp_path, shift=True)
    runner = CliRunner()
    res = runner.invoke(app, ["monitor", "--reference", str(ref), "--current", str(cur), "--output-col", "output",
                              "--categorical-col", "region", "--no-embeddings", "--webhook-env", "MY_HOOK",
                              "--out", str(tmp_path / "run")])
    assert res.exit_code == 3, res.output
    path, payload = _Hook.received[-1]
    assert path == f"/hooks/{secret}"  # the POST went to the secret URL ...
    assert payload["status"] == "alert" and "chi2:region" in {a["name"] for a in payload["alerts"]}
    region = next(a for a in payload["alerts"] if a["name"] == "chi2:region")  # the change in words, not "dof 2"
    assert region["detail"].startswith("region: 1 value unseen in the reference now carries") and "apac" in \
        region["detail"]
    assert "what changed:" in res.output and "apac" in res.output
    written = (tmp_path / "run" / "monitor.json").read_text()
    assert secret not in written and secret not in res.output  # ... which appears nowhere else
    doc = json.loads(written)
    assert doc["webhook"] == {"sent": True, "variable": "MY_HOOK", "status_code": 200}

    ref, cur = _small_logs(tmp_path, shift=False)
    res = runner.invoke(app, ["monitor", "--reference", str(ref), "--current", str(cur), "--no-embeddings",
                              "--categorical-col", "region", "--webhook-env", "MY_HOOK", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["status"] == "ok"
    assert len(_Hook.received) == 1  # webhook_on: alert (the default) posts nothing for an ok run

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "a"}\n{"input": \n')
    res = runner.invoke(app, ["monitor", "--reference", str(bad), "--current", str(bad), "--no-embeddings"])
    assert res.exit_code == 2 and "bad.jsonl:2" in res.output


def test_cli_records_runs_in_the_portfolio_and_shows_history(tmp_path, monkeypatch):
    pytest.importorskip("tunegate.monitor.store")
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    res = runner.invoke(app, ["portfolio", "add", "triage", "--path", "prompt", "--base-model", "openai:x"])
    assert res.exit_code == 0, res.output
    for shift, code in ((False, 0), (True, 3)):
        ref, cur = _small_logs(tmp_path, shift=shift)
        res = runner.invoke(app, ["monitor", "--reference", str(ref), "--current", str(cur), "--no-embeddings",
                                  "--categorical-col", "region", "--model", "triage"])
        assert res.exit_code == code, res.output
    res = runner.invoke(app, ["monitor", "--history", "--model", "triage", "--json"])
    assert res.exit_code == 0, res.output
    hist = json.loads(res.output)["history"]
    assert [h["status"] for h in hist] == ["ok", "alert"] and "chi2:region" in hist[1]["alerted"]


@pytest.mark.integration
def test_cli_regress_runs_the_suite_on_both_versions_over_http(tmp_path, openai_stub, monkeypatch):
    """--regress OLD NEW through the CLI against a real OpenAI-compatible server: the new version is wrong on
    12 of 40 items, so the paired comparison alerts (exit 3)."""
    pytest.importorskip("tunegate.monitor.regression")
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    labels = ["billing", "shipping"]
    with (tmp_path / "d.jsonl").open("w") as fh:
        for k in range(40):
            fh.write(json.dumps({"id": f"x{k}", "text": f"message {k} end", "intent": labels[k % 2],
                                 "split": "test"}) + "\n")
    base = openai_stub.base_url
    (tmp_path / "tunegate.yaml").write_text(f"""\
task: {{name: toy, kind: classification, labels: [billing, shipping]}}
data: {{path: d.jsonl, fields: {{input: text, label: intent, id: id, split: split}}}}
eval: {{metric: accuracy, prompt: {{inline: "Classify: {{{{input}}}}"}}, bootstrap: {{n_resamples: 500}}}}
models:
  backends:
    openai:old: {{base_url: "{base}", api_key_env: null}}
    openai:new: {{base_url: "{base}", api_key_env: null}}
""")

    def reply(body: dict) -> str:
        k = int(body["messages"][-1]["content"].split("message ")[1].split(" ")[0])
        wrong = body["model"] == "new" and k < 24 and k % 2 == 0
        return labels[1 - k % 2] if wrong else labels[k % 2]

    openai_stub.reply = reply
    res = CliRunner().invoke(app, ["monitor", str(tmp_path / "tunegate.yaml"), "--regress", "openai:old",
                                   "openai:new", "--out", str(tmp_path / "reg"), "--json"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.output)
    assert doc["status"] == "alert" and doc["old"]["value"] == 1.0 and doc["new"]["value"] == pytest.approx(0.7)


# --------------------------------------------------------------------------- issue 16: what changed, in words


def _b77_shift_log(path: Path, n_new: int = 12) -> tuple[Path, list[str]]:
    """A banking77 log of 4,000 rows: the first half draws from 65 intents, the second half gives 40% of its
    traffic to 12 intents never seen before (the rest from the old 65)."""
    rows = _banking()
    intents = sorted({r["category"] for r in rows})
    new = random.Random(2).sample(intents, n_new)
    old_rows = [r for r in rows if r["category"] not in new]
    new_rows = [r for r in rows if r["category"] in new]
    rng = random.Random(3)
    first = rng.sample(old_rows, 2000)
    second = rng.sample([r for r in old_rows if r not in first], 1200) + rng.sample(new_rows, 800)
    rng.shuffle(second)
    with path.open("w", encoding="utf-8") as fh:
        for r in first + second:
            fh.write(json.dumps({"text": r["text"], "category": r["category"], "output": r["category"]}) + "\n")
    return path, sorted(new)


@pytest.mark.skipif(not BANKING.exists(), reason="shared datasets absent")
def test_banking77_shift_log_alerts_naming_the_new_intents(tmp_path):
    log, new = _b77_shift_log(tmp_path / "b77.jsonl")
    (tmp_path / "tunegate.yaml").write_text(
        "task: {name: banking77, kind: classification}\n"
        "monitor:\n"
        "  columns: {input: text, label: category, output: output, timestamp: null, model_version: null}\n"
        "  window: {reference_rows: 2000, current_rows: 2000}\n"
        "  embedding: {enabled: false}\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["monitor", str(tmp_path / "tunegate.yaml"), "--log", str(log),
                                   "--out", str(tmp_path / "run")])
    assert res.exit_code == 3, res.output
    doc = json.loads((tmp_path / "run" / "monitor.json").read_text())
    assert {"chi2:label_distribution", "chi2:output_label"} <= set(doc["alerts"])
    gold = next(m for m in doc["messages"] if m.startswith("gold labels:"))
    share = 800 / 2000
    assert gold.startswith(f"gold labels: 12 labels unseen in the reference now carry {share:.1%} of traffic: ")
    assert all(f"{intent} (" in gold for intent in new) and "more" not in gold.split(";")[0]  # all 12 named
    chi = next(t for t in doc["tests"] if t["name"] == "psi:label_distribution")
    assert {e["value"] for e in chi["change"]["new"]} == set(new) and chi["change"]["new_share"] == 0.4
    flat = " ".join(res.output.split())
    assert "what changed:" in flat and "12 labels unseen in the reference now carry 40.0% of traffic" in flat


def test_standalone_confidence_column_is_read_only_when_named(tmp_path):
    rng = random.Random(9)
    paths = []
    for name, lo in (("ref", 0.7), ("cur", 0.3)):
        p = tmp_path / f"{name}.csv"
        with p.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["input", "confidence"])
            for _ in range(400):
                w.writerow(["x" * rng.randint(5, 40), round(rng.uniform(lo, lo + 0.3), 3)])
        paths.append(str(p))
    base = ["monitor", "--reference", paths[0], "--current", paths[1], "--no-embeddings", "--json"]
    doc = json.loads(CliRunner().invoke(app, base).output)
    assert not any(t["name"] == "ks:confidence" for t in doc["tests"])
    res = CliRunner().invoke(app, base + ["--confidence-col", "confidence"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.output)
    assert "ks:confidence" in doc["alerts"]
    assert any(m.startswith("model confidence: mean 0.85") for m in doc["messages"])
