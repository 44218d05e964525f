"""The scorer registry and base types: ``ItemScore``, ``ScorerContext``, ``Scorer``, ``SCORERS``,
``register_scorer``.

A leaf module (it imports no other ``tunegate.evals`` module): the built-in scorers (``scorers``) and the
model-backed one (``judge``) both import it, so neither needs the other to define or register itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from tunegate.errors import SpecError
from tunegate.plugins import NoOptions, lookup, record, validate_options

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
    """Base class: subclasses set ``name``, declare ``Options`` and implement ``score``.

    ``Options`` is a pydantic model (``extra="forbid"``) of the keys a spec entry may set besides ``type``: a
    misspelt ``strict`` must be a located error, not the lenient scorer. ``self.opts`` is the validated model,
    ``self.options`` the keys as written.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    binary: bool = True  # values are 0/1 (enables McNemar in comparisons)
    stochastic: bool = False  # the same output can get different scores (a model judge): re-run to check
    accept_at: float | None = None  # a value at or above this accepts the output (None: the gate's default)

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        self.options = options
        self.ctx = ctx
        self.key = key  # the spec key this scorer came from, for error messages
        spec = ctx.spec
        self.opts = validate_options(self.Options, options, what=self.name or type(self).__name__, key=key,
                                     source=getattr(spec, "source", None), line_of=getattr(spec, "line_of", None))

    def error(self, message: str, option: str | None = None) -> SpecError:
        """A SpecError at this scorer's entry (or one of its options): file, line and dotted key."""
        field = f"{self.key}.{option}" if option else self.key
        spec = self.ctx.spec
        line_of = getattr(spec, "line_of", None)
        return SpecError(message, file=getattr(spec, "source", None), field=field,
                         line=(line_of(field) or line_of(self.key)) if line_of else None)

    def score(self, output: str, example: Example) -> ItemScore:  # pragma: no cover - interface
        raise NotImplementedError

    def score_many(self, outputs: list[str], examples: list[Example], *, epoch: int = 0) -> list[ItemScore]:
        """Score many outputs at once; model-backed scorers override this to batch their calls. ``epoch`` is
        the repeat index (a re-run of a stochastic scorer must not be answered from the first run's cache)."""
        return [self.score(o, e) for o, e in zip(outputs, examples)]

    def close(self) -> None:
        """Release what the scorer opened (a judge's backend); the runner calls it when the run ends."""

    def option(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        """An option's validated value (``default`` when it is not set)."""
        if required and name not in self.options:
            raise self.error(f"scorer '{self.name}' needs option '{name}'", name)
        if name not in self.options:
            return default
        return getattr(self.opts, name, self.options.get(name))


SCORERS: dict[str, type[Scorer]] = {}


def register_scorer(name: str) -> Callable[[type[Scorer]], type[Scorer]]:
    """Class decorator: ``@register_scorer("name") class MyScorer(Scorer): ...``."""

    def deco(cls: type[Scorer]) -> type[Scorer]:
        cls.name = name
        SCORERS[name] = cls
        record("scorer", name, cls.Options)
        return cls

    return deco


def scorer_class(name: str) -> type[Scorer] | None:
    """The scorer registered as ``name``, loading installed plug-ins (entry points) if it is not known yet."""
    return lookup(SCORERS, name)
