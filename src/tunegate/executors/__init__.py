"""Where work runs: this process (``local``, the default) or a Ray cluster (``ray``).

An executor maps a function over independent pieces of work (evaluation shards, learning-curve fits, drift
statistics) and hands results back to the driver as they finish. The driver alone persists results, records
usage and writes artifacts, so a retried task can never duplicate a record or double-count a cost.
"""

from tunegate.executors.base import EXECUTOR_NAMES, Executor, LocalExecutor, create_executor

__all__ = ["EXECUTOR_NAMES", "Executor", "LocalExecutor", "create_executor"]
