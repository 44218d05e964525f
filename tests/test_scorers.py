"""Scorers and answer parsing: unparseable output is unscored, never silently right or wrong."""

from __future__ import annotations

import json

import pytest

from tunegate.data.examples import Example
from tunegate.errors import SpecError
from tunegate.evals.parsing import normalize_text, parse_json_object, parse_label, parse_number
from tunegate.evals.scorers import ScorerContext, build_scorers
from tunegate.spec import parse_spec

LABELS = ["billing_dispute", "refund_request", "refund", "order_status"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("refund_request", "refund_request"),
        ("Refund Request.", "refund_request"),
        ("  ORDER-STATUS ", "order_status"),
        ('{"label": "billing_dispute"}', "billing_dispute"),
        ("```json\n{\"intent\": \"order status\"}\n```", "order_status"),
        ("Let me think. It mentions money. Answer: billing_dispute", "billing_dispute"),
        ("The customer wants a refund request processed.", "refund_request"),  # 'refund' inside it not double
        ("This is about order status.", "order_status"),
        ("billing_dispute or refund_request", None),  # two labels: ambiguous
        ("I am not sure", None),
        ("", None),
        ("refund", "refund"),
    ],
)
def test_parse_label(text, expected):
    assert parse_label(text, LABELS) == expected


def test_parse_json_object_variants():
    assert parse_json_object('{"a": 1}') == {"a": 1}
    assert parse_json_object('Sure! Here it is: {"a": {"b": "}"}} hope that helps') == {"a": {"b": "}"}}
    assert parse_json_object("no json here") is None
    assert parse_json_object('{"a": 1') is None


def test_parse_number_and_normalize():
    assert parse_number("about 1,234.5 units") == 1234.5
    assert parse_number("-3e2") == -300.0
    assert parse_number("none") is None
    assert normalize_text("The  Cat, sat!") == "cat sat"


def _spec(kind: str = "classification", scorers: str = "", extra: str = "") -> object:
    text = f"""
task:
  name: t
  kind: {kind}
  labels: [billing_dispute, refund_request, order_status]
  output_schema: {{type: object, required: [name], properties: {{name: {{type: string}}, qty: {{type: integer}}}}}}
data:
  path: d.jsonl
  fields: {{input: text, {'label: y' if kind == 'classification' else 'target: y'}}}
eval:
  metric: {'accuracy' if kind == 'classification' else 'json_fields'}
{scorers}
{extra}
"""
    return parse_spec(text, "s.yaml")


def _ex(gold, kind="classification") -> Example:
    return Example("i", "input", label=gold if kind == "classification" else None,
                   target=None if kind == "classification" else gold)


def test_label_match_scores_and_unscored():
    (sc,) = build_scorers(_spec())
    assert sc.score("order_status", _ex("order_status")).value == 1.0
    assert sc.score("refund_request", _ex("order_status")).value == 0.0
    s = sc.score("gibberish", _ex("order_status"))
    assert s.value is None and s.reason == "no single label found in the output"
    assert sc.score("", _ex("order_status")).reason == "empty output"


@pytest.mark.parametrize(
    "text, lenient, strict",
    [
        ("order_status", "order_status", "order_status"),
        ("Order Status.", "order_status", "order_status"),
        ('{"label": "refund_request"}', "refund_request", "refund_request"),
        ("Thinking it over.\nAnswer: billing_dispute", "billing_dispute", "billing_dispute"),
        # a message that names its intent, parroted back: lenient reads the label out of it, strict does not
        ("hi, what is my order status? it has been a week", "order_status", None),
        ("Answer: it is about the order status I think", "order_status", None),
        ("order_st", None, None),  # a cut-off answer is no label either way
    ],
)
def test_parse_label_strict_requires_the_answer_to_be_a_label(text, lenient, strict):
    assert parse_label(text, LABELS) == lenient
    assert parse_label(text, LABELS, strict=True) == strict


def test_label_match_strict_option_and_its_validation():
    (sc,) = build_scorers(_spec(scorers="  scorers: [{type: label_match, strict: true}]"))
    assert sc.score("order_status", _ex("order_status")).value == 1.0
    s = sc.score("where is my order status", _ex("order_status"))
    assert s.value is None and "strict" in s.reason
    (lenient,) = build_scorers(_spec())
    assert lenient.score("where is my order status", _ex("order_status")).value == 1.0
    with pytest.raises(SpecError, match=r"eval\.scorers\.0\.strict"):
        build_scorers(_spec(scorers="  scorers: [{type: label_match, strict: maybe}]"))


def test_normalized_match_fits_labels_as_a_whole_answer():
    (sc,) = build_scorers(_spec(scorers="  scorers: [{type: normalized_match}]"))
    ex = Example("i", "input", label="order_status")
    assert sc.score(" Order_Status. ", ex).value == 1.0
    assert sc.score("what is my order_status", ex).value == 0.0  # the label inside a longer answer is not it


