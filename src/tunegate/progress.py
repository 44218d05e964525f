"""Progress of long steps (GGUF conversion, embedding, model calls): a real total and an ETA from finished work.

Two jobs, no terminal code (the CLI draws the bars, ``cli.output.progress_bar``):

* ``Estimate`` turns (done, total) updates into an ETA as *elapsed working time / done × remaining*. rich's own
  ETA uses the speed over the last 30 s of updates; the local backend finishes items in bursts, so that window
  often holds one burst a few milliseconds wide and the ETA read ``0:00:01`` for most of an eval. Time spent in
  nested steps (a model conversion before the first item) is paused out, so it does not inflate the rate.
* ``step(label, total)`` lets model code report a nested step to whoever listens (``listening_with``); with no
  listener it costs nothing, so library users and ``--json`` runs see no bars.

Stages report through the one ``Progress`` callback (a note, or a count named by ``what``); ``routed`` splits
it into a notes printer and per-``what`` counters, which is all a consumer (the CLI's bars) has to provide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Clock = Callable[[], float]


class Progress(Protocol):
    """The one progress callback every stage takes: ``progress("reading log")`` is a note, ``progress("items", 120,
    2000)`` a count (``total`` None while open-ended). One shape, so one consumer can serve every stage."""

    def __call__(self, what: str, done: int | None = None, total: int | None = None) -> None: ...


Count = Callable[[int, "int | None"], None]


def routed(note: Callable[[str], None] | None = None, counts: dict[str, Count] | None = None) -> Progress:
    """A ``Progress`` that sends notes to ``note`` and each count to ``counts[what]``; unrouted ones are dropped
    (a consumer shows only the counts it has a bar for)."""
    table = dict(counts or {})

    def progress(what: str, done: int | None = None, total: int | None = None) -> None:
        if done is None:
            if note is not None:
                note(what)
        elif (count := table.get(what)) is not None:
            count(done, total)

    return progress


class Estimate:
    """(done, total) with an ETA from the average rate of completed work; ``clock`` is injectable for tests."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.total: int | None = None
        self._paused_since: float | None = None
        self._paused = 0.0

    def update(self, done: int, total: int | None = None) -> None:
        self.done = max(0, int(done))
        if total is not None:
            self.total = max(0, int(total))

    def pause(self) -> None:
        if self._paused_since is None:
            self._paused_since = self.clock()

    def resume(self) -> None:
        if self._paused_since is not None:
            self._paused += self.clock() - self._paused_since
            self._paused_since = None

    def working_seconds(self) -> float:
        now = self._paused_since if self._paused_since is not None else self.clock()
        return max(0.0, now - self.started - self._paused)

    def eta(self) -> float | None:
        """Seconds left, or ``None`` while unknowable (no total yet, nothing finished)."""
        if self.total is None or self.done <= 0:
            return None
        if self.done >= self.total:
            return 0.0
        return self.working_seconds() / self.done * (self.total - self.done)

    def count_text(self) -> str:
        return "starting" if self.total is None else f"{self.done}/{self.total}"

    def eta_text(self) -> str:
        eta = self.eta()
        return "eta –" if eta is None else f"eta {format_seconds(eta)}"


def format_seconds(seconds: float) -> str:
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


class Listener(Protocol):
    """What a progress display offers nested steps: open one, advance it, close it."""

    def open_step(self, label: str, total: int | None) -> Any: ...

    def advance_step(self, handle: Any, n: int) -> None: ...

    def close_step(self, handle: Any) -> None: ...


class _Silent:
    def open_step(self, label: str, total: int | None) -> None:
        return None

    def advance_step(self, handle: Any, n: int) -> None:
        return None

    def close_step(self, handle: Any) -> None:
        return None


SILENT: Listener = _Silent()
_listener: Listener | None = None
_default: Callable[[], Listener | None] | None = None  # the CLI's stand-alone bars, when no display is open
_lock = threading.Lock()


def set_default(factory: Callable[[], Listener | None] | None) -> None:
    """Who hears a step when no ``listening_with`` is active (the CLI sets this; libraries leave it unset)."""
    global _default
    _default = factory


@contextmanager
def listening_with(listener: Listener | None) -> Iterator[None]:
    """Route ``step`` reports to ``listener`` for the duration (``None`` silences them)."""
    global _listener
    with _lock:
        before, _listener = _listener, (listener if listener is not None else SILENT)
    try:
        yield
    finally:
        with _lock:
            _listener = before


@contextmanager
def step(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A nested step with a known total; yields ``advance(n)``. A no-op when nobody listens."""
    listener = _listener if _listener is not None else (_default() if _default is not None else None)
    if listener is None or listener is SILENT:
        yield lambda n=1: None
        return
    handle = listener.open_step(label, total)
    try:
        yield lambda n=1: listener.advance_step(handle, n)
    finally:
        listener.close_step(handle)


def tracked(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` reporting one step per item (total from ``len`` when not given)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with step(label, total) as advance:
        for item in items:
            yield item
            advance(1)
