"""`killmatrix audit TESTS...`: how strong are these tests? Which named mutants do they kill?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from killmatrix import render
from killmatrix.catalog import ROOT, parse_algorithm
from killmatrix.commands.check import JsonPath
from killmatrix.mutants import BaselineFailed
from killmatrix.render import audit_json, audit_markdown, audit_table, write_json
from killmatrix.result_cache import CACHE_DIR_NAME, ResultCache
from killmatrix.strength import audit_tests


def audit(
    tests: Annotated[list[Path], typer.Argument(help="pytest files or folders written against impl.*")],
    json_path: JsonPath = None,
    markdown_path: Annotated[Path | None, typer.Option("--markdown", help="Also write Markdown here.")] = None,
    algorithm: Annotated[list[str] | None, typer.Option(
        "--algorithm", help="flash, beam or flash_bwd: which mutants the tests are for (default: from their imports)."
    )] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only this named mutant (repeatable).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Mutants run side by side.")] = 2,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore and do not store cached results.")] = False,
) -> None:
    """Run the given tests against every named mutant and report which bug classes they kill."""
    console = render.console()
    try:
        algorithm = [parse_algorithm(name) for name in algorithm or []]
    except ValueError as exc:
        typer.echo(f"killmatrix audit: {exc}", err=True)
        raise typer.Exit(2) from None
    cache = ResultCache(None if no_cache else ROOT / CACHE_DIR_NAME)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("baseline run against the reference", total=None)
        try:
            records = audit_tests(
                tests, algorithms=algorithm, only=only or (), jobs=jobs, cache=cache,
                on_start=lambda n: progress.update(task, total=n),
                on_progress=lambda r: progress.update(task, advance=1, description=f"{r.id}: {r.status}"),
            )
        except ValueError as exc:
            typer.echo(f"killmatrix audit: {exc}", err=True)
            raise typer.Exit(2) from None
        except BaselineFailed as exc:
            typer.echo(f"killmatrix audit: cannot audit: {exc}", err=True)
            raise typer.Exit(2) from None
    summary = audit_json(records)
    console.print(audit_table(records))
    score = summary["killed"] / summary["total"] if summary["total"] else 0.0
    console.print(f"score: [bold]{summary['killed']}/{summary['total']}[/bold] named mutants killed ({score:.0%})")
    if json_path is not None:
        write_json(json_path, summary)
    if markdown_path is not None:
        markdown_path.write_text(audit_markdown(records))
    raise typer.Exit(0 if summary["killed"] == summary["total"] else 1)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
