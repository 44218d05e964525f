"""The ``tunegate`` command line: the Typer app, and every command registered here, in pipeline order.

Each command is a plain function in its group's module (cli/evaluate.py, gates.py, sprint.py, decision.py,
run.py, monitor.py, portfolio.py, interop.py, setup.py); registering it wraps it in cli.errors.command_errors,
so no command can be added without the one error-to-exit-code mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tunegate import __version__
import tunegate.cli.decision as decision
import tunegate.cli.evaluate as evaluate
import tunegate.cli.gates as gates
import tunegate.cli.interop as interop
import tunegate.cli.monitor as monitor
import tunegate.cli.portfolio as portfolio
import tunegate.cli.run as run
import tunegate.cli.setup as setup
import tunegate.cli.sprint as sprint
from tunegate.cli.errors import command_errors
from tunegate.cli.output import out

# (name, function) in the order a user meets them (the pipeline's); --help lists them so
COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("init", setup.init_cmd),
    ("validate", setup.validate_cmd),
    ("check-eval", gates.check_eval_cmd),
    ("audit", gates.audit_cmd),
    ("eval", evaluate.eval_cmd),
    ("compare", evaluate.compare_cmd),
    ("sprint", sprint.sprint_cmd),
    ("probe", decision.probe_cmd),
    ("cost", decision.cost_cmd),
    ("decide", decision.decide_cmd),
    ("report", decision.report_cmd),
    ("run", run.run_cmd),
    ("demo", run.demo_cmd),
    ("assess", run.assess_cmd),
    ("monitor", monitor.monitor_cmd),
    ("import-annotations", setup.import_annotations_cmd),
    ("import-evals", interop.import_evals_cmd),
    ("import-queue", interop.import_queue_cmd),
    ("export-finetune", interop.export_finetune_cmd),
    ("export-queue", interop.export_queue_cmd),
    ("schema", setup.schema_cmd),
)
GROUPS = (("portfolio", portfolio.HELP, portfolio.COMMANDS),)
# the stage commands: each takes --json and --quiet with one meaning (docs/cli.md)
STAGE_COMMANDS = ("eval", "compare", "check-eval", "audit", "sprint", "probe", "cost", "decide", "report", "run",
                  "monitor")
_ORDER = [name for name, _ in COMMANDS]
_ORDER.insert(_ORDER.index("monitor") + 1, "portfolio")  # the deployed models, beside their monitoring


def short_help(fn: Callable[..., Any]) -> str:
    """The docstring's first paragraph on one line (docstring line breaks would break the --help table)."""
    return " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())


def command_name(cmd: typer.models.CommandInfo) -> str:
    """The name a registered command is called by."""
    return cmd.name or (cmd.callback.__name__.removesuffix("_cmd").replace("_", "-") if cmd.callback else "")


def _register(target: typer.Typer, name: str, fn: Callable[..., Any]) -> None:
    target.command(name, short_help=short_help(fn))(command_errors(fn))


class _PipelineOrder(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        rank = {name: i for i, name in enumerate(_ORDER)}
        return sorted(self.commands, key=lambda n: rank.get(n, len(rank)))


app = typer.Typer(
    name="tunegate",
    help=(
        "Keep prompting, or fine-tune? tunegate runs your task through your models on your data and reports "
        "every number with a confidence interval, cost and provenance.\n\n"
        "Start with `tunegate init DATA_FILE` to write a spec from your data, then `tunegate eval tunegate.yaml`. "
        "Exit codes: 0 ok / gate passed, 2 bad input, 3 gate failed, 4 gate unknown, 5 too many failed model "
        "calls, 130 interrupted (docs/cli.md)."
    ),
    cls=_PipelineOrder,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"tunegate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evidence for the keep-prompting / fine-tune decision."""


for _name, _fn in COMMANDS:
    _register(app, _name, _fn)
for _group, _help, _commands in GROUPS:
    _sub = typer.Typer(name=_group, help=_help, no_args_is_help=True)
    for _name, _fn in _commands:
        _register(_sub, _name, _fn)
    app.add_typer(_sub, name=_group)
