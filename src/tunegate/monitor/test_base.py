"""The drift-test plug-in contract: the result type, the context every test reads, the protocol and the registry.

A leaf of the monitor package (it imports only the config and window types), so the built-in tests in
``drift``, ``performance`` and ``embedding_drift`` and any user test can import it without importing each other.
A test may declare ``Options`` (a pydantic model, ``extra="forbid"``); ``configure_tests`` validates the options of
``{type: name, ...}`` entries and hands each test instance its own ``options``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from tunegate.config.monitor import MonitorSpec
from tunegate.errors import SpecError
from tunegate.plugins import NoOptions, load_entry_points, locate, record, validate_options
from tunegate.progress import Progress
from tunegate.monitor.windows import Window


@dataclass
class TestResult:
    """One test's outcome. ``p_value`` tests are corrected together; ``threshold`` tests compare the statistic.
    ``pair`` names the significance test a threshold (effect-size) test needs to agree with before alerting.
    ``effect_met`` False keeps a significant test from alerting: its effect size is below the spec's floor
    (``thresholds.min_*``), so a huge window does not alert on a shift too small to matter. ``message`` says
    what changed in words."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    kind: str  # input | output | performance | version
    statistic: float | None
    p_value: float | None = None
    threshold: float | None = None
    status: str | None = None  # set by finalize unless a test fixes it (findings)
    detail: str = ""
    n_reference: int | None = None
    n_current: int | None = None
    pair: str | None = None
    p_adjusted: float | None = None
    examples: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    effect_met: bool | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "kind": self.kind, "statistic": self.statistic, "p_value": self.p_value,
             "p_adjusted": self.p_adjusted, "threshold": self.threshold, "status": self.status,
             "detail": self.detail, "n_reference": self.n_reference, "n_current": self.n_current}
        if self.examples:
            d["examples"] = self.examples
        if self.message:
            d["message"] = self.message
        d.update(self.extra)
        return d


@dataclass
class Context:
    """What every test may read: the config, the task's labels, a seed, a lazy embedder, progress notes."""

    cfg: MonitorSpec
    labels: list[str] | None = None
    seed: int = 0
    embedder: Callable[[], Any] | None = None
    progress: Progress | None = None
    spec_path: str | None = None
    not_run: list[dict[str, str]] = field(default_factory=list)
    # registered test name -> permutations / simulations to use instead of its default (set by the stage when a
    # resampling p-value sits at its floor 1/(B+1) and could not survive the family-wise correction)
    resolution: dict[str, int] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)  # work a re-run test reuses (e.g. embeddings)
    summary: dict[str, Any] = field(default_factory=dict)  # top-level blocks a test adds to monitor.json
    _pred: dict[int, list[str | None]] = field(default_factory=dict)

    def skip(self, name: str, reason: str) -> list[TestResult]:
        self.not_run.append({"name": name, "reason": reason})
        return []

    def note(self, msg: str) -> None:
        if self.progress:
            self.progress(msg)

    def predicted(self, win: Window) -> list[str | None]:
        """Each row's predicted label: parsed against the task labels when known, else the raw output; None =
        unscored. A training reference has no outputs: its gold labels stand in (the label prior)."""
        key = id(win)
        if key not in self._pred:
            if win.training:
                self._pred[key] = [r.label for r in win.records]
            elif self.labels:
                from tunegate.evals.parsing import parse_label

                memo: dict[str, str | None] = {}
                out: list[str | None] = []
                for r in win.records:
                    if r.output is None:
                        out.append(None)
                        continue
                    if r.output not in memo:
                        memo[r.output] = parse_label(r.output, self.labels)
                    out.append(memo[r.output])
                self._pred[key] = out
            else:
                self._pred[key] = [r.output for r in win.records]
        return self._pred[key]


class DriftTest(Protocol):
    name: str
    options: Any  # the validated Options of this instance (NoOptions() when the test declares none)
    Options: ClassVar[type[BaseModel]]

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]: ...


_TESTS: dict[str, DriftTest] = {}  # name -> an instance with default options
_CLASSES: dict[str, Any] = {}


def _instance(cls: Any, name: str, options: BaseModel) -> Any:
    obj = cls()
    obj.name = name
    obj.options = options
    return obj


def register_test(name: str) -> Callable[[Any], Any]:
    """Class decorator: ``@register_test("numeric") class NumericDrift: ...`` (``Options`` optional)."""

    def deco(cls: Any) -> Any:
        model = getattr(cls, "Options", None) or NoOptions
        _CLASSES[name] = cls
        _TESTS[name] = _instance(cls, name, validate_options(model, {}, what=f"drift test '{name}'", key=name))
        record("drift_test", name, model)
        return cls

    return deco


def configure_tests(entries: list[Any] | None, *, registry: dict[str, DriftTest] | None = None,
                    source: Any = None, line_of: Callable[[str], int | None] | None = None,
                    key: str = "monitor.tests") -> dict[str, DriftTest]:
    """The tests to run, by name: every registered one when ``entries`` is None, else each entry (a name or
    ``{type: name, option: value}``) with its options validated. Unknown names and options are SpecErrors naming
    the key (and, given ``source`` / ``line_of``, the file and line). Installed plug-ins load first."""
    load_entry_points()
    tests = registry if registry is not None else dict(_TESTS)
    if entries is None:
        return tests
    out: dict[str, DriftTest] = {}
    try:
        for i, entry in enumerate(entries):
            field = f"{key}.{i}"
            if isinstance(entry, str):
                name, options = entry, None
            elif isinstance(entry, dict) and isinstance(entry.get("type"), str):
                name, options = entry["type"], {k: v for k, v in entry.items() if k != "type"}
            else:
                raise SpecError("a drift test is a name or a mapping with a 'type' key", field=field)
            if name not in tests:
                raise SpecError(f"unknown drift test '{name}' (registered: {', '.join(sorted(tests))})",
                                field=field)
            if options is None or name not in _CLASSES:
                out[name] = tests[name]
                continue
            cls = _CLASSES[name]
            model = getattr(cls, "Options", None) or NoOptions
            out[name] = _instance(cls, name, validate_options(model, options, what=f"drift test '{name}'",
                                                              key=field))
    except SpecError as exc:
        raise locate(exc, source, line_of) from None
    return out


def tests_registered_so_far() -> dict[str, DriftTest]:
    """The registry as it stands (``drift.registered_tests`` imports the built-ins first)."""
    return dict(_TESTS)
