"""Prompt templates: ``{{placeholder}}`` substitution, nothing more.

Templates are plain text with ``{{input}}``, ``{{instruction}}``, ``{{labels}}``, ``{{label_descriptions}}`` and
``{{output_schema}}``. Deliberately no template language: prompts are data the user edits, and braces in JSON
examples must survive untouched. An unknown placeholder is an error naming the template, not an empty string.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tunegate.data.examples import Example
from tunegate.errors import SpecError
from tunegate.spec import Spec

_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
KNOWN = ("input", "instruction", "labels", "label_descriptions", "output_schema")

DEFAULT_TEMPLATES = {
    "classification": (
        "{{instruction}}\n\nCategories:\n{{label_descriptions}}\n\n"
        "Message: {{input}}\n\nAnswer with the category name only."
    ),
    "extraction": (
        "{{instruction}}\n\nReturn only a JSON object that follows this JSON Schema:\n{{output_schema}}\n\n"
        "Input: {{input}}"
    ),
    "generation": "{{instruction}}\n\n{{input}}",
}
DEFAULT_INSTRUCTIONS = {
    "classification": "Classify the message into exactly one of the categories below.",
    "extraction": "Extract the requested fields from the input.",
    "generation": "Respond to the input.",
}


@dataclass(frozen=True)
class PromptTemplate:
    text: str
    system: str | None = None
    source: str = "<default>"

    @property
    def sha(self) -> str:
        return hashlib.sha256(f"{self.system}\x00{self.text}".encode()).hexdigest()[:12]

    def check(self) -> None:
        for m in _PLACEHOLDER.finditer(self.text + (self.system or "")):
            if m.group(1) not in KNOWN:
                raise SpecError(
                    f"unknown placeholder {{{{{m.group(1)}}}}} (known: {', '.join(KNOWN)})", file=self.source
                )
        if not _PLACEHOLDER.search(self.text) or "input" not in {
            m.group(1) for m in _PLACEHOLDER.finditer(self.text)
        }:
            raise SpecError("the prompt template never uses {{input}}", file=self.source)

    def render(self, spec: Spec, example: Example) -> tuple[dict[str, str], ...]:
        values = _task_values(spec.task)
        text = example.input_text()
        msgs: list[dict[str, str]] = []
        if self.system:
            msgs.append({"role": "system", "content": _fill(self.system, values, text)})
        msgs.append({"role": "user", "content": _fill(self.text, values, text)})
        return tuple(msgs)


@lru_cache(maxsize=64)
def _pieces(template: str) -> tuple[str, ...]:
    """The template split once at its placeholders: literal, name, literal, ... (re.split keeps the names)."""
    return tuple(_PLACEHOLDER.split(template))


def _fill(template: str, values: dict[str, str], input_text: str) -> str:
    """Each placeholder replaced by its value, once (a value holding ``{{...}}`` is not expanded again)."""
    pieces = _pieces(template)
    out = list(pieces)
    for k in range(1, len(pieces), 2):
        out[k] = input_text if pieces[k] == "input" else values[pieces[k]]
    return "".join(out)


# [(task, instruction, kind, labels list, its length, output_schema, the values)]: one tuple, swapped whole
_task_cache: list[tuple[Any, ...]] = [(None,) * 7]


def _task_values(task: Any) -> dict[str, str]:
    """The task's own placeholder values, built once per task (they were rebuilt for every item)."""
    c = _task_cache[0]  # one read: another thread may swap in another task's values meanwhile
    if (c[0] is task and c[1] == task.instruction and c[2] == task.kind and c[3] is task.labels
            and c[4] == len(task.labels) and c[5] is task.output_schema):
        return c[6]
    descriptions = "\n".join(
        f"- {lab.name}: {lab.description}" if lab.description else f"- {lab.name}" for lab in task.labels
    )
    values = {
        "instruction": task.instruction or DEFAULT_INSTRUCTIONS[task.kind],
        "labels": ", ".join(task.label_names),
        "label_descriptions": descriptions,
        "output_schema": json.dumps(task.output_schema, indent=2) if task.output_schema else "",
    }
    _task_cache[0] = (task, task.instruction, task.kind, task.labels, len(task.labels), task.output_schema, values)
    return values


def load_template(spec: Spec, prompt_file: str | Path | None = None) -> PromptTemplate:
    """The prompt to use: ``--prompt FILE``, else the spec's ``eval.prompt``, else the default for the task kind."""
    system = spec.eval.prompt.system
    if prompt_file is not None:
        p = Path(prompt_file)
        if not p.exists():
            raise SpecError("prompt file not found", file=p)
        tpl = PromptTemplate(p.read_text(encoding="utf-8"), system, str(p))
    elif spec.eval.prompt.template:
        p = spec.resolve(spec.eval.prompt.template)
        if not p.exists():
            raise SpecError("prompt template file not found", file=p, field="eval.prompt.template")
        tpl = PromptTemplate(p.read_text(encoding="utf-8"), system, str(p))
    elif spec.eval.prompt.inline:
        tpl = PromptTemplate(spec.eval.prompt.inline, system, f"{spec.source}: eval.prompt.inline")
    else:
        tpl = PromptTemplate(DEFAULT_TEMPLATES[spec.task.kind], system, f"<default {spec.task.kind} template>")
    tpl.check()
    return tpl
