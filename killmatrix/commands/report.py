"""`killmatrix report`: the mutation report of the suite against the reference implementations.

Phases: the unmutated suite once per algorithm (it must be green), every named mutant of the catalog
in its own mutated copy of the tree, then mutmut over `impl/` with every survivor re-run against the
whole algorithm suite and checked against the equivalent-mutant ledger. Results are cached by the
hash of their inputs under `.killmatrix-cache/`, so a second run with nothing changed only reads.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from killmatrix.algorithms import algorithm_label
from killmatrix.commands.arguments import (
    AlgorithmOption,
    ExecutorOption,
    SchedulerOption,
    SchedulerTimeout,
    executor_for,
    fail,
    html_option,
    output_option,
)
from killmatrix.commands.list import LAST_REPORT
from killmatrix.mutation.catalog import ROOT, load_catalog
from killmatrix.mutation.kill_report import apply_ledger, passes, report_json
from killmatrix.mutation.ledger import load_ledger
from killmatrix.mutation.mutmut_runner import MutmutFailed, MutmutRunner, algorithm_of, mutmut_settings
from killmatrix.mutation.named_runner import BaselineFailed, NamedMutantRunner
from killmatrix.mutation.result_cache import CACHE_DIR_NAME, ResultCache
from killmatrix.rendering import terminal
from killmatrix.rendering.generated_docs import run_stamp
from killmatrix.rendering.html_pages import KILL_MATRIX_NAME, write_report_pages
from killmatrix.rendering.kill_matrix import kill_matrix_json
from killmatrix.rendering.progress import phase_progress
from killmatrix.rendering.report_tables import print_report, report_markdown
from killmatrix.rendering.stryker import stryker_report
from killmatrix.rendering.terminal import write_json, write_text

DEFAULT_SUITE = ["properties", "adversarial"]


@contextmanager
def _phase(phases: dict[str, float], name: str, console: Console):
    start = time.monotonic()
    yield
    phases[name] = phases.get(name, 0.0) + time.monotonic() - start
    console.print(f"[dim]{name}: {phases[name]:.1f} s[/dim]")


def report(
    algorithm: AlgorithmOption = None,
    only: Annotated[list[str] | None, typer.Option(help="Only this named mutant (repeatable); skips mutmut.")] = None,
    no_mutmut: Annotated[bool, typer.Option("--no-mutmut", help="Named mutants only.")] = False,
    jobs: Annotated[int, typer.Option(min=1, help="Mutants run in parallel.")] = os.cpu_count() or 2,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore and do not write .killmatrix-cache/.")] = False,
    json_path: Annotated[Path | None, output_option("--json", "the report as JSON")] = None,
    stryker_path: Annotated[Path | None, output_option(
        "--stryker", "the report in the mutation-testing-report-schema format (Stryker, PIT)")] = None,
    markdown_path: Annotated[Path | None, output_option(
        "--markdown", "the kill matrix, the mutmut score and the equivalent mutants as Markdown")] = None,
    html_path: Annotated[Path | None, html_option(
        f"the report in the mutation-testing-elements viewer (and {KILL_MATRIX_NAME} beside it)")] = None,
    root: Annotated[Path, typer.Option(help="The project tree to report on.", hidden=True)] = ROOT,
    executor_name: ExecutorOption = "local",
    scheduler: SchedulerOption = None,
    scheduler_timeout: SchedulerTimeout = 10.0,
) -> None:
    """Every named mutant and every mutmut mutant against the suite, killed or not, and by which test."""
    with executor_for("report", executor_name, scheduler, jobs, scheduler_timeout) as executor:
        _report(algorithm, only, no_mutmut, jobs, no_cache, json_path, stryker_path, markdown_path, html_path, root,
                executor)


def _report(algorithm, only, no_mutmut, jobs, no_cache, json_path, stryker_path, markdown_path, html_path, root,
            executor) -> None:
    console = terminal.console(json_path, stryker_path, markdown_path)
    phases: dict[str, float] = {}
    try:
        catalog = {m.id: m for m in load_catalog(root / "mutation_config")}
        ledger = load_ledger(root / "mutation_config" / "equivalent.toml")
        settings = mutmut_settings(root)
    except (ValueError, OSError) as exc:
        raise fail("report", str(exc)) from None
    if terminal.is_stdout(html_path):
        raise fail("report", f"--html needs a file: {KILL_MATRIX_NAME} is written beside it")
    unknown = sorted(set(only or ()) - set(catalog))
    if unknown:
        raise fail("report", f"no named mutant {', '.join(unknown)} in the catalog")
    selected = [m for m in catalog.values()
                if (not only or m.id in only) and (algorithm is None or m.algorithm == algorithm)]
    suite = list(settings.get("pytest_add_cli_args_test_selection", DEFAULT_SUITE))
    cache = ResultCache(None if no_cache else root / CACHE_DIR_NAME)
    run = run_stamp(root, "report")  # the inputs as this run reads them, for the pages `killmatrix docs` writes
    runner = NamedMutantRunner(suite, root=root, jobs=jobs, cache=cache, executor=executor)

    baseline_algorithms = sorted({m.algorithm for m in selected if not m.equivalent})
    try:
        with _phase(phases, "unmutated suite", console), \
                phase_progress("unmutated suite", len(baseline_algorithms)) as progress:
            for name in baseline_algorithms:
                progress.update(detail=algorithm_label(name))
                runner.baseline(name)
                progress.update(advance=1)
        with _phase(phases, "named mutants", console), phase_progress("named mutants", len(selected)) as progress:
            named = runner.run(selected, on_progress=lambda r: progress.update(advance=1, detail=f"{r.id} {r.status}"))
    except BaselineFailed as exc:
        raise fail("report", str(exc), 1) from None

    mutmut, stale = None, []
    if not (no_mutmut or only):
        impl_files = sorted(str(p.relative_to(root)) for p in (root / "impl").rglob("*.py"))
        only_files = [f for f in impl_files if algorithm_of(f) == algorithm] if algorithm else None
        suite_seconds = {a: b.duration for a, b in runner.baselines.items()}
        mutmut_runner = MutmutRunner(root=root, jobs=jobs, cache=cache, suite_seconds=suite_seconds,
                                     only_files=only_files, executor=executor)
        try:
            with _phase(phases, "mutmut", console), phase_progress("mutmut") as progress:
                mutmut = mutmut_runner.run(on_progress=lambda step, done, total: progress.update(
                    detail=step, done=done, total=total or None))
        except MutmutFailed as exc:
            raise fail("report", str(exc), 1) from None
        mutmut, stale = apply_ledger(mutmut, ledger)

    with _phase(phases, "report", console):
        document = {**report_json(named, catalog, mutmut, phases), "run": run}
        if json_path is not None:
            write_json(json_path, document)
        if not no_cache:  # what `killmatrix list` shows as each test's kills
            write_json(root / CACHE_DIR_NAME / LAST_REPORT, document)
        stryker = stryker_report(named, catalog, mutmut, root) if stryker_path or html_path else None
        if stryker_path is not None:
            write_json(stryker_path, stryker)
        if html_path is not None:
            write_report_pages(html_path, document, stryker, kill_matrix_json(named, catalog, root))
        if markdown_path is not None:
            write_text(markdown_path, report_markdown(document, catalog))
    # The slowest tests of the full suite say what a whole run costs: nothing to do with a run of --only.
    baselines = [] if only else list(runner.baselines.values())
    print_report(console, named, catalog, mutmut, stale, baselines, phases)
    ok = passes(named, mutmut)
    console.print("[bold green]report: pass[/bold green]" if ok else "[bold red]report: FAIL[/bold red]")
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
