"""`killmatrix grade DIR`: every submission folder against the suite, one row each.

A row has the verdict (correctness alone decides, as in `check`), correctness passed/total with the
first failing correctness property, the extensions the submission supports or breaks, and its
hardening score; the JSON also keeps every property and a passed/total cell per property family.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer

from killmatrix.algorithms import algorithm_label
from killmatrix.commands.arguments import (
    ExecutorOption,
    NoIsolation,
    SchedulerOption,
    SchedulerTimeout,
    executor_for,
    html_option,
    isolation,
    output_option,
)
from killmatrix.commands.check import (
    JsonPath,
    MemoryGb,
    SlowTimeout,
    Timeout,
    empty_selection_error,
    judge,
    settings_from_options,
)
from killmatrix.execution.executors import Executor, Folder, Tree, relocate
from killmatrix.mutation.catalog import ROOT
from killmatrix.outside.check_run import SUITE_PARTS, LoadError, RunSettings
from killmatrix.outside.submissions import Submission, discover
from killmatrix.outside.verdicts import judge_verdicts, selects_no_correctness
from killmatrix.rendering import terminal
from killmatrix.rendering.html_pages import grade_page, write_page
from killmatrix.rendering.progress import phase_progress
from killmatrix.rendering.terminal import family_cell, grade_markdown, grade_table, write_json


def grade_row(submission: Submission, settings: RunSettings, selection: list[str] | None = None,
              suite_root: Path = ROOT) -> dict:
    """One row: the submission's verdict and tier summaries, its cells by family and every property.

    A row whose selection held no correctness property gets verdict `error` and `selected_nothing`:
    it ran nothing that could pass."""
    row = {"name": submission.name, "algorithm": submission.algorithm, "target": submission.target}
    try:
        _, verdicts = judge(submission.algorithm, submission.target, settings, selection=selection,
                            suite_root=suite_root)
    except LoadError as exc:
        return {**row, "verdict": "error", "troubles": ["load error"], "load_error": str(exc), "cells": {},
                "properties": [], "selected_nothing": False}
    by_family: dict[str, list] = {}
    for v in verdicts:
        by_family.setdefault(v.family, []).append(v)
    judgement = judge_verdicts(verdicts)
    first = judgement.first_failure
    nothing = selects_no_correctness(verdicts)
    troubles = ["nothing selected"] if nothing else \
        [s for s in ("timeout", "error") if any(v.status == s for v in verdicts)]
    return {**row, "verdict": "error" if nothing else judgement.verdict, "reason": judgement.reason,
            "troubles": troubles, "load_error": None, "selected_nothing": nothing,
            "first_failure": first.to_json() if first is not None else None, **judgement.tiers_json(),
            "cells": {family: family_cell(vs) for family, vs in by_family.items()},
            "properties": [v.to_json() for v in verdicts]}


@dataclass(frozen=True)
class GradeTask:
    """One submission's grading, its folder carried along (as an archive to a worker without this filesystem)."""

    submission: Submission
    folder: Folder
    settings: RunSettings
    selection: tuple[str, ...] | None


def submission_folder(submission: Submission, directory: Path) -> Path:
    """The folder that travels with a submission: its subfolder, or the file's own folder if it lives elsewhere."""
    folder = (Path(directory) / submission.name).resolve()
    return folder if submission.path.is_relative_to(folder) else submission.path.parent


def grade_task(task: GradeTask, suite_root: Path) -> dict:
    """grade_row wherever the task runs (against the suite at `suite_root` there), the row naming the
    submission's paths as the submitting machine does."""
    selection = list(task.selection) if task.selection is not None else None
    with task.folder.opened() as here:
        if str(here) == task.folder.origin:
            return grade_row(task.submission, task.settings, selection, suite_root)
        moved = replace(task.submission, path=here / task.submission.path.relative_to(task.folder.origin))
        return relocate(grade_row(moved, task.settings, selection, suite_root), {str(here): task.folder.origin})


