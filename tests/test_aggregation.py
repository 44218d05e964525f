"""Aggregation (majority vote, Dawid-Skene), annotator reliability and the adjudication round trip.

Dawid-Skene is checked two ways: on simulated annotators whose confusion matrices we chose (it must recover them and
beat majority vote against the known truth), and on the real Snow et al. (2008) RTE crowd labels against gold.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

from tunegate.data.aggregation import (
    Adjudication,
    Encoded,
    adjudication_queue,
    annotator_reliability,
    apply_adjudications,
    dawid_skene,
    encode,
    import_adjudications,
    majority_vote,
    write_queue,
)
from tunegate.data.annotations import Annotation
from tunegate.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
K4 = ["A", "B", "C", "D"]


def _anns(rows):
    return [Annotation(i, a, lab) for i, a, lab in rows]


def _uniform_noise(acc: float, k: int) -> np.ndarray:
    m = np.full((k, k), (1 - acc) / (k - 1))
    np.fill_diagonal(m, acc)
    return m


def _simulate(seed: int, n_items: int = 2000):
    """Five annotators over four classes: three decent, one sloppy, one adversarial (shifts labels by one)."""
    rng = np.random.default_rng(seed)
    k = 4
    priors = np.array([0.3, 0.3, 0.2, 0.2])
    sloppy = np.full((k, k), 0.125) + 0.5 * np.eye(k)
    adversarial = np.zeros((k, k))
    for c in range(k):
        adversarial[c, [c, (c + 1) % k, (c + 2) % k, (c + 3) % k]] = [0.2, 0.7, 0.05, 0.05]
    conf = np.stack([_uniform_noise(0.85, k), _uniform_noise(0.8, k), _uniform_noise(0.75, k), sloppy, adversarial])
    n_ann = len(conf)
    truth = rng.choice(k, size=n_items, p=priors)
    i = np.repeat(np.arange(n_items), n_ann)
    j = np.tile(np.arange(n_ann), n_items)
    given = (rng.random(len(i))[:, None] > conf[j, truth[i]].cumsum(axis=1)).sum(axis=1)
    enc = Encoded([f"i{n}" for n in range(n_items)], [f"ann{x}" for x in range(n_ann)], K4, i, j, given)
    return conf, priors, truth, enc


# --- encoding --------------------------------------------------------------------------------------------------

def test_encode_keeps_repeats_unless_latest_is_asked_for():
    anns = [Annotation("x", "a", "pos", "2024-01-02T10:00:00Z", "f.csv:2"),
            Annotation("x", "a", "neg", "2024-01-01T10:00:00+00:00", "f.csv:3"),
            Annotation("x", "b", "neg", None, "f.csv:4")]
    enc = encode(anns)  # every judgment is an observation (Dawid & Skene 1979)
    assert enc.n_rows == 3 and enc.n_superseded == 0 and enc.labels == ["neg", "pos"]
    enc = encode(anns, repeats="latest")
    assert enc.n_rows == 2 and enc.n_superseded == 1
    assert enc.labels[enc.label_idx[enc.annotators.index("a")]] == "pos"
    with pytest.raises(DataError, match="no timestamp") as exc:
        encode(anns + [Annotation("x", "b", "pos", None, "f.csv:5")], repeats="latest")
    assert (exc.value.file, exc.value.line) == ("f.csv", 4)
    with pytest.raises(DataError, match="unknown label 'pos'") as exc:
        encode(anns, labels=["neg", "neutral"])
    assert exc.value.field == "label"


def test_queue_lists_an_annotators_repeats_in_order():
    anns = [Annotation("x", "a", "pos", None, "f:2"), Annotation("x", "a", "neg", None, "f:3"),
            Annotation("x", "b", "neg", None, "f:4")]
    enc = encode(anns)
    q = adjudication_queue(enc, majority_vote(enc, tie="first"))
    assert q[0]["votes"] == {"a": ["pos", "neg"], "b": "neg"} and q[0]["n_votes"] == 3


def test_encode_keeps_declared_label_order_and_unused_classes():
    enc = encode(_anns([("1", "a", "b")]), labels=["c", "b", "a"])
    assert enc.labels == ["c", "b", "a"] and enc.label_idx.tolist() == [1]


# --- majority vote ---------------------------------------------------------------------------------------------

TIE_ROWS = [("t", "a", "y"), ("t", "b", "x"), ("u", "a", "x"), ("u", "b", "x"), ("u", "c", "y")]


def test_majority_vote_tie_policies():
    enc = encode(_anns(TIE_ROWS))
    first = majority_vote(enc, tie="first")
    assert first.labels == ["x", "x"] and first.ties == ["t"] and first.n_ties == 1
    abstain = majority_vote(enc, tie="abstain")
    assert abstain.labels == [None, "x"] and abstain.ties == ["t"]
    assert abstain.to_rows()[0] == {"item_id": "t", "label": None, "confidence": 0.5, "method": "majority_vote"}
    seen = {majority_vote(enc, tie="random", seed=s).labels[0] for s in range(20)}
    assert seen == {"x", "y"}  # both tied labels get drawn, nothing else
    assert majority_vote(enc, tie="random", seed=3).labels == majority_vote(enc, tie="random", seed=3).labels
    assert np.allclose(first.confidence, [0.5, 2 / 3])
    with pytest.raises(ValueError, match="tie must be one of"):
        majority_vote(enc, tie="coin")


# --- Dawid-Skene -------------------------------------------------------------------------------------------------

def test_dawid_skene_recovers_known_confusion_matrices_and_beats_majority():
    conf, priors, truth, enc = _simulate(seed=0)
    ds = dawid_skene(enc)
    mv = majority_vote(enc, tie="random", seed=0)
    # Reference 1: what the simulation actually drew (isolates estimator error from sampling noise).
    drawn = np.zeros_like(conf)
    np.add.at(drawn, (enc.annotator_idx, truth[enc.item_idx], enc.label_idx), 1)
    drawn /= drawn.sum(axis=2, keepdims=True)
    err_drawn = np.abs(ds.confusion - drawn).max()
    err_true = np.abs(ds.confusion - conf).max()  # also carries sampling noise: ~500 items per class row
    acc_ds, acc_mv = (ds.label_idx == truth).mean(), (mv.label_idx == truth).mean()
    print(f"\nsimulated: confusion max err vs drawn {err_drawn:.4f}, vs generating {err_true:.4f}; "
          f"accuracy DS {acc_ds:.4f} vs majority {acc_mv:.4f}; {ds.n_iter} iterations")
    assert ds.converged
    assert err_drawn < 0.05
    assert err_true < 0.07
    assert np.abs(ds.priors - priors).max() < 0.03
    assert acc_ds > acc_mv + 0.03

    rel = {r["annotator"]: r for r in annotator_reliability(enc, ds)}
    assert [a for a, r in rel.items() if r["unreliable"]] == ["ann3", "ann4"]
    assert rel["ann4"]["top_confusion"]["rate"] > 0.6  # the adversarial shift is found
    assert (rel["ann4"]["top_confusion"]["true"], rel["ann4"]["top_confusion"]["given"]) in {
        ("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")}
    assert abs(rel["ann0"]["estimated_accuracy"] - 0.85) < 0.03
    assert "DS-estimated accuracy" in rel["ann3"]["evidence"]


def test_dawid_skene_reports_convergence_and_trajectory():
    _, _, _, enc = _simulate(seed=1, n_items=500)
    ds = dawid_skene(enc)
    assert ds.converged and 1 < ds.n_iter < 200
    assert len(ds.ll_trajectory) == ds.n_iter and ds.log_likelihood == ds.ll_trajectory[-1]
    assert np.all(np.diff(ds.ll_trajectory) > -1e-6 * abs(ds.log_likelihood))  # EM does not go downhill
    capped = dawid_skene(enc, max_iter=2, tol=0.0)
    assert not capped.converged and capped.n_iter == 2
    summary = ds.summary()
    assert summary["converged"] and set(summary["priors"]) == set(K4)
    assert np.allclose(ds.posteriors.sum(axis=1), 1.0) and np.allclose(ds.confusion.sum(axis=2), 1.0)
    rnd = dawid_skene(enc, init="random", seed=4)
    assert rnd.converged


def test_snow2008_rte_majority_vote_and_dawid_skene_against_gold():
    path = SHARED_DATA / "snow2008-rte" / "rte.standardized.tsv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    anns = [Annotation(r["orig_id"], r["!amt_worker_ids"], r["response"], None, f"{path}:{n + 2}")
            for n, r in enumerate(rows)]
    gold = {r["orig_id"]: r["gold"] for r in rows}
    enc = encode(anns)
    assert (enc.n_items, enc.n_rows) == (800, 8000)
    mv = majority_vote(enc, tie="random", seed=0)
    t0 = time.perf_counter()
    ds = dawid_skene(enc)
    dt = time.perf_counter() - t0
    acc = {name: np.mean([lab == gold[i] for i, lab in zip(res.item_ids, res.labels)])
           for name, res in (("majority", mv), ("dawid_skene", ds))}
    print(f"\nSnow 2008 RTE: majority {acc['majority']:.4f} ({mv.n_ties} ties, random), "
          f"Dawid-Skene {acc['dawid_skene']:.4f} ({ds.n_iter} iterations, {dt * 1000:.1f} ms)")
    assert ds.converged
    assert acc["majority"] >= 0.85 and acc["dawid_skene"] >= 0.85
    assert acc["dawid_skene"] >= acc["majority"] - 0.005
    assert 0.91 <= acc["dawid_skene"] <= 0.95  # literature: ~0.93
    flagged = [r for r in annotator_reliability(enc, ds) if r["unreliable"]]
    assert flagged and all(r["n_labeled"] >= 20 for r in flagged)


def test_single_annotator_single_class_and_unanimity():
    one = encode(_anns([("1", "a", "x"), ("2", "a", "y"), ("3", "a", "x")]))
    for res in (majority_vote(one), dawid_skene(one)):
        assert res.labels == ["x", "y", "x"]
        assert res.confidence.min() > 0.9
    mono = encode(_anns([(str(n), a, "only") for n in range(5) for a in "abc"]))
    for res in (majority_vote(mono), dawid_skene(mono)):
        assert res.labels == ["only"] * 5 and np.allclose(res.confidence, 1.0)
        assert adjudication_queue(mono, res) == []
    agree = encode(_anns([(str(n), a, "xy"[n % 2]) for n in range(40) for a in "abcd"]))
    for res in (majority_vote(agree), dawid_skene(agree)):
        assert adjudication_queue(agree, res) == []
    rel = annotator_reliability(agree, dawid_skene(agree))
    assert not any(r["unreliable"] for r in rel)
    rel_mv = annotator_reliability(agree, majority_vote(agree))
    assert all(r["estimated_accuracy"] is None and r["accuracy_vs_aggregate"] == 1.0 for r in rel_mv)


def test_nothing_to_aggregate_is_a_data_error():
    for fn in (majority_vote, dawid_skene):
        with pytest.raises(DataError, match="no annotations to aggregate"):
            fn(encode([]))


def test_dawid_skene_is_vectorised_on_10k_items_10_annotators_5_classes():
    rng = np.random.default_rng(7)
    n, n_ann, k = 10_000, 10, 5
    truth = rng.integers(0, k, n)
    acc = rng.uniform(0.3, 0.8, n_ann)  # chance is 0.2: some annotators are barely informative
    i, j = np.repeat(np.arange(n), n_ann), np.tile(np.arange(n_ann), n)
    wrong = (truth[i] + rng.integers(1, k, len(i))) % k
    given = np.where(rng.random(len(i)) < acc[j], truth[i], wrong)
    enc = Encoded([str(x) for x in range(n)], [f"a{x}" for x in range(n_ann)], list("abcde"), i, j, given)
    t0 = time.perf_counter()
    ds = dawid_skene(enc, tol=1e-9)
    dt = time.perf_counter() - t0
    mv = majority_vote(enc)
    acc_ds, acc_mv = (ds.label_idx == truth).mean(), (mv.label_idx == truth).mean()
    print(f"\n10,000 x 10 x 5: {ds.n_iter} iterations in {dt:.2f} s; accuracy DS {acc_ds:.4f}, majority {acc_mv:.4f}")
    assert ds.converged
    assert acc_ds > acc_mv


# --- adjudication ----------------------------------------------------------------------------------------------

ADJ_ROWS = [("q1", "a", "x"), ("q1", "b", "y"), ("q1", "c", "x"), ("q2", "a", "y"), ("q2", "b", "x"),
            ("q3", "a", "x"), ("q3", "b", "x"), ("q4", "a", "y"), ("q4", "b", "y"), ("q4", "c", "x")]


def _queue_setup():
    enc = encode(_anns(ADJ_ROWS))
    res = majority_vote(enc, tie="abstain")
    return enc, res, adjudication_queue(enc, res)


def test_queue_ranks_by_entropy_and_lists_votes():
    enc, res, queue = _queue_setup()
    assert [q["item_id"] for q in queue] == ["q2", "q1", "q4"]  # 50/50 tie first, then 2-1 splits in item order
    assert queue[0]["votes"] == {"a": "y", "b": "x"} and queue[0]["label"] is None
    assert queue[0]["entropy"] == pytest.approx(1.0) and queue[1]["confidence"] == pytest.approx(2 / 3)
    assert [q["item_id"] for q in adjudication_queue(enc, res, top=1)] == ["q2"]


@pytest.mark.parametrize("ext", [".csv", ".jsonl"])
def test_adjudication_round_trip(tmp_path, ext):
    enc, res, queue = _queue_setup()
    path = write_queue(queue, tmp_path / f"queue{ext}")
    if ext == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert rows[0]["adjudicated_label"] == "" and rows[0]["adjudicator"] == ""
        assert json.loads(rows[0]["votes"]) == {"a": "y", "b": "x"}
        rows[0].update(adjudicated_label="y", adjudicator="dana")
        rows[1].update(adjudicated_label="y", adjudicator="lee")  # overrides the 2-1 vote for x
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        rows[0].update(adjudicated_label="y", adjudicator="dana")
        rows[1].update(adjudicated_label="y", adjudicator="lee")
        rows[2]["adjudicated_label"] = None  # an untouched row, as a JSON tool might write it
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    adj = import_adjudications(path, labels=enc.labels, item_ids=enc.item_ids)
    assert [(a.item_id, a.label, a.adjudicator) for a in adj] == [("q2", "y", "dana"), ("q1", "y", "lee")]
    assert adj.n_blank == 1 and adj[0].source == f"{path}:{2 if ext == '.csv' else 1}"
    new = apply_adjudications(res, adj)
    got = {r["item_id"]: r for r in new.to_rows()}
    assert got["q2"] == {"item_id": "q2", "label": "y", "confidence": 1.0, "method": "adjudicated"}
    assert got["q1"]["label"] == "y" and got["q1"]["method"] == "adjudicated"
    assert got["q4"]["method"] == "majority_vote" and got["q3"]["label"] == "x"
    assert new.adjudicators == {"q2": "dana", "q1": "lee"}
    assert res.labels[0] == "x" and res.item_methods[0] == "majority_vote"  # the original is untouched
    assert [q["item_id"] for q in adjudication_queue(enc, new)] == ["q4"]  # decided items leave the queue


@pytest.mark.parametrize(("fill", "field", "message"), [
    ({"adjudicated_label": "z", "adjudicator": "dana"}, "adjudicated_label", "unknown label 'z'"),
    ({"item_id": "q99", "adjudicated_label": "x", "adjudicator": "dana"}, "item_id", "unknown item 'q99'"),
    ({"adjudicated_label": "x", "adjudicator": "  "}, "adjudicator", "missing adjudicator"),
])
def test_bad_adjudication_rows_name_file_line_and_field(tmp_path, fill, field, message):
    enc, _, queue = _queue_setup()
    path = write_queue(queue, tmp_path / "queue.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[1].update(fill)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(DataError, match=message) as exc:
        import_adjudications(path, labels=enc.labels, item_ids=enc.item_ids)
    assert exc.value.file == str(path) and exc.value.line == 3 and exc.value.field == field
    assert str(exc.value).startswith(f"{path}:3: {field}: ")


def test_conflicting_decisions_and_unknown_items_on_apply(tmp_path):
    enc, res, _ = _queue_setup()
    path = tmp_path / "q.jsonl"
    path.write_text('{"item_id": "q1", "adjudicated_label": "x", "adjudicator": "a"}\n'
                    '{"item_id": "q1", "adjudicated_label": "y", "adjudicator": "b"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="adjudicated twice") as exc:
        import_adjudications(path, labels=enc.labels, item_ids=enc.item_ids)
    assert exc.value.line == 2 and exc.value.field == "adjudicated_label"
    with pytest.raises(DataError, match="unknown item 'zz'") as exc:
        apply_adjudications(res, [Adjudication("zz", "x", "dana", None, "f.csv:2")])
    assert str(exc.value).startswith("f.csv:2: item_id: ")
