"""The one status vocabulary: every gate word maps to pass / fail / unknown and one exit code, and the words the
stages write are the enum's (the JSON keeps plain strings)."""

from __future__ import annotations

import json

import pytest

from tunegate.status import EXIT_CODES, Status, exit_code, gate_outcome


@pytest.mark.parametrize("word,outcome,code", [("pass", "pass", 0), ("met", "pass", 0), ("ok", "pass", 0),
                                                ("fail", "fail", 3), ("gap", "fail", 3), ("alert", "fail", 3),
                                                ("unknown", "unknown", 4)])
def test_every_gate_word_has_one_outcome_and_exit_code(word, outcome, code):
    assert gate_outcome(word) == outcome and exit_code(word) == code


@pytest.mark.parametrize("word", ["warn", "held", "bogus", ""])
def test_words_that_are_not_gate_outcomes_are_refused(word):
    with pytest.raises(ValueError, match="unknown gate value"):
        exit_code(word)


def test_members_serialise_as_their_words():
    assert json.dumps({"gate": Status.PASS, Status.HELD: 1}) == '{"gate": "pass", "held": 1}'
    assert f"{Status.NOT_HELD}" == "not_held" and Status.MET == "met"
    assert set(EXIT_CODES.values()) == {0, 3, 4}


def test_the_stages_vocabularies_are_the_enums():
    """The data gate's and the verdict's constants are Status members, not private copies of the words."""
    from tunegate.data import audit
    from tunegate.verdict import conditions

    assert {audit.PASS, audit.FAIL, audit.WARN, audit.UNKNOWN, audit.INFO, audit.NOT_APPLICABLE} <= set(Status)
    assert {conditions.HELD, conditions.NOT_HELD, conditions.UNKNOWN} <= set(Status)
    assert {s.value: code for s, code in EXIT_CODES.items()} == {"pass": 0, "fail": 3, "unknown": 4}
