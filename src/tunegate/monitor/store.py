"""The portfolio store: every deployed model, its last evaluation and open alerts, and the history of monitor runs.

SQLite (WAL, so a cron job's monitor run and a person's ``portfolio list`` do not block each other), one file under
``$TUNEGATE_HOME`` by default. The schema carries a version in ``meta``; a store written by a newer tunegate is
refused rather than misread. History rows are appended, never rewritten: the trend is the point.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from tunegate.errors import InputError
from tunegate.paths import tunegate_home

SCHEMA_VERSION = 1
MODEL_PATHS = ("prompt", "fine-tune")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL CHECK (path IN ('prompt', 'fine-tune')),
    base_model TEXT NOT NULL,
    retirement_date TEXT,
    eval_suite TEXT,
    owner TEXT,
    costs_json TEXT,
    costs_source TEXT NOT NULL,
    added_at TEXT NOT NULL,
    last_eval_at TEXT,
    last_eval_metric TEXT,
    last_eval_value REAL,
    last_eval_ci_low REAL,
    last_eval_ci_high REAL,
    status TEXT,
    open_alerts_json TEXT NOT NULL DEFAULT '[]',
    criterion_json TEXT
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_name TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT,
    alerted_json TEXT NOT NULL DEFAULT '[]',
    metric TEXT,
    value REAL,
    ci_low REAL,
    ci_high REAL,
    detail_json TEXT
);
CREATE INDEX IF NOT EXISTS history_model ON history (model_name, id);
"""


