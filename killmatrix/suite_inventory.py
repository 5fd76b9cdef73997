"""What the suite holds: every property and adversarial test, by algorithm and family, with its why.

Read statically (ast), so listing the suite imports and runs nothing. A test's algorithm is the
implementation-under-test fixture it takes; its family is its module (as in `grade`); its why is the
first line of its docstring, or of its module's docstring.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from killmatrix.catalog import ROOT
from killmatrix.targets import ENV
from killmatrix.verdicts import family_of

SUITE_FOLDERS = ("properties", "adversarial")


@dataclass(frozen=True)
class SuiteTest:
    test_id: str  # path::function, as the catalog and the reports name tests
    algorithm: str
    family: str
    why: str


def _first_line(docstring: str | None) -> str:
    return (docstring or "").strip().splitlines()[0].strip() if (docstring or "").strip() else ""


def _tests_in(path: Path, root: Path) -> list[SuiteTest]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_why = _first_line(ast.get_docstring(tree))
    relative = path.relative_to(root).as_posix()
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        args = {a.arg for a in node.args.args}
        algorithm = next((alg for alg in ENV if f"{alg}_impl" in args), None)
        if algorithm is None:
            continue  # not written against an implementation under test: not part of the suite
        test_id = f"{relative}::{node.name}"
        why = _first_line(ast.get_docstring(node)) or module_why
        found.append(SuiteTest(test_id, algorithm, family_of(test_id), why))
    return found


def discover(root: Path = ROOT) -> list[SuiteTest]:
    """Every suite test under `root`, ordered by algorithm, then folder and module, then position."""
    tests = []
    for folder in SUITE_FOLDERS:
        for path in sorted((Path(root) / folder).rglob("test_*.py")):
            tests.extend(_tests_in(path, Path(root)))
    order = list(ENV)
    return sorted(tests, key=lambda t: order.index(t.algorithm))
