"""Typed JSON artifacts: the interface between stages.

Each stage writes one artifact into the run directory; later stages and the report read them back. They carry a
``schema_version`` so a reader can refuse an artifact it does not understand instead of misreading it, and a
``run`` block (seed, config hash, versions, command) so every number can be reproduced.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunegate import __version__

ARTIFACT_SCHEMA_VERSION = 1


class RunInfo(BaseModel):
    """What is needed to reproduce a result."""

    tunegate_version: str = __version__
    python: str = platform.python_version()
    packages: dict[str, str] = Field(default_factory=dict)
    seed: int = 0
    config_hash: str | None = None
    spec_path: str | None = None
    command: str = Field(default_factory=lambda: " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]))
    started: str = Field(default_factory=lambda: now_iso())
    finished: str | None = None


class MetricCI(BaseModel):
    """A metric with its confidence interval: never a bare point estimate."""

    name: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95
    ci_method: str = "bootstrap"
    n: int = 0  # items scored
    n_unscored: int = 0
    note: str | None = None


class SkippedRowModel(BaseModel):
    file: str
    line: int
    field: str | None = None
    reason: str


class UsageCounts(BaseModel):
    """One role's (or the whole run's) model usage as ``models.usage.UsageTracker`` counts it."""

    model_config = ConfigDict(extra="allow")
    calls: int | None = None  # requests answered (from the backend or the cache)
    backend_calls: int | None = None
    cache_hits: int | None = None
    errors: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    cost: float | None = None
    cost_saved: float | None = None  # what the cache hits would have cost


class EvalUsage(BaseModel):
    """``eval.json``'s ``usage``: the run's total and each role's (subject, judge); an imported run keeps its
    tool's own keys beside them."""

    model_config = ConfigDict(extra="allow")
    total: UsageCounts | None = None
    by_role: dict[str, UsageCounts] = Field(default_factory=dict)

    def of(self, role: str) -> UsageCounts | None:
        """``role``'s counts when the run recorded any, else the total (None when neither was recorded)."""
        counts = self.by_role.get(role)
        if counts is not None and (counts.model_fields_set or counts.model_extra):
            return counts
        return self.total


class EvalArtifact(BaseModel):
    """``eval.json``: one prompt, one model, one split."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = ARTIFACT_SCHEMA_VERSION
    artifact: str = "eval"
    task: str
    model: str
    split: str
    method: str
    prompt_source: str
    prompt_sha: str
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    ci_method: str
    n: int
    n_total: int
    n_unscored: int
    n_errors: int
    value_unscored_as_wrong: float | None = Field(
        None, description="The primary metric if every unscored item counted as wrong: a lower bound."
    )
    unscored_reasons: dict[str, int] = Field(default_factory=dict)
    target: float | None = None
    metrics: dict[str, MetricCI] = Field(default_factory=dict)
    per_label: dict[str, MetricCI] = Field(default_factory=dict, description="Recall per gold label.")
    per_slice: dict[str, dict[str, MetricCI]] = Field(default_factory=dict)
    # validated as EvalUsage (a wrong shape names usage.<key>) but kept a dict: stages and the CLI still read it
    # as one; read it typed through ``usage_counts``
    usage: dict[str, Any] = Field(default_factory=dict)
    skipped_rows: list[SkippedRowModel] = Field(default_factory=list)
    results_file: str | None = None
    run: RunInfo = Field(default_factory=RunInfo)

    @field_validator("usage")
    @classmethod
    def _usage_shape(cls, v: dict[str, Any]) -> dict[str, Any]:
        EvalUsage.model_validate(v)
        return v

    def usage_counts(self, role: str = "subject") -> UsageCounts | None:
        """``role``'s usage, else the run's total (None: the run recorded neither)."""
        return EvalUsage.model_validate(self.usage).of(role)


class CompareArtifact(BaseModel):
    """``compare.json``: two runs on their shared items."""

    schema_version: int = ARTIFACT_SCHEMA_VERSION
    artifact: str = "compare"
    run_a: str
    run_b: str
    model_a: str
    model_b: str
    metric: str
    n_shared: int
    n_only_a: int
    n_only_b: int
    value_a: float | None
    value_b: float | None
    diff: float | None
    diff_ci_low: float | None
    diff_ci_high: float | None
    confidence: float
    mcnemar: dict[str, Any] | None = None
    test: dict[str, Any] | None = Field(None, description="The exact paired test of the per-item scores (McNemar "
                                        "for 0/1, sign-flip otherwise): the significance; the CI is the effect size.")
    note: str | None = None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions(names: tuple[str, ...] = ("numpy", "scipy", "torch", "transformers", "httpx")) -> dict[
    str, str
]:
    """Versions of the libraries that can change a number, read from metadata (no heavy imports)."""
    found = _installed_versions()
    out = {}
    for n in names:
        v = found.get(_dist_key(n))
        if v is None and _METADATA_FALLBACK[0]:  # a zipped path entry or an unversioned .egg-info: ask metadata
            from importlib.metadata import PackageNotFoundError, version

            try:
                v = version(n)
            except PackageNotFoundError:
                continue
        if v:
            out[n] = v
    return out


_METADATA_FALLBACK = [False]


def _dist_key(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@functools.lru_cache(maxsize=1)
def _installed_versions() -> dict[str, str]:
    """name -> version from the ``name-version.dist-info`` / ``.egg-info`` entries on sys.path, first entry
    winning as in importlib.metadata: one directory listing per path entry, once per process, where
    ``importlib.metadata.version`` scanned every entry for each name (~3 ms a name, in every eval)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        if entry.lower().endswith(".egg"):  # an egg keeps its metadata in EGG-INFO: importlib.metadata reads it
            _METADATA_FALLBACK[0] = True
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip or a missing directory: importlib.metadata can still look there
            _METADATA_FALLBACK[0] = _METADATA_FALLBACK[0] or os.path.isfile(entry)
            continue
        for fn in names:
            stem, dot, ext = fn.rpartition(".")
            if ext not in ("dist-info", "egg-info") or not dot:
                continue
            name, _, version = stem.partition("-")
            if ext == "egg-info":
                version = version.split("-py", 1)[0]
            if not version:
                _METADATA_FALLBACK[0] = True
                continue
            found.setdefault(_dist_key(name), version)
    return found


def json_safe(obj: Any) -> Any:
    """Plain JSON types only: numpy scalars and arrays converted, NaN and infinities as null (JSON has none)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalar or array
        return json_safe(obj.tolist())
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, BaseModel):
        return json_safe(obj.model_dump(mode="json"))
    return obj


def dumps(data: Any, indent: int | None = 2) -> str:
    """Serialise an artifact (pydantic model or dict) as strict JSON."""
    if isinstance(data, BaseModel):
        return data.model_dump_json(indent=indent)
    return json.dumps(json_safe(data), indent=indent, ensure_ascii=False, allow_nan=False, default=str)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temp file and rename: a reader never sees half an artifact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    text = dumps(data)
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
