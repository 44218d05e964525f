"""The report: escaping, self-containment, missing and invalid artifacts, and a real headless-Chromium render.

Fixtures are small artifacts built through their models (``tunegate.artifact_models``, ``EvalArtifact``), so a
fixture the stages could not have written fails here, not in the report (cost.json is also the live cost model's
own output), with XSS payloads planted wherever dataset- or model-derived text reaches the page. ``write_run``
saves them as the stages do (every field) or, ``minimal``, only the keys given.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tunegate.artifact_models import (
    ARTIFACTS,
    ArtifactModel,
    AuditArtifact,
    CostArtifact,
    EvalCheckArtifact,
    ProbeArtifact,
    SprintArtifact,
    VerdictArtifact,
)
from tunegate.artifact_models.cost import CostInput
from tunegate.artifact_models.sprint import SprintBaseline, SprintBest, SprintComparison
from tunegate.artifacts import EvalArtifact
from tunegate.errors import InputError
from tunegate.report import ReportError, charts, render_report
from tunegate.report.doc import fmt_ci, md_escape
from tunegate.report.evidence import fold_evidence

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PIPE_LABEL = "billing|refund"
CHROMIUM = shutil.which("chromium") or (Path("/usr/bin/chromium").is_file() and "/usr/bin/chromium") or None


def _run(**extra) -> dict:
    base = {"tunegate_version": "0.1.0", "python": "3.11.7", "packages": {"numpy": "2.4.6"}, "seed": 7,
            "config_hash": "abc123", "command": "tunegate run examples/x.yaml", "started": "2026-01-01T00:00:00",
            "finished": "2026-01-01T00:01:00"}
    return {**base, **extra}


def verdict() -> VerdictArtifact:
    return VerdictArtifact.from_dict({
        "verdict": "KEEP_PROMPTING", "confidence": "medium", "rule": "gap, data fine, probe does not close it",
        "summary": f"The probe does not beat the best prompt {SCRIPT}.",
        "conditions": {
            "criterion": {"status": "held", "source": "measured", "summary": "eval suite separates good from bad",
                          "evidence": {"auc": 0.91, "auc_ci_low": 0.87, "auc_ci_high": 0.94, "n": 200}},
            "data": {"status": "held", "source": "declared", "summary": "alpha declared in the spec",
                     "evidence": {"krippendorff_alpha": 0.82, "note": IMG}},
            "prompting_gap": {"status": "not_held", "source": "measured", "summary": "best prompt near target",
                              "evidence": {"best_prompt": 0.81, "best_prompt_ci_low": 0.77,
                                           "best_prompt_ci_high": 0.85, "target": 0.9}},
            "economics": {"status": "unknown", "source": "missing", "summary": "no cost model", "evidence": {}},
        },
        "next_actions": ["Add few-shot examples for the confusable intents.", f"Review item {IMG}"],
        "inputs": {"audit": "audit.json", "sprint": "sprint.json", "cost": None},
        "run": _run(),
    }, source="verdict fixture")


def audit() -> AuditArtifact:
    return AuditArtifact.from_dict({
        "gate": "fail", "task": f"triage {SCRIPT}", "schema_version": 1,
        "reasons": [f"label noise above threshold on {SCRIPT}"],
        "checks": [{"name": "agreement", "status": "pass", "value": 0.82, "threshold": 0.667, "detail": "ok"},
                   {"name": "label_noise", "status": "fail", "value": 0.14, "threshold": 0.1,
                    "detail": f"noisy {IMG}", "items": [IMG], "n_items": 1}],
        "agreement": {"level": "nominal", "krippendorff_alpha": 0.82, "alpha_ci": {"low": 0.78, "high": 0.86},
                      "fleiss_kappa": 0.81, "n_items": 40, "n_annotators": 3, "n_ratings": 120,
                      "per_annotator": [{"annotator": "ann<b>", "n_labeled": 40, "agreement_with_majority": 0.9,
                                         "kappa_vs_majority": 0.88}],
                      "pairwise": [{"annotator_a": "ann<b>", "annotator_b": "bob", "n_shared": 40, "kappa": 0.8,
                                    "agreement": 0.85}]},
        "aggregation": {"method": "dawid_skene", "n_adjudicated": 2, "mean_confidence": 0.95},
        "annotators": [{"annotator": "ann<b>", "estimated_accuracy": 0.9, "unreliable": False,
                        "top_confusion": {"true": PIPE_LABEL, "given": SCRIPT, "rate": 0.1}}],
        "adjudication_queue": [
            {"item_id": IMG, "text": f"my card {SCRIPT} was charged twice | help", "label": PIPE_LABEL,
             "votes": {"alice": SCRIPT, "bob": IMG}, "confidence": 0.52, "entropy": 0.99, "reason": "disagreement"},
            *[{"item_id": f"it-{i}", "votes": {"alice": "a", "bob": "b"}, "label": "a", "confidence": 0.6,
               "reason": "disagreement"} for i in range(30)],
        ],
        "noise": {"estimated_noise_rate": 0.14, "oof_accuracy": 0.88, "n_issues": 1,
                  "issues": [{"id": IMG, "given": SCRIPT, "suggested": PIPE_LABEL, "self_confidence": 0.03,
                              "suggested_probability": 0.9, "split": "train"}]},
        "duplicates": {"count": 1, "items": [[IMG, "it-2"]],
                       "exact": {"count": 1, "items": [[IMG, "it-2"]],
                                 "records": [{"how": "exact", "items": [
                                     {"id": IMG, "split": "train", "label": SCRIPT, "text": f"dup {SCRIPT}"},
                                     {"id": "it-2", "split": "test", "label": PIPE_LABEL, "text": "dup"}]}]}},
        "conflicts": {"count": 0, "items": []},
        "leakage": {"count": 1, "items": [SCRIPT]},
        "repeated_judgments": {"rule": "every judgment counts", "n_repeated_pairs": 1, "n_extra_judgments": 1,
                               "self_agreement": 0.5,
                               "conflicts": [{"item_id": "it-3", "text": IMG, "annotator": "bob",
                                              "labels": [SCRIPT, "a"]}]},
        "coverage": {"per_class": {PIPE_LABEL: {"train": 30, "dev": 5, "test": 8, "all": 43},
                                   SCRIPT: {"train": 12, "dev": 2, "test": 3, "all": 17}},
                     "per_slice": {"channel": {"chat": {"train": 20, "test": 5}, IMG: {"train": 3, "test": 1}}},
                     "classes_below_min": [SCRIPT], "required_slices": [],
                     "long_tail": {"imbalance_ratio": 2.5, "rare_classes": [SCRIPT]}},
        "quantity": {"min_per_class": 20, "n_train": 42, "labels_needed_from_probe": None},
        "run": _run(command=f"tunegate audit {SCRIPT}"),
    }, source="audit fixture")


def sprint() -> SprintArtifact:
    return SprintArtifact.from_dict({
        "metric": "accuracy", "target": 0.9, "gate": "gap",
        "best": {"candidate": "few-shot kNN", "value": 0.81, "ci_low": 0.77, "ci_high": 0.85, "n": 200},
        "candidates": [{"name": "zero-shot", "value": 0.62, "ci_low": 0.55, "ci_high": 0.69, "n": 200,
                        "cost_per_1000": 0.42},
                       {"name": "few-shot kNN", "value": 0.81, "ci_low": 0.77, "ci_high": 0.85, "n": 200,
                        "cost_per_1000": 1.9},
                       {"name": SCRIPT, "value": None, "ci_low": None, "ci_high": None, "n": 0}],
        "run": _run()}, source="sprint fixture")


def probe() -> ProbeArtifact:
    return ProbeArtifact.from_dict({
        "probes": [{"kind": "embedding_head", "name": "embedding_head", "value": 0.84, "ci_low": 0.8, "ci_high": 0.88,
                    "n": 200}],
        "learning_curve": {"points": [{"n": n, "error": e, "seeds": [e - 0.02, e, e + 0.03]}
                                      for n, e in ((25, 0.4), (50, 0.3), (100, 0.22), (200, 0.18))],
                           "fit": {"a": 0.12, "b": 2.0, "c": 0.6}, "labels_needed": 900.0,
                           "flags": [f"few points {IMG}"]},
        "run": _run()}, source="probe fixture")


def cost_brief_shape() -> CostArtifact:
    """cost.json in the shape cost/model.py writes (shared histogram bins, sensitivity outcomes per end)."""
    return CostArtifact.from_dict({
        "tco": {"prompting": {"mean": 15000, "median": 14600, "p05": 11800, "p95": 18200,
                              "breakdown": {"inference": 80, "sprint": 4500}},
                "fine_tuning": {"mean": 68000, "median": 66000, "p05": 51000, "p95": 92000,
                                "breakdown": {"inference": 47, "labeling": 6700}}},
        "p_finetune_cheaper": 0.0, "expected_net_value_of_finetuning": {"mean": -53000, "p05": -76000,
                                                                      "p95": -38000},
        "breakeven_monthly_volume": None, "breakeven": {"reason": "fine-tuning never breaks even"},
        "sensitivity": [{"input": "labeling.cost_per_label", "low": 0.5, "high": 3.0, "net_value_at_low": -47000,
                         "net_value_at_high": -63000, "swing": 16000}],
        "distribution": {"bin_edges": [10000, 30000, 50000, 70000, 90000, 110000],
                         "prompting": [80, 20, 0, 0, 0], "fine_tuning": [0, 0, 30, 50, 20]},
        "horizon_months": 18, "n_draws": 2000}, source="cost fixture")


def evalcheck() -> EvalCheckArtifact:
    return EvalCheckArtifact.from_dict({"gate": "pass", "auc": 0.91, "auc_ci": {"low": 0.87, "high": 0.94},
                                        "n_items": 200, "reasons": ["judge agrees with humans"], "run": _run()},
                                       source="evalcheck fixture")


def _metric(name: str, value: float, lo: float, hi: float, n: int) -> dict:
    return {"name": name, "value": value, "ci_low": lo, "ci_high": hi, "n": n}


def eval_json() -> EvalArtifact:
    return EvalArtifact.model_validate({
        "artifact": "eval", "task": "triage", "model": f"local:{IMG}", "split": "test", "method": "label_logprobs",
        "prompt_source": "/x/prompts/zero_shot.txt", "prompt_sha": "0" * 12, "metric": "accuracy", "value": 0.1,
        "ci_low": 0.0, "ci_high": 0.3, "confidence": 0.95, "ci_method": "bca", "n": 20, "n_total": 20,
        "n_unscored": 0, "n_errors": 0, "target": 0.9,
        "per_label": {SCRIPT: _metric("recall", 1.0, 0.34, 1.0, 2), PIPE_LABEL: _metric("recall", 0.0, 0.0, 0.43, 5)},
        "per_slice": {"channel": {"chat": _metric("accuracy", 0.0, 0.0, 0.24, 12)}},
        "usage": {"total": {"calls": 20, "cost": 0.01, "cost_saved": 0.0}}, "run": _run()})


def live_cost() -> CostArtifact:
    """cost.json exactly as the cost model writes it today, validated by its model."""
    from tunegate.config.costs import parse_costs
    from tunegate.cost.model import run_cost_model

    return CostArtifact.from_dict(json.loads(json.dumps(run_cost_model(parse_costs(None), labels_needed=900.0,
                                                                       n_draws=2000).to_dict())))


def put(d: Path, art: ArtifactModel | EvalArtifact, *, minimal: bool = False) -> Path:
    """Write an artifact as a stage does: every field (``minimal``: only the keys the fixture gave)."""
    path = d / (art.FILENAME if isinstance(art, ArtifactModel) else "eval.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(art.model_dump(mode="json", exclude_unset=minimal)), encoding="utf-8")
    return path


def write_run(d: Path, *, cost: CostArtifact | None = None, minimal: bool = False) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for art in (verdict(), audit(), sprint(), probe(), evalcheck(), cost or cost_brief_shape()):
        put(d, art, minimal=minimal)
    put(d / "eval-smollm2", eval_json(), minimal=minimal)
    return d


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> tuple[Path, str, str]:
    d = write_run(tmp_path_factory.mktemp("run"))
    html_path, md_path = render_report(d)
    return d, html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")


def _tables(md: str) -> list[list[str]]:
    tables, cur = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            tables.append(cur)
            cur = []
    return tables


# ---------------------------------------------------------------- escaping and self-containment
def test_payloads_are_escaped_in_html_and_markdown(full_run):
    _, page, md = full_run
    for raw in (SCRIPT, IMG, "<img", "<b>"):
        assert raw not in page
        assert raw not in md
    assert page.lower().count("<script") == 0
    assert html.escape(SCRIPT) in page  # rendered as text, not dropped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_markdown_tables_keep_their_shape_with_pipes_in_cells(full_run):
    _, _, md = full_run
    assert "billing\\|refund" in md
    for table in _tables(md):
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <style> blocks: what a browser would act on."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.css, self._in_style = "", False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.css += data


def test_html_makes_no_external_requests(full_run):
    _, page, _ = full_run
    assert "http://" not in page.lower() and "https://" not in page.lower()
    p = _Tags()
    p.feed(page)
    names = {t for t, _ in p.tags}
    assert not names & {"script", "img", "link", "iframe", "object", "embed", "video", "audio", "source", "base"}
    for tag, attrs in p.tags:
        assert "src" not in attrs and "srcset" not in attrs, tag
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        assert attrs.get("href", "#").startswith("#"), attrs
        assert "url(" not in attrs.get("style", ""), attrs
    assert "@import" not in p.css and "url(" not in p.css and "@font-face" not in p.css
    csp = [a["content"] for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]


def test_sections_in_order_and_markdown_matches_html(full_run):
    _, page, md = full_run
    h2_html = [html.unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", page)]
    h2_md = [line[3:].replace("\\", "") for line in md.splitlines() if line.startswith("## ")]
    assert h2_html == h2_md
    assert h2_html[0].startswith("KEEP_PROMPTING")
    assert [h.split(" ")[0] for h in h2_html[1:]] == ["1", "2", "3", "Economics", "Reproducibility", "Item"]
    for text in ("0.810 (95% CI 0.770–0.850)", "0.910 (95% CI 0.870–0.940)", "95% CI 0.780–0.860"):
        assert html.escape(text) in page and text in md, text
    assert page.count("<svg") >= 5  # sprint, probe, learning curve, TCO histogram, tornado (+ evals)
    assert "declared" in md and "✗ not held" in md and "? unknown" in md


def test_adjudication_queue_and_issues_are_capped(full_run):
    _, page, md = full_run
    assert "31 contested items" in md and "the first 20 are shown" in md
    assert "it-18" in page and "it-19" not in page


def test_hand_made_cost_json_renders(full_run):
    _, page, md = full_run
    assert "TCO distributions of both paths" in page and "sensitivity of the net value" in page
    assert "fine-tuning never breaks even" in md
    assert "| Keep prompting | $14.6k | $11.8k – $18.2k | $15k |" in md


def test_live_cost_model_output_renders(tmp_path):
    """The cost model's real cost.json: every economics element is found under the names it uses."""
    cost = live_cost()
    md = render_report(write_run(tmp_path / "run", cost=cost))[1].read_text(encoding="utf-8")
    econ = md[md.index("\n## Economics —"):md.index("\n## Reproducibility")]
    assert "Not measured" not in econ
    assert "P(fine-tuning is cheaper)" in econ and "5–95%:" in econ
    assert econ.count("*Chart in report.html") == 2  # TCO histogram and tornado
    assert "Where the money goes" in econ and "portfolio overhead" in econ
    assert cost.sensitivity[0].input in econ and "Cost model inputs" in econ


