"""What every command shares: the algorithm parameter, parsed one way, and failures reported on one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from killmatrix.algorithms import ALGORITHM_CHOICES, parse_algorithm
from killmatrix.execution.executors import EXECUTORS, Executor, ExecutorError, make_executor
from killmatrix.sandbox.confinement import ConfinementError
from killmatrix.sandbox.limits import isolation_for


def fail(command: str, message: str, code: int = 2) -> typer.Exit:
    """Print `killmatrix COMMAND: message` on stderr; raise the returned Exit (2: bad input, as the README says)."""
    typer.echo(f"killmatrix {command}: {message}", err=True)
    return typer.Exit(code)


class UnknownAlgorithm(typer.BadParameter):
    """Printed as its message alone (cli.main): the message already says what is wrong and what to choose."""


def _algorithm(value: str) -> str:
    try:
        return parse_algorithm(value)
    except ValueError as exc:
        raise UnknownAlgorithm(str(exc)) from None


AlgorithmArgument = Annotated[str, typer.Argument(
    parser=_algorithm, metavar="ALGORITHM", help=f"{ALGORITHM_CHOICES} (flash_bwd works too)", show_default=False,
)]
AlgorithmOption = Annotated[str | None, typer.Option(
    "--algorithm", parser=_algorithm, metavar="ALGORITHM", help=f"Only this algorithm: {ALGORITHM_CHOICES}.",
)]
AlgorithmsOption = Annotated[list[str] | None, typer.Option(
    "--algorithm", parser=_algorithm, metavar="ALGORITHM",
    help=f"{ALGORITHM_CHOICES}: whose mutants the tests are for (repeatable; default: from their imports).",
)]


def output_option(flag: str, what: str):
    """A `--json`-like option: a path to write `what` to, or `-` for stdout (the tables then go to stderr)."""
    return typer.Option(flag, help=f"Also write {what} here ('-': stdout; the tables then go to stderr).")


NoIsolation = Annotated[bool, typer.Option(
    "--no-isolation", help="Run outside code unconfined when this machine cannot confine it (docs/SANDBOX.md).",
)]


def isolation(command: str, no_isolation: bool) -> bool:
    """True: outside code runs confined; False: unconfined, as the user allowed; a usage error otherwise."""
    try:
        return isolation_for(no_isolation)
    except ConfinementError as exc:
        raise fail(command, str(exc)) from None


def html_option(what: str):
    """`--html PATH`: `what` as a page that opens in a browser with no network (killmatrix/rendering/html_pages.py)."""
    return typer.Option("--html", help=f"Also write {what} as a self-contained HTML page here.")


ExecutorOption = Annotated[str, typer.Option(
    "--executor", metavar="|".join(EXECUTORS),
    help="Where the fan-out runs: local (--jobs threads here, each with its sandboxed child) or dask (--scheduler).",
)]
SchedulerOption = Annotated[str | None, typer.Option(
    "--scheduler", metavar="ADDRESS",
    help="With --executor dask: the scheduler (tcp://HOST:8786), or 'local' for a LocalCluster of --jobs workers.",
)]
SchedulerTimeout = Annotated[float, typer.Option(
    "--scheduler-timeout", min=0.1, help="Seconds to wait for the dask scheduler before giving up.",
)]


@contextmanager
def executor_for(command: str, name: str, scheduler: str | None, jobs: int, timeout_s: float = 10.0
                 ) -> Iterator[Executor]:
    """The executor the options name (killmatrix/execution/executors.py), closed afterwards; an unreachable
    scheduler or options that do not fit together end the command with one line and exit 2."""
    try:
        executor = make_executor(name, scheduler, jobs, timeout_s)
    except ExecutorError as exc:
        raise fail(command, str(exc)) from None
    with executor:
        yield executor
