"""Regression on a base-model change: the saved suite on both versions, paired comparison, per slice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunegate.models.base import Backend, Generation
from tunegate.models.cache import ResponseCache
from tunegate.monitor.regression import run_regression
from tunegate.monitor.store import PortfolioStore
from tunegate.spec import load_spec

LABELS = ["billing", "shipping"]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "support-triage" / "tunegate.yaml"


def make_task(tmp_path: Path, n: int = 60) -> Path:
    """n test items, alternating labels; slice channel = email for k < n/2, chat otherwise."""
    with (tmp_path / "d.jsonl").open("w") as fh:
        for k in range(n):
            fh.write(json.dumps({"id": f"x{k:03d}", "text": f"message {k} end", "intent": LABELS[k % 2],
                                 "channel": "email" if k < n // 2 else "chat", "split": "test"}) + "\n")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text("""\
task: {name: toy, kind: classification, labels: [billing, shipping]}
data:
  path: d.jsonl
  fields: {input: text, label: intent, id: id, split: split, slices: [channel]}
eval:
  metric: accuracy
  prompt: {inline: "Classify: {{input}}"}
  bootstrap: {n_resamples: 1000, seed: 0}
""")
    return spec


class FixedBackend:
    """A deterministic model version: a fixed answer per item number (wrong on the items in ``wrong``)."""

    capabilities = frozenset({"generate"})

    def __init__(self, model_id: str, wrong: set[int], garbled: set[int] = frozenset()) -> None:
        self.model_id = model_id
        self.wrong, self.garbled = wrong, garbled
        self.calls = 0
        self.closed = False

    def cache_identity(self):
        return {"kind": "fixed", "model": self.model_id}

    def generate(self, requests):
        for i, r in enumerate(requests):
            self.calls += 1
            k = int(r.messages[-1]["content"].split("message ")[1].split(" ")[0])
            truth = LABELS[k % 2]
            text = ("no idea" if k in self.garbled else
                    LABELS[1 - LABELS.index(truth)] if k in self.wrong else truth)
            yield i, Generation(text, 10, 1, 0.001)

    def close(self):
        self.closed = True


def test_fake_backend_implements_the_protocol():
    assert isinstance(FixedBackend("fixed:a", set()), Backend)


def factory(versions):
    made = {}

    def make(model_id):
        made[model_id] = versions[model_id]
        return versions[model_id]

    return make, made


def test_a_version_that_lowers_accuracy_alerts_overall_and_on_its_slice(tmp_path):
    spec = load_spec(make_task(tmp_path))
    # old: right on all 60. new: wrong on 15 of the 30 email items (k = 0, 2, ..., 28), right elsewhere.
    versions = {"fixed:v1": FixedBackend("fixed:v1", set()), "fixed:v2": FixedBackend("fixed:v2", set(range(0, 30, 2)))}
    make, made = factory(versions)
    seen = []
    cache = ResponseCache(tmp_path / "c.sqlite")
    try:
        doc = run_regression(spec, "fixed:v1", "fixed:v2", out_dir=tmp_path / "reg", backend_factory=make,
                             cache=cache, progress=lambda what, d=None, t=None: seen.append((what, d, t)))
    finally:
        cache.close()
    assert all(b.closed for b in made.values())
    assert doc["status"] == "alert" and doc["n_shared"] == 60
    c = doc["comparison"]
    assert c["old"] == 1.0 and c["new"] == 0.75 and c["diff"] == -0.25
    # exact McNemar: b10 = 15 discordant items all against the new version: p = 2 * 0.5**15
    assert c["mcnemar"]["b10"] == 15 and c["mcnemar"]["b01"] == 0
    assert c["mcnemar"]["p_value"] == pytest.approx(2 * 0.5**15)
    assert c["diff_ci_high"] < 0
    tests = {t["name"]: t for t in doc["tests"]}
    assert tests["regression.overall.mcnemar"]["status"] == "alert"
    assert tests["regression.overall.paired_bootstrap"]["status"] == "alert"
    for t in doc["tests"]:
        assert {"name", "statistic", "p_value", "threshold", "status"} <= set(t)
    sl = {s["value"]: s for s in doc["slices"]}
    assert sl["email"]["n"] == 30 and sl["email"]["diff"] == -0.5 and sl["email"]["status"] == "alert"
    # Holm over 2 slices: email p = 2 * 0.5**15 is the smaller, multiplied by 2; chat p = 1 (no discordant items)
    assert sl["email"]["p_value_holm"] == pytest.approx(min(1, 4 * 0.5**15), rel=1e-5)
    assert sl["chat"]["diff"] == 0.0 and sl["chat"]["status"] == "ok" and sl["chat"]["p_value_holm"] == 1.0
    assert tests["regression.slice.channel=chat.mcnemar"]["status"] == "ok"
    assert doc["evaluation"]["value"] == 0.75 and doc["evaluation"]["model"] == "fixed:v2"
    saved = json.loads((tmp_path / "reg" / "regression.json").read_text())
    assert saved["status"] == "alert" and saved["schema_version"] == 1 and "run" in saved
    assert (tmp_path / "reg" / "old" / "eval.json").exists() and (tmp_path / "reg" / "new" / "results.jsonl").exists()
    assert seen[-1] == ("items", 120, 120) and {w for w, _, _ in seen} == {"items"}


def test_a_balanced_change_is_no_regression_and_garbled_answers_count_as_wrong(tmp_path):
    spec = load_spec(make_task(tmp_path, n=40))
    # one item each way: McNemar p = 1 -> ok
    versions = {"fixed:a": FixedBackend("fixed:a", {3}), "fixed:b": FixedBackend("fixed:b", {5})}
    doc = run_regression(spec, "fixed:a", "fixed:b", backend_factory=factory(versions)[0],
                         cache_path=tmp_path / "c.sqlite")
    assert doc["status"] == "ok" and doc["comparison"]["diff"] == 0.0
    assert doc["comparison"]["mcnemar"]["p_value"] == 1.0 and doc["runs"] is None
    # a new version whose answers stop parsing on 12 items has regressed, even though it is never "wrong"
    versions = {"fixed:a": FixedBackend("fixed:a", set()), "fixed:c": FixedBackend("fixed:c", set(), set(range(12)))}
    doc = run_regression(spec, "fixed:a", "fixed:c", backend_factory=factory(versions)[0],
                         cache_path=tmp_path / "c2.sqlite")
    assert doc["new"]["n_unscored"] == 12 and doc["comparison"]["new"] == pytest.approx(28 / 40)
    assert doc["status"] == "alert" and doc["comparison"]["mcnemar"]["b10"] == 12
    # a new version none of whose answers parse: the worst regression, not a crash
    versions = {"fixed:a": FixedBackend("fixed:a", set()), "fixed:d": FixedBackend("fixed:d", set(), set(range(40)))}
    doc = run_regression(spec, "fixed:a", "fixed:d", backend_factory=factory(versions)[0],
                         cache_path=tmp_path / "c3.sqlite")
    assert doc["status"] == "alert" and doc["comparison"]["diff"] == -1.0 and doc["new"]["n_unscored"] == 40
    assert doc["new"]["value"] is None and doc["evaluation"]["value"] is None


def test_regression_result_lands_in_the_portfolio_history(tmp_path):
    spec = load_spec(make_task(tmp_path, n=40))
    versions = {"fixed:v1": FixedBackend("fixed:v1", set()), "fixed:v2": FixedBackend("fixed:v2", set(range(0, 40, 3)))}
    doc = run_regression(spec, "fixed:v1", "fixed:v2", backend_factory=factory(versions)[0],
                         cache_path=tmp_path / "c.sqlite")
    with PortfolioStore(tmp_path / "p.sqlite") as st:
        st.add_model("toy", path="prompt", base_model="fixed:v1")
        m = st.record_monitor_run("toy", doc)
        assert m["status"] == "alert" and m["last_evaluation"]["value"] == doc["evaluation"]["value"]
        assert "regression.overall.mcnemar" in {a["name"] for a in m["open_alerts"]}
        (h,) = st.history("toy")
        assert h["kind"] == "regression" and h["status"] == "alert"


@pytest.mark.integration
def test_smollm2_against_itself_with_other_params_on_6_items(tmp_path):
    """Real local model, label-likelihood scoring (the fast path) on 6 test items. Sampling parameters do not
    enter label scoring, so 'smollm2 at temperature 0' vs 'smollm2 at temperature 0.7' must be no regression:
    identical answers, diff exactly 0, McNemar p = 1, every test ok, and the second side served from the cache."""
    spec = load_spec(EXAMPLE)
    doc = run_regression(spec, "local:smollm2", "local:smollm2", limit=6, cache_path=tmp_path / "c.sqlite",
                         out_dir=tmp_path / "r", old_params={"temperature": 0.0},
                         new_params={"temperature": 0.7, "seed": 3})
    assert doc["n_items"] == 6 and doc["n_shared"] == 6 and doc["old"]["method"] == "label_logprobs"
    assert doc["old"]["usage"]["backend_calls"] == 6 and doc["new"]["usage"]["cache_hits"] == 6
    c = doc["comparison"]
    assert c["diff"] == 0.0 and c["old"] == c["new"] == doc["old"]["value"]
    assert c["mcnemar"]["n_discordant"] == 0 and c["mcnemar"]["p_value"] == 1.0
    assert doc["status"] == "ok" and all(t["status"] == "ok" for t in doc["tests"])
    assert {s["column"] for s in doc["slices"]} == {"channel", "edge_case"}
    assert sum(s["n"] for s in doc["slices"] if s["column"] == "channel") == 6
    old_rows = (tmp_path / "r" / "old" / "results.jsonl").read_text().splitlines()
    new_rows = (tmp_path / "r" / "new" / "results.jsonl").read_text().splitlines()
    assert [json.loads(x)["prediction"] for x in old_rows] == [json.loads(x)["prediction"] for x in new_rows]


def test_monitor_regress_cli_exits_3_and_records_the_run(tmp_path, monkeypatch):
    """`tunegate monitor SPEC --regress OLD NEW --model NAME` through the CLI, with the fixed versions registered
    as a backend scheme (the registry's plug-in point): exit 3 on a regression, and the run lands in the history."""
    from typer.testing import CliRunner

    from tunegate.cli import app
    from tunegate.models import registry

    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    wrong = {"fixedcli:v1": set(), "fixedcli:v2": set(range(0, 40, 2))}
    monkeypatch.setitem(registry._BACKENDS, "fixedcli", lambda model_id, name, s: FixedBackend(model_id,
                                                                                                wrong[model_id]))
    spec = make_task(tmp_path, n=40)
    with PortfolioStore() as st:
        st.add_model("toy", path="fine-tune", base_model="fixedcli:v1")
    r = CliRunner().invoke(app, ["monitor", str(spec), "--regress", "fixedcli:v1", "fixedcli:v2", "--model", "toy",
                                 "--json", "--out", str(tmp_path / "reg")])
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert doc["status"] == "alert" and doc["comparison"]["diff"] == -0.5
    with PortfolioStore() as st:
        (h,) = st.history("toy")
        assert h["kind"] == "regression" and h["value"] == 0.5 and st.get("toy")["status"] == "alert"
