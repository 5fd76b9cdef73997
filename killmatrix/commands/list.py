"""`killmatrix list`: what the suite holds, and what each test was last seen to kill.

Properties and adversarial tests by algorithm and family, each with the one line of why it exists;
then the named mutants with their bug and status. Kills and statuses come from the last
`killmatrix report` (`.killmatrix-cache/last_report.json`); before any report they read "not run".
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from killmatrix.catalog import ALGORITHMS, ROOT, load_catalog, parse_algorithm
from killmatrix.render import console, write_json
from killmatrix.result_cache import CACHE_DIR_NAME

LAST_REPORT = "last_report.json"


def last_report(root: Path) -> dict | None:
    path = root / CACHE_DIR_NAME / LAST_REPORT
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def kills_by_test(report: dict | None) -> dict[str, list[str]]:
    kills: dict[str, list[str]] = defaultdict(list)
    for record in (report or {}).get("mutants", []):
        for test_id in record.get("killed_by", []):
            kills[test_id].append(record["id"])
    return kills


def listing(root: Path, algorithm: str | None) -> dict:
    from killmatrix.suite_inventory import discover

    report = last_report(root)
    kills = kills_by_test(report)
    status = {r["id"]: r for r in (report or {}).get("mutants", [])}
    tests = [t for t in discover(root) if algorithm in (None, t.algorithm)]
    mutants = [m for m in load_catalog(root / "mutation_config") if algorithm in (None, m.algorithm)]
    return {
        "report": report is not None,
        "tests": [
            {"id": t.test_id, "algorithm": t.algorithm, "family": t.family, "why": t.why,
             "kills": sorted(kills.get(t.test_id, []))}
            for t in tests
        ],
        "mutants": [
            {"id": m.id, "algorithm": m.algorithm, "bug": m.bug,
             "status": "equivalent" if m.equivalent else status.get(m.id, {}).get("status", "not run"),
             "killed_by": status.get(m.id, {}).get("killed_by", [])}
            for m in mutants
        ],
    }


def _print(console: Console, document: dict) -> None:
    tests = Table(title="Suite: properties and adversarial tests", show_lines=False)
    for column in ("algorithm", "family", "test", "why", "kills (last report)"):
        tests.add_column(column, overflow="fold")
    for t in document["tests"]:
        kills = ", ".join(t["kills"]) if document["report"] else "not run"
        tests.add_row(t["algorithm"], t["family"], t["id"].split("::", 1)[1], t["why"], kills or "-")
    console.print(tests)
    mutants = Table(title="Named mutants")
    for column in ("id", "algorithm", "status", "bug"):
        mutants.add_column(column, overflow="fold")
    for m in document["mutants"]:
        mutants.add_row(m["id"], m["algorithm"], m["status"], m["bug"])
    console.print(mutants)
    if not document["report"]:
        console.print("[dim]No report yet: run `killmatrix report` to see what each test kills.[/dim]")


def list_suite(
    algorithm: Annotated[str | None, typer.Option(help=f"Only this algorithm: {', '.join(ALGORITHMS)}.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the listing as JSON.")] = None,
    root: Annotated[Path, typer.Option(help="The project tree to list.", hidden=True)] = ROOT,
) -> None:
    """List the suite's properties and adversarial tests and the named mutants, with what kills what."""
    try:
        document = listing(root, parse_algorithm(algorithm) if algorithm is not None else None)
    except (ValueError, SyntaxError, OSError) as exc:
        typer.echo(f"killmatrix list: {exc}", err=True)
        raise typer.Exit(2) from None
    _print(console(), document)
    if json_path is not None:
        write_json(json_path, document)


def register(app: typer.Typer) -> None:
    app.command("list")(list_suite)
