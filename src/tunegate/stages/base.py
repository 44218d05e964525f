"""The Stage protocol and the registry that ``run_pipeline`` loops over.

A stage declares what it reads from the run directory (``needs``: file names or globs), whether it needs the
spec's data, and the artifact it writes (``produces``); the pipeline hashes exactly the declared needs to decide
whether a stage can be skipped. Adding a stage is one module defining a ``Stage`` plus one ``register_stage`` call;
nothing central is edited. This module is a leaf: it imports no stage implementation and no tunegate module at
run time, so a plug-in can import it before (or without) the built-ins.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunegate.progress import Progress
    from tunegate.spec import Spec

GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Profile:
    """How much work `run` does: `quick` trims the evaluation to a subset so the demo fits in minutes on a CPU."""

    name: str
    eval_limit: int | None
    cost_draws: int
    probe_kinds: tuple[str, ...]
    skip: tuple[str, ...] = ()  # stages this profile leaves out


# quick leaves out the single-prompt eval: the sprint evaluates the spec's prompt as its zero-shot baseline anyway
PROFILES = {"quick": Profile("quick", 60, 20000, ("embedding_head",), skip=("eval",)),
            "full": Profile("full", None, 50000, ("embedding_head", "lora"))}


@dataclass
class StageContext:
    """What every stage's ``run`` gets: one argument instead of eight signatures."""

    spec: Spec
    run_dir: Path
    profile: Profile
    model: str
    limit: int | None = None
    progress: Progress | None = None  # notes and every stage's counts ("items", "calls", "rounds", ...)


class Stage:
    """Base of a pipeline stage. Subclasses set the class attributes and implement ``run``.

    ``needs``: run-directory paths the stage reads (``"sprint.json"``) or globs (``"**/eval.json"``); a glob never
    matches the stage's own outputs (``produces`` and ``writes``), or the stage would never be found unchanged.
    ``needs_data``: skipped when the spec declares its evidence instead of giving data.
    """

    name: str = ""
    produces: str = ""
    needs: tuple[str, ...] = ()
    needs_data: bool = False
    writes: tuple[str, ...] = ()  # other files or directories it writes (globs), beside ``produces``

    def skip_reason(self, ctx: StageContext) -> str | None:
        """Why this stage does not apply to this run (said as a progress line), or None to run it."""
        return None

    def run(self, ctx: StageContext) -> Any:
        """Do the work, write ``produces`` into ``ctx.run_dir`` and return the artifact (dict or model)."""
        raise NotImplementedError(f"stage {self.name!r} does not implement run()")

    def summary(self, artifact: Any) -> dict[str, Any]:
        """The numbers the manifest (pipeline.json) keeps and ``headline`` words; JSON types only."""
        gate = artifact.get("gate") if isinstance(artifact, dict) else getattr(artifact, "gate", None)
        return {"gate": gate} if gate is not None else {}

    def headline(self, info: dict[str, Any]) -> str:
        """One line a person reads as soon as the stage finishes."""
        return f"{self.name}: {info['gate']}" if info.get("gate") is not None else f"{self.name}: done"

    def needed_paths(self, run_dir: Path) -> tuple[list[Path], list[Path]]:
        """(declared files, in declared order; files the globs match, sorted) under ``run_dir``."""
        files = [run_dir / n for n in self.needs if not GLOB_CHARS & set(n)]
        own = (self.produces, *self.writes)
        matched: set[Path] = set()
        for pattern in (n for n in self.needs if GLOB_CHARS & set(n)):
            for p in run_dir.glob(pattern):
                rel = p.relative_to(run_dir).as_posix()
                if not any(fnmatch.fnmatch(rel, o) or fnmatch.fnmatch(rel, o + "/*") for o in own if o):
                    matched.add(p)
        return files, sorted(matched)


class StageRegistry:
    """Stages in pipeline order. ``after`` anchors a stage right behind another (behind stages anchored there
    earlier); the order is resolved when read, so a plug-in may register before the built-ins are imported."""

    def __init__(self) -> None:
        self._stages: dict[str, tuple[Stage, str | None]] = {}

    def register(self, stage: Stage, *, after: str | None = None, replace: bool = False) -> Stage:
        name = getattr(stage, "name", None)
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValueError(f"stage {stage!r}: name must be a non-empty word, got {name!r}")
        for attr in ("produces", "needs", "needs_data", "run", "summary", "headline", "skip_reason"):
            if not hasattr(stage, attr):
                raise ValueError(f"stage {name!r}: missing '{attr}' (subclass tunegate.stages.base.Stage)")
        if name in self._stages and not replace:
            raise ValueError(f"stage {name!r} is already registered (pass replace=True to swap it)")
        if after == name:
            raise ValueError(f"stage {name!r} cannot run after itself")
        self._stages[name] = (stage, after)
        return stage

    def unregister(self, name: str) -> None:
        self._stages.pop(name, None)

    def names(self) -> list[str]:
        roots = [n for n, (_, a) in self._stages.items() if a is None]
        children: dict[str, list[str]] = {}
        for n, (_, a) in self._stages.items():
            if a is not None:
                if a not in self._stages:
                    raise ValueError(f"stage {n!r} is registered after {a!r}, which is not a registered stage "
                                     f"(stages: {', '.join(self._stages)})")
                children.setdefault(a, []).append(n)
        order: list[str] = []

        def place(n: str) -> None:
            order.append(n)
            for c in children.get(n, []):
                place(c)

        for r in roots:
            place(r)
        if len(order) != len(self._stages):  # anchors in a loop never reach a root
            loop = [n for n in self._stages if n not in order]
            raise ValueError(f"stages {', '.join(loop)} are anchored to each other in a loop")
        return order

    def __iter__(self) -> Iterator[Stage]:
        return iter([self._stages[n][0] for n in self.names()])

    def __contains__(self, name: object) -> bool:
        return name in self._stages

    def __getitem__(self, name: str) -> Stage:
        try:
            return self._stages[name][0]
        except KeyError:
            raise KeyError(f"unknown stage {name!r} (stages: {', '.join(self.names())})") from None


STAGE_REGISTRY = StageRegistry()


def register_stage(stage: Stage, *, after: str | None = None, replace: bool = False) -> Stage:
    """Add a stage to the pipeline: at the end, or right after the stage named ``after``."""
    return STAGE_REGISTRY.register(stage, after=after, replace=replace)
