"""The monitor on an executor (``--executor ray``): Parquet row groups read by workers.

Reading: a Parquet file is split into its row groups (the unit every Parquet reader, Ray Data's included, reads in
parallel). Workers map rows to Records and keep only what a window needs, so only window rows travel back; with
row-count windows only the row groups at the head and the tail are read at all. The windows are assembled in
file order on the driver, so they equal the streaming reader's, row for row.

The drift statistics themselves run on the driver: on windows of 100,000 rows they take well under a second,
less than shipping the windows to workers would (measured: 0.6 s in place vs 15 s as one Ray task per test). The
slow part that does travel is embedding (see ``tunegate.executors.sharded.ShardedEmbedder``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.errors import DataError
from tunegate.config.monitor import LogColumns, WindowSpec
from tunegate.monitor.logs import ReadStats, Record, _Mapper, map_row
from tunegate.monitor.windows import Window, _epoch, _inside, check_sizes


# ------------------------------------------------------------------------------------------------ reading
def _read_groups(path: str, cols: LogColumns, groups: list[int], first_row: int, skip_invalid: bool,
                 keep: tuple | None) -> tuple[list[Record], list[Record], ReadStats]:
    """Runs on a worker: rows of ``groups`` (consecutive, starting at 1-based row ``first_row``) as Records.

    ``keep`` None: every valid row, in order (first list). ``keep`` = time bounds: rows in the reference range
    (first list) and in the current range (second list) only.
    """
    import pyarrow.parquet as pq

    mapper = _Mapper(cols, path)
    stats = ReadStats(path, "parquet")
    first: list[Record] = []
    second: list[Record] = []
    row = first_row - 1
    table = pq.ParquetFile(path).read_row_groups(groups)
    for batch in table.to_batches(max_chunksize=8192):
        for data in batch.to_pylist():
            row += 1
            rec = map_row(mapper, row, data, skip_invalid=skip_invalid, stats=stats)
            if rec is None:
                continue
            if keep is None:
                first.append(rec)
                continue
            (rs, re_), (cs, ce), fill_ref = keep
            if rec.ts is None:
                raise DataError("time windows need a timestamp on every row", file=path, line=row,
                                field="timestamp")
            if _inside(rec.ts, cs, ce):
                second.append(rec)
            elif fill_ref and _inside(rec.ts, rs, re_):
                first.append(rec)
    return first, second, stats


def cut_parquet_windows(executor: Any, path: str | Path, cols: LogColumns, w: WindowSpec, *, skip_invalid: bool,
                        stats: ReadStats, reference: Window | None = None) -> tuple[Window, Window]:
    """The same windows as ``cut_windows(read_log(path))``, with the row groups read on ``executor``'s workers."""
    import pyarrow.parquet as pq

    p = str(path)
    try:
        meta = pq.ParquetFile(p).metadata
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"not a readable Parquet file: {exc}", file=p) from None
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    starts = [1 + sum(sizes[:g]) for g in range(len(sizes))]
    stats.kind = "parquet"
    fill_ref = reference is None
    ref = reference if reference is not None else Window("reference", p)

    def read(groups: list[int], keep: tuple | None) -> list[tuple]:
        args = [([g], starts[g], skip_invalid, keep) for g in groups]
        parts = dict(executor.map_unordered(_read_groups, args, shared=(p, cols)))
        out = [parts[k] for k in range(len(groups))]
        for _, _, part_stats in out:
            stats.merge(part_stats)
        return out

    if w.by == "time":
        keep = ((_epoch(w.reference_start), _epoch(w.reference_end)),
                (_epoch(w.current_start), _epoch(w.current_end)), fill_ref)
        cur = Window("current", p)
        for first, second, _ in read(list(range(len(sizes))), keep):
            if fill_ref:
                ref.records += first
            cur.records += second
        check_sizes(ref, cur, w, source=p, fill_ref=fill_ref)
        return ref, cur

    wave = max(1, int(getattr(executor, "workers", 1)))
    rest: list[Record] = []  # valid rows after the reference, in file order, from the head groups
    head_end = 0  # groups [0, head_end) have been read from the front
    if fill_ref:
        while len(ref.records) < w.reference_rows and head_end < len(sizes):
            groups = list(range(head_end, min(head_end + wave, len(sizes))))
            head_end = groups[-1] + 1
            for first, _, _ in read(groups, None):
                need = w.reference_rows - len(ref.records)
                ref.records += first[:need]
                rest += first[need:]
    tail: list[Record] = []  # valid rows of the groups read from the back, in file order
    tail_start = len(sizes)
    while len(tail) < w.current_rows and tail_start > head_end:
        groups = list(range(max(head_end, tail_start - wave), tail_start))
        tail_start = groups[0]
        tail = [r for first, _, _ in read(groups, None) for r in first] + tail
    after_ref = (rest + tail) if tail_start == head_end else tail
    if tail_start > head_end:  # row groups between the windows were never read: say so, not silently
        stats.rows_in_file = sum(sizes)
        stats.note = (f"rows {starts[head_end]}-{starts[tail_start] - 1} (row groups {head_end}-{tail_start - 1}) lie "
                      "between the windows and were not read or validated (--executor with row windows)")
    cur = Window("current", p, after_ref[-w.current_rows:] if w.current_rows else [])
    check_sizes(ref, cur, w, source=p, fill_ref=fill_ref)
    return ref, cur