# ---------------------------------------------------------------- missing and broken artifacts
def test_only_verdict_renders_not_measured_sections(tmp_path):
    put(tmp_path, verdict())
    html_path, md_path = render_report(tmp_path, title="Only a verdict")
    page, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    assert "<title>Only a verdict</title>" in page
    assert md.count("Not measured yet") == 6  # criterion, data, sprint, probe, cost, item results
    assert "P(fine-tuning is cheaper)" not in md  # no invented economics
    assert "tunegate cost CONFIG" in md and "cost.json" in md


def test_no_verdict_says_so(tmp_path):
    put(tmp_path, audit())
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert "## No verdict yet" in md and "tunegate decide RUN_DIR" in md


def test_empty_or_absent_run_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="no tunegate artifacts"):
        render_report(tmp_path)
    with pytest.raises(FileNotFoundError):
        render_report(tmp_path / "nope")
    with pytest.raises(ReportError, match="run directory not found"):
        render_report(tmp_path / "nope")


def test_malformed_artifacts_are_listed_not_fatal(tmp_path):
    (tmp_path / "audit.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "probe.json").write_text("[1, 2]", encoding="utf-8")
    bad = {"verdict": 3, "confidence": None, "conditions": {"data": "oops", "criterion": {"evidence": [1]}},
           "next_actions": "do things"}
    (tmp_path / "verdict.json").write_text(json.dumps(bad), encoding="utf-8")
    (tmp_path / "sprint.json").write_text(json.dumps({"candidates": "x", "target": "high"}), encoding="utf-8")
    (tmp_path / "cost.json").write_text(json.dumps({"tco": [], "sensitivity": [None, {"input": 1}],
                                                    "distribution": {"bin_edges": [1], "prompting": [1]}}),
                                        encoding="utf-8")
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert "Artifacts that could not be read" in md
    assert "audit.json" in md and "JSONDecodeError" in md and "expected a JSON object" in md


def test_an_artifact_its_model_refuses_is_listed_with_file_and_key_and_the_rest_renders(tmp_path):
    """verdict.json without ``conditions``, audit.json with a check's status null, eval.json without ``n``: each is
    listed as unreadable with the model's located message, its section says "not measured", the rest renders."""
    write_run(tmp_path)
    v = verdict().to_dict()
    del v["conditions"]
    (tmp_path / "verdict.json").write_text(json.dumps(v), encoding="utf-8")
    a = audit().to_dict()
    a["checks"][1]["status"] = None
    (tmp_path / "audit.json").write_text(json.dumps(a), encoding="utf-8")
    e = eval_json().model_dump(mode="json")
    del e["n"]
    (tmp_path / "eval-smollm2" / "eval.json").write_text(json.dumps(e), encoding="utf-8")
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    unreadable = md[md.index("Artifacts that could not be read"):]
    assert "| verdict.json | verdict.json: conditions: not a valid verdict.json: Field required |" in unreadable
    assert "| audit.json | audit.json: checks.1.status: not a valid audit.json: Input should be a valid string |" \
        in unreadable
    assert "| eval-smollm2/eval.json | eval-smollm2/eval.json: n: not a valid eval.json: Field required |" in unreadable
    assert "## No verdict yet" in md and "verdict.json could not be read — verdict.json: conditions: " in md
    data = md[md.index("\n## 2 · Labeled data"):md.index("\n## 3 · Prompting")]
    assert "Not measured: audit.json could not be read — audit.json: checks.1.status: " in data
    assert "Data gate:" not in data  # nothing from the refused file is shown as if it had been read
    # the valid artifacts still render, each in its section
    assert "Criterion gate:" in md and "Prompt sprint leaderboard" in md and "Learning curve" in md
    assert "| P(fine-tuning is cheaper) |" in md or "P(fine-tuning is cheaper)" in md
    assert "eval-smollm2" not in md[md.index("\n## 3 · Prompting"):md.index("\n## Economics")]
    assert "could not be rendered" not in md


_JUNK = (None, "x", [], {}, 0, -1, 1e308, True, [1, "a", None], {"a": None}, SCRIPT, [{"x": 1}], float("nan"))


def _paths(o, pre=()):
    yield pre
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _paths(v, (*pre, k))
    elif isinstance(o, list):
        for i, v in enumerate(o[:3]):
            yield from _paths(v, (*pre, i))


def test_randomly_corrupted_artifacts_never_break_a_section(tmp_path):
    """Seeded fuzz: any value replaced by junk of another type still renders every section."""
    import random

    rng = random.Random(0)
    refused = 0
    base = {a.artifact: a.to_dict() for a in (verdict(), audit(), sprint(), probe(), evalcheck(), cost_brief_shape())}
    for it in range(150):
        arts = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 10)):
            name = rng.choice(sorted(arts))
            path = rng.choice([p for p in _paths(arts[name]) if p])
            target = arts[name]
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = rng.choice(_JUNK)
        d = tmp_path / f"r{it}"
        d.mkdir()
        for name, obj in arts.items():
            (d / f"{name}.json").write_text(json.dumps(obj), encoding="utf-8")  # NaN is written as NaN
        md = render_report(d)[1].read_text(encoding="utf-8")
        assert "could not be rendered" not in md, (it, md[md.find("could not be rendered"):][:400])
        for name, obj in arts.items():  # a file its model refuses is listed with the located message
            try:
                ARTIFACTS[name].from_dict(obj)
            except InputError:
                refused += 1
                assert f"| {name}.json | {name}.json: " in md, (it, name)
    assert 0 < refused < 150 * 6  # the fuzz exercises both: files refused and files read


