"""One progress protocol (issue 18): every stage takes ``tunegate.progress.Progress``, no module defines its own
callback type, and the CLI's one adapter routes notes and counts."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

from tunegate.progress import Progress, routed

SRC = Path(__file__).resolve().parents[1] / "src" / "tunegate"
ONE_TYPE = {"Progress", "Progress | None", "Optional[Progress]"}
# modules whose progress parameters are not stage callbacks (the protocol's own home; the CLI consumes it)
NOT_STAGES = {"tunegate.progress"}
# still on the old notes-only type, in a file this change did not own (monitor tests' Context, which passes the
# monitor stage's Progress on to each drift test); the test fails once it is converted, so delete the entry then
NOT_CONVERTED: dict[str, str] = {}


def _modules() -> list[str]:
    names = []
    for p in sorted(SRC.rglob("*.py")):
        name = ".".join(("tunegate",) + p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        if not name.startswith("tunegate.cli") and name not in NOT_STAGES:
            names.append(name)
    return names


def _annotation(obj: object) -> str:
    return obj if isinstance(obj, str) else inspect.formatannotation(obj)


def _progress_parameters() -> list[tuple[str, str]]:
    """(qualified name, annotation) of every ``progress`` parameter of a function or method in the package."""
    found: dict[str, str] = {}
    for name in _modules():
        mod = importlib.import_module(name)
        for _, obj in inspect.getmembers(mod):
            if getattr(obj, "__module__", None) != name:
                continue
            members = [obj] + ([m for _, m in inspect.getmembers(obj, inspect.isfunction)]
                               if inspect.isclass(obj) else [])
            for fn in members:
                if not callable(fn) or inspect.isclass(fn):
                    continue
                try:
                    params = inspect.signature(fn).parameters
                except (TypeError, ValueError):
                    continue
                if "progress" in params:
                    found[f"{name}.{fn.__qualname__}"] = _annotation(params["progress"].annotation)
    return sorted(found.items())


def test_every_stage_function_takes_the_one_progress_type():
    params = _progress_parameters()
    names = {n for n, _ in params}
    # the walk finds the stages it should (a walk that found nothing would pass vacuously)
    for expected in ("tunegate.evals.runner.run_eval", "tunegate.sprint.stage.sprint_stage",
                     "tunegate.probe.stage.probe_stage", "tunegate.probe.lora.train_lora",
                     "tunegate.audit_stage.audit_stage", "tunegate.monitor.stage.monitor_stage",
                     "tunegate.monitor.regression.run_regression", "tunegate.evals.evalcheck.check_eval_stage",
                     "tunegate.pipeline.run_pipeline", "tunegate.api.evaluate", "tunegate.api.audit"):
        assert expected in names, expected
    wrong = {n: a for n, a in params if a not in ONE_TYPE}
    assert wrong == NOT_CONVERTED, f"progress parameters not annotated `Progress | None`: {wrong}"


def test_the_stage_context_carries_one_progress():
    from tunegate.stages.base import StageContext

    fields = {f.name: f.type for f in dataclasses.fields(StageContext)}
    assert fields["progress"] in ONE_TYPE
    assert not {"eval_progress", "sprint_progress"} & set(fields)


def test_no_module_defines_its_own_progress_callback_type():
    pattern = re.compile(r"^\s*(ProgressFn\s*=|class ProgressFn\b|Progress\s*=|class Progress\b)", re.M)
    defining = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text("utf-8")))
    assert defining == ["progress.py"]
    users = [p for p in SRC.rglob("*.py") if "ProgressFn" in p.read_text("utf-8")]
    assert not users, users


def test_routed_sends_notes_to_the_note_and_counts_by_what():
    notes, items, calls = [], [], []
    progress: Progress = routed(notes.append, {"items": lambda d, t: items.append((d, t)),
                                               "calls": lambda d, t: calls.append((d, t))})
    progress("reading log")
    progress("items", 120, 2000)
    progress("calls", 3, None)
    progress("rounds", 1, None)  # no counter for it: dropped, not an error
    assert notes == ["reading log"] and items == [(120, 2000)] and calls == [(3, None)]


def test_cli_adapter_routes_a_note_to_the_notes_line_and_a_count_to_its_bar(capsys):
    from tunegate.cli import output

    bar: list[tuple[int, int | None]] = []
    progress = output.reporter(False, {"items": lambda d, t: bar.append((d, t)), "calls": None})
    progress("embedding 12 texts [with] minilm")
    progress("items", 5, 10)
    progress("calls", 1, 2)  # its bar is off (None): dropped
    assert bar == [(5, 10)]
    err = capsys.readouterr().err
    assert "embedding 12 texts [with] minilm" in err and len(err.strip().splitlines()) == 1  # counts print no note


def test_cli_adapter_is_silent_under_quiet():
    from tunegate.cli import output

    assert output.reporter(True) is None and output.reporter(True, {"items": None}) is None
    bar: list[tuple[int, int | None]] = []
    progress = output.reporter(True, {"items": lambda d, t: bar.append((d, t))})
    progress("a note nobody should see")
    progress("items", 1, 3)
    assert bar == [(1, 3)]


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_old_pipeline_callbacks_are_deprecated_aliases():
    from tunegate.pipeline import _legacy_progress

    notes, items, sprint = [], [], []
    with pytest.warns(DeprecationWarning, match="eval_progress"):
        progress = _legacy_progress(notes.append, lambda d, t: items.append((d, t)),
                                    lambda what, d, t: sprint.append((what, d, t)))
    progress("eval: running")
    progress("items", 2, 9)
    progress("calls", 4, 40)
    progress("rounds", 1, None)
    assert notes == ["eval: running"] and items == [(2, 9)] and sprint == [("calls", 4, 40), ("rounds", 1, None)]
    assert _legacy_progress(notes.append, None, None) == notes.append