def test_json_scorers():
    spec = _spec("extraction", "  scorers: [{type: json_valid}, {type: json_fields}]")
    valid, fields = build_scorers(spec)
    gold = {"name": "Ann Lee", "qty": 2}
    assert valid.score('{"name": "ann lee", "qty": 2}', _ex(gold, "x")).value == 1.0
    assert valid.score('{"qty": 2}', _ex(gold, "x")).value == 0.0  # schema: name required
    assert valid.score("not json", _ex(gold, "x")).value == 0.0  # invalid JSON is a 0 for validity
    assert fields.score('{"name": "Ann  Lee!", "qty": 2}', _ex(gold, "x")).value == 1.0
    assert fields.score('{"name": "Ann Lee", "qty": 3}', _ex(gold, "x")).value == pytest.approx(0.5)
    assert fields.score('{"name": "Ann Lee", "qty": 2, "extra": 1}', _ex(gold, "x")).value == pytest.approx(0.8)
    assert fields.score("not json", _ex(gold, "x")).value is None  # field F1 of nothing: unscored


def test_regex_numeric_exact_normalized():
    spec = _spec(scorers="  scorers: [{type: regex, pattern: '^PX-\\d+$', fullmatch: true}, {type: numeric, "
                 "abs_tol: 0.5}, {type: exact_match}, {type: normalized_match}]")
    rx, num, exact, norm = build_scorers(spec)
    assert rx.score("PX-123", _ex("x")).value == 1.0
    assert rx.score("order PX-123", _ex("x")).value == 0.0
    assert num.score("about 10.3", _ex("10")).value == 1.0
    assert num.score("11", _ex("10")).value == 0.0
    assert num.score("ten", _ex("10")).value is None
    assert exact.score(" The Cat ", _ex("The Cat")).value == 1.0
    assert exact.score("the cat", _ex("The Cat")).value == 0.0
    assert norm.score("the cat!", _ex("The Cat")).value == 1.0


def test_unknown_scorer_and_bad_regex_name_the_key():
    with pytest.raises(SpecError, match=r"eval.scorers.0.type: unknown scorer 'bleu'"):
        build_scorers(_spec(scorers="  scorers: [{type: bleu}]"))
    with pytest.raises(SpecError, match=r"eval.scorers.0.pattern: invalid regular expression"):
        build_scorers(_spec(scorers="  scorers: [{type: regex, pattern: '('}]"))


def test_python_scorer_needs_explicit_opt_in(tmp_path):
    user = tmp_path / "my_scorers.py"
    user.write_text("def longish(output, example):\n    return None if output == 'skip' else len(output) > 3\n")
    scorers = f"  scorers: [{{type: python, function: '{user}:longish'}}]"
    with pytest.raises(SpecError, match="allow_python_scorers"):
        build_scorers(_spec(scorers=scorers))
    (sc,) = build_scorers(_spec(scorers=scorers + "\n  allow_python_scorers: true"))
    assert sc.score("hello", _ex("x")).value == 1.0
    assert sc.score("hi", _ex("x")).value == 0.0
    assert sc.score("skip", _ex("x")).value is None


class _FakeEmbedder:
    def embed(self, texts):
        import numpy as np

        vecs = np.array([[1.0, 0.0] if "cat" in t else [0.0, 1.0] for t in texts])
        return vecs


def test_embedding_similarity_threshold():
    spec = _spec(scorers="  scorers: [{type: embedding_similarity, threshold: 0.9}]")
    (sc,) = build_scorers(spec, ScorerContext(spec, lambda: _FakeEmbedder()))
    assert sc.score("a cat", _ex("the cat")).value == 1.0
    assert sc.score("a dog", _ex("the cat")).value == 0.0
    assert sc.binary


@pytest.mark.parametrize("entry,field", [
    ({"type": "label_match", "strikt": True}, "eval.scorers.0.strikt"),
    ({"type": "regex", "pattern": "x", "full_match": True}, "eval.scorers.0.full_match"),
    ({"type": "exact_match", "ignorecase": True}, "eval.scorers.0.ignorecase"),
])
def test_a_misspelt_scorer_option_is_a_located_error(entry, field):
    from tunegate.errors import SpecError
    from tunegate.evals.scorers import build_scorers
    from tunegate.spec import parse_spec

    spec = parse_spec("task: {name: t, kind: classification, labels: [a, b]}\n"
                      f"eval: {{scorers: [{json.dumps(entry)}]}}\n")
    with pytest.raises(SpecError) as exc:
        build_scorers(spec)
    assert field in str(exc.value)
