"""`killmatrix audit --impl PATH[:FUNC] [--algorithm A] [--adapter FILE] [TESTS...]`: the command side of
killmatrix/audit/own_audit.py (progress per phase, outputs, exit status)."""

from __future__ import annotations

from pathlib import Path

import typer

from killmatrix.audit.own_audit import PARTS, audit_own
from killmatrix.audit.own_report import own_audit_markdown, print_own_audit
from killmatrix.commands.arguments import fail
from killmatrix.execution.executors import Executor
from killmatrix.mutation.catalog import ROOT
from killmatrix.mutation.result_cache import CACHE_DIR_NAME, ResultCache
from killmatrix.rendering import terminal
from killmatrix.rendering.html_pages import own_audit_page, write_page
from killmatrix.rendering.progress import phase_progress
from killmatrix.rendering.terminal import write_json, write_text

# Triage runs the suite's fast properties on each mutant the tests miss, all of a lane's in one child (~1-2 s
# for a mutant a property kills, ~4 s for one that passes them all, idle): a test set that kills nothing leaves
# every mutant to triage, so after this many seconds the rest are listed as not triaged (`--triage-budget`).
TRIAGE_BUDGET_S = 180.0


class _Phases:
    """One progress display per phase, as audit_own announces them."""

    def __init__(self):
        self._context = None
        self._progress = None

    def __call__(self, phase: str, total: int | None, advance: int) -> None:
        if phase:
            self.close()
            self._context = phase_progress(phase, total)
            self._progress = self._context.__enter__()
            self._progress.update(total=total)
        elif self._progress is not None:
            self._progress.update(advance=advance)

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = self._progress = None


def exit_code(record: dict) -> int:
    """0 when the code passes check and the tests kill every named mutant and miss no real bug; else 1."""
    check_ok = record.get("check", {}).get("verdict", "pass") == "pass"
    named = record.get("named")
    named_ok = named is None or named["killed"] == named["total"]
    own_ok = not record.get("own", {}).get("missed_real")
    return 0 if check_ok and named_ok and own_ok else 1


def audit_impl(impl: str, tests: list[Path], *, algorithms: list[str], adapter: Path | None, skip: list[str],
               jobs: int, no_cache: bool, isolated: bool, json_path: Path | None, markdown_path: Path | None,
               triage_budget_s: float | None = TRIAGE_BUDGET_S, html_path: Path | None = None,
               executor: Executor | None = None, only: list[str] = ()) -> None:
    if len(algorithms) > 1:
        raise fail("audit", "--impl audits one algorithm: pass --algorithm once")
    console = terminal.console(json_path, markdown_path, html_path)
    cache = ResultCache(None if no_cache else ROOT / CACHE_DIR_NAME)
    parts = [p for p in PARTS if p not in set(skip) and not (p == "triage" and "own" in skip)]
    phases = _Phases()
    try:
        record = audit_own(impl, algorithm=algorithms[0] if algorithms else None, adapter=adapter, tests=tests,
                           parts=parts, jobs=jobs, cache=cache, isolation=isolated, progress=phases,
                           triage_budget_s=triage_budget_s, executor=executor, only=only)
    except ValueError as exc:
        raise fail("audit", str(exc)) from None
    finally:
        phases.close()
    print_own_audit(console, record)
    if not isolated:
        console.print("(no isolation)")
    if json_path is not None:
        write_json(json_path, record)
    if markdown_path is not None:
        write_text(markdown_path, own_audit_markdown(record))
    if html_path is not None:
        write_page(html_path, own_audit_page(record))
    raise typer.Exit(exit_code(record))