def test_a_section_that_raises_is_reported_not_fatal(tmp_path, monkeypatch):
    from tunegate.report import render as render_mod

    def broken(arts):
        raise KeyError("surprise")

    monkeypatch.setattr(render_mod, "SECTIONS", (render_mod.verdict_card, broken))
    put(tmp_path, verdict())
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert "could not be rendered" in md and "KeyError" in md and "KEEP_PROMPTING" in md


# ---------------------------------------------------------------- pieces
def test_formatting_keeps_intervals():
    assert fmt_ci(0.8123, 0.77, 0.85) == "0.812 (95% CI 0.770–0.850)"
    assert fmt_ci(0.8, None, 0.9) == "0.800"
    rows = dict(fold_evidence({"alpha": 0.8, "alpha_ci": {"low": 0.7, "high": 0.9}, "value": 1.5, "ci_low": 1,
                               "ci_high": 2, "x": None}))
    assert rows == {"alpha": "0.800 (95% CI 0.700–0.900)", "value": "1.50 (95% CI 1.00–2.00)", "x": "not measured"}
    # the verdict's own naming: bounds named after a suffix of the value's key, and 5–95% ranges
    real = dict(fold_evidence({"krippendorff_alpha": 0.756, "alpha_ci_low": 0.721, "alpha_ci_high": 0.786,
                               "expected_net_value_mean": -57730.0, "expected_net_value_p05": -92792.0,
                               "expected_net_value_p95": -37375.0, "lone_low": 1, "lone_high": 2}))
    assert real == {"krippendorff alpha": "0.756 (95% CI 0.721–0.786)",
                    "expected net value of fine-tuning (mean)": "-57,730 (5–95%: -92,792 to -37,375)", "lone low": "1",
                    "lone high": "2"}
    assert md_escape("a|b <i>*x*</i>", cell=True) == "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt;"


