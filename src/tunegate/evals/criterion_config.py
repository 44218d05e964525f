"""The ``check_eval:`` section of the spec (criterion-gate thresholds and inputs).

Imports nothing from tunegate.spec (which imports this).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class CheckEvalSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
