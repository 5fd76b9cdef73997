"""`killmatrix check flash|flash-bwd|beam PATH[:FUNC]`: the property suite against an outside implementation."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from killmatrix import render
from killmatrix.render import check_json, check_table, status_counts, write_json
from killmatrix.sandbox import GiB
from killmatrix.target_run import LoadError, RunSettings, run_suite_against
from killmatrix.targets import ENV
from killmatrix.verdicts import PropertyVerdict, overall, property_verdicts

# One choice per implementation-under-test fixture (targets.ENV); typed on the command line with a
# hyphen (flash-bwd), used inside with the fixture's underscore (flash_bwd).
Algorithm = enum.StrEnum("Algorithm", {name: name.replace("_", "-") for name in ENV})


def settings_from_options(timeout: float, slow_timeout: float, budget: float, memory_gb: float) -> RunSettings:
    try:
        return RunSettings(per_test_timeout_s=timeout, slow_test_timeout_s=slow_timeout, budget_s=budget,
                           memory_bytes=int(memory_gb * GiB))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def judge(algorithm: str, target: str, settings: RunSettings, *, selection=None, on_progress=None
          ) -> tuple[str, list[PropertyVerdict]]:
    """(target label, verdicts) of one target; LoadError when it does not load."""
    run = run_suite_against(algorithm, target, settings, selection=selection, on_progress=on_progress)
    return run.target, property_verdicts(run.outcomes, run.write_attempts)


Timeout = Annotated[float, typer.Option("--timeout", help="Wall-clock seconds allowed to each property.")]
SlowTimeout = Annotated[float, typer.Option("--slow-timeout", help="Seconds allowed to a property marked slow.")]
MemoryGb = Annotated[float, typer.Option("--memory-gb", help="Address-space limit of the child, in GiB.")]
JsonPath = Annotated[Path | None, typer.Option("--json", help="Also write the results as JSON here.")]


def check(
    algorithm: Annotated[Algorithm, typer.Argument(help="flash, flash-bwd or beam")],
    target: Annotated[str, typer.Argument(help="PATH.py[:FUNC] (FUNC defaults to the contract's function name)")],
    json_path: JsonPath = None,
    keyword: Annotated[str | None, typer.Option("-k", help="Only the properties matching this -k expression.")] = None,
    timeout: Timeout = 15.0,
    slow_timeout: SlowTimeout = 60.0,
    budget: Annotated[float, typer.Option("--budget", help="Wall-clock seconds for the whole suite.")] = 300.0,
    memory_gb: MemoryGb = 3.0,
) -> None:
    """Run the property and adversarial suite against an outside implementation, sandboxed."""
    console = render.console()
    settings = settings_from_options(timeout, slow_timeout, budget, memory_gb)
    selection = ["-k", keyword] if keyword else None
    try:
        with console.status(f"checking {target} against the {algorithm.name} suite") as status:
            label, verdicts = judge(
                algorithm.name, target, settings, selection=selection,
                on_progress=lambda n: status.update(f"checking {target}: {n} tests done"),
            )
    except LoadError as exc:
        typer.echo(f"killmatrix check: cannot load {algorithm.name} target {target}: {exc}", err=True)
        raise typer.Exit(2) from None
    verdict = overall(verdicts)
    console.print(check_table(label, algorithm.name, verdicts))
    console.print(f"verdict: [bold]{verdict}[/bold] ({status_counts(verdicts)})")
    if json_path is not None:
        write_json(json_path, check_json(label, algorithm.name, verdict, verdicts))
    raise typer.Exit(0 if verdict == "pass" else 1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
