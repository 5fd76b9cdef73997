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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from killmatrix import render
from killmatrix.catalog import ALGORITHMS, ROOT, load_catalog, parse_algorithm
from killmatrix.commands.list import LAST_REPORT
from killmatrix.equivalent_ledger import load_ledger
from killmatrix.kill_report import apply_ledger, passes, report_json
from killmatrix.mutants import BaselineFailed, NamedMutantRunner
from killmatrix.mutmut_runner import MutmutFailed, MutmutRunner, algorithm_of, mutmut_settings
from killmatrix.render import write_json
from killmatrix.report_tables import print_report, report_markdown
from killmatrix.result_cache import CACHE_DIR_NAME, ResultCache
from killmatrix.stryker import stryker_report

DEFAULT_SUITE = ["properties", "adversarial"]
PROGRESS_COLUMNS = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn())


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"killmatrix report: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _phase(phases: dict[str, float], name: str, console: Console):
    start = time.monotonic()
    yield
    phases[name] = phases.get(name, 0.0) + time.monotonic() - start
    console.print(f"[dim]{name}: {phases[name]:.1f} s[/dim]")


def report(
    algorithm: Annotated[str | None, typer.Option(help=f"Only this algorithm: {', '.join(ALGORITHMS)}.")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Only this named mutant (repeatable); skips mutmut.")] = None,
    no_mutmut: Annotated[bool, typer.Option("--no-mutmut", help="Named mutants only.")] = False,
    jobs: Annotated[int, typer.Option(min=1, help="Mutants run in parallel.")] = os.cpu_count() or 2,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore and do not write .killmatrix-cache/.")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
    stryker_path: Annotated[Path | None, typer.Option(
        "--stryker", help="Also write the report in the mutation-testing-report-schema format (Stryker, PIT)."
    )] = None,
    markdown_path: Annotated[Path | None, typer.Option(
        "--markdown", help="Also write the kill matrix, the mutmut score and the equivalent mutants as Markdown."
    )] = None,
    root: Annotated[Path, typer.Option(help="The project tree to report on.", hidden=True)] = ROOT,
) -> None:
    """Every named mutant and every mutmut mutant against the suite, killed or not, and by which test."""
    console, progress_console = render.console(piped_width=160), Console(stderr=True)
    phases: dict[str, float] = {}
    try:
        algorithm = parse_algorithm(algorithm) if algorithm is not None else None
        catalog = {m.id: m for m in load_catalog(root / "mutation_config")}
        ledger = load_ledger(root / "mutation_config" / "equivalent.toml")
        settings = mutmut_settings(root)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc), 2) from None
    unknown = sorted(set(only or ()) - set(catalog))
    if unknown:
        raise _fail(f"no named mutant {', '.join(unknown)} in the catalog", 2)
    selected = [m for m in catalog.values()
                if (not only or m.id in only) and (algorithm is None or m.algorithm == algorithm)]
    suite = list(settings.get("pytest_add_cli_args_test_selection", DEFAULT_SUITE))
    cache = ResultCache(None if no_cache else root / CACHE_DIR_NAME)
    runner = NamedMutantRunner(suite, root=root, jobs=jobs, cache=cache)

    try:
        with _phase(phases, "unmutated suite", console), console.status("running the unmutated suite"):
            for name in sorted({m.algorithm for m in selected if not m.equivalent}):
                runner.baseline(name)
        with _phase(phases, "named mutants", console), \
                Progress(*PROGRESS_COLUMNS, console=progress_console, transient=True) as progress:
            task = progress.add_task("named mutants", total=len(selected))
            named = runner.run(selected, on_progress=lambda r: progress.update(
                task, advance=1, description=f"named mutants: {r.id} {r.status}"))
    except BaselineFailed as exc:
        raise _fail(str(exc), 1) from None

    mutmut, stale = None, []
    if not (no_mutmut or only):
        impl_files = sorted(str(p.relative_to(root)) for p in (root / "impl").rglob("*.py"))
        only_files = [f for f in impl_files if algorithm_of(f) == algorithm] if algorithm else None
        suite_seconds = {a: b.duration for a, b in runner.baselines.items()}
        mutmut_runner = MutmutRunner(root=root, jobs=jobs, cache=cache, suite_seconds=suite_seconds,
                                     only_files=only_files)
        try:
            with _phase(phases, "mutmut", console), \
                    Progress(*PROGRESS_COLUMNS, console=progress_console, transient=True) as progress:
                task = progress.add_task("mutmut run", total=None)
                mutmut = mutmut_runner.run(on_progress=lambda phase, done, total: progress.update(
                    task, description=phase, completed=done, total=total or None))
        except MutmutFailed as exc:
            raise _fail(str(exc), 1) from None
        mutmut, stale = apply_ledger(mutmut, ledger)

    with _phase(phases, "report", console):
        document = report_json(named, catalog, mutmut, phases)
        if json_path is not None:
            write_json(json_path, document)
        if not no_cache:  # what `killmatrix list` shows as each test's kills
            write_json(root / CACHE_DIR_NAME / LAST_REPORT, document)
        if stryker_path is not None:
            write_json(stryker_path, stryker_report(named, catalog, mutmut, root))
        if markdown_path is not None:
            markdown_path.parent.mkdir(parents=True, exist_ok=True)
            markdown_path.write_text(report_markdown(named, catalog, mutmut))
    print_report(console, named, catalog, mutmut, stale, list(runner.baselines.values()), phases)
    ok = passes(named, mutmut)
    console.print("[bold green]report: pass[/bold green]" if ok else "[bold red]report: FAIL[/bold red]")
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