def grade_all(submissions: list[Submission], directory: Path, settings: RunSettings, executor: Executor,
              selection: list[str] | None = None, on_row=None) -> list[dict]:
    """Every submission's row, in the order given, graded on `executor`."""
    tasks = [GradeTask(s, executor.folder(submission_folder(s, directory)), settings,
                       tuple(selection) if selection is not None else None) for s in submissions]
    # The suite travels too: every worker judges with this machine's properties, whatever it has installed.
    return executor.map(grade_task, tasks, shared=(Tree(ROOT, SUITE_PARTS),), on_result=on_row)


def by_algorithm(rows: list[dict]) -> dict[str, list[dict]]:
    """The rows of each algorithm, in the order given."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["algorithm"], []).append(row)
    return out


def grade(
    directory: Annotated[Path, typer.Argument(help="A folder of submission folders.")],
    json_path: JsonPath = None,
    markdown_path: Annotated[Path | None, output_option("--markdown", "the results as Markdown")] = None,
    html_path: Annotated[Path | None, html_option("the grade matrix")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Submissions checked side by side.")] = 2,
    keyword: Annotated[str | None, typer.Option("-k", help="Only the properties matching this -k expression.")] = None,
    timeout: Timeout = 15.0,
    slow_timeout: SlowTimeout = 60.0,
    budget: Annotated[float, typer.Option("--budget", help="Wall-clock seconds for each submission.")] = 120.0,
    memory_gb: MemoryGb = 3.0,
    no_isolation: NoIsolation = False,
    executor_name: ExecutorOption = "local",
    scheduler: SchedulerOption = None,
    scheduler_timeout: SchedulerTimeout = 10.0,
) -> None:
    """Grade every submission in DIR: one row per submission with its verdict and tier summaries."""
    console = terminal.console(json_path, markdown_path, html_path)
    settings = settings_from_options(timeout, slow_timeout, budget, memory_gb, isolation("grade", no_isolation))
    try:
        submissions = discover(directory)
    except ValueError as exc:
        typer.echo(f"killmatrix grade: {exc}", err=True)
        raise typer.Exit(2) from None
    start = time.monotonic()
    with executor_for("grade", executor_name, scheduler, jobs, scheduler_timeout) as executor, \
            phase_progress("grading", len(submissions)) as progress:
        selection = ["-k", keyword] if keyword else None
        ordered = grade_all(submissions, directory, settings, executor, selection, on_row=lambda row: progress.update(
            advance=1, detail=f"{algorithm_label(row['algorithm'])}/{row['name']}: {row['verdict']}"))
    tables = by_algorithm(ordered)
    empty = {r["algorithm"]: bool(r["properties"]) for r in ordered if r["selected_nothing"]}
    if empty:
        for algorithm, selected_any in empty.items():
            typer.echo(empty_selection_error("grade", algorithm.replace("_", "-"), keyword, selected_any), err=True)
        raise typer.Exit(2)
    for algorithm, algorithm_rows in tables.items():
        console.print(grade_table(algorithm, algorithm_rows))
        for row in algorithm_rows:
            if row["load_error"]:
                console.print(terminal.plain(f"  {row['name']}: load error: {row['load_error']}"))
    unconfined = "" if settings.isolation else " (no isolation)"
    console.print(f"graded {len(ordered)} submissions in {time.monotonic() - start:.0f} s{unconfined}")
    if markdown_path is not None:
        terminal.write_text(markdown_path, grade_markdown(tables))
    if json_path is not None:
        write_json(json_path, {"submissions": ordered})
    if html_path is not None:
        write_page(html_path, grade_page({"submissions": ordered}))
    raise typer.Exit(0 if all(r["verdict"] == "pass" for r in ordered) else 1)


def register(app: typer.Typer) -> None:
    app.command("grade")(grade)
