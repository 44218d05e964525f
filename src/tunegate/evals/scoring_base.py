"""The scorer registry and base types: ``ItemScore``, ``ScorerContext``, ``Scorer``, ``SCORERS``,
``register_scorer``.

A leaf module (it imports no other ``tunegate.evals`` module): the built-in scorers (``scorers``) and the
model-backed one (``judge``) both import it, so neither needs the other to define or register itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tunegate.errors import SpecError

if TYPE_CHECKING:
    from tunegate.data.examples import Example
    from tunegate.spec import Spec


@dataclass
class ItemScore:
    value: float | None  # None: unscored
    prediction: Any = None  # what was read out of the output (a label, a parsed object, a number)
    reason: str | None = None  # why the item is unscored

    @property
    def scored(self) -> bool:
        return self.value is not None


@dataclass
class ScorerContext:
    """What a scorer may need beyond its own options."""

    spec: Spec
    embedder: Callable[[], Any] | None = None  # lazily created embedding backend
    # For scorers that call a model (LLM judges): the subject model (a judge must not grade itself), a
    # backend factory (model id -> backend), the response cache and the usage tracker of the run. Each may be
    # None; a judge then makes its own.
    subject_model: str | None = None
    backend_factory: Callable[[str], Any] | None = None
    cache: Any = None
    usage: Any = None
    on_scored: Callable[[int], None] | None = None  # told how many outputs a model-backed scorer just finished


class Scorer:
    """Base class: subclasses set ``name`` and implement ``score``; options come from the spec entry."""

    name: ClassVar[str] = ""
    binary: bool = True  # values are 0/1 (enables McNemar in comparisons)
    stochastic: bool = False  # the same output can get different scores (a model judge): re-run to check
    accept_at: float | None = None  # a value at or above this accepts the output (None: the gate's default)
    # the options this scorer reads; any other key in its spec entry is a located error (a misspelt `strict`
    # must not silently give the lenient scorer). None: the scorer checks its own options.
    known_options: ClassVar[frozenset[str] | None] = None

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        self.options = options
        self.ctx = ctx
        self.key = key  # the spec key this scorer came from, for error messages
        if self.known_options is not None:
            unknown = sorted(set(options) - self.known_options)
            if unknown:
                import difflib

                close = difflib.get_close_matches(unknown[0], sorted(self.known_options), n=1)
                known = ", ".join(sorted(self.known_options)) or "none"
                raise SpecError(f"unknown {self.name} option '{unknown[0]}'"
                                + (f" (did you mean '{close[0]}'?)" if close else "") + f"; its options: {known}",
                                file=getattr(ctx.spec, "source", None), field=f"{key}.{unknown[0]}")

    def score(self, output: str, example: Example) -> ItemScore:  # pragma: no cover - interface
        raise NotImplementedError

    def score_many(self, outputs: list[str], examples: list[Example], *, epoch: int = 0) -> list[ItemScore]:
        """Score many outputs at once; model-backed scorers override this to batch their calls. ``epoch`` is
        the repeat index (a re-run of a stochastic scorer must not be answered from the first run's cache)."""
        return [self.score(o, e) for o, e in zip(outputs, examples)]

    def close(self) -> None:
        """Release what the scorer opened (a judge's backend); the runner calls it when the run ends."""

    def option(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        if required and name not in self.options:
            raise SpecError(f"scorer '{self.name}' needs option '{name}'", field=f"{self.key}.{name}")
        return self.options.get(name, default)


SCORERS: dict[str, type[Scorer]] = {}


def register_scorer(name: str) -> Callable[[type[Scorer]], type[Scorer]]:
    def deco(cls: type[Scorer]) -> type[Scorer]:
        cls.name = name
        SCORERS[name] = cls
        return cls

    return deco
