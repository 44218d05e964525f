"""The ``tunegate`` command line: the Typer app, and every command registered here, in pipeline order.

Each command is a plain function in its group's module (cli/evaluate.py, gates.py, sprint.py, decision.py,
run.py, monitor.py, portfolio.py, interop.py, setup.py); registering it wraps it in cli.errors.command_errors,
so no command can be added without the one error-to-exit-code mapping.

The modules are named here and imported on first need: running one command (``tunegate eval ...``) imports and
builds only that command (importing and building all of them was ~60 ms of a cached eval); ``--help``, no
arguments, an unknown name and any look at the registered commands (tests, docs) get every command.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tunegate import __version__
from tunegate.cli.errors import command_errors
from tunegate.cli.output import out

# (name, module in tunegate.cli, function) in the order a user meets them (the pipeline's); --help lists them so
COMMAND_TABLE: tuple[tuple[str, str, str], ...] = (
    ("init", "setup", "init_cmd"),
    ("validate", "setup", "validate_cmd"),
    ("check-eval", "gates", "check_eval_cmd"),
    ("audit", "gates", "audit_cmd"),
    ("eval", "evaluate", "eval_cmd"),
    ("compare", "evaluate", "compare_cmd"),
    ("sprint", "sprint", "sprint_cmd"),
    ("probe", "decision", "probe_cmd"),
    ("cost", "decision", "cost_cmd"),
    ("decide", "decision", "decide_cmd"),
    ("report", "decision", "report_cmd"),
    ("run", "run", "run_cmd"),
    ("demo", "run", "demo_cmd"),
    ("assess", "run", "assess_cmd"),
    ("monitor", "monitor", "monitor_cmd"),
    ("import-annotations", "setup", "import_annotations_cmd"),
    ("import-evals", "interop", "import_evals_cmd"),
    ("import-queue", "interop", "import_queue_cmd"),
    ("export-finetune", "interop", "export_finetune_cmd"),
    ("export-queue", "interop", "export_queue_cmd"),
    ("schema", "setup", "schema_cmd"),
)
# (name, module): a command group; the module holds HELP and COMMANDS ((name, function), ...)
GROUP_TABLE: tuple[tuple[str, str], ...] = (("portfolio", "portfolio"),)
# the stage commands: each takes --json and --quiet with one meaning (docs/cli.md)
STAGE_COMMANDS = ("eval", "compare", "check-eval", "audit", "sprint", "probe", "cost", "decide", "report", "run",
                  "monitor")
_ORDER = [name for name, _, _ in COMMAND_TABLE]
_ORDER.insert(_ORDER.index("monitor") + 1, "portfolio")  # the deployed models, beside their monitoring
_COMMAND_NAMES = {name for name, _, _ in COMMAND_TABLE}
_GROUP_NAMES = {name for name, _ in GROUP_TABLE}
# commands whose numerics are vector sums (bootstrap counts), never matrix algebra: OpenBLAS's thread pool, started
# when numpy is imported, only burns CPU there (~0.1 s of a cached eval's 0.5 s on 2 cores)
_ONE_BLAS_THREAD = frozenset({"eval"})
_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def _module(name: str) -> Any:
    return importlib.import_module(f"tunegate.cli.{name}")


def __getattr__(name: str) -> Any:
    """COMMANDS ((name, function), ...) and GROUPS ((name, help, commands), ...), resolved (imported) on access."""
    if name == "COMMANDS":
        return tuple((cmd, getattr(_module(mod), fn)) for cmd, mod, fn in COMMAND_TABLE)
    if name == "GROUPS":
        return tuple((group, _module(mod).HELP, _module(mod).COMMANDS) for group, mod in GROUP_TABLE)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def short_help(fn: Callable[..., Any]) -> str:
    """The docstring's first paragraph on one line (docstring line breaks would break the --help table)."""
    return " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())


def command_name(cmd: typer.models.CommandInfo) -> str:
    """The name a registered command is called by."""
    return cmd.name or (cmd.callback.__name__.removesuffix("_cmd").replace("_", "-") if cmd.callback else "")


def _register(target: typer.Typer, name: str, fn: Callable[..., Any]) -> None:
    target.command(name, short_help=short_help(fn))(command_errors(fn))


def _register_some(target: typer.Typer, commands: Sequence[str], groups: Sequence[str]) -> None:
    """Register the named commands and groups on ``target``, in pipeline order."""
    for name, mod, fn in COMMAND_TABLE:
        if name in commands:
            _register(target, name, getattr(_module(mod), fn))
    for group, mod in GROUP_TABLE:
        if group in groups:
            m = _module(mod)
            sub = typer.Typer(name=group, help=m.HELP, no_args_is_help=True)
            for name, fn in m.COMMANDS:
                _register(sub, name, fn)
            target.add_typer(sub, name=group)


class _PipelineOrder(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        rank = {name: i for i, name in enumerate(_ORDER)}
        return sorted(self.commands, key=lambda n: rank.get(n, len(rank)))


HELP = (
    "Keep prompting, or fine-tune? tunegate runs your task through your models on your data and reports "
    "every number with a confidence interval, cost and provenance.\n\n"
    "Start with `tunegate init DATA_FILE` to write a spec from your data, then `tunegate eval tunegate.yaml`. "
    "Exit codes: 0 ok / gate passed, 2 bad input, 3 gate failed, 4 gate unknown, 5 too many failed model "
    "calls, 130 interrupted (docs/cli.md)."
)
_SETTINGS: dict[str, Any] = dict(name="tunegate", help=HELP, cls=_PipelineOrder, no_args_is_help=True,
                                 add_completion=False, pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        out.print(f"tunegate {__version__}")
        raise typer.Exit()


def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evidence for the keep-prompting / fine-tune decision."""


class TunegateApp(typer.Typer):
    """The app with every command, registered on first look (``registered_commands`` / ``registered_groups``);
    called for one named command, it runs an app holding only that command (same settings and root options)."""

    def __init__(self) -> None:
        self._complete = True  # nothing to add while Typer.__init__ and callback() set up
        super().__init__(**_SETTINGS)
        self.callback()(main)
        self._complete = False

    @property
    def registered_commands(self) -> list[Any]:
        self._register_all()
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list[Any]) -> None:
        self._commands = value

    @property
    def registered_groups(self) -> list[Any]:
        self._register_all()
        return self._groups

    @registered_groups.setter
    def registered_groups(self, value: list[Any]) -> None:
        self._groups = value

    def _register_all(self) -> None:
        if not self._complete:
            self._complete = True
            _register_some(self, [name for name, _, _ in COMMAND_TABLE], [group for group, _ in GROUP_TABLE])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        argv = kwargs.get("args", args[0] if args else None)
        argv = sys.argv[1:] if argv is None else list(argv)
        name = argv[0] if argv else ""
        if name in _ONE_BLAS_THREAD and "numpy" not in sys.modules and not any(map(os.environ.get, _BLAS_THREAD_VARS)):
            os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read once, when numpy loads OpenBLAS; a user's setting wins
        if not self._complete and (name in _COMMAND_NAMES or name in _GROUP_NAMES):
            one = typer.Typer(**_SETTINGS)
            one.callback()(main)
            _register_some(one, [name], [name])
            return one(*args, **kwargs)
        return super().__call__(*args, **kwargs)


app = TunegateApp()
