"""The `killmatrix` command line: one Typer app; each command lives in its own module."""

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Mutation report, test-strength audit and property checks for flash attention and beam search.",
)

# Each command module registers itself on `app` (one job per module).
COMMAND_MODULES = ("audit", "check", "grade", "list", "report")


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"killmatrix.commands.{name}").register(app)


def main() -> None:
    _register()
    app()
