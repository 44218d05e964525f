"""The report and the drift report in headless Chromium at 375, 900 and 1280 px, driven over the DevTools
protocol (tests/support/cdp.py): nothing wider than the viewport or clipped, no console message, no request,
XSS payloads inert, bidi controls visible, and the item viewer's filters, sort and URL state working.

Skipped without Chromium (``apt-get install chromium``). Screenshots at 900 px are kept in the run directory
(``shot-*.png``) for a person to look at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cdp import CHROMIUM, LAYOUT_JS, Browser
from test_report import IMG, SCRIPT, eval_json, put, write_run

from tunegate.artifact_models import ProbeArtifact, SprintArtifact
from tunegate.artifact_models.probe import ProbeItem
from tunegate.report import render_report

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
WIDTHS = (375, 900, 1280)
RLO = "\u202e"
LABELS = ["billing|refund", "card_lost", f"{RLO}elibom", SCRIPT]
LONG = "a" * 180  # one unbreakable token: an id or path that must wrap, not push the page wider


def write_items(d: Path, n: int = 40) -> None:
    """Per-item results for the fixture run: two sprint candidates, one eval run, the probe's predictions."""
    rows = []
    for i in range(n):
        gold = LABELS[i % len(LABELS)]
        for cand, right in (("few-shot kNN", i % 3 != 0), ("zero-shot", i % 2 == 0)):
            pred = gold if right else LABELS[(i + 1) % len(LABELS)]
            rows.append({"candidate": cand, "id": f"it-{i:03d}" if i else LONG, "split": "test", "gold": gold,
                         "output": f"The answer is {pred} {IMG}" if i % 5 == 0 else pred, "prediction": pred,
                         "score": float(right), "scored": True, "scores": {"label_match": float(right)},
                         "slices": {"channel": "chat" if i % 2 else f"email{RLO}"},
                         "input": f"message {i}: my card {SCRIPT} was charged twice {RLO}evil"})
    (d / "sprint_results.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")
    sprint = SprintArtifact.load(d)
    sprint.candidates[1].baseline = False
    sprint.candidates[0].baseline = True
    sprint.save(d)
    ev = [{"id": f"it-{i:03d}" if i else LONG, "split": "test", "gold": LABELS[i % len(LABELS)], "output": None,
           "error": f"HTTP 500 {SCRIPT}", "scores": {"label_match": None}, "slices": {}} if i == 3 else
          {"id": f"it-{i:03d}" if i else LONG, "split": "test", "gold": LABELS[i % len(LABELS)],
           "output": LABELS[0], "prediction": LABELS[0], "scores": {"label_match": float(i % len(LABELS) == 0)},
           "slices": {}} for i in range(n)]
    (d / "eval-smollm2" / "results.jsonl").write_text("\n".join(json.dumps(r) for r in ev) + "\n", encoding="utf-8")
    probe = ProbeArtifact.load(d)
    probe.probes[0].items = [ProbeItem(id=f"it-{i:03d}" if i else LONG, prediction=LABELS[i % len(LABELS)])
                             for i in range(n)]  # where the embedding head writes them
    probe.save(d)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def item_run(tmp_path_factory) -> Path:
    d = write_run(tmp_path_factory.mktemp("items"))
    write_items(d)
    # an evaluation run directory with a long name: the "artifact" column must wrap, not clip (issue 16)
    long_dir = d / "runs" / "eval-local-HuggingFaceTB_SmolLM2-135M-Instruct-label_logprobs-zero_shot-20260101T000000"
    long_dir.mkdir(parents=True)
    ev = eval_json()
    ev.model = "openai:" + "gpt-4o-mini-2024-07-18-finetuned-support-triage-" * 2
    put(long_dir, ev)
    render_report(d)
    return d


@pytest.fixture(scope="module")
def monitor_run(tmp_path_factory) -> Path:
    from test_monitor_report import monitor_doc

    d = tmp_path_factory.mktemp("monitor")
    monitor_doc().save(d)
    render_report(d, store=d / "no-store.sqlite")
    return d


def _check_page(browser: Browser, page: Path, width: int, shots: Path | None = None) -> dict:
    browser.open(page.resolve().as_uri(), width)
    layout = browser.eval(LAYOUT_JS)
    problems = browser.problems()
    if shots is not None and width == 900:
        browser.screenshot(shots / f"shot-{page.stem}-{width}.png")
    assert layout["docWidth"] <= layout["width"], layout
    assert layout["n"] == 0, layout["offenders"]
    assert not problems["console"], problems["console"]
    assert not problems["requests"], problems["requests"]
    return layout


@pytest.mark.parametrize("width", WIDTHS)
def test_report_fits_every_width_without_errors_or_requests(browser, item_run, width):
    _check_page(browser, item_run / "report.html", width, shots=item_run)
    # the viewer's script ran under the CSP (it reveals the controls), and nothing else executed
    assert browser.eval("!document.querySelector('.viewer-controls').hidden") is True
    assert browser.eval("document.scripts.length") == 1
    assert browser.eval("window.__xss === undefined && !document.querySelector('body img, body iframe')") is True


