"""What ``tunegate portfolio`` shows: models with their flags and evaluation tax, and the total as N grows.

The store keeps facts; this module turns them into a view (stale evaluations, upcoming base-model retirements,
monthly tax per model and for the whole portfolio) and records criterion changes. One function per command, so
the CLI stays a parse-call-print layer.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from tunegate.artifacts import RunInfo
from tunegate.config.costs import PortfolioInputs
from tunegate.errors import InputError
from tunegate.monitor.store import PortfolioStore
from tunegate.monitor.tax import costs_from_mapping, model_tax, portfolio_tax

PORTFOLIO_SCHEMA_VERSION = 1
STALE_DAYS = 30  # weekly/bi-weekly runs are the cost model's defaults: a month without one means it stopped
RETIRE_DAYS = 90  # a forced migration (re-evaluation, maybe retraining) needs about a quarter of notice


def add_model_from_args(
    store: PortfolioStore, name: str, *, path: str, base_model: str, retirement_date: str | None = None,
    spec_path: str | Path | None = None, owner: str | None = None,
) -> dict[str, Any]:
    """Register a model; with a spec, its ``costs:`` section and its criterion version are taken from it."""
    costs, criterion, suite = None, None, None
    if spec_path is not None:
        from tunegate.monitor.criterion_version import criterion_version
        from tunegate.spec import load_spec

        spec = load_spec(spec_path)
        suite = str(spec.source or Path(spec_path).resolve())
        costs = spec.costs.model_dump(mode="json", exclude_unset=True) or None
        criterion = criterion_version(spec) if spec.data is not None else None
    model = store.add_model(name, path=path, base_model=base_model, retirement_date=retirement_date,
                            eval_suite=suite, owner=owner, costs=costs, criterion=criterion)
    return _with_tax(model)


def _with_tax(model: dict[str, Any]) -> dict[str, Any]:
    costs = costs_from_mapping(model["costs"])
    return {**model, "monthly_tax": model_tax(costs, model["path"])}


def _days_since(iso: str, now: datetime) -> float:
    t = datetime.fromisoformat(iso)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return (now - t).total_seconds() / 86400


def flags_for(model: dict[str, Any], *, now: datetime, stale_days: float, retire_days: int) -> list[str]:
    """Why a model needs attention: never evaluated / stale, base model retiring or retired, open alerts."""
    flags = []
    last = model.get("last_evaluation") or {}
    at = last.get("at") or model.get("last_eval_at")
    if at is None:
        flags.append("never evaluated")
    elif (age := _days_since(at, now)) > stale_days:
        flags.append(f"stale: last evaluated {age:.0f} days ago (> {stale_days:g})")
    if model.get("retirement_date"):
        left = (date.fromisoformat(model["retirement_date"]) - now.date()).days
        if left < 0:
            flags.append(f"base model retired {-left} days ago")
        elif left <= retire_days:
            flags.append(f"base model retires in {left} days")
    if model.get("open_alerts"):
        flags.append(f"{len(model['open_alerts'])} open alert(s)")
    return flags


def portfolio_overview(
    store: PortfolioStore, *, stale_days: float = STALE_DAYS, retire_days: int = RETIRE_DAYS,
    portfolio: PortfolioInputs | None = None, now: datetime | None = None, seed: int = 0,
) -> dict[str, Any]:
    """The ``portfolio list`` document: every model with flags and monthly tax, and the total tax by N."""
    if stale_days <= 0 or retire_days < 0:
        raise InputError("--stale-days must be > 0 and --retire-days >= 0")
    now = now or datetime.now(timezone.utc)
    models = store.list_models()
    rows = []
    for m in models:
        m = _with_tax(m)
        m["flags"] = flags_for(m, now=now, stale_days=stale_days, retire_days=retire_days)
        rows.append(m)
    tax = portfolio_tax([(m["name"], m["path"], costs_from_mapping(m["costs"])) for m in models],
                        portfolio=portfolio, seed=seed)
    return {
        "schema_version": PORTFOLIO_SCHEMA_VERSION,
        "artifact": "portfolio",
        "store": str(store.path),
        "as_of": now.isoformat(timespec="seconds"),
        "stale_days": stale_days,
        "retire_days": retire_days,
        "n_models": len(rows),
        "n_flagged": sum(bool(m["flags"]) for m in rows),
        "models": rows,
        "tax": tax,
        "run": RunInfo(seed=seed).model_dump(mode="json"),
    }


def model_detail(store: PortfolioStore, name: str, *, history_limit: int | None = 20,
                 stale_days: float = STALE_DAYS, retire_days: int = RETIRE_DAYS) -> dict[str, Any]:
    """The ``portfolio show`` document: one model, its flags, tax and recent history (oldest first)."""
    m = _with_tax(store.get(name))
    m["flags"] = flags_for(m, now=datetime.now(timezone.utc), stale_days=stale_days, retire_days=retire_days)
    return {"schema_version": PORTFOLIO_SCHEMA_VERSION, "artifact": "portfolio_model", "model": m,
            "history": store.history(name, limit=history_limit)}


def check_criterion(store: PortfolioStore, name: str, spec: Any, *, against: str | Path | None = None,
                    ) -> dict[str, Any]:
    """Compare the spec's current golden set and rubric with the model's stored version; record a change.

    The stored version holds hashes only, so item-level changes (added, removed, re-labelled ids; rubric keys) come
    from ``criterion_version.diff_versions``. With ``against`` (the old spec, or the old golden-set file), the
    criterion gate's ``evals.criterion_diff.diff_criteria`` adds its content diff too: old/new gold answers and the
    metric shift the criterion change alone causes, with a CI. Returns the diff (``changed`` False when nothing
    moved; then nothing is recorded). A model registered without a version gets this one, recorded as a change.
    """
    from tunegate.monitor.criterion_version import criterion_version, diff_versions

    new = criterion_version(spec)
    old = store.criterion_version(name) or {}
    diff = diff_versions(old, new)
    if against is not None:
        from tunegate.evals.criterion_diff import diff_criteria, load_against

        content = diff_criteria(load_against(spec, against), spec)
        diff["criterion_diff"] = content
        diff["changed"] = diff["changed"] or bool(content.get("changed"))
    if diff["changed"]:
        store.record_criterion_change(name, diff, new_version=new)
    return diff
