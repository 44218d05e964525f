"""Reference and current windows, cut while the log streams past.

Only the rows of the two windows are held (the reference's first N rows and a bounded deque of the last M, or the
rows inside two time ranges), so memory follows the window sizes, not the file size.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tunegate.errors import DataError
from tunegate.config.monitor import WindowSpec
from tunegate.monitor.logs import Record


@dataclass
class Window:
    """The rows of one window, plus where they came from. ``training`` marks a reference built from the
    spec's training examples (gold labels, no model outputs)."""

    name: str
    source: str
    records: list[Record] = field(default_factory=list)
    training: bool = False

    def __len__(self) -> int:
        return len(self.records)

    def describe(self) -> dict[str, Any]:
        ts = [r.ts for r in self.records if r.ts is not None]
        versions = Counter(r.version for r in self.records if r.version is not None)
        return {
            "source": self.source,
            "n_rows": len(self.records),
            "first_line": self.records[0].line if self.records else None,
            "last_line": self.records[-1].line if self.records else None,
            "start": _iso(min(ts)) if ts else None,
            "end": _iso(max(ts)) if ts else None,
            "model_versions": dict(versions.most_common()),
            "n_labeled": sum(1 for r in self.records if r.label is not None or r.feedback is not None),
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds")


def _epoch(d: datetime | None) -> float | None:
    if d is None:
        return None
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()


def _inside(t: float, start: float | None, end: float | None) -> bool:
    return (start is None or t >= start) and (end is None or t < end)


def cut_windows(records: Iterable[Record], w: WindowSpec, *, source: str,
                reference: Window | None = None) -> tuple[Window, Window]:
    """Consume ``records`` once; return (reference, current). A given ``reference`` (training data) means
    every row is a candidate for the current window."""
    ref = reference if reference is not None else Window("reference", source)
    fill_ref = reference is None
    if w.by == "rows":
        cur_rows: deque[Record] = deque(maxlen=w.current_rows)
        for rec in records:
            if fill_ref and len(ref.records) < w.reference_rows:
                ref.records.append(rec)
            else:
                cur_rows.append(rec)
        cur = Window("current", source, list(cur_rows))
    else:
        rs, re_ = _epoch(w.reference_start), _epoch(w.reference_end)
        cs, ce = _epoch(w.current_start), _epoch(w.current_end)
        cur = Window("current", source)
        for rec in records:
            if rec.ts is None:
                raise DataError("time windows need a timestamp on every row", file=source, line=rec.line,
                                field="timestamp")
            if _inside(rec.ts, cs, ce):
                cur.records.append(rec)
            elif fill_ref and _inside(rec.ts, rs, re_):
                ref.records.append(rec)
    check_sizes(ref, cur, w, source=source, fill_ref=fill_ref)
    return ref, cur


def check_sizes(ref: Window, cur: Window, w: WindowSpec, *, source: str, fill_ref: bool) -> None:
    """A window with fewer than ``min_rows`` rows is an error, not a report."""
    for win in (ref, cur):
        if len(win) < w.min_rows:
            how = (f"{w.by} window" if win is cur or fill_ref else "training reference")
            raise DataError(f"the {win.name} window holds {len(win)} rows, fewer than window.min_rows="
                            f"{w.min_rows} ({how}); widen the window or give a longer log", file=source)


def whole_file_window(records: Iterable[Record], name: str, source: str, min_rows: int = 2) -> Window:
    """The stand-alone form: a whole file is one window."""
    win = Window(name, source, list(records))
    if len(win) < min_rows:
        raise DataError(f"the {name} file holds {len(win)} usable rows; at least {min_rows} are needed",
                        file=source)
    return win
