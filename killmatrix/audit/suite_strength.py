"""Audit outside tests: run them against every named mutant and record which bug classes they kill.

The tests are staged (copied) to a scratch folder with a `pytest.ini` of its own, named with `-c`:
pytest must never settle on the project's pyproject, whose `pythonpath = ["."]` would put the
unmutated tree first on sys.path and make every mutant look alive; and the audited folder itself
is never a cwd nor written. The staging path is a function of the audited paths, so the mutation
runner's result cache recognizes a repeated audit.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from killmatrix.execution.executors import Executor
from killmatrix.mutation.catalog import NamedMutant, load_catalog
from killmatrix.mutation.named_runner import MutantResult, run_named_mutants
from killmatrix.mutation.result_cache import ResultCache
from killmatrix.plugins.audit_plugin import algorithms_tested

_PYTEST_INI = """[pytest]
markers =
    flash: audited test run against the flash mutants
    beam: audited test run against the beam mutants
    flash_bwd: audited test run against the flash backward mutants
"""


@dataclass(frozen=True)
class StagedTests:
    root: Path
    paths: tuple[Path, ...]  # the staged copies, in the order given
    algorithms: frozenset[str]


def check_syntax(paths: Sequence[Path]) -> None:
    """ValueError naming the user's file and line when a Python file among `paths` does not parse.

    Checked before staging: pytest would report it as a collection error of the staged copy, i.e. as the
    reference's suite "not green", with a traceback through a temporary path."""
    for path in paths:
        path = Path(path)
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            try:
                compile(file.read_bytes(), str(file), "exec", dont_inherit=True)
            except SyntaxError as exc:
                raise ValueError(f"{file}:{exc.lineno}: {exc.msg}: no test was run") from None


def stage_tests(paths: Sequence[Path], forced: Sequence[str] = ()) -> StagedTests:
    """Copy the test files or folders to a fresh staging directory; ValueError for a missing path or a
    file that does not parse."""
    resolved = [Path(p).resolve() for p in paths]
    for given, path in zip(paths, resolved, strict=True):
        if not path.exists():
            raise ValueError(f"test path {str(given)!r} does not exist")
    check_syntax(paths)
    digest = hashlib.sha1("\0".join(map(str, resolved)).encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"killmatrix-audit-{digest}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    (root / "pytest.ini").write_text(_PYTEST_INI)
    staged, algorithms = [], set(forced)
    for index, path in enumerate(resolved):
        name = path.name if path.name not in {p.name for p in staged} else f"{index}_{path.name}"
        target = root / name
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, target)
        staged.append(target)
        if not forced:
            files = [path] if path.is_file() else sorted(path.rglob("test_*.py")) + sorted(path.rglob("*_test.py"))
            for file in files:
                algorithms |= algorithms_tested(file.read_text(encoding="utf-8", errors="replace"))
    return StagedTests(root, tuple(staged), frozenset(algorithms))


def pytest_args(staged: StagedTests, forced: Sequence[str] = ()) -> list[str]:
    return ["-p", "killmatrix.plugins.sandbox_plugin", "-p", "killmatrix.plugins.audit_plugin",
            "-c", str(staged.root / "pytest.ini"), "--rootdir", str(staged.root),
            *(f"--audit-algorithm={a}" for a in forced), *map(str, staged.paths)]


def audit_records(results: Sequence[MutantResult], catalog: Sequence[NamedMutant]) -> list[dict]:
    """Per mutant: the CONTRACTS §4 fields plus its one-line bug description."""
    bugs = {m.id: m.bug for m in catalog}
    return [
        {"id": r.id, "algorithm": r.algorithm, "status": r.status, "killed_by": list(r.killed_by),
         "bug": bugs.get(r.id, ""), "detail": r.detail}
        for r in results
    ]


def audit_tests(
    paths: Sequence[Path],
    *,
    algorithms: Sequence[str] = (),
    only: Sequence[str] = (),
    jobs: int = 2,
    cache: ResultCache | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[MutantResult], None] | None = None,
    isolation: bool = True,
    executor: Executor | None = None,
) -> list[dict]:
    """Run the tests at `paths` against the named mutants of the algorithms they test (or `only` these).

    `isolation`: confine each run to its scratch copy (killmatrix/sandbox/confinement.py); False only for
    `--no-isolation` on a machine that cannot confine. `executor`: where the mutants run (default: `jobs` local
    threads); the staged tests travel with the tree.

    ValueError for a missing path or an unknown mutant id; killmatrix.mutation.named_runner.BaselineFailed when the
    tests fail against the reference itself.
    """
    staged = stage_tests(paths, algorithms)
    try:
        catalog = load_catalog()
        unknown = sorted(set(only) - {m.id for m in catalog})
        if unknown:
            raise ValueError(f"no named mutant {', '.join(unknown)} in the catalog")
        mutants = [m for m in catalog if m.id in only] if only else \
            [m for m in catalog if m.algorithm in staged.algorithms]
        if on_start is not None:
            on_start(len(mutants))
        results = run_named_mutants(mutants, pytest_args(staged, algorithms), jobs=jobs, on_progress=on_progress,
                                    cache=cache, isolation=isolation, executor=executor, shipped=(staged.root,))
    finally:
        shutil.rmtree(staged.root, ignore_errors=True)
    return audit_records(results, catalog)
