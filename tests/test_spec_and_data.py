"""Spec validation and data loading: every kind of bad input is an error that names file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunegate.data.annotations import load_annotations
from tunegate.data.examples import load_examples
from tunegate.data.splits import assign_splits, split_counts
from tunegate.errors import DataError, SpecError
from tunegate.spec import AnnotationFieldMap, SplitSpec, json_schema, load_spec, parse_spec

SPEC = """\
task:
  name: t
  kind: classification
  labels:
    - name: billing
      description: money questions
    - shipping
    - other
data:
  path: {path}
  fields: {{input: text, label: intent, id: id{extra_fields}}}
eval:
  metric: accuracy
"""


def write_spec(tmp_path: Path, rows: list[dict] | str, *, name: str = "d.jsonl", extra_fields: str = "",
               raw: str | None = None) -> Path:
    data = tmp_path / name
    if isinstance(rows, str):
        data.write_text(rows, encoding="utf-8")
    else:
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    spec = tmp_path / "tunegate.yaml"
    spec.write_text(raw or SPEC.format(path=name, extra_fields=extra_fields), encoding="utf-8")
    return spec


def rows(n: int = 30) -> list[dict]:
    labs = ["billing", "shipping", "other"]
    return [{"id": f"i{k}", "text": f"text {k}", "intent": labs[k % 3]} for k in range(n)]


# ------------------------------------------------------------------------------------------------- spec


def test_unknown_key_names_file_line_and_key(tmp_path):
    bad = SPEC.format(path="d.jsonl", extra_fields="").replace("  metric: accuracy", "  metirc: accuracy")
    with pytest.raises(SpecError) as e:
        parse_spec(bad, tmp_path / "tunegate.yaml")
    msg = str(e.value)
    assert "tunegate.yaml:13" in msg and "eval.metirc" in msg and "unknown key" in msg


def test_missing_required_key_is_named(tmp_path):
    bad = SPEC.format(path="d.jsonl", extra_fields="").replace("  kind: classification\n", "")
    with pytest.raises(SpecError, match=r"task\.kind: required key is missing"):
        parse_spec(bad, "s.yaml")


def test_wrong_value_type_names_key_and_line():
    bad = SPEC.format(path="d.jsonl", extra_fields="") + "seed: not-a-number\n"
    with pytest.raises(SpecError, match=r"s.yaml:14: seed:"):
        parse_spec(bad, "s.yaml")


def test_split_ratios_must_sum_to_one():
    bad = SPEC.format(path="d.jsonl", extra_fields="").replace(
        "eval:", "  split:\n    ratios: {train: 0.5, dev: 0.2, test: 0.2}\neval:")
    with pytest.raises(SpecError, match=r"data.split.ratios: split ratios must sum to 1"):
        parse_spec(bad, "s.yaml")


def test_api_key_in_place_of_variable_name_is_refused():
    bad = SPEC.format(path="d.jsonl", extra_fields="") + (
        "models:\n  backends:\n    openai:gpt-x:\n      api_key_env: sk-abc123\n")
    with pytest.raises(SpecError, match="NAME of an environment variable"):
        parse_spec(bad, "s.yaml")


def test_invalid_yaml_reports_line():
    with pytest.raises(SpecError, match=r"s.yaml:3: not valid YAML"):
        parse_spec("task:\n  name: [unclosed\n", "s.yaml")


BASE = SPEC.format(path="d.jsonl", extra_fields="")
PARSER_CASES = {  # each spec text the fast (libyaml) and the pure-Python parser must treat alike
    "valid": BASE,
    "valid with anchors and a merge key": BASE + "seed: &s 3\nmodels: {default: openai:x, params: {<<: {a: *s}}}\n",
    "unknown key": BASE.replace("  metric: accuracy", "  metirc: accuracy"),
    "wrong type": BASE + "seed: [1]\n",
    "duplicate key": BASE + "seed: 1\nseed: 2\n",
    "unclosed flow": "task:\n  name: [unclosed\n",
    "tab indentation": "task:\n\tname: t\n",
    "control character": BASE.replace("name: t", "name: t\x07"),
    "undefined alias": BASE + "seed: *nope\n",
    "recursive alias": BASE + "models: &m {default: openai:x, params: {self: *m}}\n",
    "line separator in a value": BASE.replace("money questions", "money\u2028questions"),
    "crlf line ends": BASE.replace("\n", "\r\n") + "seed: x\r\n",
    "two documents": BASE + "---\nseed: 1\n",
    "not a mapping": "- a\n- b\n",
    "empty": "",
}


@pytest.mark.parametrize("case", sorted(PARSER_CASES))
def test_the_fast_yaml_parser_gives_the_pure_python_parsers_results_and_errors(case, monkeypatch):
    """parse_spec uses libyaml when PyYAML has it (and the Python parser for the wording of any YAML error): the
    spec, or the located error, must be the same either way."""
    import yaml

    import tunegate.spec as spec_mod

    def outcome(loader):
        monkeypatch.setattr(spec_mod, "_FAST_LOADER", loader)
        try:
            spec = parse_spec(PARSER_CASES[case], "s.yaml")
        except SpecError as exc:
            return "error", str(exc)
        return "spec", spec.model_dump(), spec._lines

    fast, slow = outcome(getattr(yaml, "CSafeLoader", yaml.SafeLoader)), outcome(yaml.SafeLoader)
    assert fast == slow
    assert (fast[0] == "spec") == case.startswith("valid")


def test_label_names_are_built_once_and_follow_a_new_label_list():
    from tunegate.spec import LabelSpec

    spec = parse_spec(BASE, "s.yaml")
    names = spec.task.label_names
    assert names == ["billing", "shipping", "other"] and spec.task.label_names is names  # built once
    assert spec.task == parse_spec(BASE, "s.yaml").task  # the cache is not a field: equality and dumps ignore it
    assert "label_names" not in json.dumps(spec.model_dump()) and spec.config_hash() == parse_spec(BASE).config_hash()
    other = spec.task.model_copy(update={"labels": [LabelSpec(name="x")]})
    assert other.label_names == ["x"] and spec.task.label_names == names
    spec.task.labels = spec.task.labels[:1]
    assert spec.task.label_names == ["billing"]


def test_extraction_needs_schema_and_schema_must_be_valid():
    base = ("task:\n  name: e\n  kind: extraction\n{schema}data:\n  path: d.jsonl\n"
            "  fields: {{input: text, target: out}}\n")
    with pytest.raises(SpecError, match="output_schema"):
        parse_spec(base.format(schema=""), "s.yaml")
    with pytest.raises(SpecError, match="not a valid JSON Schema"):
        parse_spec(base.format(schema="  output_schema: {type: 12}\n"), "s.yaml")
    ok = parse_spec(base.format(schema="  output_schema: {type: object}\n"), "s.yaml")
    assert ok.task.kind == "extraction"


def test_config_hash_is_stable_and_sensitive():
    a = parse_spec(SPEC.format(path="d.jsonl", extra_fields=""), "s.yaml")
    b = parse_spec(SPEC.format(path="d.jsonl", extra_fields=""), "other.yaml")
    c = parse_spec(SPEC.format(path="d.jsonl", extra_fields="") + "seed: 1\n", "s.yaml")
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_json_schema_lists_sections():
    schema = json_schema()
    assert {"task", "data", "eval", "models", "sprint", "probe", "costs", "monitor"} <= set(schema["properties"])


# ------------------------------------------------------------------------------------------------- data


def test_loads_jsonl_with_ratio_split(tmp_path):
    ds = load_examples(load_spec(write_spec(tmp_path, rows(30))))
    assert len(ds.examples) == 30
    assert {e.split for e in ds.examples} == {"train", "dev", "test"}
    assert ds.split_source == "ratios"


@pytest.mark.parametrize(
    "content, line, fragment",
    [
        ('{"id": "a", "text": "hi", "intent": "billing"}\n{"id": "b", "text": "x", "intent": \n', 2, "invalid JSON"),
        ('{"id": "a", "text": "hi", "intent": "billing"}\n{"id": "b", "intent": "other"}\n', 2, "text: missing field"),
        ('{"id": "a", "text": "hi", "intent": "refunds"}\n', 1, "intent: unknown label 'refunds'"),
        ('{"id": "a", "text": "   ", "intent": "other"}\n', 1, "text: empty input"),
        ('{"id": "a", "text": "x", "intent": "other"}\n{"id": "a", "text": "y", "intent": "other"}\n', 2,
         "duplicate id 'a'"),
        ('["not", "an", "object"]\n', 1, "expected a JSON object"),
        ('{"id": "a", "text": "x", "intent": ""}\n', 1, "intent: empty label"),
    ],
)
def test_malformed_jsonl_rows_are_named(tmp_path, content, line, fragment):
    spec = load_spec(write_spec(tmp_path, content))
    with pytest.raises(DataError) as e:
        load_examples(spec)
    assert f"d.jsonl:{line}:" in str(e.value)
    assert fragment in str(e.value)


def test_skip_invalid_lists_every_skipped_row(tmp_path):
    good = [json.dumps(r) for r in rows(6)]
    content = "\n".join(good[:2] + ['{"id": "z", "text": "x", "intent": "nope"}', "{broken"] + good[2:]) + "\n"
    ds = load_examples(load_spec(write_spec(tmp_path, content)), skip_invalid=True)
    assert len(ds.examples) == 6
    assert [(s.line, s.field) for s in ds.skipped] == [(3, "intent"), (4, None)]
    assert "unknown label" in ds.skipped[0].reason


def test_csv_rows_report_physical_line_numbers(tmp_path):
    content = 'id,text,intent\na,"multi\nline text",billing\nb,hello,unknown_label\n'
    spec = load_spec(write_spec(tmp_path, content, name="d.csv"))
    with pytest.raises(DataError, match=r"d.csv:4: intent: unknown label"):
        load_examples(spec)


def test_csv_wrong_column_count(tmp_path):
    spec = load_spec(write_spec(tmp_path, "id,text,intent\na,hi,billing,extra\n", name="d.csv"))
    with pytest.raises(DataError, match=r"d.csv:2: expected 3 columns, found 4"):
        load_examples(spec)


def test_parquet_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    r = rows(9)
    r[4]["intent"] = "bogus"
    pq.write_table(pa.Table.from_pylist(r), tmp_path / "d.parquet")
    spec = load_spec(write_spec(tmp_path, "", name="x.jsonl", raw=SPEC.format(path="d.parquet", extra_fields="")))
    with pytest.raises(DataError, match=r"d.parquet:5: intent: unknown label 'bogus'"):
        load_examples(spec)


def test_user_split_column_and_aliases(tmp_path):
    r = rows(6)
    for k, row in enumerate(r):
        row["split"] = ["train", "validation", "TEST"][k % 3]
    ds = load_examples(load_spec(write_spec(tmp_path, r, extra_fields=", split: split")))
    assert sorted({e.split for e in ds.examples}) == ["dev", "test", "train"]
    r[0]["split"] = "holdout"
    with pytest.raises(DataError, match=r"d.jsonl:1: split: unknown split 'holdout'"):
        load_examples(load_spec(write_spec(tmp_path, r, extra_fields=", split: split")))


def test_missing_data_file_is_named(tmp_path):
    spec = load_spec(write_spec(tmp_path, rows(3)))
    (tmp_path / "d.jsonl").unlink()
    with pytest.raises(DataError, match=r"d.jsonl: file not found"):
        load_examples(spec)


# ------------------------------------------------------------------------------------------------ splits


class _It:
    def __init__(self, i: str, label: str) -> None:
        self.id, self.label, self.split = i, label, None


def test_split_counts_sum_exactly():
    for n in range(0, 50):
        c = split_counts(n, {"train": 0.6, "dev": 0.2, "test": 0.2})
        assert sum(c.values()) == n


def test_stratified_split_is_deterministic_order_free_and_proportional():
    items = [_It(f"id{k}", ["a", "b", "c", "d"][k % 4]) for k in range(400)]
    assign_splits(items, SplitSpec(seed=7))
    first = {it.id: it.split for it in items}
    shuffled = [_It(it.id, it.label) for it in reversed(items)]
    assign_splits(shuffled, SplitSpec(seed=7))
    assert {it.id: it.split for it in shuffled} == first  # file order does not matter
    for lab in "abcd":
        members = [it for it in items if it.label == lab]
        assert sum(it.split == "test" for it in members) == 20  # exactly 20% of each label
    other_seed = [_It(it.id, it.label) for it in items]
    assign_splits(other_seed, SplitSpec(seed=8))
    assert {it.id: it.split for it in other_seed} != first


def test_appending_items_moves_few_existing_ones():
    items = [_It(f"id{k}", "a") for k in range(200)]
    assign_splits(items, SplitSpec(seed=1))
    before = {it.id: it.split for it in items}
    more = [_It(it.id, "a") for it in items] + [_It(f"new{k}", "a") for k in range(10)]
    assign_splits(more, SplitSpec(seed=1))
    moved = sum(before[it.id] != it.split for it in more if it.id in before)
    assert moved <= 10


# ------------------------------------------------------------------------------------------- annotations


def test_annotations_validate_rows(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("item_id,annotator,label\ni1,ann1,billing\ni1,ann2,other\n", encoding="utf-8")
    ann = load_annotations(p, labels=["billing", "other"], item_ids={"i1"})
    assert [(a.annotator, a.label) for a in ann] == [("ann1", "billing"), ("ann2", "other")]

    p.write_text("item_id,annotator,label\ni1,ann1,billing\ni9,ann2,other\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.csv:3: item_id: item 'i9' is not in the examples"):
        load_annotations(p, labels=["billing", "other"], item_ids={"i1"})

    p.write_text("item_id,annotator,label\ni1,ann1,billing\ni1,ann1,other\n", encoding="utf-8")
    assert [a.label for a in load_annotations(p)] == ["billing", "other"]  # repeats are kept (issue 15)

    p.write_text("item_id,rater,label\ni1,ann1,billing\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.csv:2: annotator: missing field"):
        load_annotations(p)
    assert len(load_annotations(p, AnnotationFieldMap(annotator="rater"))) == 1
