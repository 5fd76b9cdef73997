"""The mutation report for the terminal: the kill matrix, mutmut's totals and survivors, phase times."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from killmatrix.algorithms import algorithm_label
from killmatrix.mutation.catalog import NamedMutant
from killmatrix.mutation.kill_report import mutmut_score, mutmut_totals, unconfirmed_killers, unexplained
from killmatrix.mutation.ledger import EquivalentEntry, normalize_diff
from killmatrix.mutation.mutmut_runner import MutmutReport
from killmatrix.mutation.named_runner import Baseline, MutantResult
from killmatrix.rendering.terminal import mutant_entry, styled


def _module(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def kill_matrices(results: Sequence[MutantResult], catalog: dict[str, NamedMutant] | None = None) -> list[Table]:
    """Named mutants x test modules, one table per algorithm: how many tests of each module kill each mutant.

    The modules are numbered columns (the caption names them), so each matrix fits 100 columns."""
    by_algorithm: dict[str, list[MutantResult]] = {}
    for r in results:
        by_algorithm.setdefault(r.algorithm, []).append(r)
    kinds = {mutant_id: m.kind for mutant_id, m in (catalog or {}).items()}
    return [_kill_matrix(algorithm, rs, kinds) for algorithm, rs in by_algorithm.items()]


def _kill_matrix(algorithm: str, results: Sequence[MutantResult], kinds: dict[str, str]) -> Table:
    modules = sorted({_module(t) for r in results for t in r.killed_by})
    # No space inside an entry: the caption wraps between entries, never inside one.
    legend = [f"{i}:{m.rsplit('/', 1)[-1].removesuffix('.py')}" for i, m in enumerate(modules, 1)]
    if any(r.cached for r in results):
        legend.append("*:from-the-cache")
    table = Table(title=f"kill matrix: {algorithm_label(algorithm)}", caption=escape("  ".join(legend)),
                  caption_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("named mutant", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("kind", no_wrap=True)  # bug, or cost: same output, killed by a cost property
    for i, _ in enumerate(modules, 1):
        table.add_column(str(i), justify="right", no_wrap=True)
    for r in results:
        cells = []
        for module in modules:
            n = sum(_module(t) == module for t in r.killed_by)
            cells.append(f"[green]{n}[/green]" if n else "[dim]·[/dim]")
        table.add_row(escape(r.id), styled(r.status) + ("*" if r.cached else ""), kinds.get(r.id, "bug"), *cells)
    return table


def killers_table(results: Sequence[MutantResult], catalog: dict[str, NamedMutant]) -> Table:
    """Each mutant with what kills it (or why nothing does) below it: see render.mutant_entry."""
    table = Table(title="what kills each named mutant", box=box.SIMPLE_HEAD, show_header=False, title_justify="left")
    table.add_column("named mutant: killing tests / why not", overflow="fold")
    for r in results:
        if r.status == "killed":
            text = escape(", ".join(t.split("::", 1)[-1] for t in r.killed_by))
            missing = unconfirmed_killers(r, catalog[r.id])
            if missing:
                text += f"\n[yellow]named in the catalog but did not fail: {escape(', '.join(missing))}[/yellow]"
        elif r.status == "survived":
            text = f"[red]no test fails[/red]: {escape(catalog[r.id].bug)}"
        else:
            text = escape(r.detail)
        table.add_row(mutant_entry(r.id, r.status, text))
    return table


def mutmut_table(report: MutmutReport) -> Table:
    totals = mutmut_totals(report)
    title = f"mutmut over impl/: score {mutmut_score(report):.1f}%" + (" (cached)" if report.cached else "")
    table = Table(title=title)
    for name in totals:
        table.add_column(name, justify="right")
    table.add_row(*(str(v) for v in totals.values()))
    return table


def survivor_panels(report: MutmutReport) -> list[Panel]:
    panels = []
    for m in unexplained(report):
        body = Group(Syntax(m.diff or "(no diff)", "diff", theme="ansi_dark", word_wrap=True), escape(m.detail))
        panels.append(Panel(body, title=f"[red]{m.status}[/red] {escape(m.name)} ({escape(m.function)})", expand=False))
    return panels


def stale_ledger_lines(entries: Sequence[EquivalentEntry]) -> list[str]:
    return [f"[yellow]ledger entry matches no survivor[/yellow]: {escape(f'{e.file} {e.function}: {e.diff!r}')}"
            for e in entries]


def phases_table(phases: dict[str, float]) -> Table:
    table = Table(title="time per phase")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for name, seconds in phases.items():
        table.add_row(name, f"{seconds:.1f}")
    table.add_row("[bold]total[/bold]", f"[bold]{sum(phases.values()):.1f}[/bold]")
    return table


def slowest_tests_table(baselines: Sequence[Baseline], count: int = 8) -> Table:
    table = Table(title="slowest tests of the unmutated suite (each runs once per named mutant)")
    # A node id is one word: "ellipsis" cuts it short at the column's edge instead of splitting it, and
    # (unlike no_wrap) lets the column shrink first, so the seconds stay visible.
    table.add_column("test", overflow="ellipsis")
    table.add_column("seconds", justify="right")
    durations = [(t, s) for b in baselines for t, s in b.test_durations.items()]
    for test, seconds in sorted(durations, key=lambda item: -item[1])[:count]:
        table.add_row(escape(test.rsplit("/", 1)[-1]), f"{seconds:.2f}")
    return table


def print_report(
    console: Console,
    named: Sequence[MutantResult],
    catalog: dict[str, NamedMutant],
    mutmut: MutmutReport | None,
    stale: Sequence[EquivalentEntry],
    baselines: Sequence[Baseline],
    phases: dict[str, float],
) -> None:
    if named:
        for table in kill_matrices(named, catalog):
            console.print(table)
        console.print(killers_table(named, catalog))
    if baselines and any(b.test_durations for b in baselines):
        console.print(slowest_tests_table(baselines))
    if mutmut is not None:
        console.print(mutmut_table(mutmut))
        for panel in survivor_panels(mutmut):
            console.print(panel)
        for line in stale_ledger_lines(stale):
            console.print(line)
    console.print(phases_table(phases))


def named_mutants_markdown(records: Sequence[dict], catalog: dict[str, NamedMutant]) -> list[str]:
    """Named-mutant records (`report --json`'s "mutants") as a count line and a table: bug, status, killing tests."""
    judged = [r for r in records if r["status"] != "equivalent"]
    lines = [f"Named mutants killed: {sum(r['status'] == 'killed' for r in judged)}/{len(judged)}.", "",
             "| named mutant | bug | status | killing tests |", "| --- | --- | --- | --- |"]
    for r in records:
        killers = ", ".join(f"`{t.split('::', 1)[-1]}`" for t in r["killed_by"]) or _cell(r["detail"])
        bug = catalog[r["id"]].bug if r["id"] in catalog else "(not in the catalog)"
        lines.append(f"| `{r['id']}` | {_cell(bug)} | {r['status']} | {killers} |")
    return lines


MUTMUT_LINE_ORDER = ("killed", "equivalent", "accepted", "survived", "timeout", "error", "total")


def mutmut_score_line(totals: dict) -> str:
    """`report --json`'s "mutmut" totals as one sentence, every count named (accepted too, when the ledger has it)."""
    named = [k for k in MUTMUT_LINE_ORDER if k in totals] + \
        [k for k in totals if k not in MUTMUT_LINE_ORDER and k != "score"]
    counts = ", ".join(f"{totals[k]} {k}" for k in named)
    return f"mutmut over `impl/`: score {totals['score']:.1f}% ({counts})."


def ledger_item(entry: dict) -> str:
    """One equivalent (or accepted) mutmut mutant of `report --json`'s "equivalent_mutmut": where, what, why."""
    text = f"`{entry['function']}` in `{entry['file']}`: `{_changed(entry['diff'])}`: {entry['reason']}"
    if entry.get("decided_by") and "(decided by " not in entry["reason"]:  # the report writes it into the reason
        text += f" (decided by {entry['decided_by']})"
    return text


def report_markdown(document: dict, catalog: dict[str, NamedMutant]) -> str:
    """The kill matrix, the mutmut score and every equivalent mutant with its reason (`report --markdown`)."""
    lines = named_mutants_markdown(document["mutants"], catalog)
    if document.get("mutmut"):
        lines += ["", mutmut_score_line(document["mutmut"])]
    equivalent = [f"`{r['id']}`: {r['detail']}" for r in document["mutants"] if r["status"] == "equivalent"]
    equivalent += [ledger_item(e) for e in document.get("equivalent_mutmut") or ()]
    if equivalent:
        lines += ["", "Equivalent mutants:", ""] + [f"- {item}" for item in equivalent]
    accepted = [ledger_item(e) for e in document.get("accepted_mutmut") or ()]
    if accepted:
        lines += ["", "Accepted mutants (a difference the contract permits):", ""] + [f"- {a}" for a in accepted]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("\n", " ").replace("|", "\\|")


def _changed(diff: str) -> str:
    return " → ".join(ln[1:] for ln in normalize_diff(diff).splitlines())
