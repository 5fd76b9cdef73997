"""The `killmatrix` command line: one Typer app; each command lives in its own module."""

import sys

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Mutation report, test-strength audit and property checks for flash attention and beam search.",
)

# Each command module registers itself on `app` (one job per module).
COMMAND_MODULES = ("audit", "check", "docs", "grade", "list", "report")


def _register() -> None:
    import importlib

    if app.registered_commands:  # main() run twice in one process (tests)
        return
    for name in COMMAND_MODULES:
        importlib.import_module(f"killmatrix.commands.{name}").register(app)


def _click_class(name: str) -> type[Exception]:
    """Click's exception class `name`, from the copy of Click this Typer uses (recent Typers carry their own)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


def main() -> None:
    from killmatrix.commands.arguments import UnknownAlgorithm

    _register()
    try:
        code = app(prog_name="killmatrix", standalone_mode=False)
    except _click_class("ClickException") as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `killmatrix` alone: the help, as Typer shows it
            exc.show()
            sys.exit(exc.exit_code)
        # Usage errors on one line, like every other error (Typer would draw a multi-line box).
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "killmatrix"
        if isinstance(exc, UnknownAlgorithm):
            message = exc.message
        elif isinstance(exc, _click_class("UsageError")):
            message = f"{exc.format_message()} (see {where} --help)"
        else:
            message = exc.format_message()
        typer.echo(f"{where}: {message}", err=True)
        code = exc.exit_code
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
