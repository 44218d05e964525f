"""Which answer method the criterion gate assumes, and which known-bad outputs it can therefore produce."""

from __future__ import annotations

import pytest

from tunegate.errors import SpecError
from tunegate.evals.answer_method import LIKELIHOOD_SAFE_STRATEGIES, resolve_answer_method
from tunegate.evals.negatives import split_types
from tunegate.spec import parse_spec


def _spec(kind: str = "classification", sprint: str = "", check_eval: str = "", default: str = "local:smollm2"):
    field = "label: y" if kind == "classification" else "target: y"
    return parse_spec(f"""
task: {{name: t, kind: {kind}, labels: [a, b]}}
data: {{path: d.jsonl, fields: {{input: x, {field}}}}}
models: {{default: "{default}"}}
{sprint}
{check_eval}
""", "s.yaml")


def can(model: str, spec) -> bool | None:
    return {"local:m": True, "openai:g": False}.get(model.replace("local:smollm2", "local:m"))


@pytest.mark.parametrize("kind, sprint, default, expected, why", [
    ("classification", "", "local:smollm2", "label_likelihood", "auto"),
    ("classification", "", "openai:g", "generate", "cannot score labels"),
    ("classification", "", "weird:x", "generate", "could not be read"),
    ("classification", "sprint: {method: generate}", "local:smollm2", "generate", "sprint.method"),
    ("classification", "sprint: {strategies: [zero_shot, [few_shot_knn, cot]]}", "local:smollm2", "generate",
     "sprint.strategies.1 (cot)"),
    ("classification", "sprint: {strategies: [zero_shot, {type: my_custom}]}", "local:smollm2", "generate",
     "my_custom"),
    ("classification", "sprint: {strategies: [zero_shot, few_shot_random]}", "local:smollm2", "label_likelihood",
     "auto"),
    ("classification", "sprint: {models: ['openai:g']}", "local:smollm2", "generate", "openai:g cannot"),
    ("generation", "", "local:smollm2", "generate", "generation task"),
])
def test_auto_follows_how_answers_are_produced(kind, sprint, default, expected, why):
    method, reason = resolve_answer_method(_spec(kind, sprint, default=default), capability=can)
    assert method == expected and why in reason


def test_explicit_setting_wins_and_is_checked():
    spec = _spec(check_eval="check_eval: {answer_method: generate}")
    assert resolve_answer_method(spec, capability=can) == ("generate", "check_eval.answer_method")
    with pytest.raises(SpecError, match="check_eval.answer_method"):
        resolve_answer_method(_spec("generation", check_eval="check_eval: {answer_method: label_likelihood}"))


def test_the_real_local_backend_declares_label_scoring():
    assert resolve_answer_method(_spec())[0] == "label_likelihood"  # builds local:smollm2 lazily, loads nothing


def test_safe_strategy_list_matches_the_sprint_registry():
    from tunegate.sprint.strategies import STRATEGIES

    safe = {n for n, cls in STRATEGIES.items() if not cls.needs_generation and n != "generate"}
    assert safe == set(LIKELIHOOD_SAFE_STRATEGIES)


def test_split_types_by_kind_and_method():
    all_types = ["wrong_label", "near_miss", "truncation", "broken_format", "empty", "copy_of_input", "other_item"]
    assert split_types(all_types, "classification", "generate") == (all_types, {})
    types, why = split_types(all_types, "classification", "label_likelihood")
    assert types == ["wrong_label", "near_miss", "other_item"]
    assert set(why) == {"truncation", "broken_format", "empty", "copy_of_input"}
    types, why = split_types(all_types, "generation", "generate")
    assert "wrong_label" in why and why["wrong_label"] == "does not apply to generation tasks"
