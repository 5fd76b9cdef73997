"""`killmatrix grade DIR`: every submission folder against the suite, as a matrix of property families."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from killmatrix import render
from killmatrix.commands.check import JsonPath, MemoryGb, SlowTimeout, Timeout, judge, settings_from_options
from killmatrix.render import family_cell, grade_markdown, grade_table, write_json
from killmatrix.submissions import Submission, discover
from killmatrix.target_run import LoadError, RunSettings
from killmatrix.verdicts import overall


def grade_row(submission: Submission, settings: RunSettings, selection: list[str] | None = None) -> dict:
    """One row of the matrix: the submission's verdict, its cells by family and every property."""
    row = {"name": submission.name, "algorithm": submission.algorithm, "target": submission.target}
    try:
        _, verdicts = judge(submission.algorithm, submission.target, settings, selection=selection)
    except LoadError as exc:
        return {**row, "verdict": "error", "troubles": ["load error"], "load_error": str(exc), "cells": {},
                "properties": []}
    by_family: dict[str, list] = {}
    for v in verdicts:
        by_family.setdefault(v.family, []).append(v)
    troubles = [s for s in ("timeout", "error") if any(v.status == s for v in verdicts)]
    return {**row, "verdict": overall(verdicts), "troubles": troubles, "load_error": None,
            "cells": {family: family_cell(vs) for family, vs in by_family.items()},
            "properties": [v.to_json() for v in verdicts]}


def matrices(rows: list[dict]) -> dict[str, tuple[list[str], list[dict]]]:
    """Per algorithm: its families (in suite order, as first seen) and its rows."""
    out: dict[str, tuple[list[str], list[dict]]] = {}
    for row in rows:
        families, algorithm_rows = out.setdefault(row["algorithm"], ([], []))
        families += [f for f in row["cells"] if f not in families]
        algorithm_rows.append(row)
    return out


def grade(
    directory: Annotated[Path, typer.Argument(help="A folder of submission folders.")],
    json_path: JsonPath = None,
    markdown_path: Annotated[Path | None, typer.Option("--markdown", help="Also write Markdown here.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Submissions checked side by side.")] = 2,
    keyword: Annotated[str | None, typer.Option("-k", help="Only the properties matching this -k expression.")] = None,
    timeout: Timeout = 15.0,
    slow_timeout: SlowTimeout = 60.0,
    budget: Annotated[float, typer.Option("--budget", help="Wall-clock seconds for each submission.")] = 120.0,
    memory_gb: MemoryGb = 3.0,
) -> None:
    """Grade every submission in DIR: one row per submission, one column per property family."""
    console = render.console()
    settings = settings_from_options(timeout, slow_timeout, budget, memory_gb)
    try:
        submissions = discover(directory)
    except ValueError as exc:
        typer.echo(f"killmatrix grade: {exc}", err=True)
        raise typer.Exit(2) from None
    start = time.monotonic()
    rows: dict[tuple[str, str], dict] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("grading", total=len(submissions))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            selection = ["-k", keyword] if keyword else None
            futures = {pool.submit(grade_row, s, settings, selection): s for s in submissions}
            for future in as_completed(futures):
                row = future.result()
                rows[(row["algorithm"], row["name"])] = row
                progress.update(task, advance=1, description=f"{row['algorithm']}/{row['name']}: {row['verdict']}")
    ordered = [rows[(s.algorithm, s.name)] for s in submissions]
    tables = matrices(ordered)
    for algorithm, (families, algorithm_rows) in tables.items():
        console.print(grade_table(algorithm, families, algorithm_rows))
        for row in algorithm_rows:
            if row["load_error"]:
                console.print(f"  {row['name']}: load error: {row['load_error']}")
    console.print(f"graded {len(ordered)} submissions in {time.monotonic() - start:.0f} s")
    if markdown_path is not None:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(grade_markdown(tables))
    if json_path is not None:
        write_json(json_path, {"submissions": ordered,
                               "families": {a: families for a, (families, _) in tables.items()}})
    raise typer.Exit(0 if all(r["verdict"] == "pass" for r in ordered) else 1)


def register(app: typer.Typer) -> None:
    app.command("grade")(grade)
