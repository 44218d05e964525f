"""The one status vocabulary: every status an artifact writes, what each means, and the gate it maps to.

Stages answer different questions, so their words differ — a data check can `warn`, a verdict condition is `held`
(it favours fine-tuning), the sprint's gap is `met` or a `gap`, a drift test is `ok` or an `alert` — but each word
is defined once here, and every gate maps to one of three outcomes with one exit code (0 pass, 3 fail, 4 unknown),
so cron jobs and CI read every gate the same way. A leaf: nothing from tunegate is imported.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """Every status word an artifact may hold (the JSON keeps the plain string)."""

    # gates and checks (criterion gate, data gate, their checks)
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # a check that does not fail its gate but needs a look
    UNKNOWN = "unknown"  # not measured, or measured too imprecisely to decide
    INFO = "info"  # a check that only reports
    NOT_APPLICABLE = "not_applicable"  # a label-only check on a task without labels
    # verdict conditions: held = the condition for fine-tuning holds
    HELD = "held"
    NOT_HELD = "not_held"
    # the prompting gate: the best prompt meets the target, or there is a gap
    MET = "met"
    GAP = "gap"
    # monitoring: a drift or regression test
    OK = "ok"
    ALERT = "alert"
    NOT_RUN = "not_run"

    def __str__(self) -> str:  # f-strings and messages show the word, not "Status.PASS"
        return self.value


# what each gate word means as a gate outcome; a check's WARN/INFO never decides a gate on its own
GATE_OUTCOME: dict[Status, Status] = {
    Status.PASS: Status.PASS, Status.MET: Status.PASS, Status.OK: Status.PASS,
    Status.FAIL: Status.FAIL, Status.GAP: Status.FAIL, Status.ALERT: Status.FAIL,
    Status.UNKNOWN: Status.UNKNOWN,
}
EXIT_CODES: dict[Status, int] = {Status.PASS: 0, Status.FAIL: 3, Status.UNKNOWN: 4}


def gate_outcome(word: str) -> Status:
    """pass / fail / unknown for any gate word (``met`` -> pass, ``alert`` -> fail, ...); ValueError otherwise."""
    try:
        return GATE_OUTCOME[Status(word)]
    except (ValueError, KeyError):
        known = ", ".join(s.value for s in GATE_OUTCOME)
        raise ValueError(f"unknown gate value {word!r} (expected one of {known})") from None


def exit_code(word: str) -> int:
    """The exit code of a gate word: 0 pass, 3 fail, 4 unknown (every gate command uses this)."""
    return EXIT_CODES[gate_outcome(word)]
