"""Present results: Rich tables for the terminal, JSON documents and Markdown.

Every function here only formats (or writes what it formatted); nothing runs tests or decides a verdict.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from killmatrix.algorithms import algorithm_label
from killmatrix.outside.verdicts import CORRECTNESS, HARDENING, PERFORMANCE, TIERS, Judgement, PropertyVerdict

STATUS_STYLE = {
    "passed": "green", "failed": "bold red", "error": "bold magenta", "timeout": "yellow", "skipped": "dim",
    "killed": "green", "survived": "bold red", "equivalent": "dim", "accepted": "dim",
    "unsupported": "dim", "not_applicable": "dim",
}


STDOUT = "-"  # as a --json/--markdown/--stryker path: write the document to stdout
PIPED_WIDTH = 100  # piped and without COLUMNS: what every table is laid out to fit


def is_stdout(path: Path | str | None) -> bool:
    return path is not None and str(path) == STDOUT


def console(*outputs: Path | str | None, stderr: bool = False) -> Console:
    """Where tables and messages go: stdout, or stderr when one of `outputs` is `-` so stdout holds only that document.

    Width: COLUMNS when set, else the terminal's, else (piped) PIPED_WIDTH."""
    stderr = stderr or any(map(is_stdout, outputs))
    stream = sys.stderr if stderr else sys.stdout
    sized = os.environ.get("COLUMNS", "").strip().isdigit() or stream.isatty()
    return Console(stderr=stderr, width=None if sized else PIPED_WIDTH)


def plain(text: object) -> str:
    """Text from tests or outside code, made safe for Rich: `[int32]` is a case id, not markup."""
    return escape(str(text))


def write_text(path: Path | str, text: str) -> None:
    """Write `text` to `path`, or to stdout when `path` is `-`."""
    if is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_json(path: Path | str, document: dict) -> None:
    write_text(path, json.dumps(document, indent=2) + "\n")


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


# check -------------------------------------------------------------------------------------------


def check_json(target: str, algorithm: str, judgement: Judgement, verdicts: Sequence[PropertyVerdict], *,
               isolated: bool = True) -> dict:
    """`isolated`: whether the outside code ran confined (false only under --no-isolation)."""
    return {"target": target, "algorithm": algorithm, "verdict": judgement.verdict, "reason": judgement.reason,
            "isolated": isolated, "properties": [v.to_json() for v in verdicts], "tiers": judgement.tiers_json()}


def tier_label(v: PropertyVerdict) -> str:
    return f"{v.tier}: {v.feature}" if v.feature else v.tier


def check_table(target: str, algorithm: str, verdicts: Sequence[PropertyVerdict]) -> Table:
    """One section per tier, correctness first: only that one decides the verdict."""
    table = Table(title=plain(f"{algorithm_label(algorithm)} properties of {target}"), show_lines=False, expand=False)
    table.add_column("tier", no_wrap=True)
    table.add_column("property", overflow="fold")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    ordered = sorted(verdicts, key=lambda v: (TIERS.index(v.tier), v.feature or ""))
    for i, v in enumerate(ordered):
        if i and v.tier != ordered[i - 1].tier:
            table.add_section()
        detail = v.detail
        if v.tier == HARDENING and v.cases[1]:
            detail = f"rejects {v.cases[0]} of {v.cases[1]}" + (f"; {detail}" if detail else "")
        # A correctness property that gave no pass is a failure, whatever its status word.
        fell_short = v.tier == CORRECTNESS and v.status != "passed"
        status = f"[bold red]{v.status}[/bold red]" if fell_short else styled(v.status)
        table.add_row(tier_label(v), plain(v.name), status, plain(detail))
    return table


def figure_text(name: str, value: object) -> str:
    """`largest_allocation_mib_n2048`, 2.0 -> `largest allocation 2.0 MiB at N=2048`."""
    words = name.split("_")
    unit = " MiB" if "mib" in words else ""
    at = "".join(f" at N={w[1:]}" for w in words if w[:1] == "n" and w[1:].isdigit())
    label = " ".join(w for w in words if w != "mib" and not (w[:1] == "n" and w[1:].isdigit()))
    return f"{label} {value}{unit}{at}"


def tiers_summary(judgement: Judgement, verdicts: Sequence[PropertyVerdict] = ()) -> str:
    """`correctness 14/14; extensions: kv_tile_size supported, return_lse unsupported; hardening 7/12; ...`"""
    parts = [f"correctness {judgement.correctness[0]}/{judgement.correctness[1]}"]
    if judgement.extensions:
        by_state: dict[str, list[str]] = {}
        for feature, state in judgement.extensions.items():
            by_state.setdefault(state, []).append(feature)
        parts.append("extensions: " + "; ".join(f"{', '.join(features)} {state}"
                                                for state, features in by_state.items()))
    if judgement.hardening[1]:
        parts.append(f"hardening {judgement.hardening[0]}/{judgement.hardening[1]}")
    performance = [figure_text(k, v) for k, v in judgement.figures.items()]
    performance += [f"{v.name.split('::')[-1].removeprefix('test_').replace('_', ' ')}: {v.status}"
                    for v in verdicts if v.tier == PERFORMANCE and not v.figures and v.status != "not_applicable"]
    if performance:
        parts.append("performance: " + ", ".join(performance))
    return "; ".join(parts)


