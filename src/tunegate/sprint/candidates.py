"""Candidates: strategy stacks x instruction variants x models x parameter sets, each with its method resolved.

The method is resolved once, here: label-likelihood scoring when the task is classification, the backend can
score labels and no strategy in the stack needs generated text; generation otherwise. A stack that cannot work
(label-likelihood on a backend without it, self-consistency without generation) is a spec error before any call.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunegate.data.examples import Example
from tunegate.errors import SpecError
from tunegate.models.base import LABEL_LOGPROBS
from tunegate.config.sprint import SprintSpec
from tunegate.sprint.strategies import GENERATE, LIKELIHOOD, Generate, LabelLikelihood, Plan, Strategy, ZeroShot
from tunegate.sprint.strategies import make_strategy

if TYPE_CHECKING:
    from tunegate.sprint.base import SprintContext

DEFAULT_STACKS: dict[str, list[list[str]]] = {
    "classification": [["zero_shot"], ["few_shot_random"], ["few_shot_knn"]],
    "extraction": [["zero_shot", "json_output"], ["few_shot_random", "json_output"], ["few_shot_knn", "json_output"]],
    "generation": [["zero_shot"], ["few_shot_random"], ["few_shot_knn"]],
}


@dataclass(frozen=True)
class Instruction:
    name: str
    text: str
    label_descriptions: bool = True
    source: str = "task"  # task | spec | file | proposer


@dataclass
class Candidate:
    """One prompt configuration the sprint evaluates."""

    index: int
    name: str
    strategies: list[Strategy]
    instruction: Instruction
    model: str
    params: dict[str, Any]
    method: str
    baseline: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def plan(self, item: Example, ctx: SprintContext) -> Plan:
        plan = Plan(self.instruction.text, self.instruction.label_descriptions, method=self.method,
                    params=copy.deepcopy(self.params))
        for s in self.strategies:
            s.apply(plan, item, ctx)
        plan.method = self.method  # resolved once; a strategy cannot switch it per item
        return plan

    @property
    def calls_per_item(self) -> int:
        """Calls one item needs before any JSON repair (self-consistency samples)."""
        n = 1
        for s in self.strategies:
            if s.name == "self_consistency":
                n = int(s.opt("n"))
        return n

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "strategy": "+".join(s.tag for s in self.strategies), "model": self.model,
                "instruction": self.instruction.name, "instruction_source": self.instruction.source,
                "method": self.method, "params": self.params if self.method == GENERATE else {},
                "baseline": self.baseline}


def _resolve_method(stack: list[Strategy], config: SprintSpec, kind: str, caps: frozenset[str], key: str) -> str:
    explicit = [s for s in stack if isinstance(s, (LabelLikelihood, Generate))]
    needs_gen = [s.name for s in stack if s.needs_generation]
    method = LIKELIHOOD if explicit and isinstance(explicit[-1], LabelLikelihood) else GENERATE if explicit else None
    if method is None:
        method = config.method if config.method != "auto" else (
            LIKELIHOOD if kind == "classification" and LABEL_LOGPROBS in caps and not needs_gen else GENERATE)
    if method == LIKELIHOOD:
        if kind != "classification":
            raise SpecError("label_likelihood applies to classification tasks only", field=key)
        if LABEL_LOGPROBS not in caps:
            raise SpecError("label_likelihood needs a backend that scores labels (label_logprobs)", field=key)
        if needs_gen:
            raise SpecError(f"{', '.join(needs_gen)} need(s) generated text; they cannot run with label_likelihood",
                            field=key)
    return method


def build_candidates(config: SprintSpec, kind: str, instructions: list[Instruction], models: list[str],
                     base_params: dict[str, Any], capabilities: dict[str, frozenset[str]], *, spec: Any = None
                     ) -> list[Candidate]:
    """The cross product, deduplicated (label-likelihood ignores sampling parameters), with a zero-shot
    baseline guaranteed (added first when the spec's stacks have none). ``spec`` lets a bad strategy option be
    reported with the spec file and line."""
    stacks = config.strategies if config.strategies is not None else DEFAULT_STACKS[kind]
    if not stacks:
        raise SpecError("sprint.strategies is empty", field="sprint.strategies")
    cap = {"max_tokens": min(int(base_params.get("max_tokens") or config.max_tokens), config.max_tokens)}
    param_sets = [{**base_params, **cap, **p} for p in (config.params or [{}])]
    multi_i, multi_m, multi_p = len(instructions) > 1, len(models) > 1, len(param_sets) > 1
    out: list[Candidate] = []
    seen: set[tuple] = set()

    def add(entries: list, key: str, instr: Instruction, model: str, pi: int, params: dict[str, Any]) -> None:
        stack = [make_strategy(e, f"{key}.{j}", spec=spec) for j, e in enumerate(entries)]
        method = _resolve_method(stack, config, kind, capabilities[model], key)
        tags = "+".join(s.tag for s in stack if not isinstance(s, (LabelLikelihood, Generate)))
        ident = (tags, instr.name, model, pi if method == GENERATE else 0, method)
        if ident in seen:
            return
        seen.add(ident)
        name = tags + (" ll" if method == LIKELIHOOD else " gen")
        name += f" /{instr.name}" if multi_i else ""
        name += f" @{model}" if multi_m else ""
        name += f" #p{pi}" if multi_p and method == GENERATE else ""
        out.append(Candidate(len(out), name, stack, instr, model, params, method))

    for si, entry in enumerate(stacks):
        entries = entry if isinstance(entry, list) else [entry]
        for instr in instructions:
            for model in models:
                for pi, params in enumerate(param_sets):
                    add(entries, f"sprint.strategies.{si}", instr, model, pi, params)
    base = next((c for c in out if all(isinstance(s, (ZeroShot, LabelLikelihood, Generate)) for s in c.strategies)
                 and c.instruction == instructions[0] and c.model == models[0]), None)
    if base is None:
        add(["zero_shot"], "sprint.baseline", instructions[0], models[0], 0, param_sets[0])
        base = out.pop()
        out.insert(0, base)
        for i, c in enumerate(out):
            c.index = i
    base.baseline = True
    return out
