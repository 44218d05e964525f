"""Ray tasks as an executor: the same calls as ``local``, spread over a Ray cluster's workers.

Tasks are plain Ray tasks (not actors) so that a worker that dies mid-task is handled by Ray's own retry: the
task runs again elsewhere and the driver receives exactly one result for it. Nothing is persisted by workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tunegate.errors import CapabilityError

INSTALL_HINT = ("--executor ray needs Ray, an optional extra: pip install 'tunegate[ray]' "
                "(or pip install 'ray[data]==2.60.0')")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CapabilityError(INSTALL_HINT) from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, *, address: str | None = None, workers: int | None = None, max_retries: int = 3) -> None:
        ray = import_ray()
        self._ray = ray
        self._started_here = False
        if not ray.is_initialized():
            kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                                      configure_logging=False)
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=workers, **kw)
            self._started_here = True
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.max_retries = max_retries
        self._remote: dict[Callable, Any] = {}

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple], shared: tuple = ()
                      ) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        shared_refs = tuple(ray.put(x) for x in shared)  # stored once; Ray resolves top-level refs in workers
        remote = self._remote.get(fn)
        if remote is None:
            # retry_exceptions=False: a bug or bad input fails fast; a worker crash (system error) is retried
            remote = self._remote[fn] = ray.remote(fn).options(num_cpus=1, max_retries=self.max_retries)
        refs = {remote.remote(*shared_refs, *a): i for i, a in enumerate(args)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield refs[ref], ray.get(ref)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
        self._started_here = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
