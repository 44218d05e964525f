"""Usage accounting: tokens, latency, cost and role of every call.

The role (``subject`` = the model under evaluation, ``judge`` = an LLM grader, ``proposer`` = a model writing
prompt variants) keeps the evaluation tax visible: judge spend is part of what it costs to keep a model honest.
A cache hit costs nothing now; its original cost is kept as ``cost_saved`` so the savings are visible too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["subject", "judge", "proposer"]
ROLES: tuple[str, ...] = ("subject", "judge", "proposer")


@dataclass(frozen=True)
class Price:
    input_per_1m: float = 0.0
    output_per_1m: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_1m + output_tokens * self.output_per_1m) / 1e6


@dataclass
class RoleUsage:
    calls: int = 0  # requests answered (from the backend or the cache)
    backend_calls: int = 0  # requests that reached the backend
    cache_hits: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0  # summed latency of backend calls
    cost: float = 0.0
    cost_saved: float = 0.0


@dataclass
class UsageTracker:
    """Accumulates usage per (role, model)."""

    by_key: dict[tuple[str, str], RoleUsage] = field(default_factory=lambda: defaultdict(RoleUsage))

    def record(
        self,
        *,
        role: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        latency_s: float,
        price: Price,
        cached: bool,
        error: bool = False,
    ) -> float:
        """Add one call; returns the cost charged to this run (zero for cache hits)."""
        u = self.by_key[(role, model)]
        u.calls += 1
        cost = price.cost(input_tokens, output_tokens)
        if error:
            u.errors += 1
            u.backend_calls += 1
            return 0.0
        u.input_tokens += input_tokens
        u.output_tokens += output_tokens
        if cached:
            u.cache_hits += 1
            u.cost_saved += cost
            return 0.0
        u.backend_calls += 1
        u.latency_s += latency_s
        u.cost += cost
        return cost

    def total(self) -> RoleUsage:
        t = RoleUsage()
        for u in self.by_key.values():
            for k, v in asdict(u).items():
                setattr(t, k, getattr(t, k) + v)
        return t

    def to_dict(self) -> dict[str, Any]:
        """``{"total": {...}, "by_role": {role: {...}}, "by_model": [...]}`` for artifacts and --json."""
        by_role: dict[str, RoleUsage] = defaultdict(RoleUsage)
        for (role, _model), u in self.by_key.items():
            acc = by_role[role]
            for k, v in asdict(u).items():
                setattr(acc, k, getattr(acc, k) + v)
        return {
            "total": _rounded(asdict(self.total())),
            "by_role": {r: _rounded(asdict(u)) for r, u in sorted(by_role.items())},
            "by_model": [
                {"role": r, "model": m, **_rounded(asdict(u))} for (r, m), u in sorted(self.by_key.items())
            ],
        }


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}
