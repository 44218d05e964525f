"""The executor protocol, the in-process default, and the factory behind ``--executor local|ray``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, runtime_checkable

EXECUTOR_NAMES = ("local", "ray")


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


def create_executor(name: str = "local", *, address: str | None = None, workers: int | None = None) -> Any:
    """The executor for ``--executor NAME``. ``address`` is a Ray cluster address (``auto``, ``ray://host:10001``);
    without it Ray starts a local instance with ``workers`` CPUs (default: all)."""
    if name == "local":
        return LocalExecutor(workers or 1)
    if name == "ray":
        from tunegate.executors.ray_executor import RayExecutor

        return RayExecutor(address=address, workers=workers)
    from tunegate.errors import SpecError

    raise SpecError(f"unknown executor '{name}' (choose one of: {', '.join(EXECUTOR_NAMES)})")
