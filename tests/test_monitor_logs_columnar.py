"""The columnar log reader (pyarrow blocks) against the row-by-row reader: same rows, values, errors and skips,
on logs made to trip it (blank lines, a byte-order mark, NaN, numbers where text is expected, mixed timestamps)."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tunegate.data.readers as readers
from tunegate.config.monitor import LogColumns, WindowSpec
from tunegate.errors import DataError
from tunegate.monitor.logs import ReadStats, read_log, read_log_tables, table_records
from tunegate.monitor.windows import cut_table_windows, cut_windows

COLS = LogColumns(numeric=["latency", "tokens"], categorical=["channel", "region"], confidence="conf",
                  feedback="fb", logprob="lp")


def _row(i: int, **over) -> dict:
    r = {"timestamp": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00", "input": f"message {i}",
         "output": " a " if i % 3 else "b", "model_version": "v1" if i < 50 else "v2",
         "label": "a" if i % 5 == 0 else None, "latency": 100 + i * 0.1, "tokens": i % 17,
         "channel": ["app", "web", " email "][i % 3], "region": None if i % 7 == 0 else "eu",
         "conf": round(0.5 + (i % 50) / 100, 2), "fb": ["up", "down", None][i % 3]}
    r.update(over)
    return r


def _write(path, rows, extra_lines: dict[int, str] | None = None) -> None:
    lines = [json.dumps(r) for r in rows]
    for at, text in sorted((extra_lines or {}).items(), reverse=True):
        lines.insert(at, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _both(path, cols=COLS, skip=False):
    s1, s2 = ReadStats(str(path), ""), ReadStats(str(path), "")
    rows = list(read_log(path, cols, skip_invalid=skip, stats=s1))
    cols_rows = [r for t in read_log_tables(path, cols, skip_invalid=skip, stats=s2) for r in table_records(t)]
    return rows, cols_rows, s1, s2


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(readers, "BLOCK_BYTES", 2048)  # many blocks, so clean and unclean ones alternate


@pytest.mark.parametrize("case", ["clean", "blank_lines", "bom", "ints_as_text", "logprob", "unix_times",
                                  "naive_times", "input_not_text", "unicode_space"])
def test_same_records_as_the_row_reader(tmp_path, case):
    rows = [_row(i) for i in range(120)]
    extra = None
    if case == "blank_lines":
        extra = {10: "", 40: "   ", 41: "\t"}
    elif case == "ints_as_text":
        rows = [{**r, "channel": i % 4, "output": i % 2, "label": 3} for i, r in enumerate(rows)]
    elif case == "logprob":
        rows = [{**r, "conf": None, "lp": -0.01 * (i % 9)} for i, r in enumerate(rows)]
    elif case == "unix_times":
        rows = [{**r, "timestamp": 1767225600 + i * 1.5} for i, r in enumerate(rows)]
    elif case == "naive_times":
        rows = [{**r, "timestamp": f"2026-01-01 00:00:{i % 60:02d}.25"} for i, r in enumerate(rows)]
    elif case == "input_not_text":
        rows[30]["input"] = {"q": 1}
    elif case == "unicode_space":
        rows = [{**r, "channel": "\u3000app\u00a0", "region": "\u2003"} for r in rows]
    path = tmp_path / "log.jsonl"
    _write(path, rows, extra)
    if case == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    a, b, s1, s2 = _both(path)
    assert a == b and len(a) == 120
    assert (s1.n_rows, s1.n_skipped) == (s2.n_rows, s2.n_skipped)


def test_the_columnar_path_is_taken_on_a_clean_log(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    _write(path, [_row(i) for i in range(120)])
    import tunegate.monitor.logs as logs

    monkeypatch.setattr(logs, "_python_block", lambda *a, **k: pytest.fail("row-by-row path used"))
    assert sum(t.num_rows for t in read_log_tables(path, COLS)) == 120


@pytest.mark.parametrize("bad, where", [
    ({"latency": "fast"}, "latency"), ({"conf": 1.5}, "conf"), ({"input": "  "}, "input"),
    ({"fb": "maybe"}, "fb"), ({"timestamp": "yesterday"}, "timestamp"), ({"lp": 0.5, "conf": None}, "lp")])
def test_a_bad_row_stops_with_its_line_or_is_counted(tmp_path, bad, where):
    rows = [_row(i) for i in range(120)]
    rows[77].update(bad)
    path = tmp_path / "log.jsonl"
    _write(path, rows, {5: ""})  # a blank line before it: line 79 in the file
    with pytest.raises(DataError) as e1:
        list(read_log(path, COLS))
    with pytest.raises(DataError) as e2:
        list(read_log_tables(path, COLS))
    assert str(e1.value) == str(e2.value) and e2.value.line == 79 and e2.value.field == where
    a, b, s1, s2 = _both(path, skip=True)
    assert a == b and len(b) == 119 and s2.n_skipped == 1 and s1.skipped == s2.skipped


def test_nan_and_invalid_json_lines_are_located(tmp_path):
    rows = [_row(i) for i in range(60)]
    path = tmp_path / "log.jsonl"
    _write(path, rows, {20: '{"input": "x", "latency": NaN}', 33: "{not json", 40: "[1, 2]"})
    a, b, s1, s2 = _both(path, skip=True)
    assert a == b and s1.skipped == s2.skipped and [x["line"] for x in s2.skipped] == [21, 35, 43]


def test_windows_equal_the_streaming_windows_by_rows_and_by_time(tmp_path):
    path = tmp_path / "log.jsonl"
    _write(path, [_row(i) for i in range(300)], {100: ""})
    for w in (WindowSpec(reference_rows=70, current_rows=90),
              WindowSpec(reference_rows=250, current_rows=200),
              WindowSpec(by="time", reference_end="2026-01-01T00:01:00Z", current_start="2026-01-01T00:03:00Z",
                         current_end="2026-01-01T00:04:10Z")):
        r1, c1 = cut_windows(read_log(path, COLS), w, source=str(path))
        r2, c2 = cut_table_windows(read_log_tables(path, COLS), w, source=str(path))
        assert r1.records == r2.records and c1.records == c2.records
        assert r1.describe() == r2.describe() and c1.describe() == c2.describe()
        for j in range(2):
            assert (r1.numeric_values(j) == r2.numeric_values(j)).all()
            assert c1.categorical_values(j) == c2.categorical_values(j)
            assert list(c1.categorical_counts(j).items()) == list(c2.categorical_counts(j).items())
        assert (c1.text_lengths() == c2.text_lengths()).all()


def test_parquet_blocks_match_the_row_reader(tmp_path):
    rows = [_row(i) for i in range(200)]
    rows[150]["latency"] = math.inf  # a legal Parquet double the columnar path leaves to the row mapper
    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=64)
    a, b, _, _ = _both(path)
    assert a == b and len(a) == 200 and a[150].numeric[0] == math.inf


def test_counted_categories_equal_category_counts():
    from collections import Counter

    from tunegate.monitor.statistics import category_counts, counted_categories

    ref, cur = list("aabbbc") + ["(missing)"], list("abddd")
    cats, r, c = counted_categories(Counter(ref), Counter(cur))
    assert (cats, r.tolist(), c.tolist()) == (lambda x: (x[0], x[1].tolist(), x[2].tolist()))(
        category_counts(ref, cur))
    assert cats[-1] == "(unseen in reference)" and c.tolist() == [0, 1, 1, 0, 3]
