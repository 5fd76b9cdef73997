"""The `audit --impl` record in words: terminal tables and Markdown, from the CONTRACTS §4 record alone."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from killmatrix.rendering.terminal import audit_table, plain


def _score(part: dict) -> str:
    total = part["total"]
    return f"{part['killed']}/{total} ({part['killed'] / total:.0%})" if total else "0/0"


def summary_lines(record: dict) -> list[str]:
    """One line per part: what a person asks first (is my code right, how strong are my tests)."""
    lines = []
    if "check" in record:
        check = record["check"]
        lines.append(f"check: {check['verdict']}" + (f" ({check['reason']})" if check.get("reason") else ""))
    if "named" in record:
        lines.append(f"named bug classes killed by your tests: {_score(record['named'])}")
    if "own" in record:
        own = record["own"]
        if "missed_real" not in own:
            lines.append(f"mutants of your code killed by your tests: {_score(own)}; "
                         f"{len(own['untriaged'])} missed, not triaged")
        else:
            untriaged = f", {len(own['untriaged'])} not triaged (budget spent)" if own.get("untriaged") else ""
            lines.append(f"mutants of your code killed by your tests: {_score(own)}; missed: "
                         f"{len(own['missed_real'])} real bugs (the suite kills them), "
                         f"{len(own['survive_both'])} survive both (likely equivalent){untriaged}")
    if record.get("silent_tests"):
        lines.append(f"tests that assert nothing (they can never fail): {', '.join(record['silent_tests'])}")
    if record.get("timings"):
        lines.append("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in record["timings"].items()))
    return lines


def print_own_audit(console: Console, record: dict) -> None:
    if record["excluded_tests"]:
        table = Table(title="tests left out", box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("test", overflow="fold")
        table.add_column("why", overflow="fold")
        for entry in record["excluded_tests"]:
            table.add_row(plain(entry["name"]), plain(entry["reason"]))
        console.print(table)
    if "named" in record:
        console.print(audit_table(record["named"]["mutants"]))
    if record.get("own", {}).get("missed_real"):
        table = Table(title="real bugs your tests miss (mutants of your code the suite kills)", box=box.SIMPLE_HEAD,
                      title_justify="left", show_lines=True)
        table.add_column("mutant / change", overflow="fold")
        table.add_column("failing property, smallest input", overflow="fold")
        for m in record["own"]["missed_real"]:
            table.add_row(plain(f"{m['id']}\n{_changed_lines(m['diff'])}"), plain(f"{m['property']}\n{m['input']}"))
        console.print(table)
    for line in summary_lines(record):
        console.print(plain(line), highlight=False)


def _changed_lines(diff: str) -> str:
    return "\n".join(line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---"))


def own_audit_markdown(record: dict) -> str:
    lines = [f"# Audit of `{record['target']}` ({record['algorithm']})", ""]
    lines += [f"- {line}" for line in summary_lines(record)] + [""]
    if record["excluded_tests"]:
        lines += ["## Tests left out", "", "| test | why |", "| --- | --- |"]
        lines += [f"| `{e['name']}` | {e['reason']} |" for e in record["excluded_tests"]] + [""]
    if "named" in record:
        lines += ["## Named bug classes transplanted into your tests", "",
                  "| mutant | status | killed by / what the tests miss |", "| --- | --- | --- |"]
        for r in record["named"]["mutants"]:
            what = ", ".join(f"`{t}`" for t in r["killed_by"]) if r["status"] == "killed" else r["bug"]
            lines.append(f"| `{r['id']}` | {r['status']} | {what} |")
        lines.append("")
    if "own" in record:
        own = record["own"]
        lines += ["## Mutants of your code your tests miss", ""]
        sections = (("Real bugs, missed", own.get("missed_real")), ("Survive both", own.get("survive_both")),
                    ("Missed, not triaged", own.get("untriaged")))
        for title, entries in ((t, e) for t, e in sections if e is not None):
            lines += [f"### {title} ({len(entries)})", ""]
            for m in entries:
                where = f" — fails `{m['property']}` at {m['input']}" if "property" in m else ""
                lines += [f"`{m['id']}`{where}", "", "```diff", m["diff"].rstrip(), "```", ""]
    return "\n".join(lines)
