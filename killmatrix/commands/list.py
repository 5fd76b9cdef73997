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
from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from killmatrix.algorithms import algorithm_label
from killmatrix.commands.arguments import AlgorithmOption, fail, output_option
from killmatrix.mutation.catalog import ROOT, load_catalog
from killmatrix.mutation.result_cache import CACHE_DIR_NAME
from killmatrix.rendering.terminal import console, styled, write_json

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
    from killmatrix.rendering.suite_inventory import discover

    report = last_report(root)
    kills = kills_by_test(report)
    status = {r["id"]: r for r in (report or {}).get("mutants", [])}
    tests = [t for t in discover(root) if algorithm in (None, t.algorithm)]
    mutants = [m for m in load_catalog(root / "mutation_config") if algorithm in (None, m.algorithm)]
    return {
        "report": report is not None,
        "tests": [
            {"id": t.test_id, "algorithm": t.algorithm, "family": t.family, "tier": t.tier, "why": t.why,
             "kills": sorted(kills.get(t.test_id, []))}
            for t in tests
        ],
        "mutants": [
            {"id": m.id, "algorithm": m.algorithm, "kind": m.kind, "bug": m.bug,
             "status": "equivalent" if m.equivalent else status.get(m.id, {}).get("status", "not run"),
             "killed_by": status.get(m.id, {}).get("killed_by", [])}
            for m in mutants
        ],
    }


def _tests_table(algorithm: str, tests: list[dict], report_ran: bool) -> Table:
    """A heading row per family; per test its name on a line of its own (never split), then why it exists,
    then its tier and what it kills, folded to the width: one column, so any width down to a name's fits."""
    table = Table(title=f"{algorithm_label(algorithm)}: properties and adversarial tests", box=box.SIMPLE_HEAD,
                  title_justify="left")
    table.add_column("family / test: why it exists; tier; kills (last report)", overflow="fold")
    family = None
    for t in tests:
        if t["family"] != family:
            family = t["family"]
            table.add_row(Text(family, style="bold cyan"))
        kills = (", ".join(t["kills"]) or "none") if report_ran else "not run"
        facts = ([f"tier: {t['tier']}"] if t.get("tier") else []) + [f"kills: {kills}"]
        table.add_row(Group(
            Text(t["id"].split("::", 1)[1], style="bold", no_wrap=True, overflow="ellipsis"),
            Padding(Text(t["why"] or "-"), (0, 0, 0, 2)),
            Padding(Text("; ".join(facts), style="green" if t["kills"] else "dim"), (0, 0, 0, 2)),
        ))
    return table


def _mutants_table(mutants: list[dict]) -> Table:
    table = Table(title="Named mutants", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("id", "algorithm", "kind", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("bug", overflow="fold")
    for m in mutants:
        table.add_row(Text(m["id"]), algorithm_label(m["algorithm"]), m["kind"], styled(m["status"]), Text(m["bug"]))
    return table


def _print(console: Console, document: dict) -> None:
    by_algorithm: dict[str, list[dict]] = {}
    for t in document["tests"]:
        by_algorithm.setdefault(t["algorithm"], []).append(t)
    for algorithm, tests in by_algorithm.items():
        console.print(_tests_table(algorithm, tests, document["report"]))
    console.print(_mutants_table(document["mutants"]))
    if not document["report"]:
        console.print("[dim]No report yet: run `killmatrix report` to see what each test kills.[/dim]")


def list_suite(
    algorithm: AlgorithmOption = None,
    json_path: Annotated[Path | None, output_option("--json", "the listing as JSON")] = None,
    root: Annotated[Path, typer.Option(help="The project tree to list.", hidden=True)] = ROOT,
) -> None:
    """List the suite's properties and adversarial tests and the named mutants, with what kills what."""
    try:
        document = listing(root, algorithm)
    except (ValueError, SyntaxError, OSError) as exc:
        raise fail("list", str(exc)) from None
    _print(console(json_path), document)
    if json_path is not None:
        write_json(json_path, document)


def register(app: typer.Typer) -> None:
    app.command("list")(list_suite)
