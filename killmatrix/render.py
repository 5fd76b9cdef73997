"""Present results: Rich tables for the terminal, JSON documents (CONTRACTS §4) and Markdown.

Every function here only formats (or writes what it formatted); nothing runs tests or decides a verdict.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from killmatrix.verdicts import PropertyVerdict

STATUS_STYLE = {
    "passed": "green", "failed": "bold red", "error": "bold magenta", "timeout": "yellow", "skipped": "dim",
    "killed": "green", "survived": "bold red", "equivalent": "dim",
}


def console(piped_width: int = 200) -> Console:
    """The terminal's own width; piped to a file or a log, wide tables need not fit 80 columns."""
    return Console() if sys.stdout.isatty() else Console(width=piped_width)


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


# check -------------------------------------------------------------------------------------------


def check_json(target: str, algorithm: str, verdict: str, verdicts: Sequence[PropertyVerdict]) -> dict:
    return {"target": target, "algorithm": algorithm, "verdict": verdict, "properties": [v.to_json() for v in verdicts]}


def check_table(target: str, algorithm: str, verdicts: Sequence[PropertyVerdict]) -> Table:
    table = Table(title=f"{algorithm} properties of {target}", show_lines=False, expand=False)
    table.add_column("property", overflow="fold")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for v in verdicts:
        table.add_row(v.name, styled(v.status), v.detail)
    return table


def status_counts(verdicts: Sequence[PropertyVerdict]) -> str:
    counts = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())


# audit -------------------------------------------------------------------------------------------


def audit_json(records: Sequence[dict]) -> dict:
    """`records`: per mutant {"id", "algorithm", "status", "killed_by", "bug", "detail"}."""
    counted = [r for r in records if r["status"] != "equivalent"]
    return {
        "mutants": [dict(r, killed_by=list(r["killed_by"])) for r in records],
        "killed": sum(r["status"] == "killed" for r in counted),
        "total": len(counted),
    }


def audit_table(records: Sequence[dict]) -> Table:
    table = Table(title="named mutants against the audited tests")
    table.add_column("mutant")
    table.add_column("status")
    table.add_column("killed by / what the tests miss", overflow="fold")
    for r in records:
        if r["status"] == "killed":
            what = ", ".join(r["killed_by"])
        elif r["status"] == "survived":
            what = r["bug"]
        else:
            what = r.get("detail") or r["bug"]
        table.add_row(r["id"], styled(r["status"]), what)
    return table


def audit_markdown(records: Sequence[dict]) -> str:
    summary = audit_json(records)
    lines = [f"Score: {summary['killed']}/{summary['total']} named mutants killed.", "",
             "| mutant | status | killed by / what the tests miss |", "| --- | --- | --- |"]
    for r in records:
        what = ", ".join(f"`{t}`" for t in r["killed_by"]) if r["status"] == "killed" else r["bug"]
        lines.append(f"| `{r['id']}` | {r['status']} | {what} |")
    return "\n".join(lines) + "\n"


# grade -------------------------------------------------------------------------------------------


def family_cell(verdicts: Sequence[PropertyVerdict]) -> str:
    """passed/total over the properties that ran, or one status word when none could give an answer
    (all skipped, all timed out, all errors)."""
    if not verdicts:
        return "-"
    statuses = {v.status for v in verdicts}
    if len(statuses) == 1 and statuses <= {"skipped", "timeout", "error"}:
        return statuses.pop()
    ran = [v for v in verdicts if v.status != "skipped"]
    cell = f"{sum(v.status == 'passed' for v in ran)}/{len(ran)}"
    troubles = [s for s in ("timeout", "error") if s in statuses]
    return f"{cell} ({', '.join(troubles)})" if troubles else cell


def _cell_style(cell: str) -> str:
    if "/" in cell:
        passed, total = cell.split(" ", 1)[0].split("/")
        return f"[green]{cell}[/green]" if passed == total and "(" not in cell else f"[red]{cell}[/red]"
    return styled(cell)


def _row_verdict(row: dict) -> str:
    """pass/fail, with the statuses a reader must not miss: `fail (timeout)`, `error (load error)`."""
    troubles = row.get("troubles") or []
    return f"{row['verdict']} ({', '.join(troubles)})" if troubles else row["verdict"]


def grade_table(algorithm: str, families: Sequence[str], rows: Sequence[dict]) -> Table:
    """`rows`: {"name", "verdict", "cells": {family: cell}, "load_error"}."""
    table = Table(title=f"grade matrix: {algorithm}", box=box.SIMPLE_HEAD)
    table.add_column("submission", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for family in families:
        table.add_column(family.replace("_", "\n"), justify="center", no_wrap=True)  # headers break at "_"
    for row in rows:
        if row.get("load_error"):
            table.add_row(row["name"], styled(_row_verdict(row)), *["load error"] * len(families))
        else:
            table.add_row(row["name"], _row_verdict(row), *(_cell_style(row["cells"].get(f, "-")) for f in families))
    return table


def grade_markdown(matrices: dict[str, tuple[Sequence[str], Sequence[dict]]]) -> str:
    """One table per algorithm: submissions x property families."""
    out = []
    for algorithm, (families, rows) in matrices.items():
        out += [f"### {algorithm}", "", "| submission | verdict | " + " | ".join(families) + " |",
                "| --- | --- | " + " | ".join("---" for _ in families) + " |"]
        for row in rows:
            cells = ["load error"] * len(families) if row.get("load_error") else \
                [row["cells"].get(f, "-") for f in families]
            verdict = _row_verdict(row)
            out.append(f"| {row['name']} | {verdict} | " + " | ".join(cells) + " |")
        out.append("")
        for row in rows:
            if row.get("load_error"):
                out.append(f"- {row['name']}: load error: {row['load_error']}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
