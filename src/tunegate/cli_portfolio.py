"""CLI commands for the portfolio store (`tunegate portfolio add|list|show|remove`): parse, call one function, print.

Kept out of cli.py so each stage's command layer is one small module; cli.py calls ``register(app)``.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``tunegate`` app."""
