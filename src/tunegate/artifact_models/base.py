"""The base every artifact model shares: version, name, provenance, and one way to save and load.

Stages used to write dict literals that readers took apart with ``.get("…")``; a key renamed on one side broke the
other silently. An artifact model is the contract both sides import: ``load`` refuses a file that does not match
it (naming the file and the dotted key) and an artifact written by a newer tunegate (``schema_version`` above what
this one understands) instead of misreading it. Models allow extra keys where a writer's shape is still moving;
the keys readers depend on are typed fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_serializer

from tunegate.artifacts import ARTIFACT_SCHEMA_VERSION, RunInfo, write_json_atomic
from tunegate.errors import InputError

A = TypeVar("A", bound="ArtifactModel")
M = TypeVar("M", bound=BaseModel)


def validate_as(model: type[M], data: Any, *, source: str | Path | None = None, what: str = "artifact") -> M:
    """``model.model_validate(data)``, a failure an ``InputError`` naming ``source`` and the first dotted key (the
    one message every artifact reader gives, eval.json included)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or None
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"not a valid {what}: {e['msg']}{more}", file=source, field=where) from None


class Loose(BaseModel):
    """A nested block whose listed keys are typed and whose other keys are kept as they are."""

    model_config = ConfigDict(extra="allow")


class Recorded(Loose):
    """A block whose dump holds only the typed keys the file gave (those in ``OPTIONAL``; None = every field): a
    key its writer omits stays omitted when the model is saved again, instead of coming back as a default."""

    OPTIONAL: ClassVar[frozenset[str] | None] = None

    @model_serializer(mode="wrap")
    def _as_written(self, handler: Any) -> Any:
        out = handler(self)
        if not isinstance(out, dict):
            return out
        drop = type(self).model_fields.keys() if self.OPTIONAL is None else self.OPTIONAL
        return {k: v for k, v in out.items() if k not in drop or k in self.model_fields_set}


class RunBlock(RunInfo):
    """Provenance (``tunegate.artifacts.RunInfo``), keeping keys a newer writer adds."""

    model_config = ConfigDict(extra="allow")


class CheckResult(Loose):
    """One gate check: the data gate's and the criterion gate's share these keys (the criterion gate adds a CI
    and ``required``)."""

    name: str
    status: str
    value: Any = None
    threshold: Any = None
    detail: str = ""


class ArtifactModel(Loose):
    """``schema_version``, ``artifact`` (the name), ``run`` (provenance); ``save(dir)`` and ``load(path)``."""

    FILENAME: ClassVar[str] = ""
    SCHEMA_VERSION: ClassVar[int] = ARTIFACT_SCHEMA_VERSION

    schema_version: int = ARTIFACT_SCHEMA_VERSION
    artifact: str
    run: RunBlock = Field(default_factory=RunBlock)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v > cls.SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is newer than this tunegate understands ({cls.SCHEMA_VERSION}): "
                             "upgrade tunegate to read it")
        if v < 1:
            raise ValueError(f"schema_version must be 1 or more, got {v}")
        return v

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, every key the writer gave (extras included)."""
        return self.model_dump(mode="json")

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/FILENAME`` atomically (a reader never sees half an artifact); returns the path."""
        path = Path(directory) / self.FILENAME
        write_json_atomic(path, self.to_dict())
        return path

    @classmethod
    def from_dict(cls: type[A], data: Any, *, source: str | Path | None = None) -> A:
        """Validate a dict (as a stage returns it); errors name ``source`` and the dotted key."""
        return validate_as(cls, data, source=source, what=cls.FILENAME or "artifact")

    @classmethod
    def load(cls: type[A], path: str | Path) -> A:
        """Read a file, or ``FILENAME`` inside a run directory."""
        p = Path(path)
        if p.is_dir():
            p = p / cls.FILENAME
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"no {cls.FILENAME} here: run its stage first", file=p) from None
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable artifact: {exc}", file=p) from None
        return cls.from_dict(data, source=p)
