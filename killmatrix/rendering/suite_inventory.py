"""What the suite holds: every property and adversarial test, by algorithm and family, with its why.

Read statically (ast), so listing the suite imports and runs nothing. A test's algorithm is the
implementation-under-test fixture it takes; its family is its module (as in `grade`); its why is the
first sentence of its own docstring, or of its module's docstring when it has none.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from killmatrix.algorithms import ALGORITHM_NAMES, BY_NAME
from killmatrix.mutation.catalog import ROOT
from killmatrix.outside.verdicts import family_of
from killmatrix.tiers import UntieredTest, tier_of

SUITE_FOLDERS = ("properties", "adversarial")


@dataclass(frozen=True)
class SuiteTest:
    test_id: str  # path::function, as the catalog and the reports name tests
    algorithm: str
    family: str
    why: str
    tier: str = "untiered"  # `correctness`, `extension: FEATURE`, `hardening` or `performance` (killmatrix/tiers.py)


# A sentence ends at . ! or ? (maybe inside a closing bracket or quote) before whitespace or the end of the
# paragraph, but not at "e.g." or "i.e.", and not inside a number ("0.555", "1e-4.").
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)[.!?][)\]\"']*(?=\s|$)")


def first_sentence(docstring: str | None) -> str:
    """The whole first sentence of a docstring's first paragraph, its line breaks joined."""
    paragraph = " ".join((docstring or "").strip().split("\n\n", 1)[0].split())
    end = _SENTENCE_END.search(paragraph)
    return paragraph[:end.end()] if end else paragraph


def _tests_in(path: Path, root: Path) -> list[SuiteTest]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_why = first_sentence(ast.get_docstring(tree))
    relative = path.relative_to(root).as_posix()
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        args = {a.arg for a in node.args.args}
        algorithm = next((name for name in ALGORITHM_NAMES if BY_NAME[name].fixture in args), None)
        if algorithm is None:
            continue  # not written against an implementation under test: not part of the suite
        test_id = f"{relative}::{node.name}"
        why = first_sentence(ast.get_docstring(node)) or module_why
        found.append(SuiteTest(test_id, algorithm, family_of(test_id), why, _tier_label(test_id)))
    return found


def _tier_label(test_id: str) -> str:
    try:
        tier = tier_of(test_id)
    except UntieredTest:
        return "untiered"  # collection refuses such a test; `list` still shows it, so it can be found
    return f"{tier.name}: {tier.feature}" if tier.feature else tier.name


def discover(root: Path = ROOT) -> list[SuiteTest]:
    """Every suite test under `root`, ordered by algorithm, then folder and module, then position."""
    tests = []
    for folder in SUITE_FOLDERS:
        for path in sorted((Path(root) / folder).rglob("test_*.py")):
            tests.extend(_tests_in(path, Path(root)))
    order = list(ALGORITHM_NAMES)
    return sorted(tests, key=lambda t: order.index(t.algorithm))
