"""The options several commands share, defined once so each flag name has one meaning and one help text.

docs/cli.md lists every flag with its meaning; a flag that needs another meaning gets another name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print the result (the artifact) as one JSON object on stdout and nothing else there; on an "
    "error, {\"error\": ..., \"exit_code\": ...}. Implies --quiet.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print no progress, notes or warnings on stderr (errors still are).")]
CacheOpt = Annotated[Optional[Path], typer.Option(
    "--cache", help="Response cache file (default: $TUNEGATE_HOME/cache/responses.sqlite).")]
ExecutorOpt = Annotated[str, typer.Option(
    "--executor", help="Where the work runs: local (this process, the default) or ray (a Ray cluster; install "
    "with pip install 'tunegate\\[ray]'), or a plug-in executor (docs/plugins.md). Results are the same on all.")]
RayAddressOpt = Annotated[Optional[str], typer.Option(
    "--ray-address", help="Ray cluster to join (e.g. auto, ray://head:10001). Default: start a local Ray "
    "instance.")]
StoreOpt = Annotated[Optional[Path], typer.Option(
    "--store", help="Portfolio store file (default: $TUNEGATE_HOME/portfolio.sqlite).")]


def deprecated_opt(new: str, *names: str) -> typer.models.OptionInfo:
    """A hidden old spelling kept for scripts that use it; the command warns and reads it as ``new``."""
    return typer.Option(*names, hidden=True, help=f"Deprecated: use {new}.")
