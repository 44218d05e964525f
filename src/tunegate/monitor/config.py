"""The ``monitor:`` section of the spec. Imports nothing from tunegate.spec (which imports this)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MonitorSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
