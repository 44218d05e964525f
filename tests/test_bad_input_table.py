"""The bad-input table (issue 17): every ordinary mistake in a spec, a data file, an annotations file, a log or
a flag ends with exit 2, one line naming the file and the line or key, and no traceback.

Each row builds a small valid task, breaks one thing, runs the command a user would run, and checks: exit code
2, no exception escaped (CliRunner records one as ``r.exception``), no "Traceback" in the output, and the
expected location words in the message. No model is ever called (the model id points nowhere).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.hardening import write_task
from tunegate.cli import app

runner = CliRunner()
NOWHERE = "models:\n  default: openai:never\n  backends:\n    openai:never: {base_url: 'http://127.0.0.1:9/v1', " \
          "api_key_env: null, max_retries: 0, timeout_s: 1}\n"


def _task(tmp: Path, extra: str = "") -> Path:
    return write_task(tmp, 20, NOWHERE + extra)


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


def _eval_key(key_line: str) -> Callable[[Path], tuple[list[str], list[str]]]:
    """A spec row: one line added under eval:, checked with validate."""
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        spec = _edit(_task(tmp), "  metric: accuracy\n", f"  metric: accuracy\n{key_line}\n")
        return ["validate", str(spec)], ["tunegate.yaml"]
    return build


def _data_line(line: bytes, words: list[str], *, fmt: str = "jsonl") -> Callable:
    """A data row: the 3rd line of the examples file replaced with ``line``."""
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        spec = _task(tmp)
        data = tmp / "d.jsonl"
        lines = data.read_bytes().splitlines()
        lines[2] = line
        data.write_bytes(b"\n".join(lines) + b"\n")
        return ["validate", str(spec)], ["d.jsonl:3", *words]
    return build


def _csv_task(tmp: Path, body: bytes) -> Path:
    (tmp / "d.csv").write_bytes(body)
    spec = _task(tmp)
    return _edit(spec, "path: d.jsonl", "path: d.csv")


def _csv(body: bytes, words: list[str]) -> Callable:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        return ["validate", str(_csv_task(tmp, body))], ["d.csv", *words]
    return build


def _log(body: bytes, words: list[str], *flags: str) -> Callable:
    """A monitor row: stand-alone form, the current window broken."""
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        (tmp / "ref.csv").write_text("input,latency\n" + "".join(f"hello {k},{k}\n" for k in range(30)))
        (tmp / "cur.csv").write_bytes(body)
        return ["monitor", "--reference", str(tmp / "ref.csv"), "--current", str(tmp / "cur.csv"),
                "--numeric-col", "latency", "--no-embeddings", *flags], ["cur.csv", *words]
    return build


def _raw_spec(text: bytes, words: list[str]) -> Callable:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        (tmp / "tunegate.yaml").write_bytes(text)
        return ["validate", str(tmp / "tunegate.yaml")], ["tunegate.yaml", *words]
    return build


def _annotations(body: bytes, words: list[str]) -> Callable:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        (tmp / "a.csv").write_bytes(body)
        spec = _edit(_task(tmp), "data:\n  path: d.jsonl\n", "data:\n  path: d.jsonl\n  annotations: {path: a.csv}\n")
        return ["validate", str(spec)], ["a.csv", *words]
    return build


def _eval_flags(*flags: str, words: list[str]) -> Callable:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        (tmp / "afile").write_text("x")
        (tmp / "adir").mkdir()
        (tmp / "text.sqlite").write_text("not a database\n" * 20)
        args = [a.replace("TMP", str(tmp)) for a in flags]
        return ["eval", str(_task(tmp)), "--quiet", "--out", str(tmp / "run"), *args], words
    return build


def _cmd(*args: str, words: list[str], spec: bool = True) -> Callable:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        s = _task(tmp)
        (tmp / "afile").write_text("x")
        return [a.replace("SPEC", str(s)).replace("TMP", str(tmp)) for a in args], words
    return build


def _split_ratios(tmp: Path) -> tuple[list[str], list[str]]:
    spec = _edit(_task(tmp), ", split: split}", "}")
    spec = _edit(spec, "data:\n", "data:\n  split: {ratios: {train: 0.5, dev: 0.5, test: 0.5}}\n")
    return ["validate", str(spec)], ["tunegate.yaml", "data.split.ratios"]


def _unknown_extension(tmp: Path) -> tuple[list[str], list[str]]:
    spec = _task(tmp)
    (tmp / "d.txt").write_bytes((tmp / "d.jsonl").read_bytes())
    return ["validate", str(_edit(spec, "path: d.jsonl", "path: d.txt"))], ["d.txt", "extension"]


def _not_parquet(tmp: Path) -> tuple[list[str], list[str]]:
    (tmp / "d.parquet").write_text("not parquet")
    return ["validate", str(_edit(_task(tmp), "path: d.jsonl", "path: d.parquet"))], ["d.parquet", "Parquet"]


def _log_json_nan(tmp: Path) -> tuple[list[str], list[str]]:
    args, _ = _log(b"", [])(tmp)
    (tmp / "cur.jsonl").write_bytes(b'{"input": "a", "latency": 1}\n{"input": "b", "latency": NaN}\n')
    return [str(tmp / "cur.jsonl") if a.endswith("cur.csv") else a for a in args], ["cur.jsonl:2", "NaN"]


def _init_latin1(tmp: Path) -> tuple[list[str], list[str]]:
    (tmp / "in.csv").write_bytes(b"text,label\ncaf\xe9,a\nb,c\n")
    return ["init", str(tmp / "in.csv"), "--out", str(tmp / "o.yaml")], ["in.csv", "not UTF-8"]


BOMB = b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n".encode() for p, c in zip("abcdefgh", "bcdefghi"))

CASES: dict[str, Callable] = {
    # ------------------------------------------------------------------ spec: YAML, encoding, structure
    "spec latin-1 byte": _raw_spec(b"task:\n  name: caf\xe9\n", [":2", "not UTF-8"]),
    "spec binary bytes": _raw_spec(b"task:\n  name: \x00\x01\x02\n", [":2"]),
    "spec YAML syntax": _raw_spec(b"task:\n  name: [unclosed\n", ["not valid YAML"]),
    "spec not a mapping": _raw_spec(b"- a\n- b\n", ["YAML mapping"]),
    "spec empty file": _raw_spec(b"", ["YAML mapping"]),
    "spec duplicate key": _raw_spec(b"task:\n  name: a\n  name: b\n", [":3", "task.name", "duplicate key"]),
    "spec alias bomb": _raw_spec(BOMB, ["aliases"]),
    "spec missing task": _raw_spec(b"seed: 1\n", ["task", "missing"]),
    "spec unknown key": _eval_key("  tagret: 0.9"),
    "target negative": _eval_key("  target: -0.5"),
    "target typed as percent": _eval_key("  target: 90"),
    "target NaN": _eval_key("  target: .nan"),
    "allow_python_scorers string": _eval_key('  allow_python_scorers: "yes"'),
    "n_resamples huge": _eval_key("  bootstrap: {n_resamples: 1000000000000}"),
    "n_resamples tiny": _eval_key("  bootstrap: {n_resamples: 5}"),
    "confidence out of range": _eval_key("  bootstrap: {confidence: 1.5}"),
    "max_failed_share > 1": _eval_key("  max_failed_share: 2"),
    "scorers not a list": _eval_key("  scorers: label_match"),
    "unknown scorer type": _eval_key("  scorers: [{type: label_mach}]"),
    "python scorer without opt-in": _eval_key("  scorers: [{type: python, function: 's.py:f'}]"),
    "regex scorer bad pattern": _eval_key("  scorers: [{type: regex, pattern: '(unclosed'}]"),
    "judge repeats not a number": _eval_key("  scorers: [{type: llm_judge, model: 'openai:judge', rubric: r, "
                                            "repeats: three}]"),
    "judge unknown option": _eval_key("  scorers: [{type: llm_judge, model: 'openai:judge', rubric: r, rubrik: x}]"),
    "judge model without scheme": _eval_key("  scorers: [{type: llm_judge, model: judge, rubric: r}]"),
}
CASES.update({
    "metric not produced": lambda tmp: (["validate", str(_edit(_task(tmp), "metric: accuracy", "metric: acuracy"))],
                                        ["tunegate.yaml", "eval.metric"]),
    "unknown placeholder": lambda tmp: (["validate", str(_edit(_task(tmp), "{{input}}", "{{input}} {{inptu}}"))],
                                        ["{{inptu}}"]),
    "template without input": lambda tmp: (["validate", str(_edit(_task(tmp), "{{input}}", "{{labels}}"))],
                                           ["{{input}}"]),
    "template file missing": lambda tmp: (["validate", str(_edit(_task(tmp), 'inline: "Classify: {{input}}"',
                                                                 "template: nope.txt"))], ["nope.txt"]),
    "model id without scheme": lambda tmp: (["validate", str(_edit(_task(tmp), "default: openai:never",
                                                                   "default: gpt4"))], ["models.default"]),
    "unknown model scheme": lambda tmp: (["validate", str(_edit(_task(tmp), "default: openai:never",
                                                                "default: nosuch:x"))], ["models.default", "nosuch"]),
    "unknown embedding scheme": lambda tmp: (["validate", str(_task(tmp, "  embedding: nosuch:e\n"))],
                                             ["models.embedding"]),
    "api_key_env holds a key": lambda tmp: (["validate", str(_edit(_task(tmp), "api_key_env: null",
                                                                   "api_key_env: sk-abc123"))], ["api_key_env"]),
    "one label": lambda tmp: (["validate", str(_edit(_task(tmp), "[billing, shipping, other]", "[billing]"))],
                              ["tunegate.yaml", "two labels"]),
    "split ratios": lambda tmp: _split_ratios(tmp),
    "data file missing": lambda tmp: (["validate", str(_edit(_task(tmp), "path: d.jsonl", "path: nope.jsonl"))],
                                      ["nope.jsonl", "not found"]),
    "data unknown extension": lambda tmp: _unknown_extension(tmp),
    "empty test split": lambda tmp: (["validate", str(_edit(_task(tmp), "split: split}", "split: id}"))],
                                     ["d.jsonl:1", "split"]),
    # ------------------------------------------------------------------ data files
    "data latin-1 line": _data_line(b'{"id": "z", "text": "caf\xe9", "intent": "billing", "split": "test"}',
                                    ["not UTF-8"]),
    "data binary line": _data_line(b"\x89PNG\r\n\x1a\n\x00\x00", []),
    "data invalid JSON": _data_line(b'{"id": "z", "text": ', ["invalid JSON"]),
    "data NaN input": _data_line(b'{"id": "z", "text": NaN, "intent": "billing", "split": "test"}', ["NaN"]),
    "data Infinity": _data_line(b'{"id": "z", "text": "t", "intent": "billing", "split": "test", "w": Infinity}',
                                ["Infinity"]),
    "data not an object": _data_line(b'["a", "b"]', ["JSON object"]),
    "data missing field": _data_line(b'{"id": "z", "intent": "billing", "split": "test"}', ["text", "missing"]),
    "data unknown label": _data_line(b'{"id": "z", "text": "t", "intent": "refund", "split": "test"}',
                                     ["intent", "refund"]),
    "data empty input": _data_line(b'{"id": "z", "text": "  ", "intent": "billing", "split": "test"}',
                                   ["text", "empty input"]),
    "data duplicate id": _data_line(b'{"id": "x000", "text": "t", "intent": "billing", "split": "test"}',
                                    ["duplicate id"]),
    "data unknown split": _data_line(b'{"id": "z", "text": "t", "intent": "billing", "split": "holdout"}',
                                     ["split", "holdout"]),
    "csv latin-1": _csv(b"id,text,intent,split\n1,caf\xe9,billing,test\n", [":2", "not UTF-8"]),
    "csv wrong column count": _csv(b"id,text,intent,split\n1,a,billing,test\n2,b,billing\n", [":3", "columns"]),
    "csv duplicate header": _csv(b"id,text,text,intent,split\n1,a,b,billing,test\n", [":1", "duplicate column"]),
    "csv header only": _csv(b"id,text,intent,split\n", ["no valid examples"]),
    "parquet that is not parquet": lambda tmp: _not_parquet(tmp),
    # ------------------------------------------------------------------ annotations
    "annotations header only": _annotations(b"item_id,annotator,label\n", ["no annotations"]),
    "annotations empty file": _annotations(b"", ["no annotations"]),
    "annotations unknown item": _annotations(b"item_id,annotator,label\nnope,a1,billing\n", [":2", "nope"]),
    "annotations latin-1": _annotations(b"item_id,annotator,label\nx001,caf\xe9,billing\n", [":2", "not UTF-8"]),
    # ------------------------------------------------------------------ logs (monitor)
    "log NaN number": _log(b"input,latency\nhello,1\nworld,nan\n", [":3", "latency"]),
    "log not a number": _log(b"input,latency\nhello,1\nworld,fast\n", [":3", "latency", "fast"]),
    "log missing input": _log(b"input,latency\nhello,1\n,2\n", [":3", "input"]),
    "log latin-1": _log(b"input,latency\ncaf\xe9,1\n", [":2", "not UTF-8"]),
    "log JSON NaN": lambda tmp: _log_json_nan(tmp),
    "log file missing": lambda tmp: (["monitor", "--reference", str(tmp / "r.csv"), "--current", str(tmp / "c.csv"),
                                      "--no-embeddings"], ["r.csv"]),
    # ------------------------------------------------------------------ flags
    "--out is a file": _eval_flags("--out", "TMP/afile", words=["afile", "--out"]),
    "--out under a file": _eval_flags("--out", "TMP/afile/run", words=["afile", "--out"]),
    "--cache is a directory": _eval_flags("--cache", "TMP/adir", words=["adir", "--cache"]),
    "--cache not SQLite": _eval_flags("--cache", "TMP/text.sqlite", words=["text.sqlite", "--cache"]),
    "--limit 0": _eval_flags("--limit", "0", words=["--limit"]),
    "--split bogus": _eval_flags("--split", "holdout", words=["--split"]),
    "--method bogus": _eval_flags("--method", "magic", words=["--method"]),
    "--model without scheme": _eval_flags("--model", "gpt4", words=["--model", "gpt4"]),
    "--prompt missing": _eval_flags("--prompt", "TMP/nope.txt", words=["nope.txt"]),
    "--max-failed-share 2": _eval_flags("--max-failed-share", "2", words=["--max-failed-share"]),
    "cost --draws 1": _cmd("cost", "SPEC", "--draws", "1", "--out", "TMP/c", words=["--draws"]),
    "decide missing dir": _cmd("decide", "TMP/nope", words=["nope", "not found"]),
    "decide on a file": _cmd("decide", "TMP/afile", words=["afile", "not a directory"]),
    "report missing dir": _cmd("report", "TMP/nope", words=["nope", "not found"]),
    "spec path missing": _cmd("eval", "TMP/missing.yaml", words=["missing.yaml", "not found"]),
    "monitor --history with --log": _cmd("monitor", "--history", "--model", "m", "--log", "TMP/x.jsonl",
                                         words=["--history", "--log"]),
    "init latin-1 data": lambda tmp: _init_latin1(tmp),
})


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


RESULTS: dict[str, str] = {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path):
    args, words = CASES[name](tmp_path)
    r = runner.invoke(app, args)
    escaped = r.exception is not None and not isinstance(r.exception, SystemExit)
    out = r.output
    outcome = ("traceback" if escaped or "Traceback" in out else "silent" if r.exit_code == 0 else
               "wrong-exit" if r.exit_code != 2 else "unlocated" if not all(w in out for w in words) else "ok")
    RESULTS[name] = outcome
    assert not escaped, f"{name}: {type(r.exception).__name__}: {r.exception}"
    assert "Traceback" not in out
    assert r.exit_code == 2, f"{name}: exit {r.exit_code}: {out}"
    for w in words:
        assert w in out, f"{name}: {w!r} not in {out!r}"
    assert len([x for x in out.strip().splitlines() if x.startswith("error:")]) == 1, out


def test_table_covers_at_least_40_classes():
    assert len(CASES) >= 40
    groups = {"spec": 0, "data": 0, "annotations": 0, "log": 0, "flag": 0}
    for name in CASES:
        key = ("annotations" if name.startswith("annotations") else "log" if name.startswith("log") else
               "data" if name.startswith(("data", "csv", "parquet")) else
               "flag" if name.startswith(("--", "cost", "decide", "report", "monitor", "init", "spec path")) else
               "spec")
        groups[key] += 1
    assert all(n >= 4 for n in groups.values()), groups


def test_zz_report_totals():
    """Printed with -s: the table's totals (tracebacks, silent acceptances, others)."""
    if RESULTS:
        from collections import Counter

        print("bad-input table:", dict(Counter(RESULTS.values())), "of", len(RESULTS))
