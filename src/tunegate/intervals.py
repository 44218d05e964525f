"""``Interval``: a point estimate with its confidence interval — the one shape every statistic reports.

A leaf module (standard library only), so that ``data`` (agreement) and ``evals`` (metrics, tests) can both
report intervals without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval.

    ``method`` says how the interval was made (``bca``, ``percentile``, ``wilson``); ``n`` is the number of items
    it rests on; ``note`` explains anything a reader should know (NaN interval, zero width, a fallback).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int
    note: str | None = None

    @property
    def width(self) -> float:
        return self.high - self.low

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        s = f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}] ({self.confidence:.0%} {self.method}, n={self.n})"
        return s + (f" - {self.note}" if self.note else "")
