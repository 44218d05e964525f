"""The ``tunegate`` command line (entry point ``tunegate.cli:app``); one module per command group."""

from tunegate.cli.main import app, command_name

_command_name = command_name  # the name tests/test_readme.py imports

__all__ = ["app", "command_name"]
