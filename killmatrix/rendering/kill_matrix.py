"""The kill matrix as a document: named mutants x the tests that kill them, with what a reader follows a kill to.

Each mutant carries its diff against the reference and each killing test its source lines, so the page
built from this document (killmatrix.rendering.html_pages) links every cell to the test's line and the mutant's
diff without reading any file itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from killmatrix.mutation.catalog import NamedMutant
from killmatrix.mutation.named_runner import MutantResult
from killmatrix.rendering.stryker import span_of_test


def mutant_diff(mutant: NamedMutant, root: Path) -> str:
    """The unified diff from the reference to the mutant; its edits alone when they no longer apply."""
    path = Path(root) / mutant.file
    try:
        reference = path.read_text()
        mutated = mutant.apply_to_text(reference)
    except (OSError, ValueError):
        return "\n".join(f"-{e.find}\n+{e.replace}" for e in mutant.edits)
    lines = difflib.unified_diff(reference.splitlines(), mutated.splitlines(), f"a/{mutant.file}",
                                 f"b/{mutant.file}", n=2, lineterm="")
    return "\n".join(lines)


def source_of_test(root: Path, test_id: str) -> dict:
    """{"id", "file", "line", "source"}: where the test's `def` is and its text (line 0, no text: not found)."""
    path, _, _ = test_id.partition("::")
    record = {"id": test_id, "file": path, "line": 0, "source": ""}
    full = Path(root) / path
    if not full.is_file():
        return record
    text = full.read_text()
    span = span_of_test(text, test_id)
    if span is None:
        return record
    first, last = span
    return {**record, "line": first, "source": "\n".join(text.splitlines()[first - 1:last])}


def kill_matrix_json(named: Sequence[MutantResult], catalog: dict[str, NamedMutant], root: Path) -> dict:
    """{"mutants": [...], "tests": [...]}: every named mutant in run order, every killing test sorted."""
    mutants = []
    for result in named:
        mutant = catalog[result.id]
        mutants.append({"id": result.id, "algorithm": result.algorithm, "status": result.status,
                        "file": mutant.file, "bug": mutant.bug, "detail": result.detail,
                        "killed_by": list(result.killed_by), "diff": mutant_diff(mutant, root)})
    killers = sorted({t for r in named for t in r.killed_by})
    return {"mutants": mutants, "tests": [source_of_test(root, t) for t in killers]}
