"""A pytest plugin (`-p killmatrix.plugins.audit_plugin`) for audited outside tests.

Outside tests import `impl.*` directly instead of taking our fixtures, so nothing marks them
`flash` or `beam`; the mutation runner selects each algorithm's tests with `-m`. This plugin marks
every test module by the reference modules it imports (or as `--audit-algorithm` says), and loads
the derandomized Hypothesis profile, so an audit's verdicts do not change between runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from killmatrix.algorithms import ALGORITHMS, of_reference_module
from killmatrix.plugins.profiles import load_profile

_IMPORTS = re.compile(
    r"^\s*(?:from\s+impl\.(\w+)\s+import|import\s+impl\.(\w+)|from\s+impl\s+import\s+([\w\s,()]+))", re.M
)



def algorithms_tested(source: str) -> set[str]:
    """The algorithms whose reference modules `source` imports; else those its text names; else all."""
    found = set()
    for match in _IMPORTS.finditer(source):
        names = [match.group(1), match.group(2)] + re.split(r"[\s,()]+", match.group(3) or "")
        found |= {of_reference_module(n) for n in names} - {None}
    # A test that touches no reference still runs against the mutants it is about: it just kills none.
    return found or {a.name for a in ALGORITHMS if a.mentioned_in(source)} or {a.name for a in ALGORITHMS}


def pytest_addoption(parser):
    parser.addoption("--audit-algorithm", action="append", default=[],
                     help="mark every audited test with this algorithm instead of guessing from its imports")


def pytest_configure(config):
    load_profile()


def pytest_collection_modifyitems(config, items):
    forced = set(config.getoption("audit_algorithm"))
    by_file: dict[Path, set[str]] = {}
    for item in items:
        path = Path(str(item.fspath))
        if path not in by_file:
            by_file[path] = forced or algorithms_tested(path.read_text(encoding="utf-8", errors="replace"))
        for algorithm in sorted(by_file[path]):
            item.add_marker(getattr(pytest.mark, algorithm))