def verdict_line(judgement: Judgement, verdicts: Sequence[PropertyVerdict], *, isolated: bool = True) -> str:
    """The closing line of `check`, then why it failed; `isolated=False`: the code ran unconfined."""
    line = f"verdict: [bold]{judgement.verdict}[/bold] ({plain(tiers_summary(judgement, verdicts))})"
    line += "" if isolated else " (no isolation)"
    return line + (f"\n  why: {plain(judgement.reason)}" if judgement.reason else "")


# audit -------------------------------------------------------------------------------------------


def audit_json(records: Sequence[dict]) -> dict:
    """`records`: per mutant {"id", "algorithm", "status", "killed_by", "bug", "detail"}."""
    counted = [r for r in records if r["status"] != "equivalent"]
    return {
        "mutants": [dict(r, killed_by=list(r["killed_by"])) for r in records],
        "killed": sum(r["status"] == "killed" for r in counted),
        "total": len(counted),
    }


def mutant_entry(mutant_id: str, status: str, body: str) -> Group:
    """A mutant's id and status on a line of their own, then `body` (markup) indented and folded below: neither
    the id nor a test name beside it is ever split, at any width a name fits in."""
    heading = Text.assemble((mutant_id, "bold"), "  ", (status, STATUS_STYLE.get(status, "")),
                            no_wrap=True, overflow="ellipsis")
    return Group(heading, Padding(Text.from_markup(body), (0, 0, 0, 2)))


def audit_table(records: Sequence[dict]) -> Table:
    table = Table(title="named mutants against the audited tests", box=box.SIMPLE_HEAD, show_header=False,
                  title_justify="left")
    table.add_column("mutant, status: killed by / what the tests miss", overflow="fold")
    for r in records:
        if r["status"] == "killed":
            what = ", ".join(r["killed_by"])
        elif r["status"] == "survived":
            what = r["bug"]
        else:
            what = r.get("detail") or r["bug"]
        table.add_row(mutant_entry(r["id"], r["status"], plain(what)))
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
    if len(statuses) == 1 and statuses <= {"skipped", "timeout", "error", "unsupported", "not_applicable"}:
        return statuses.pop()
    ran = [v for v in verdicts if v.status not in ("skipped", "unsupported", "not_applicable")]
    cell = f"{sum(v.status == 'passed' for v in ran)}/{len(ran)}"
    troubles = [s for s in ("timeout", "error") if s in statuses]
    return f"{cell} ({', '.join(troubles)})" if troubles else cell


def _row_verdict(row: dict) -> str:
    """pass/fail, with the statuses a reader must not miss: `fail (timeout)`, `error (load error)`."""
    troubles = row.get("troubles") or []
    return f"{row['verdict']} ({', '.join(troubles)})" if troubles else row["verdict"]


GRADE_COLUMNS = ("submission", "verdict", "correctness", "first failing correctness property", "extensions",
                 "hardening")


def _extensions_cell(extensions: dict[str, str]) -> str:
    """`fails: return_lse; supports: kv_tile_size` (unsupported features are left out), or `none`."""
    parts = [f"{word}: {', '.join(f for f, state in extensions.items() if state == state_name)}"
             for state_name, word in (("fails", "fails"), ("supported", "supports"))
             if state_name in extensions.values()]
    return "; ".join(parts) or "none"


def grade_cells(row: dict) -> list[str]:
    """The row's cells after the submission's name, as plain text."""
    if row.get("load_error"):
        return [_row_verdict(row), "load error", "", "", ""]
    correctness, hardening = row["correctness"], row["hardening"]
    first = row.get("first_failure")
    failing = "" if first is None else f"{first['name'].split('::')[-1]} ({first['status']})"
    if first is not None and first.get("tier") == "extension":
        failing = f"extension {first['feature']}: {failing}"
    return [_row_verdict(row), f"{correctness['passed']}/{correctness['total']}", failing,
            _extensions_cell(row["extensions"]),
            f"{hardening['rejected']}/{hardening['total']}" if hardening["total"] else "-"]


def grade_table(algorithm: str, rows: Sequence[dict]) -> Table:
    """`rows`: grade rows (killmatrix.commands.grade.grade_row)."""
    table = Table(title=f"grade: {algorithm_label(algorithm)}", box=box.SIMPLE_HEAD)
    for column in GRADE_COLUMNS:
        table.add_column(column, overflow="fold", no_wrap=column in ("submission", "verdict"))
    for row in rows:
        verdict, *rest = grade_cells(row)
        style = "green" if row["verdict"] == "pass" else "bold red"
        table.add_row(plain(row["name"]), f"[{style}]{plain(verdict)}[/{style}]", *map(plain, rest))
    return table


def grade_markdown(tables: dict[str, Sequence[dict]]) -> str:
    """One table per algorithm, one row per submission; then the load errors and the failure reasons."""
    out = []
    for algorithm, rows in tables.items():
        out += [f"### {algorithm}", "", "| " + " | ".join(GRADE_COLUMNS) + " |",
                "|" + " --- |" * len(GRADE_COLUMNS)]
        for row in rows:
            cells = [row["name"], *grade_cells(row)]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
        for row in rows:
            if row.get("load_error"):
                out.append(f"- {row['name']}: load error: {row['load_error']}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
