"""The report in the mutation-testing-report-schema format (what Stryker and PIT emit).

The file opens in the mutation-testing-elements viewer: every named and mutmut mutant placed on its
source line, with its status and the tests that killed it. The schema is vendored in
`killmatrix/schemas/` and the output is validated against it in the tests.
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Sequence
from pathlib import Path

from killmatrix.mutation.catalog import NamedMutant
from killmatrix.mutation.ledger import normalize_diff
from killmatrix.mutation.mutmut_runner import MutmutMutant, MutmutReport
from killmatrix.mutation.named_runner import MutantResult

SCHEMA_PATH = Path(__file__).parents[1] / "schemas" / "mutation-testing-report-schema-3.8.4.json"
STATUS = {"killed": "Killed", "survived": "Survived", "timeout": "Timeout", "error": "RuntimeError",
          "equivalent": "Ignored", "accepted": "Ignored"}


def _position(source: str, offset: int) -> dict[str, int]:
    line = source.count("\n", 0, offset) + 1
    return {"line": line, "column": offset - (source.rfind("\n", 0, offset) + 1) + 1}


def _span(source: str, start: int, end: int) -> dict:
    return {"start": _position(source, start), "end": _position(source, max(end, start + 1))}


def named_location(source: str, mutant: NamedMutant) -> dict:
    """Where the first edit's text sits in the reference; the file's start if it no longer does."""
    offset = source.find(mutant.edits[0].find)
    if offset < 0:
        return _span(source, 0, 1)
    return _span(source, offset, offset + len(mutant.edits[0].find))


@functools.lru_cache(maxsize=16)
def _parsed(source: str) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Once per source file, not per mutant: the 1-based first and last line of every function (by
    name) and method (`Class.method`), the first one in `ast.walk` order winning; and the lines."""
    functions = ast.FunctionDef | ast.AsyncFunctionDef
    spans: dict[str, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, functions):
                    spans.setdefault(f"{node.name}.{child.name}", (child.lineno, child.end_lineno))
        if isinstance(node, functions):
            spans.setdefault(node.name, (node.lineno, node.end_lineno))
    return spans, source.splitlines()


def _changed_lines(diff: str, sign: str) -> list[str]:
    """The diff's removed (`-`) or added (`+`) lines, stripped."""
    return [ln[1:] for ln in normalize_diff(diff).splitlines() if ln[0] == sign]


def span_of_test(source: str, test_id: str) -> tuple[int, int] | None:
    """The 1-based lines of the `def` and the end of a test (`path::name` or `path::Class::name`) in its
    file's source; None when the source does not hold it."""
    _, _, name = test_id.partition("::")
    try:
        spans, _ = _parsed(source)
    except SyntaxError:
        return None
    return spans.get(name.replace("::", "."))


def mutmut_location(source: str, mutant: MutmutMutant) -> dict:
    """The first changed line of the mutant's diff, found inside its function in the reference."""
    removed = _changed_lines(mutant.diff, "-")
    spans, lines = _parsed(source)
    *owner, name = mutant.function.split(".")
    first, last = spans.get(f"{owner[0]}.{name}" if owner else name, (1, source.count("\n") + 1))
    for number in range(first, min(last, len(lines)) + 1):
        text = lines[number - 1]
        if removed and text.strip() == removed[0]:
            indent = len(text) - len(text.lstrip())
            return {"start": {"line": number, "column": indent + 1}, "end": {"line": number, "column": len(text) + 1}}
    return {"start": {"line": first, "column": 1}, "end": {"line": first, "column": 2}}


def stryker_report(
    named: Sequence[MutantResult],
    catalog: dict[str, NamedMutant],
    mutmut: MutmutReport | None,
    root: Path,
) -> dict:
    files: dict[str, dict] = {}
    killers: set[str] = set()

    def file_entry(path: str) -> dict | None:
        if path not in files:
            full = Path(root) / path
            if not full.is_file():
                return None
            files[path] = {"language": "python", "source": full.read_text(), "mutants": []}
        return files[path]

    for result in named:
        mutant = catalog[result.id]
        entry = file_entry(mutant.file)
        if entry is None:
            continue
        entry["mutants"].append({
            "id": f"named:{result.id}",
            "mutatorName": mutant.id,  # the viewer titles a mutant with this: the bug class
            "description": mutant.bug,
            "replacement": mutant.edits[0].replace,
            "location": named_location(entry["source"], mutant),
            "status": STATUS[result.status],
            "statusReason": result.detail or ", ".join(result.killed_by),
            "killedBy": list(result.killed_by),
            "coveredBy": list(result.killed_by),  # coverage is not measured: a test that failed on it ran it
            "duration": round(result.duration * 1000),
        })
        killers.update(result.killed_by)
    for mutant in mutmut.mutants if mutmut else ():
        entry = file_entry(mutant.file)
        if entry is None:
            continue
        entry["mutants"].append({
            "id": f"mutmut:{mutant.name}",
            "mutatorName": "mutmut",
            "description": mutant.diff,
            "replacement": "\n".join(_changed_lines(mutant.diff, "+")),
            "location": mutmut_location(entry["source"], mutant),
            "status": STATUS[mutant.status],
            # Both ledger classes are Ignored in the schema; the reason says which, so no reader takes an
            # accepted difference for an equivalence.
            "statusReason": (f"accepted: {mutant.detail}" if mutant.status == "accepted"
                             else mutant.detail or f"mutmut: {mutant.mutmut_status}"),
            "killedBy": list(mutant.killed_by),
            "coveredBy": list(mutant.killed_by),
        })
        killers.update(mutant.killed_by)
    test_files: dict[str, dict] = {}
    for test in sorted(killers):
        path, _, name = test.partition("::")
        if path not in test_files:
            full = Path(root) / path
            # The source lets the viewer's test view show each killer at its line.
            test_files[path] = {"source": full.read_text(), "tests": []} if full.is_file() else {"tests": []}
        entry = {"id": test, "name": name or path}
        span = span_of_test(test_files[path]["source"], test) if "source" in test_files[path] else None
        if span is not None:
            entry["location"] = {"start": {"line": span[0], "column": 1}}
        test_files[path]["tests"].append(entry)
    return {
        "schemaVersion": "2",
        "thresholds": {"high": 90, "low": 75},
        "projectRoot": str(Path(root).resolve()),
        "files": files,
        "testFiles": test_files,
        "framework": {"name": "killmatrix"},
    }


def validate(report: dict) -> None:
    """jsonschema.ValidationError if `report` does not follow the vendored schema."""
    import jsonschema

    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
