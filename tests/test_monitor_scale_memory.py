"""Memory follows the windows, not the file: the columnar reader keeps only the blocks that overlap a window."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

import tunegate.data.readers as readers
from tunegate.config.monitor import LogColumns, WindowSpec
from tunegate.monitor.logs import read_log_tables
from tunegate.monitor.windows import cut_table_windows

COLS = LogColumns(numeric=["latency"], categorical=["channel"])


def _rows(n: int):
    for i in range(n):
        yield {"timestamp": 1767225600 + i, "input": f"message number {i} " + "x" * (i % 50), "output": "ab"[i % 2],
               "latency": 100.0 + i % 97, "channel": ["app", "web", "email"][i % 3]}


def _held(path, w: WindowSpec) -> tuple[int, int, int]:
    """Bytes the reader's pool still holds with both windows alive, and the windows' row counts."""
    pool = pa.system_memory_pool()  # the pool read_log_tables allocates from
    before = pool.bytes_allocated()
    ref, cur = cut_table_windows(read_log_tables(path, COLS), w, source=str(path))
    return pool.bytes_allocated() - before, len(ref), len(cur)


def test_small_windows_of_a_large_jsonl_log_hold_a_few_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BLOCK_BYTES", 256 << 10)
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows(80_000)))
    size = path.stat().st_size  # ~9 MB, 35+ blocks
    small, n_ref, n_cur = _held(path, WindowSpec(reference_rows=500, current_rows=500))
    assert (n_ref, n_cur) == (500, 500)
    whole, _, _ = _held(path, WindowSpec(reference_rows=40_000, current_rows=40_000))
    assert small < 4 * (256 << 10) * 2  # a block or two per window, whatever the file size
    assert whole > 10 * small and small < size / 8


def test_time_windows_keep_only_their_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BLOCK_BYTES", 256 << 10)
    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pylist(list(_rows(80_000))), path, row_group_size=4096)
    w = WindowSpec(by="time", reference_start="2026-01-01T00:00:00Z", reference_end="2026-01-01T00:05:00Z",
                   current_start="2026-01-01T20:00:00Z", current_end="2026-01-01T20:05:00Z")
    held, n_ref, n_cur = _held(path, w)
    assert (n_ref, n_cur) == (300, 300)
    whole, _, _ = _held(path, WindowSpec(reference_rows=40_000, current_rows=40_000))
    assert whole > 10 * held
