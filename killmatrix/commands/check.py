"""`killmatrix check flash|flash-bwd|beam PATH[:FUNC]`: the property suite against an outside implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from killmatrix.algorithms import algorithm_label
from killmatrix.commands.arguments import AlgorithmArgument, NoIsolation, html_option, isolation, output_option
from killmatrix.mutation.catalog import ROOT
from killmatrix.outside.check_run import LoadError, RunSettings, run_suite_against
from killmatrix.outside.verdicts import PropertyVerdict, judge_verdicts, property_verdicts, selects_no_correctness
from killmatrix.rendering import terminal
from killmatrix.rendering.html_pages import check_page, write_page
from killmatrix.rendering.progress import phase_progress
from killmatrix.rendering.terminal import check_json, check_table, verdict_line, write_json
from killmatrix.sandbox.limits import GiB


def settings_from_options(timeout: float, slow_timeout: float, budget: float, memory_gb: float,
                          isolated: bool = True) -> RunSettings:
    try:
        return RunSettings(per_test_timeout_s=timeout, slow_test_timeout_s=slow_timeout, budget_s=budget,
                           memory_bytes=int(memory_gb * GiB), isolation=isolated)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def judge(algorithm: str, target: str, settings: RunSettings, *, selection=None, on_progress=None,
          suite_root: Path = ROOT) -> tuple[str, list[PropertyVerdict]]:
    """(target label, verdicts) of one target against the suite under `suite_root`; LoadError when it does not load."""
    run = run_suite_against(algorithm, target, settings, selection=selection, on_progress=on_progress,
                            suite_root=suite_root)
    return run.target, property_verdicts(run.outcomes, run.write_attempts, run.selected)


def empty_selection_error(command: str, algorithm: str, keyword: str | None, selected_any: bool) -> str:
    """The one-line usage error for a selection that holds no correctness property (nothing could pass)."""
    what = "no correctness property" if selected_any else "no property"
    selection = f"-k {keyword!r}" if keyword else "the selection"
    return f"killmatrix {command}: {selection} selects {what} of the {algorithm} suite"


Timeout = Annotated[float, typer.Option("--timeout", help="Wall-clock seconds allowed to each property.")]
SlowTimeout = Annotated[float, typer.Option("--slow-timeout", help="Seconds allowed to a property marked slow.")]
MemoryGb = Annotated[float, typer.Option("--memory-gb", help="Address-space limit of the child, in GiB.")]
JsonPath = Annotated[Path | None, output_option("--json", "the results as JSON")]


def check(
    algorithm: AlgorithmArgument,
    target: Annotated[str, typer.Argument(help="PATH.py[:FUNC] (FUNC defaults to the contract's function name)")],
    json_path: JsonPath = None,
    html_path: Annotated[Path | None, html_option("the verdicts")] = None,
    keyword: Annotated[str | None, typer.Option("-k", help="Only the properties matching this -k expression.")] = None,
    timeout: Timeout = 15.0,
    slow_timeout: SlowTimeout = 60.0,
    budget: Annotated[float, typer.Option("--budget", help="Wall-clock seconds for the whole suite.")] = 300.0,
    memory_gb: MemoryGb = 3.0,
    no_isolation: NoIsolation = False,
) -> None:
    """Run the property and adversarial suite against an outside implementation, sandboxed."""
    console = terminal.console(json_path, html_path)
    settings = settings_from_options(timeout, slow_timeout, budget, memory_gb, isolation("check", no_isolation))
    selection = ["-k", keyword] if keyword else None
    try:
        with phase_progress(f"checking {target} against the {algorithm_label(algorithm)} suite") as progress:
            label, verdicts = judge(algorithm, target, settings, selection=selection,
                                    on_progress=lambda n: progress.update(done=n))
    except LoadError as exc:
        typer.echo(f"killmatrix check: cannot load {algorithm_label(algorithm)} target {target}: {exc}", err=True)
        raise typer.Exit(2) from None
    if selects_no_correctness(verdicts):
        typer.echo(empty_selection_error("check", algorithm_label(algorithm), keyword, bool(verdicts)), err=True)
        raise typer.Exit(2)
    judgement = judge_verdicts(verdicts)
    console.print(check_table(label, algorithm, verdicts))
    console.print(verdict_line(judgement, verdicts, isolated=settings.isolation))
    document = check_json(label, algorithm, judgement, verdicts, isolated=settings.isolation)
    if json_path is not None:
        write_json(json_path, document)
    if html_path is not None:
        write_page(html_path, check_page(document))
    raise typer.Exit(0 if judgement.verdict == "pass" else 1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
