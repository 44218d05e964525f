"""tunegate: keep prompting, or fine-tune? Evidence for the decision, on your data, models and prices.

The public API is one verb per stage (``tunegate.api``), loaded on first use so ``import tunegate`` and
``tunegate --help`` stay fast::

    spec = tunegate.load_spec("tunegate.yaml")
    tunegate.audit(spec).gate
    tunegate.decide("runs/x", spec).verdict

Five verbs share their name with a subpackage (``sprint``, ``probe``, ``cost``, ``monitor``, ``report``): the
subpackage object is made callable, so ``tunegate.sprint(spec, run_dir)`` runs the stage while
``tunegate.sprint.stage`` and ``import tunegate.report.charts`` keep working.
"""

import sys
import types
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_spec", "evaluate", "check_eval", "audit", "sprint", "probe", "cost", "decide",
           "report", "monitor"]
_SUBPACKAGE_VERBS = frozenset({"sprint", "probe", "cost", "monitor", "report"})


class _VerbModule(types.ModuleType):
    """A subpackage that is also the stage verb of its name (calls go to ``tunegate.api``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from tunegate import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    """The ``tunegate`` package: the import system sets each imported subpackage as an attribute; the five
    verb subpackages become callable at that moment, however they were first imported."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SUBPACKAGE_VERBS and type(value) is types.ModuleType:
            value.__class__ = _VerbModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGE_VERBS:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # callable: see _Package
    if name in __all__[1:]:
        from tunegate import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
