"""Where tunegate keeps state outside a run directory (converted models, the response cache)."""

from __future__ import annotations

import os
from pathlib import Path


def tunegate_home() -> Path:
    """``$TUNEGATE_HOME``, or ``~/.cache/tunegate``."""
    env = os.environ.get("TUNEGATE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tunegate"