def test_charts_escape_labels_and_handle_empty_input():
    svg = charts.interval_chart([{"label": SCRIPT, "value": 0.5, "low": 0.4, "high": 0.6}], x_label=IMG,
                                target=0.7)
    assert svg.startswith("<svg") and SCRIPT not in svg and "<img" not in svg and "target" in svg
    assert charts.interval_chart([], x_label="x") == ""
    assert charts.histogram_chart([{"name": "p", "edges": [0, 1], "counts": [0]}], x_label="x") == ""
    assert charts.tornado_chart([{"label": "a", "at_low": None, "at_high": 1}], base=0, x_label="x") == ""
    assert charts.learning_curve_chart([{"n": 0, "error": 0.1}]) == ""
    t = charts.tornado_chart([{"label": IMG, "at_low": -5, "at_high": 3}], base=-1, x_label="net")
    assert "<img" not in t and "break-even" in t
    assert charts.nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


# ---------------------------------------------------------------- headless Chromium
def _chromium(args: list[str], profile: Path, timeout: int = 40) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-default-apps", "--disable-extensions", "--mute-audio", "--disable-dev-shm-usage",
           f"--user-data-dir={profile}",
           '--host-resolver-rules=MAP * ~NOTFOUND', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_screenshot(full_run, tmp_path):
    run_dir, _, _ = full_run
    shot = tmp_path / "shot.png"
    r = _chromium([f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars",
                   (run_dir / "report.html").resolve().as_uri()], tmp_path / "profile")
    assert shot.is_file(), r.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    shutil.copy(shot, run_dir / "screenshot.png")  # for a person to look at when debugging


