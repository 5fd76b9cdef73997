"""`killmatrix docs`: the pages under docs/generated/ rendered from the JSON a run wrote, never pasted by hand.

`make report` runs it on `reports/report.json` (the kill matrix, the mutmut score and the ledger), `make bench`
on the benches' `--json` files, `make grades` on `grade --json` files. How a page knows it is stale:
killmatrix/rendering/generated_docs.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from killmatrix.commands.arguments import fail
from killmatrix.mutation.catalog import ROOT
from killmatrix.rendering.generated_docs import GENERATED_DIR, write_generated_docs


def docs(
    report: Annotated[Path | None, typer.Option(
        "--report", help="A `report --json` file: writes kill-matrix.md and ledger.md.")] = None,
    bench: Annotated[list[Path] | None, typer.Option(
        "--bench", help="A bench's `--json` file (repeatable, one page for all): writes bench.md.")] = None,
    grade: Annotated[list[Path] | None, typer.Option(
        "--grade", help="A `grade --json` file (repeatable): writes grade-<folder>.md for each.")] = None,
    out: Annotated[Path | None, typer.Option(help="Where the pages go (default: docs/generated/ of the tree).")] = None,
    root: Annotated[Path, typer.Option(help="The project tree the runs were of.", hidden=True)] = ROOT,
) -> None:
    """Render docs/generated/*.md from the JSON that `report`, the benches and `grade` wrote."""
    if report is None and not bench and not grade:
        report = root / "reports" / "report.json"
    for path in [p for p in (report, *(bench or ()), *(grade or ())) if p is not None]:
        if not path.is_file():
            raise fail("docs", f"{path} does not exist: run the command that writes it first (make report, make bench)")
    try:
        written = write_generated_docs(root, out or root / GENERATED_DIR, report, bench or (), grade or ())
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise fail("docs", f"cannot render: {exc!r}") from None
    for path in written:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("docs")(docs)
