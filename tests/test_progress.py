"""Progress bars: real totals and ETAs from finished work (issue 16), checked without a terminal on a fake clock."""

from __future__ import annotations

import numpy as np
import pytest

from tunegate import progress
from tunegate.progress import Estimate, format_seconds, listening_with, step, tracked


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    """A Listener that records what steps were opened and how far they got."""

    def __init__(self) -> None:
        self.steps: list[dict] = []

    def open_step(self, label, total):
        self.steps.append({"label": label, "total": total, "done": 0, "closed": False})
        return len(self.steps) - 1

    def advance_step(self, handle, n):
        self.steps[handle]["done"] += n

    def close_step(self, handle):
        self.steps[handle]["closed"] = True


def test_no_total_reads_starting_not_0_of_unknown():
    est = Estimate(Clock())
    assert est.count_text() == "starting"
    assert est.eta() is None and est.eta_text() == "eta –"
    est.update(0, 40)
    assert est.count_text() == "0/40"
    assert est.eta() is None  # nothing finished yet: no guess


def test_eta_is_average_rate_of_finished_work_even_when_items_finish_in_bursts():
    # 40 items finishing 8 at a time, every 10 s: rich's windowed speed saw 8 items in ~0 s (ETA ~0:00:01)
    clock = Clock()
    est = Estimate(clock)
    est.update(0, 40)
    clock.t += 10
    for done in range(1, 9):
        est.update(done, 40)
        clock.t += 0.001
    # 8 done in ~10 s -> 32 left at 0.8 items/s = ~40 s
    assert est.eta() == pytest.approx(40, rel=0.01)
    clock.t += 10
    for done in range(9, 17):
        est.update(done, 40)
    assert est.eta() == pytest.approx(24 / (16 / 20.008), rel=0.01)  # 30 s
    est.update(40, 40)
    assert est.eta() == 0.0


def test_time_in_nested_steps_is_left_out_of_the_rate():
    clock = Clock()
    est = Estimate(clock)
    est.pause()
    clock.t += 30  # a GGUF conversion before the first item
    est.resume()
    clock.t += 10
    est.update(10, 40)
    assert est.working_seconds() == pytest.approx(10)
    assert est.eta() == pytest.approx(30)  # not (40 / 10) * 30 = 120


def test_format_seconds():
    assert format_seconds(0) == "0:00:00"
    assert format_seconds(3725.4) == "1:02:05"


def test_steps_are_no_ops_without_a_listener(monkeypatch):
    monkeypatch.setattr(progress, "_default", None)
    with step("x", 3) as advance:
        advance(2)  # nothing listens: must not fail
    assert list(tracked([1, 2, 3], "x")) == [1, 2, 3]


def test_tracked_reports_a_real_total_and_every_item():
    rec = Recorder()
    with listening_with(rec):
        assert list(tracked(["a", "b", "c"], "tensors")) == ["a", "b", "c"]
    assert rec.steps == [{"label": "tensors", "total": 3, "done": 3, "closed": True}]


def test_listening_with_none_silences_the_default(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(progress, "_default", lambda: rec)
    with listening_with(None), step("x", 2) as advance:
        advance(2)
    assert rec.steps == []
    with step("y", 2) as advance:
        advance(1)
    assert rec.steps[0]["total"] == 2 and rec.steps[0]["done"] == 1


def test_progress_bar_pauses_its_eta_during_nested_steps():
    from tunegate.cli.output import progress_bar

    clock = Clock()
    bar = progress_bar(enabled=False, label="eval", clock=clock)
    handle = bar.open_step("converting", 272)  # no terminal: no rich bar, the bookkeeping still runs
    clock.t += 30
    bar.advance_step(handle, 272)
    bar.close_step(handle)
    clock.t += 5
    bar.update(5, 40)
    assert bar.estimate.count_text() == "5/40"
    assert bar.estimate.eta() == pytest.approx(35)


def test_gguf_reader_tqdm_is_replaced_by_a_reported_loop():
    from tunegate.models.gguf_convert import _reported_tqdm

    rec = Recorder()
    with listening_with(rec):
        out = list(_reported_tqdm(list(range(5)), desc="Converting and de-quantizing GGUF tensors..."))
    assert out == [0, 1, 2, 3, 4]
    assert rec.steps == [{"label": "converting the GGUF model: tensors", "total": 5, "done": 5, "closed": True}]


class FakeST:
    """Stands in for a SentenceTransformer: records the calls, returns one row per text."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def encode(self, texts, **kw):
        self.calls.append({"n": len(texts), **kw})
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def test_embedder_reports_texts_and_turns_off_the_sentence_transformers_bar():
    from tunegate.models.embeddings_local import MiniLMEmbedder

    emb = MiniLMEmbedder.__new__(MiniLMEmbedder)
    emb.model_id, emb.batch_size, emb._model = "local:fake", 2, FakeST()
    texts = [f"t{'x' * i}" for i in range(19)]
    rec = Recorder()
    with listening_with(rec):
        vecs = emb.embed(texts)
    assert vecs.shape == (19, 2) and vecs.dtype == np.float32
    assert vecs[:, 0].tolist() == [float(len(t)) for t in texts]  # order kept across chunks
    assert rec.steps == [{"label": "embedding 19 texts", "total": 19, "done": 19, "closed": True}]
    assert [c["n"] for c in emb._model.calls] == [8, 8, 3]
    assert all(c["show_progress_bar"] is False for c in emb._model.calls)
