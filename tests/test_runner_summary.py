"""summarize bootstraps all of a report's intervals together (issue 19): each equals its own mean_ci/macro_f1_ci."""

from __future__ import annotations

import numpy as np

from tunegate.evals.metrics import ItemRecord, macro_f1_ci, mean_ci, summarize
from tunegate.spec import BootstrapSpec


def test_summary_intervals_equal_separate_calls():
    rng = np.random.default_rng(11)
    labels = ["x", "y", "z"]
    records = []
    for i in range(240):
        gold = labels[i % 3]
        pred = gold if rng.random() < 0.75 else labels[(i + 1) % 3]
        score = None if i % 37 == 0 or i == 5 else float(pred == gold)  # unscored; item 5 a failed call
        records.append(ItemRecord(f"i{i}", gold, None if score is None else pred, {"label_match": score},
                                  {"lang": "en" if i % 4 else "de"}, error=i == 5))
    boot = BootstrapSpec(n_resamples=300, seed=4)
    out = summarize(records, metric="macro_f1", scorer_names=["label_match"], labels=labels, boot=boot)
    ok = [r for r in records if not r.error]
    scored = [r for r in ok if r.scores["label_match"] is not None and r.prediction is not None]

    def same(metric, iv):
        assert (metric.value, metric.ci_low, metric.ci_high, metric.ci_method, metric.n) == (
            round(iv.estimate, 6), round(iv.low, 6), round(iv.high, 6), iv.method, iv.n)

    same(out["metrics"]["label_match"], mean_ci(np.array([r.scores["label_match"] for r in scored]), boot))
    same(out["metrics"]["macro_f1"], macro_f1_ci([r.gold for r in scored], [r.prediction for r in scored], labels,
                                                 boot))
    for lab in labels:
        same(out["per_label"][lab], mean_ci(np.array([r.scores["label_match"] for r in scored if r.gold == lab]), boot))
    de = [r.scores["label_match"] for r in ok if r.slices["lang"] == "de" and r.scores["label_match"] is not None]
    same(out["per_slice"]["lang"]["de"], mean_ci(np.array(de), boot))
    assert out["metrics"]["accuracy"] == out["metrics"]["label_match"].model_copy(update={"name": "accuracy"})


def test_a_dataset_loaded_by_the_caller_is_used_not_reloaded(tmp_path, monkeypatch):
    """The CLI's preflight loads the examples; passing them in saves loading them twice (issue 19)."""
    import tunegate.evals.runner as runner
    from tunegate.data.examples import load_examples
    from tunegate.evals.runner import EvalOptions, run_eval
    from tunegate.models.cache import ResponseCache
    from tunegate.spec import load_spec
    from test_runner import FakeBackend, make_task

    spec = load_spec(make_task(tmp_path, 30))
    dataset = load_examples(spec, skip_invalid=False)
    loads = []
    monkeypatch.setattr(runner, "load_examples", lambda *a, **k: loads.append(1) or load_examples(*a, **k))
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        given = run_eval(spec, EvalOptions(model="fake:toy", dataset=dataset), backend=FakeBackend(), cache=cache)
        assert loads == []
        loaded = run_eval(spec, EvalOptions(model="fake:toy"), backend=FakeBackend(), cache=cache)
        assert loads == [1]
    assert (given.n_total, given.value, given.ci_low, given.ci_high) == (
        loaded.n_total, loaded.value, loaded.ci_low, loaded.ci_high)
