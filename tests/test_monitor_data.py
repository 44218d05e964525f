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
from tunegate.monitor.config import LogColumns, MonitorSpec
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