def _page_requests(netlog: Path) -> list[str]:
    """http(s)/ws URLs the *page* asked for, from a Chromium net log.

    The browser itself pings Google services at start-up even with background networking disabled (all of them
    fail here: every host resolves to nothing); those carry ``initiator: "not an origin"``, while a file:// page's
    own subresource requests carry its opaque origin ``"null"``.
    """
    text = netlog.read_text(encoding="utf-8", errors="replace")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # killed before it closed the log: the events array is still well-formed JSON
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [p["url"] for e in log["events"] if e.get("type") == start_job and isinstance(p := e.get("params"), dict)
            and re.match(r"(https?|wss?)://", str(p.get("url", ""))) and p.get("initiator") != "not an origin"]


def _load_with_netlog(page: Path, tmp: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    netlog = tmp / "net.json"
    r = _chromium(["--dump-dom", "--enable-logging=stderr", "--v=0", f"--log-net-log={netlog}",
                   page.resolve().as_uri()], tmp / "profile")
    assert netlog.is_file(), r.stderr[-2000:]
    return r, _page_requests(netlog)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_payload_inert_no_console_errors_no_requests(full_run, tmp_path):
    run_dir, _, _ = full_run
    r, requested = _load_with_netlog(run_dir / "report.html", tmp_path / "report")
    dom = r.stdout
    assert "KEEP_PROMPTING" in dom, r.stderr[-2000:]
    assert not re.search(r"<script\b", dom, re.IGNORECASE)
    assert not re.search(r"<img\b", dom, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # present, as text
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln or "Refused to" in ln]
    assert not console, console
    assert not requested, requested[:5]
    # control: the same detector does see a page that fetches something
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!DOCTYPE html><p>x</p><img src="http://example.invalid/x.png">', encoding="utf-8")
    assert _load_with_netlog(leaky, tmp_path / "leaky")[1] == ["http://example.invalid/x.png"]


# ---------------------------------------------------------------- issue 16 / 17: words, net value, baseline, bidi
def test_bidi_controls_are_visible_in_html_and_markdown(tmp_path):
    from tunegate.report.textsafe import show_controls

    assert show_controls("a\u202eb\u200fc\u2066d") == "a⟨U+202E⟩b⟨U+200F⟩c⟨U+2066⟩d"
    assert show_controls("क्\u200dष 👩\u200d💻") == "क्\u200dष 👩\u200d💻"  # ZWJ is kept: scripts and emoji need it
    a = audit()
    a.agreement.per_annotator[0].annotator = "\u202eecila"
    a.adjudication_queue[0].label = "refund\u200f"
    write_run(tmp_path)
    put(tmp_path, a)
    html_path, md_path = render_report(tmp_path)
    for text in (html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")):
        assert "\u202e" not in text and "\u200f" not in text
        assert "⟨U+202E⟩ecila" in text and "refund⟨U+200F⟩" in text


def test_verdict_sentence_once_and_keys_in_words(tmp_path):
    v = verdict().to_dict()
    v["summary"] = "KEEP_PROMPTING (medium confidence): rule gap, data fine, probe does not close it"
    v["conditions"]["economics"] = {"status": "not_held", "source": "measured", "summary": "negative",
                                    "evidence": {"p_finetune_cheaper": 0.02, "breakeven_monthly_volume": 1.2e7}}
    write_run(tmp_path, cost=live_cost())
    put(tmp_path, VerdictArtifact.from_dict(v))
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert md.count("gap, data fine, probe does not close it") == 1  # the rule line, not the summary again
    assert "P(fine-tuning is cheaper)" in md and "p finetune cheaper" not in md
    assert "portfolio: overhead per model-month" in md and "portfolio.overhead_per_model_month" in md  # + spec key
    v["explanation"] = "Prompting is close; the probe does not beat it."
    put(tmp_path, VerdictArtifact.from_dict(v))
    assert "Prompting is close; the probe does not beat it." in render_report(tmp_path)[1].read_text(encoding="utf-8")
    v["plain"] = {"headline": "Keep prompting", "why": "Your best prompt is within reach of the target."}
    put(tmp_path, VerdictArtifact.from_dict(v))
    assert "Your best prompt is within reach" in render_report(tmp_path)[1].read_text(encoding="utf-8")


def _priced_cost() -> CostArtifact:
    from tunegate.config.costs import parse_costs
    from tunegate.cost.model import run_cost_model

    costs = parse_costs({"quality": {"value_per_point_per_month": 2000}})
    result = run_cost_model(costs, labels_needed=900.0, quality_gain=30.0, n_draws=2000)
    return CostArtifact.from_dict(json.loads(json.dumps(result.to_dict())))


def test_net_value_says_where_it_comes_from(tmp_path):
    cost = _priced_cost()
    nv = cost.expected_net_value_of_finetuning
    assert nv.quality_priced and nv.mean > 0 > nv.tco_difference_mean  # the case the issue describes
    md = render_report(write_run(tmp_path, cost=cost))[1].read_text(encoding="utf-8")
    econ = md[md.index("\n## Economics —"):md.index("\n## Reproducibility")]
    assert "Where the net value comes from" in econ and "+ value of quality" in econ
    assert "value of quality (credited to fine-tuning, not a cost)" in econ  # a row in the breakdown
    assert "comes from the value of quality alone" in econ
    assert "a gain of 30 points (measured: the probe's gain over the best prompt)" in econ
    # and unpriced: the net value is the cost difference, said once
    md2 = render_report(write_run(tmp_path / "b", cost=live_cost()))[1].read_text(encoding="utf-8")
    assert "| + value of quality | not priced |" in md2


def test_zero_shot_baseline_beside_the_best_prompt(tmp_path):
    s = sprint()
    s.best = SprintBest(candidate="few-shot kNN", value=0.81)
    s.candidates = s.candidates[1:2]  # the baseline is not a finalist: sprint.json's own baseline block
    s.baseline = SprintBaseline(name="zero-shot", value=0.62, ci_low=0.55, ci_high=0.69, n=200, baseline=True)
    s.comparisons = [SprintComparison(comparison="best_vs_baseline", a="zero-shot", b="few-shot kNN", n=200,
                                      diff=0.19, ci_low=0.12, ci_high=0.26, p_holm=0.0001)]
    write_run(tmp_path)
    put(tmp_path, SprintArtifact.from_dict(s.to_dict()))
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert "| zero-shot *(zero-shot baseline)* | 0.620 (95% CI 0.550–0.690) |" in md  # a leaderboard row
    assert "**Zero-shot baseline: zero-shot** reaches 0.620 (95% CI 0.550–0.690); the best prompt is +0.190 above " \
           "it on the same 200 test items (paired 95% CI 0.120–0.260)" in md
    assert "best prompt: few-shot kNN" in md  # the probe chart/table finds the best prompt in sprint.json's dict


def test_item_inputs_come_from_the_spec_only_when_gold_matches(tmp_path):
    """Results files hold no input text: the viewer reads it through run.spec_path, refusing changed items."""
    from tunegate.report.collect import collect
    from tunegate.report.items import item_table

    spec = Path(__file__).resolve().parents[1] / "examples" / "support-triage" / "tunegate.yaml"
    rows = [json.loads(line) for line in (spec.parent / "data.jsonl").read_text(encoding="utf-8").splitlines()[:3]]
    s = sprint().to_dict()
    s["run"] = _run(spec_path=str(spec))
    put(tmp_path, SprintArtifact.from_dict(s))
    res = [{"candidate": "few-shot kNN", "id": r["id"], "gold": r["intent"] if i < 2 else "other", "output": "x",
            "prediction": "x", "score": 0.0, "scored": True, "scores": {"label_match": 0.0}} for i, r in enumerate(rows)]
    (tmp_path / "sprint_results.jsonl").write_text("\n".join(json.dumps(r) for r in res), encoding="utf-8")
    t = item_table(collect(tmp_path))
    inputs = {it.id: it.input for it in t.items}
    assert inputs[rows[0]["id"]] == rows[0]["text"] and inputs[rows[1]["id"]] == rows[1]["text"]
    assert inputs[rows[2]["id"]] is None and any("another gold answer" in n for n in t.notes)
    assert all(it.answers["c0"].wrong for it in t.items)


def test_labels_needed_not_estimated_names_the_number_the_cost_model_used(tmp_path):
    p = probe()
    p.learning_curve.labels_needed = None
    c = cost_brief_shape()
    c.inputs = {"labeling.labels_needed": CostInput(distribution="point", mean=70, source="default")}
    write_run(tmp_path, cost=c)
    put(tmp_path, p)
    md = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert "not estimated from the curve — no trustworthy fit: the cost model used 70 labels (its default)" in md


def test_a_sprint_file_from_before_the_rename_shows_its_cost_per_1k(tmp_path):
    s = sprint().model_dump(mode="json", exclude_unset=True)
    s["candidates"][1]["cost_per_1k"] = s["candidates"][1].pop("cost_per_1000")
    write_run(tmp_path)
    (tmp_path / "sprint.json").write_text(json.dumps(s), encoding="utf-8")
    rows = {line.split(" | ")[1]: line for line in render_report(tmp_path)[1].read_text(encoding="utf-8").splitlines()
            if line.startswith(("| 1 |", "| 3 |"))}
    assert rows["few-shot kNN **best**"].endswith("| $1.90 |")
    assert rows["&lt;script&gt;alert(1)&lt;/script&gt;"].endswith("| – |")  # a candidate that recorded no cost


def test_the_probes_own_predictions_get_a_column_and_an_older_files_still_do(tmp_path):
    """probe.json's embedding head stores its predictions in its own record (probes[].items); older files wrote
    them beside the probes. Either way the viewer shows the probe's answers, scored against the gold."""
    from tunegate.report.collect import collect
    from tunegate.report.items import item_table

    write_run(tmp_path)
    res = [{"candidate": "few-shot kNN", "id": f"it-{i}", "gold": "a", "output": "a", "prediction": "a", "score": 1.0,
            "scored": True, "scores": {"label_match": 1.0}} for i in range(3)]
    (tmp_path / "sprint_results.jsonl").write_text("\n".join(json.dumps(r) for r in res), encoding="utf-8")
    preds = [{"id": "it-0", "prediction": "a"}, {"id": "it-1", "prediction": "b"}]
    p = probe().to_dict()
    p["probes"][0]["items"] = preds
    put(tmp_path, ProbeArtifact.from_dict(p))
    t = item_table(collect(tmp_path))
    col = next(c for c in t.candidates if c.kind == "probe")
    assert col.name == "probe: embedding_head" and col.source == "probe.json"
    answers = {it.id: it.answers.get(col.key) for it in t.items}
    assert answers["it-0"].primary == 1.0 and answers["it-1"].primary == 0.0 and answers["it-2"] is None
    del p["probes"][0]["items"]
    p["predictions"] = {"it-2": "a"}  # the older shape: an {id: prediction} map beside the probes
    put(tmp_path, ProbeArtifact.from_dict(p))
    t = item_table(collect(tmp_path))
    col = next(c for c in t.candidates if c.kind == "probe")
    assert [it.id for it in t.items if col.key in it.answers] == ["it-2"]
