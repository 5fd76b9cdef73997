"""`killmatrix audit TESTS...`: how strong are these tests? Which named mutants do they kill?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from killmatrix.audit.suite_strength import audit_tests
from killmatrix.commands.arguments import (
    AlgorithmsOption,
    ExecutorOption,
    NoIsolation,
    SchedulerOption,
    SchedulerTimeout,
    executor_for,
    fail,
    html_option,
    isolation,
    output_option,
)
from killmatrix.mutation.catalog import ROOT
from killmatrix.mutation.named_runner import BaselineFailed
from killmatrix.mutation.result_cache import CACHE_DIR_NAME, ResultCache
from killmatrix.rendering import terminal
from killmatrix.rendering.html_pages import audit_page, write_page
from killmatrix.rendering.progress import phase_progress
from killmatrix.rendering.terminal import audit_json, audit_markdown, audit_table, write_json, write_text


def audit(
    tests: Annotated[list[Path] | None, typer.Argument(
        help="pytest files or folders written against impl.* (with --impl: the user's own tests)")] = None,
    json_path: Annotated[Path | None, output_option("--json", "the results as JSON")] = None,
    markdown_path: Annotated[Path | None, output_option("--markdown", "the results as Markdown")] = None,
    html_path: Annotated[Path | None, html_option("the kill matrix of the audited tests")] = None,
    algorithm: AlgorithmsOption = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only this named mutant (repeatable).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Mutants run side by side.")] = 2,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore and do not store cached results.")] = False,
    no_isolation: NoIsolation = False,
    impl: Annotated[str | None, typer.Option("--impl", metavar="PATH[:FUNC]", help=(
        "Audit your own implementation with your own tests (TESTS default to its test_* functions, sibling "
        "test files and __main__ block)."))] = None,
    adapter: Annotated[Path | None, typer.Option("--adapter", help=(
        "With --impl: a file with to_user(reference_fn) (and to_contract(user_fn)) when your API differs."))] = None,
    skip: Annotated[list[str] | None, typer.Option(
        "--skip", help="With --impl: skip a part: check, named, own, triage.")] = None,
    triage_budget: Annotated[float, typer.Option("--triage-budget", min=0, help=(
        "With --impl: seconds for running the suite on the mutants your tests miss; the rest stay untriaged."))
                             ] = 180.0,
    executor_name: ExecutorOption = "local",
    scheduler: SchedulerOption = None,
    scheduler_timeout: SchedulerTimeout = 10.0,
) -> None:
    """Run the given tests against every named mutant and report which bug classes they kill."""
    if impl is not None:
        from killmatrix.commands.audit_impl import audit_impl

        with executor_for("audit", executor_name, scheduler, jobs, scheduler_timeout) as executor:
            return audit_impl(impl, tests or [], algorithms=algorithm or [], adapter=adapter, skip=skip or [],
                              jobs=jobs, no_cache=no_cache, isolated=isolation("audit", no_isolation),
                              json_path=json_path, markdown_path=markdown_path, html_path=html_path,
                              triage_budget_s=triage_budget, executor=executor, only=only or [])
    if not tests:
        raise fail("audit", "name the TESTS to audit, or your implementation with --impl PATH[:FUNC]")
    console = terminal.console(json_path, markdown_path, html_path)
    isolated = isolation("audit", no_isolation)
    cache = ResultCache(None if no_cache else ROOT / CACHE_DIR_NAME)
    with executor_for("audit", executor_name, scheduler, jobs, scheduler_timeout) as executor, \
            phase_progress("named mutants against the audited tests") as progress:
        try:
            records = audit_tests(
                tests, algorithms=algorithm or [], only=only or (), jobs=jobs, cache=cache, isolation=isolated,
                executor=executor,
                on_start=lambda n: progress.update(total=n, detail="baseline run against the reference"),
                on_progress=lambda r: progress.update(advance=1, detail=f"{r.id}: {r.status}"),
            )
        except ValueError as exc:
            raise fail("audit", str(exc)) from None
        except BaselineFailed as exc:
            raise fail("audit", f"cannot audit: {exc}") from None
    summary = audit_json(records)
    console.print(audit_table(records))
    score = summary["killed"] / summary["total"] if summary["total"] else 0.0
    unconfined = "" if isolated else " (no isolation)"
    console.print(f"score: [bold]{summary['killed']}/{summary['total']}[/bold] named mutants killed ({score:.0%})"
                  f"{unconfined}")
    if json_path is not None:
        write_json(json_path, summary)
    if markdown_path is not None:
        write_text(markdown_path, audit_markdown(records))
    if html_path is not None:
        write_page(html_path, audit_page(summary))
    raise typer.Exit(0 if summary["killed"] == summary["total"] else 1)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
