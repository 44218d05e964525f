"""parse_label's per-label-set index (issue 19) gives the answers the per-call normalisation gave."""

from __future__ import annotations

import re

import pytest

from tunegate.evals.parsing import parse_label


def _old_norm(s: str) -> str:
    s = s.casefold().strip()
    s = re.sub(r"[\s_\-/]+", " ", s)
    return re.sub(r"[^\w ]", "", s).strip()


def _old_whole(text: str, labels: list[str]) -> str | None:
    """The first rule of the old parse_label: the whole answer, normalised, is a label."""
    return {_old_norm(lab): lab for lab in labels}.get(_old_norm(text))


LABEL_SETS = [
    ["billing", "shipping", "refund", "refund_request", "card-arrival"],
    ["Refund", "refund", "REFUND"],  # collide once normalised: the last one wins, as before
    ["a/b", "a b", "a-b"],
]


@pytest.mark.parametrize("labels", LABEL_SETS)
def test_bare_labels_and_variants_match_the_normalised_rule(labels):
    for lab in labels:
        for text in (lab, lab.upper(), f"  {lab} ", f"{lab}.", lab.replace("_", " ")):
            assert parse_label(text, labels) == _old_whole(text, labels), (text, labels)


def test_exact_label_reply_with_colliding_labels_keeps_the_old_winner():
    assert parse_label("Refund", ["Refund", "refund"]) == "refund"
    assert parse_label("refund", ["refund", "Refund"]) == "Refund"


def test_other_rules_unchanged():
    labels = ["billing", "refund", "refund request"]
    assert parse_label('{"label": "Refund"}', labels) == "refund"
    assert parse_label("I think... Answer: billing", labels) == "billing"
    assert parse_label("it is about a refund request", labels) == "refund request"
    assert parse_label("billing or refund?", labels) is None
    assert parse_label("", labels) is None
    assert parse_label("the refund", labels, strict=True) is None
    assert parse_label("refund", labels, strict=True) == "refund"


def test_label_list_mutated_between_calls_is_seen():
    labels = ["a1", "b1"]
    assert parse_label("c1", labels) is None
    labels.append("c1")
    assert parse_label("c1", labels) == "c1"
