"""A pytest plugin (`-p killmatrix.audit_plugin`) for audited outside tests.

Outside tests import `impl.*` directly instead of taking our fixtures, so nothing marks them
`flash` or `beam`; the mutation runner selects each algorithm's tests with `-m`. This plugin marks
every test module by the reference modules it imports (or as `--audit-algorithm` says), and loads
the derandomized Hypothesis profile, so an audit's verdicts do not change between runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from killmatrix.profiles import load_profile

# The reference module each algorithm's mutants live in.
_MODULES = {"attention_bwd": "flash_bwd", "attention": "flash", "beam_search": "beam", "models": "beam"}
_IMPORTS = re.compile(
    r"^\s*(?:from\s+impl\.(\w+)\s+import|import\s+impl\.(\w+)|from\s+impl\s+import\s+([\w\s,()]+))", re.M
)


# For a test that imports no reference (a stub, a test of its own copy): what its text talks about.
_WORDS = {"flash_bwd": re.compile(r"backward|\bbwd\b", re.I), "flash": re.compile(r"flash|attention", re.I),
          "beam": re.compile(r"beam|\beos\b", re.I)}


def algorithms_tested(source: str) -> set[str]:
    """The algorithms whose reference modules `source` imports; else those its text names; else all."""
    found = set()
    for match in _IMPORTS.finditer(source):
        names = [match.group(1), match.group(2)] + re.split(r"[\s,()]+", match.group(3) or "")
        found |= {_MODULES[n] for n in names if n in _MODULES}
    # A test that touches no reference still runs against the mutants it is about: it just kills none.
    return found or {a for a, words in _WORDS.items() if words.search(source)} or set(_MODULES.values())


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
