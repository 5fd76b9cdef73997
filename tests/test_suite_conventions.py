"""Claims about the suite's source that no run would notice going stale.

- The suite (impl/, properties/, adversarial/) imports nothing from killmatrix: it runs installed inside the
  package and copied into a scratch tree, where only its own top-level folders are importable.
- No suite test calls `hypothesis.target`: the `kill` profile drops Phase.target, and the catalogs' `killed_by`
  lists, measured under `kill`, stand for the `mutation` profile only while no test steers by a target score
  (killmatrix/plugins/profiles.py).
"""

from __future__ import annotations

import ast

import pytest

from killmatrix.layout import SUITE_ROOT

SUITE_FILES = sorted(p for folder in ("impl", "properties", "adversarial") for p in (SUITE_ROOT / folder).rglob("*.py"))


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: str(p.relative_to(SUITE_ROOT)))
def test_suite_module_imports_nothing_from_killmatrix(path):
    """Catches a property that reaches into the CLI's modules (it would break in an installed wheel)."""
    imported = _imports(ast.parse(path.read_text()))
    assert [name for name in imported if name.split(".")[0] == "killmatrix"] == []


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: str(p.relative_to(SUITE_ROOT)))
def test_no_suite_test_steers_by_a_target_score(path):
    """Catches a `hypothesis.target(...)` call (or `from hypothesis import target`), whose kills would then
    differ between the `kill` profile the catalogs are measured under and the `mutation` profile."""
    tree = ast.parse(path.read_text())
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "hypothesis" for alias in node.names}
    calls = [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert "target" not in imported and "hypothesis.target" not in calls


def test_the_suite_and_killmatrix_spell_not_applicable_alike():
    """Catches the two ends of the not-applicable protocol drifting apart: the suite's skips would then be
    reported as plain skips (or worse, counted) instead of not_applicable."""
    from killmatrix.tiers import NOT_APPLICABLE_PREFIX as read
    from properties.applicability import NOT_APPLICABLE_PREFIX as written

    assert read == written
