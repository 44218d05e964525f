"""Streaming reader of production logs: each row becomes a compact ``Record``, or a located error.

Logs can hold millions of rows, so nothing here loads a file whole: rows come from ``tunegate.data.readers``
(line by line for JSONL/CSV, pyarrow batches for Parquet) and only the fields the drift tests need are kept.
A malformed row stops the run with ``file:line: field: message`` unless the caller asked to skip invalid rows;
then it is counted and the first few are listed in monitor.json.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tunegate.data.readers import detect_format, iter_rows
from tunegate.errors import DataError
from tunegate.config.monitor import LogColumns

_TRUE = {"1", "true", "yes", "y", "up", "good", "correct", "positive", "thumbs_up", "+1"}
_FALSE = {"0", "false", "no", "n", "down", "bad", "incorrect", "wrong", "negative", "thumbs_down", "-1"}
MAX_LISTED = 20


@dataclass(slots=True)
class Record:
    """One log row, reduced to what the tests read."""

    line: int
    ts: float | None
    text: str
    output: str | None
    version: str | None
    label: str | None
    feedback: float | None
    confidence: float | None
    numeric: tuple[float | None, ...] = ()
    categorical: tuple[str | None, ...] = ()


@dataclass
class ReadStats:
    """What reading a file saw: rows read, rows skipped (with the first few listed)."""

    file: str
    kind: str
    n_rows: int = 0
    n_skipped: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    rows_in_file: int | None = None  # set when not every row was read (Parquet row windows on an executor)
    note: str | None = None

    def skip(self, err: DataError) -> None:
        self.n_skipped += 1
        if len(self.skipped) < MAX_LISTED:
            self.skipped.append({"line": err.line, "field": err.field, "reason": err.message})

    def merge(self, other: ReadStats) -> None:
        """Add the counts of a part of the same file read elsewhere (a worker's row groups)."""
        self.n_rows += other.n_rows
        self.n_skipped += other.n_skipped
        self.skipped += other.skipped[: max(0, MAX_LISTED - len(self.skipped))]

    def as_dict(self) -> dict[str, Any]:
        d = {"file": self.file, "format": self.kind, "n_rows": self.n_rows, "n_skipped": self.n_skipped,
             "skipped": self.skipped}
        if self.rows_in_file is not None:
            d.update(rows_in_file=self.rows_in_file, note=self.note)
        return d


def parse_timestamp(value: Any) -> float:
    """ISO-8601 (naive means UTC) or Unix seconds -> Unix seconds."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return float(value)
    elif isinstance(value, str) and value.strip():
        s = value.strip()
        try:
            return float(s)
        except ValueError:
            pass
        dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    else:
        raise ValueError("empty")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    s = str(value).strip() if not isinstance(value, (dict, list)) else str(value)
    return s or None


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return float(value)
    x = float(value)  # ValueError / TypeError -> caller names the field
    if math.isnan(x):  # dropping it silently would shrink the window uncounted: a located error instead
        raise ValueError("NaN")
    return x


def _feedback(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        if value in (0, 1):
            return float(value)
        if value == -1:
            return 0.0
        raise ValueError(f"feedback must be 1/0 (or -1), got {value!r}")
    s = str(value).strip().casefold()
    if s in _TRUE:
        return 1.0
    if s in _FALSE:
        return 0.0
    raise ValueError(f"feedback '{value}' is not one of 1/0, true/false, up/down, good/bad, correct/incorrect")


class _Mapper:
    """Turns a raw row into a Record; errors name the column."""

    def __init__(self, cols: LogColumns, path: str) -> None:
        self.c = cols
        self.path = path

    def _fail(self, line: int, column: str, message: str) -> DataError:
        return DataError(message, file=self.path, line=line, field=column)

    def __call__(self, line: int, row: dict[str, Any]) -> Record:
        c = self.c
        text = row.get(c.input)
        if text is None or (isinstance(text, str) and not text.strip()):
            raise self._fail(line, c.input, "missing or empty input")
        if not isinstance(text, str):
            import json

            text = json.dumps(text, ensure_ascii=False, sort_keys=True)
        ts = None
        if c.timestamp and row.get(c.timestamp) not in (None, ""):
            try:
                ts = parse_timestamp(row[c.timestamp])
            except (ValueError, TypeError, OverflowError):
                raise self._fail(line, c.timestamp, f"unreadable timestamp {row[c.timestamp]!r} "
                                 "(ISO-8601 or Unix seconds)") from None
        conf = None
        if c.confidence:
            try:
                conf = _number(row.get(c.confidence))
            except (ValueError, TypeError):
                raise self._fail(line, c.confidence, f"not a number: {row.get(c.confidence)!r}") from None
            if conf is not None and not 0.0 <= conf <= 1.0:
                raise self._fail(line, c.confidence, f"confidence must be in [0, 1], got {conf}")
        if c.logprob and conf is None:
            try:
                lp = _number(row.get(c.logprob))
            except (ValueError, TypeError):
                raise self._fail(line, c.logprob, f"not a number: {row.get(c.logprob)!r}") from None
            if lp is not None:
                if lp > 1e-9:
                    raise self._fail(line, c.logprob, f"a log-probability must be <= 0, got {lp}")
                conf = math.exp(min(lp, 0.0))
        fb = None
        if c.feedback:
            try:
                fb = _feedback(row.get(c.feedback))
            except ValueError as exc:
                raise self._fail(line, c.feedback, str(exc)) from None
        nums: list[float | None] = []
        for col in c.numeric:
            try:
                nums.append(_number(row.get(col)))
            except (ValueError, TypeError):
                raise self._fail(line, col, f"not a number: {row.get(col)!r}") from None
        return Record(
            line=line, ts=ts, text=text,
            output=_opt_str(row.get(c.output)) if c.output else None,
            version=_opt_str(row.get(c.model_version)) if c.model_version else None,
            label=_opt_str(row.get(c.label)) if c.label else None,
            feedback=fb, confidence=conf, numeric=tuple(nums),
            categorical=tuple(_opt_str(row.get(col)) for col in c.categorical),
        )


def read_log(path: str | Path, cols: LogColumns, *, fmt: str = "auto", skip_invalid: bool = False,
             stats: ReadStats | None = None) -> Iterator[Record]:
    """Stream a log as Records. ``stats`` (if given) is filled in as rows are read."""
    p = Path(path)
    if not p.exists():
        raise DataError("log file not found", file=p)
    kind = detect_format(p, fmt)
    st = stats if stats is not None else ReadStats(str(p), kind)
    st.kind = kind
    mapper = _Mapper(cols, str(p))
    for row in iter_rows(p, kind):
        rec = map_row(mapper, row.line, row.data, error=row.error, skip_invalid=skip_invalid, stats=st)
        if rec is not None:
            yield rec


def map_row(mapper: _Mapper, line: int, data: dict[str, Any] | None, *, error: str | None = None,
            skip_invalid: bool, stats: ReadStats) -> Record | None:
    """One raw row as a Record. A bad row stops the run (naming file:line: column) or, with ``skip_invalid``, is
    counted in ``stats`` and gives None."""
    try:
        if error is not None:
            raise DataError(error, file=mapper.path, line=line)
        rec = mapper(line, data or {})
    except DataError as exc:
        if not skip_invalid:
            raise DataError(exc.message + " (use --skip-invalid to count and skip such rows)",
                            file=exc.file, line=exc.line, field=exc.field) from None
        stats.skip(exc)
        return None
    stats.n_rows += 1
    return rec