def default_store_path() -> Path:
    return tunegate_home() / "portfolio.sqlite"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _iso_date(value: str | date | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InputError(f"expected a date as YYYY-MM-DD, got {value!r}", field=field) from None


def evaluation_of(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The metric a monitor/regression document measured: its ``evaluation`` block
    ``{metric, value, ci_low, ci_high}``, else a ``performance`` block of the same shape, else None."""
    for key in ("evaluation", "performance"):
        block = doc.get(key)
        if isinstance(block, Mapping) and block.get("value") is not None:
            return {k: block.get(k) for k in ("metric", "value", "ci_low", "ci_high")}
    return None


class PortfolioStore:
    """The deployed models and their monitoring history. Use as a context manager, or call ``close()``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    def _migrate(self) -> None:
        with self._tx():
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(stmt)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise InputError(f"portfolio store schema version {row[0]} is newer than this tunegate's "
                                 f"({SCHEMA_VERSION}); upgrade tunegate", file=self.path)

    def _tx(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, *rest):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PortfolioStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ models

    def add_model(
        self,
        name: str,
        *,
        path: str,
        base_model: str,
        retirement_date: str | date | None = None,
        eval_suite: str | Path | None = None,
        owner: str | None = None,
        costs: Mapping[str, Any] | None = None,
        criterion: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register a deployed model. ``costs``: the ``costs:`` mapping of its spec (None: the documented
        defaults); validated now so a bad key fails here, not at ``list``. ``criterion``: its criterion version."""
        from tunegate.monitor.tax import costs_from_mapping

        if not name or not name.strip():
            raise InputError("a model needs a non-empty name", field="name")
        if path not in MODEL_PATHS:
            raise InputError(f"must be one of {', '.join(MODEL_PATHS)}, got {path!r}", field="path")
        if not base_model:
            raise InputError("the base model is required (e.g. openai:gpt-4o-mini-2024-07-18)", field="base_model")
        costs_from_mapping(costs)
        row = (name, path, base_model, _iso_date(retirement_date, "retirement_date"),
               str(eval_suite) if eval_suite else None, owner, json.dumps(dict(costs)) if costs else None,
               "spec" if costs else "default", _now(), json.dumps(criterion) if criterion else None)
        with self._tx():
            if self._db.execute("SELECT 1 FROM models WHERE name = ?", (name,)).fetchone():
                raise InputError(f"a model named '{name}' is already in the portfolio (remove it first)",
                                 file=self.path, field="name")
            self._db.execute(
                "INSERT INTO models (name, path, base_model, retirement_date, eval_suite, owner, costs_json, "
                "costs_source, added_at, criterion_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return self.get(name)

    def _row(self, name: str) -> sqlite3.Row:
        row = self._db.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in self._db.execute("SELECT name FROM models ORDER BY name LIMIT 20")]
            hint = f" (known: {', '.join(known)})" if known else " (the portfolio is empty)"
            raise InputError(f"no model named '{name}' in the portfolio{hint}", file=self.path, field="name")
        return row

    @staticmethod
    def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["costs"] = json.loads(d.pop("costs_json")) if d.get("costs_json") else None
        d["open_alerts"] = json.loads(d.pop("open_alerts_json") or "[]")
        crit = json.loads(d.pop("criterion_json")) if d.get("criterion_json") else None
        d["criterion_fingerprint"] = crit.get("fingerprint") if crit else None
        d["last_evaluation"] = None if d["last_eval_at"] is None else {
            "at": d["last_eval_at"], "metric": d["last_eval_metric"], "value": d["last_eval_value"],
            "ci_low": d["last_eval_ci_low"], "ci_high": d["last_eval_ci_high"]}
        for k in ("last_eval_metric", "last_eval_value", "last_eval_ci_low", "last_eval_ci_high"):
            d.pop(k)
        return d

    def get(self, name: str) -> dict[str, Any]:
        return self._as_dict(self._row(name))

    def list_models(self) -> list[dict[str, Any]]:
        """All models in the order they were added (the order the portfolio grew in)."""
        rows = self._db.execute("SELECT * FROM models ORDER BY added_at, rowid").fetchall()
        return [self._as_dict(r) for r in rows]

    def remove(self, name: str) -> dict[str, Any]:
        """Remove a model and its history; returns what was removed."""
        with self._tx():
            gone = self._as_dict(self._row(name))
            self._db.execute("DELETE FROM models WHERE name = ?", (name,))
        return gone

    def criterion_version(self, name: str) -> dict[str, Any] | None:
        """The stored criterion version (fingerprint + per-item hashes) of a model, if any."""
        raw = self._row(name)["criterion_json"]
        return json.loads(raw) if raw else None

    # ------------------------------------------------------------------------------------------------ history

    def record_monitor_run(self, model_name: str, monitor_doc: Mapping[str, Any]) -> dict[str, Any]:
        """Append a monitor (or regression) run to the history and update the model's status and open alerts.

        Reads ``status`` (ok | alert), ``tests`` (``name`` and ``status`` each), optionally ``evaluation`` /
        ``performance`` ``{metric, value, ci_low, ci_high}`` and ``run.finished``. Open alerts are the tests that
        alerted in this run; one already open keeps its ``since``; a run where it is ok closes it.
        """
        status = monitor_doc.get("status")
        if status not in ("ok", "alert"):
            raise InputError(f"monitor document status must be 'ok' or 'alert', got {status!r}", field="status")
        tests = monitor_doc.get("tests") or []
        if not isinstance(tests, list):
            raise InputError("monitor document 'tests' must be a list", field="tests")
        alerted = [t for t in tests if isinstance(t, Mapping) and t.get("status") == "alert"]
        run = monitor_doc.get("run") if isinstance(monitor_doc.get("run"), Mapping) else {}
        at = run.get("finished") or run.get("started") or _now()
        ev = evaluation_of(monitor_doc)
        kind = str(monitor_doc.get("artifact") or "monitor")
        detail = {"summary": monitor_doc.get("summary"),
                  "tests": [{k: t.get(k) for k in ("name", "statistic", "p_value", "threshold", "status")}
                            for t in tests if isinstance(t, Mapping)]}
        with self._tx():
            row = self._row(model_name)
            before = {a["name"]: a for a in json.loads(row["open_alerts_json"] or "[]")}
            open_alerts = [{"name": t.get("name"), "since": before.get(t.get("name"), {}).get("since", at),
                            "statistic": t.get("statistic"), "p_value": t.get("p_value"),
                            "threshold": t.get("threshold")} for t in alerted]
            self._db.execute(
                "INSERT INTO history (model_name, kind, at, status, alerted_json, metric, value, ci_low, ci_high, "
                "detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (model_name, kind, at, status, json.dumps([t.get("name") for t in alerted]),
                 ev and ev["metric"], ev and ev["value"], ev and ev["ci_low"], ev and ev["ci_high"],
                 json.dumps(detail, default=str)))
            sets = ["status = ?", "open_alerts_json = ?"]
            args: list[Any] = [status, json.dumps(open_alerts, default=str)]
            if ev is not None:
                sets += ["last_eval_at = ?", "last_eval_metric = ?", "last_eval_value = ?", "last_eval_ci_low = ?",
                         "last_eval_ci_high = ?"]
                args += [at, ev["metric"], ev["value"], ev["ci_low"], ev["ci_high"]]
            else:  # a drift-only run still counts as a check of the model: its time is the last evaluation time
                sets += ["last_eval_at = ?"]
                args += [at]
            self._db.execute(f"UPDATE models SET {', '.join(sets)} WHERE name = ?", (*args, model_name))
        return self.get(model_name)

    def record_criterion_change(self, model_name: str, diff: Mapping[str, Any],
                                new_version: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Append a change in what "good" means (a criterion diff) to the history; with ``new_version`` the
        model's stored criterion version moves to it, so the next comparison starts from there."""
        at = _now()
        with self._tx():
            self._row(model_name)
            self._db.execute(
                "INSERT INTO history (model_name, kind, at, status, detail_json) VALUES (?, 'criterion_change', ?, "
                "'changed', ?)", (model_name, at, json.dumps(dict(diff), default=str)))
            if new_version is not None:
                self._db.execute("UPDATE models SET criterion_json = ? WHERE name = ?",
                                 (json.dumps(dict(new_version)), model_name))
        return {"model": model_name, "at": at, "kind": "criterion_change", "diff": dict(diff)}

    def history(self, model_name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The model's history, oldest first; with ``limit``, only the most recent ``limit`` rows."""
        self._row(model_name)
        if limit is not None and limit < 1:
            raise InputError("limit must be at least 1", field="limit")
        q = "SELECT * FROM history WHERE model_name = ? ORDER BY id DESC" + (" LIMIT ?" if limit else "")
        rows = self._db.execute(q, (model_name, limit) if limit else (model_name,)).fetchall()
        out = []
        for r in reversed(rows):
            d = dict(r)
            d["alerted"] = json.loads(d.pop("alerted_json") or "[]")
            d["detail"] = json.loads(d.pop("detail_json")) if d.get("detail_json") else None
            d["model"] = d.pop("model_name")
            out.append(d)
        return out