@pytest.mark.parametrize("width", WIDTHS)
def test_monitor_report_fits_every_width(browser, monitor_run, width):
    _check_page(browser, monitor_run / "report.html", width, shots=monitor_run)
    assert browser.eval("document.scripts.length") == 0
    assert "new_intent" in browser.eval("document.body.innerText")


def test_payloads_are_text_and_bidi_controls_visible(browser, item_run):
    browser.open((item_run / "report.html").resolve().as_uri(), 1280)
    text = browser.eval("document.body.innerText")
    assert SCRIPT in text and "onerror=alert(1)" in text  # shown as text
    assert RLO not in text and "⟨U+202E⟩elibom" in text and "⟨U+202E⟩evil" in text
    assert browser.eval("document.querySelectorAll('script').length") == 1


def _shown(browser: Browser) -> list[str]:
    return browser.eval("Array.from(document.querySelectorAll('#items-viewer tbody tr'))"
                        ".filter(r => !r.hidden).map(r => r.getAttribute('data-id'))")


def _set(browser: Browser, sel: str, value: str) -> None:
    ev = "input" if sel == "#iv-q" else "change"
    browser.eval(f"(() => {{const e = document.querySelector({json.dumps(sel)}); e.value = {json.dumps(value)};"
                 f"e.dispatchEvent(new Event('{ev}'));}})()")


def test_viewer_filters_sort_and_url_state(browser, item_run):
    url = (item_run / "report.html").resolve().as_uri()
    browser.open(url, 1280)
    assert len(_shown(browser)) == 40
    # which column is which: the best prompt first, then the baseline, the eval run, the probe
    names = browser.eval("Array.from(document.querySelectorAll('#iv-cand option')).map(o => o.textContent)")
    assert names[1] == "few-shot kNN" and names[2] == "zero-shot" and names[4].startswith("probe:")

    _set(browser, "#iv-cand", "c0")
    _set(browser, "#iv-show", "wrong")
    wrong_best = _shown(browser)
    assert wrong_best and len(wrong_best) == sum(1 for i in range(40) if i % 3 == 0)  # few-shot wrong when i%3==0
    assert browser.eval("Array.from(document.querySelectorAll('#items-viewer tbody tr')).filter(r => !r.hidden)"
                        ".every(r => r.querySelector('td[data-c=c0]').classList.contains('bad'))") is True
    assert browser.eval("Array.from(document.querySelectorAll('#items-viewer [data-c=c1]')).every(e => e.hidden)")
    assert browser.eval("document.getElementById('iv-count').textContent") == f"Showing {len(wrong_best)} of 40 items"
    assert "show=wrong" in browser.eval("location.hash") and "cand=c0" in browser.eval("location.hash")

    _set(browser, "#iv-slice", "channel=chat")
    assert set(_shown(browser)) == {i for i in wrong_best if int(i[3:] if i != LONG else 0) % 2 == 1}
    _set(browser, "#iv-slice", "")
    _set(browser, "#iv-show", "right")
    assert len(_shown(browser)) == 40 - len(wrong_best)
    _set(browser, "#iv-show", "all")
    _set(browser, "#iv-cand", "")
    _set(browser, "#iv-q", "message 17:")
    assert _shown(browser) == ["it-017"]
    _set(browser, "#iv-q", "")
    _set(browser, "#iv-sort", "wrong")
    ids = browser.eval("Array.from(document.querySelectorAll('#items-viewer tbody tr')).map(r => "
                       "r.getAttribute('data-wrong').split(' ').filter(Boolean).length)")
    assert ids == sorted(ids, reverse=True) and ids[0] > ids[-1]
    _set(browser, "#iv-show", "disagree")
    assert 0 < len(_shown(browser)) < 40

    # a linked view: the state in the URL fragment is applied on load
    browser.open(url + "#items?show=wrong&cand=c2", 900)
    shown = _shown(browser)
    assert browser.eval("document.getElementById('iv-show').value") == "wrong"
    assert len(shown) == sum(1 for i in range(40) if i % len(LABELS) != 0)  # the eval run is right when i%4 == 0
    assert not browser.problems()["console"]
    # a bad fragment is ignored, not an error
    browser.open(url + "#items?show=%E0%A4%A&cand=nope&sort=<img>", 900)
    assert len(_shown(browser)) == 40 and not browser.problems()["console"]


def test_the_checks_see_what_they_guard_against(browser, tmp_path):
    """Controls: a script outside the CSP's hash, a fetched image and a wide table are each detected."""
    from tunegate.report.render import CSP

    page = tmp_path / "bad.html"
    page.write_text(f'<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="{CSP}">'
                    '<script>window.__ran = 1</script><p>x</p>', encoding="utf-8")
    browser.open(page.as_uri(), 900)
    assert browser.eval("window.__ran === undefined") is True
    assert any("Content Security Policy" in c or "Refused" in c for c in browser.problems()["console"])
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!DOCTYPE html><img src="http://example.invalid/x.png">'
                     '<table><tr><td>' + "x" * 400 + '</td></tr></table>', encoding="utf-8")
    browser.open(leaky.as_uri(), 375)
    assert "http://example.invalid/x.png" in browser.problems()["requests"]
    assert browser.eval(LAYOUT_JS)["n"] > 0
