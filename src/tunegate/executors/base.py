"""The executor protocol, the in-process default, and the registry behind ``--executor NAME``.

Executors plug in like every other kind: ``@register_executor("name", options=Model)`` on a factory that takes
the validated options; ``local`` and ``ray`` are registered the same way, so a user executor (docs/plugins.md)
needs no edit here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from tunegate.errors import SpecError
from tunegate.plugins import NoOptions, lookup, record, validate_options

EXECUTOR_NAMES = ("local", "ray")  # the built-ins; executor_names() includes plug-ins
ExecutorFactory = Callable[[Any], Any]  # validated options -> executor
_EXECUTORS: dict[str, tuple[ExecutorFactory, type[BaseModel]]] = {}


def register_executor(name: str, *, options: type[BaseModel] | None = None
                      ) -> Callable[[ExecutorFactory], ExecutorFactory]:
    """``@register_executor("name", options=MyOptions) def make(opts): return MyExecutor(...)``."""

    def deco(factory: ExecutorFactory) -> ExecutorFactory:
        _EXECUTORS[name] = (factory, options or NoOptions)
        record("executor", name, options)
        return factory

    return deco


def executor_names() -> list[str]:
    return sorted(_EXECUTORS)


@runtime_checkable
class Executor(Protocol):
    """Runs independent calls of one function; yields ``(index, result)`` in completion order."""

    name: str
    workers: int  # how many calls can run at once (what shard sizes are planned for)

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple], shared: tuple = ()
                      ) -> Iterator[tuple[int, Any]]:
        """``fn(*shared, *args[i])`` for every i; results as they complete. ``shared`` travels to the workers once
        (large arrays every call needs). An exception in a call propagates."""
        ...

    def close(self) -> None:
        ...


class LocalExecutor:
    """This machine. ``workers=1`` runs calls in this process, in order (no pickling, no start-up cost); more
    workers use a process pool, for CPU-bound pure-Python work such as learning-curve fits."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple], shared: tuple = ()
                      ) -> Iterator[tuple[int, Any]]:
        if self.workers == 1 or len(args) <= 1:
            for i, a in enumerate(args):
                yield i, fn(*shared, *a)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        futures = {self._pool.submit(fn, *shared, *a): i for i, a in enumerate(args)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocalOptions(_Opts):
    workers: int = Field(1, ge=1, description="1: calls run in this process, in order; more: a process pool.")


class RayOptions(_Opts):
    address: str | None = Field(None, description="Ray cluster to join (auto, ray://head:10001); default: start "
                                "a local Ray instance.")
    workers: int | None = Field(None, ge=1, description="CPUs of the local Ray instance (default: all).")
    max_retries: int = Field(3, ge=0, description="Retries of a task whose worker died.")


@register_executor("local", options=LocalOptions)
def _local(opts: LocalOptions) -> LocalExecutor:
    return LocalExecutor(opts.workers)


@register_executor("ray", options=RayOptions)
def _ray(opts: RayOptions) -> Any:
    from tunegate.executors.ray_executor import RayExecutor

    return RayExecutor(address=opts.address, workers=opts.workers, max_retries=opts.max_retries)


def create_executor(name: str = "local", *, address: str | None = None, workers: int | None = None,
                    key: str = "executor", **options: Any) -> Any:
    """The executor for ``--executor NAME``, its options checked against the executor's options model (errors
    name ``key.option``). ``address`` / ``workers`` are passed only when given (``local`` takes no address)."""
    entry = lookup(_EXECUTORS, name)
    if entry is None:
        raise SpecError(f"unknown executor '{name}' (choose one of: {', '.join(executor_names())})", field=key)
    factory, model = entry
    given = {k: v for k, v in (("address", address), ("workers", workers)) if v is not None}
    return factory(validate_options(model, {**given, **options}, what=f"executor '{name}'", key=key))
