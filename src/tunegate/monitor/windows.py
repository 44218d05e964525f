"""Reference and current windows, cut while the log streams past.

Only the rows of the two windows are held (the reference's first N rows and a bounded deque of the last M, or the
rows inside two time ranges), so memory follows the window sizes, not the file size.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import numpy as np

from tunegate.errors import DataError
from tunegate.config.monitor import WindowSpec
from tunegate.monitor.logs import Record, np_array, scalar, table_records, to_numpy


class Window:
    """The rows of one window, plus where they came from. ``training`` marks a reference built from the
    spec's training examples (gold labels, no model outputs).

    Rows are held either as Records or as a pyarrow table of ``logs.table_schema`` (the columnar reader's);
    ``records`` builds Records from the table on first use, while the column accessors below read the table
    directly, so tests written against them never create a Python object per row."""

    def __init__(self, name: str, source: str, records: list[Record] | None = None, training: bool = False,
                 table: Any = None) -> None:
        self.name = name
        self.source = source
        self.training = training
        self.table = table
        self._records = records if records is not None or table is not None else []

    @property
    def records(self) -> list[Record]:
        if self._records is None:  # the table goes once Records exist: the rows are not held twice
            self._records, self.table = table_records(self.table), None
        return self._records

    @records.setter
    def records(self, value: list[Record]) -> None:
        self._records, self.table = value, None

    def __len__(self) -> int:
        return self.table.num_rows if self._records is None else len(self._records)

    def _column(self, name: str) -> Any:
        return self.table.column(name) if self._records is None else None

    def numeric_values(self, j: int) -> np.ndarray:
        """Numeric column ``j``'s values, missing ones left out (what the numeric test compares)."""
        col = self._column(f"n{j}")
        if col is None:
            return np.array([r.numeric[j] for r in self._records if r.numeric[j] is not None], float)
        return to_numpy(col.drop_null()).astype(float, copy=False)

    def categorical_values(self, j: int, missing: str = "(missing)") -> list[str]:
        """Categorical column ``j``'s values, a missing one as ``missing`` (a category of its own)."""
        col = self._column(f"c{j}")
        if col is None:
            return [r.categorical[j] or missing for r in self._records]
        return col.fill_null(scalar(missing)).to_pylist()

    def categorical_counts(self, j: int, missing: str = "(missing)") -> Counter:
        """Counts of categorical column ``j``'s values (missing ones as ``missing``), in order of first
        appearance, as ``Counter(categorical_values(j))`` gives them."""
        col = self._column(f"c{j}")
        if col is None:
            return Counter(self.categorical_values(j, missing))
        import pyarrow.compute as pc

        counts = pc.value_counts(col.fill_null(scalar(missing))).to_pylist()
        return Counter({d["values"]: d["counts"] for d in counts})

    def text_lengths(self) -> np.ndarray:
        """Each input's length in characters."""
        col = self._column("text")
        if col is None:
            return np.array([len(r.text) for r in self._records], float)
        import pyarrow.compute as pc

        return to_numpy(pc.utf8_length(col)).astype(float)

    def describe(self) -> dict[str, Any]:
        if self._records is not None:
            recs = self._records
            ts = [r.ts for r in recs if r.ts is not None]
            versions = Counter(r.version for r in recs if r.version is not None)
            lines = (recs[0].line, recs[-1].line) if recs else (None, None)
            t_lo, t_hi = (min(ts), max(ts)) if ts else (None, None)
            n_labeled = sum(1 for r in recs if r.label is not None or r.feedback is not None)
        else:
            import pyarrow.compute as pc

            t = self.table
            n = t.num_rows
            lines = (t.column("line")[0].as_py(), t.column("line")[n - 1].as_py()) if n else (None, None)
            mm = pc.min_max(t.column("ts")).as_py()
            t_lo, t_hi = mm["min"], mm["max"]
            counts = pc.value_counts(t.column("version").drop_null()).to_pylist()
            versions = Counter({d["values"]: d["counts"] for d in counts})
            n_labeled = n - pc.sum(pc.and_(pc.is_null(t.column("label")),
                                           pc.is_null(t.column("feedback"))).cast("int64")).as_py() if n else 0
        return {
            "source": self.source,
            "n_rows": len(self),
            "first_line": lines[0],
            "last_line": lines[1],
            "start": _iso(t_lo) if t_lo is not None else None,
            "end": _iso(t_hi) if t_hi is not None else None,
            "model_versions": dict(versions.most_common()),
            "n_labeled": n_labeled,
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


def cut_table_windows(tables: Iterable[Any], w: WindowSpec, *, source: str,
                      reference: Window | None = None) -> tuple[Window, Window]:
    """``cut_windows`` over the columnar reader's blocks (``logs.read_log_tables``): the same windows, row for
    row, holding only the blocks that overlap them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fill_ref = reference is None
    ref_parts: list[Any] = []
    cur_parts: deque[Any] = deque()
    schema = None
    if w.by == "rows":
        n_ref = n_cur = 0
        for t in tables:
            schema = t.schema
            if fill_ref and n_ref < w.reference_rows:
                take = min(w.reference_rows - n_ref, t.num_rows)
                ref_parts.append(t.slice(0, take))
                n_ref += take
                t = t.slice(take)
            if t.num_rows:
                cur_parts.append(t)
                n_cur += t.num_rows
                while n_cur - cur_parts[0].num_rows >= w.current_rows:
                    n_cur -= cur_parts.popleft().num_rows
        cur_t = _concat(cur_parts, schema)
        if cur_t is not None and cur_t.num_rows > w.current_rows:
            cur_t = cur_t.slice(cur_t.num_rows - w.current_rows)
    else:
        rs, re_ = _epoch(w.reference_start), _epoch(w.reference_end)
        cs, ce = _epoch(w.current_start), _epoch(w.current_end)
        for t in tables:
            schema = t.schema
            ts = t.column("ts")
            if ts.null_count:
                line = t.column("line").filter(pc.is_null(ts))[0].as_py()
                raise DataError("time windows need a timestamp on every row", file=source, line=line,
                                field="timestamp")
            x = to_numpy(ts)
            in_cur = _between(x, cs, ce)
            cur_parts.append(t.filter(np_array(in_cur)))
            if fill_ref:
                ref_parts.append(t.filter(np_array(~in_cur & _between(x, rs, re_))))
        cur_t = _concat(cur_parts, schema)
    ref = reference if reference is not None else Window("reference", source, table=_concat(ref_parts, schema))
    cur = Window("current", source, table=cur_t)
    for win in (ref, cur):
        if win.table is None and win._records is None:
            win._records = []
    check_sizes(ref, cur, w, source=source, fill_ref=fill_ref)
    return ref, cur


def _between(x: np.ndarray, start: float | None, end: float | None) -> np.ndarray:
    ok = np.ones(len(x), bool)
    if start is not None:
        ok &= x >= start
    if end is not None:
        ok &= x < end
    return ok


def _concat(parts: Iterable[Any], schema: Any) -> Any:
    import pyarrow as pa

    parts = list(parts)
    return pa.concat_tables(parts) if parts else (schema.empty_table() if schema is not None else None)


def check_sizes(ref: Window, cur: Window, w: WindowSpec, *, source: str, fill_ref: bool) -> None:
    """A window with fewer than ``min_rows`` rows is an error, not a report."""
    for win in (ref, cur):
        if len(win) < w.min_rows:
            how = (f"{w.by} window" if win is cur or fill_ref else "training reference")
            raise DataError(f"the {win.name} window holds {len(win)} rows, fewer than window.min_rows="
                            f"{w.min_rows} ({how}); widen the window or give a longer log", file=source)


def whole_file_window(records: Iterable[Record], name: str, source: str, min_rows: int = 2) -> Window:
    """The stand-alone form: a whole file is one window (``records`` may also be the columnar reader's
    tables)."""
    items = list(records)
    if items and not isinstance(items[0], Record):
        win = Window(name, source, table=_concat(items, None))
    else:
        win = Window(name, source, items)
    if len(win) < min_rows:
        raise DataError(f"the {name} file holds {len(win)} usable rows; at least {min_rows} are needed",
                        file=source)
    return win
