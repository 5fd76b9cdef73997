"""Mutants of the user's own implementation, made by mutmut's mutation engine, judged twice.

mutmut's `create_mutations` lists every node mutation of the file (its operators, its pragmas, its
rules on decorators and defaults); each becomes a whole mutated file with `deep_replace`, mutmut's own
one-node replacement. Mutations outside a top-level function or method (the `__main__` block,
module constants) are dropped, as mutmut drops them, and so are those inside `test*` functions: a
mutant of a test is not a bug of the implementation.

(a) The user's tests run against every mutant in one sandboxed pytest child per lane, a fork per
    mutant (killmatrix/plugins/own_mutant_plugin.py).
(b) Every mutant those tests miss runs through `check`'s machinery (target_run.run_suite_against)
    with a `-k` selection of fast correctness properties (the registry's `fast_properties`): a miss that fails a
    property the unmutated code passes is a real bug the tests let through; one that passes them
    all likely changes nothing (mutation tools cannot tell; here the suite is the oracle).
"""

from __future__ import annotations

import ast
import difflib
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from killmatrix.algorithms import BY_NAME
from killmatrix.audit.own_tests import Staged, pytest_base_args
from killmatrix.mutation.named_runner import child_env
from killmatrix.outside.check_run import LoadError, RunSettings, run_suite_against
from killmatrix.outside.verdicts import CORRECTNESS, property_verdicts
from killmatrix.plugins.pytest_runner import run_pytest
from killmatrix.sandbox.limits import GiB, Limits


# A few correctness properties that run in seconds and, between them, see every named bug class of the
# algorithm (oracle agreement, masking, tiling, ranking): the full suite per surviving mutant would
# cost minutes each. The unmutated code's full `check` is reported on its own.
def fast_selection(algorithm: str) -> str:
    """The `-k` expression of the algorithm's fast properties (the registry's); empty: every property."""
    return " or ".join(BY_NAME[algorithm].fast_properties)


def _fast_args(algorithm: str) -> list[str] | None:
    return ["-k", fast_selection(algorithm)] if BY_NAME[algorithm].fast_properties else None


ORACLE_SETTINGS = RunSettings(per_test_timeout_s=20.0, slow_test_timeout_s=40.0, budget_s=120.0,
                              memory_bytes=3 * GiB)


@dataclass(frozen=True)
class OwnMutant:
    id: str  # function__mutmut_N, numbered per function as mutmut numbers them
    function: str
    source: str  # the whole mutated file
    diff: str


def _function_name(node) -> str:
    return node.name.value


def _owning_class(method, module) -> set[str]:
    """The name of the top-level class whose body holds `method` (empty for a function)."""
    import libcst as cst

    return {node.name.value for node in module.body if isinstance(node, cst.ClassDef)
            and isinstance(node.body, cst.IndentedBlock) and any(m is method for m in node.body.body)}


def implementation_names(source: str, func: str) -> set[str]:
    """The top-level functions and classes `func` uses, transitively: the implementation. A helper only the
    tests call (a naive oracle, an input maker) is test code, and its mutants would be test bugs."""
    tree = ast.parse(source)
    defined = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    used, todo = set(), [func]
    while todo:
        name = todo.pop()
        if name in used or name not in defined:
            continue
        used.add(name)
        todo.extend(n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name))
    return {name for name in used if not name.startswith("test")}


def make_mutants(path: Path, func: str) -> list[OwnMutant]:
    """Every mutmut mutant of `func` and the functions and classes of the file it uses, each as a whole file
    with its diff."""
    from mutmut.mutation.file_mutation import create_mutations, deep_replace

    path = Path(path)
    source = path.read_text(encoding="utf-8")
    # mutmut reads its config (only `do_not_mutate_patterns`, here) from the cwd's setup.cfg/pyproject, and
    # fails where there is none: the user's file is mutated with mutmut's defaults, whatever the cwd holds.
    with mock.patch("mutmut.mutation.pragma_handling.config", lambda: SimpleNamespace(do_not_mutate_patterns=[])):
        module, mutations, _, _ = create_mutations(str(path), source)
    wanted = implementation_names(source, func)
    classes = {n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}
    counters: dict[str, int] = {}
    mutants = []
    for mutation in mutations:
        owner = mutation.contained_by_top_level_function
        if owner is None or not (_function_name(owner) in wanted or _owning_class(owner, module) & classes & wanted):
            continue
        mutated = deep_replace(module, mutation.original_node, mutation.mutated_node).code
        if mutated == source:
            continue
        name = _function_name(owner)
        counters[name] = counters.get(name, 0) + 1
        diff = "".join(difflib.unified_diff(source.splitlines(True), mutated.splitlines(True),
                                            f"a/{path.name}", f"b/{path.name}", n=1))
        mutants.append(OwnMutant(f"{name}__mutmut_{counters[name]}", name, mutated, diff))
    return mutants


@dataclass(frozen=True)
class TestsVerdict:
    """What the user's tests said about each mutant, and about the unmutated code."""

    __test__ = False
    tests: tuple[str, ...]
    failing_on_own: dict  # nodeid -> reason: tests that fail on the unmutated code (left out)
    results: dict  # mutant id -> {"status", "killed_by", "detail"}


def run_tests_on_mutants(staged: Staged, mutants: list[OwnMutant], *, jobs: int, isolation: bool,
                         timeout_s: float = 600.0, on_done: Callable[[int], None] | None = None,
                         left_out: tuple[str, ...] = ()) -> TestsVerdict:
    """The user's tests against the unmutated file and every mutant, `jobs` sandboxed children side by side.

    ValueError when the tests do not even collect (the reason is pytest's)."""
    work = staged.root.parent / f"{staged.root.name}-mutants"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    lanes = [mutants[i::jobs] for i in range(jobs)] if mutants else [[]]

    def lane(index: int, chunk: list[OwnMutant]) -> dict:
        folder = work / f"lane{index}"
        (folder / "results").mkdir(parents=True)
        (folder / "tmp").mkdir()
        manifest = []
        for mutant in chunk:
            file = folder / f"{mutant.id}.py"
            file.write_text(mutant.source, encoding="utf-8")
            manifest.append({"id": mutant.id, "source": str(file)})
        (folder / "manifest.json").write_text(json.dumps(manifest))
        env = {**child_env(staged.root, 2), "TMPDIR": str(folder / "tmp")}
        limits = Limits(timeout_s=timeout_s, memory_bytes=4 * GiB,
                        writable=(str(staged.root), str(folder)) if isolation else None)
        run = run_pytest(["-p", "killmatrix.plugins.own_mutant_plugin", "-p", "killmatrix.plugins.audit_plugin",
                          f"--own-mutants={folder / 'manifest.json'}", f"--own-file={staged.impl}",
                          f"--own-results={folder / 'results'}", *(f"--deselect={n}" for n in left_out),
                          *pytest_base_args(staged)],
                         cwd=staged.root, env=env, limits=limits, profile="kill")
        baseline_path = folder / "results" / "baseline.json"
        if not baseline_path.exists() or "error" in json.loads(baseline_path.read_text()):
            detail = json.loads(baseline_path.read_text())["error"] if baseline_path.exists() else \
                (run.child.stdout + run.child.stderr).strip()[-800:]
            raise ValueError(f"the tests do not run against the implementation itself: {detail}")
        results = {}
        for i, mutant in enumerate(chunk):
            path = folder / "results" / f"{i}.json"
            results[mutant.id] = json.loads(path.read_text()) if path.exists() else {
                "status": "timeout", "killed_by": "", "detail": f"the lane {run.child.describe} before it ran"}
            if on_done is not None:
                on_done(1)
        return {"baseline": json.loads(baseline_path.read_text()), "results": results}

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(lambda pair: lane(*pair), enumerate(lanes)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = done[0]["baseline"]
    results = {k: v for d in done for k, v in d["results"].items()}
    return TestsVerdict(tuple(base["tests"]), dict(base["failing"]), results)


_CONTRACT_SHIM = '''"""The user's function under the contract's API, through their adapter's to_contract."""
import importlib.util
import pathlib
import sys

_here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_here))


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, _here / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_user = _load({stem!r}, {impl!r})
_adapter = _load("killmatrix_user_adapter", {adapter!r})
contract_target = _adapter.to_contract(getattr(_user, {func!r}))
'''


def contract_target(folder: Path, impl_name: str, func: str, adapter: Path | None) -> str:
    """`PATH:FUNC` that `check` can load: the file itself, or a shim through the adapter's `to_contract`."""
    if adapter is None:
        return f"{folder / impl_name}:{func}"
    (folder / "killmatrix_contract_shim.py").write_text(_CONTRACT_SHIM.format(
        stem=Path(impl_name).stem, impl=impl_name, adapter=Path(adapter).name, func=func))
    return f"{folder / 'killmatrix_contract_shim.py'}:contract_target"


def failing_correctness(verdicts) -> dict[str, str]:
    """Correctness property name -> detail, for every one that gave no pass."""
    return {v.name: v.detail for v in verdicts if v.tier == CORRECTNESS and v.status != "passed"}


def split_detail(detail: str) -> tuple[str, str]:
    """(message, smallest failing input) of a verdict detail."""
    message, _, example = detail.partition(" | smallest failing input: ")
    return message.strip(), example.strip()


def triage(staged: Staged, mutants: list[OwnMutant], algorithm: str, func: str, adapter: Path | None,
           already_failing: set[str], *, jobs: int, isolation: bool, budget_s: float | None = None,
           on_done: Callable[[int], None] | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """(missed_real, survive_both, untriaged) of the mutants the user's tests missed, judged by the fast
    properties; a mutant not started within `budget_s` seconds stays untriaged (each costs a `check` run)."""
    settings = replace(ORACLE_SETTINGS, isolation=isolation)
    work = staged.root.parent / f"{staged.root.name}-triage"
    shutil.rmtree(work, ignore_errors=True)
    deadline = None if budget_s is None else time.monotonic() + budget_s

    def judge(mutant: OwnMutant) -> tuple[str, dict]:
        if deadline is not None and time.monotonic() > deadline:
            if on_done is not None:
                on_done(1)
            return "untriaged", {"id": mutant.id, "diff": mutant.diff}
        folder = work / mutant.id
        shutil.copytree(staged.root, folder)
        (folder / staged.impl.name).write_text(mutant.source, encoding="utf-8")
        target = contract_target(folder, staged.impl.name, func, adapter)
        try:
            run = run_suite_against(algorithm, target, settings, selection=_fast_args(algorithm))
            failing = failing_correctness(property_verdicts(run.outcomes, run.write_attempts, run.selected))
        except LoadError as exc:
            failing = {"<load>": f"the mutant does not load: {exc}"}
        finally:
            if on_done is not None:
                on_done(1)
        if any(name.startswith("<") and name != "<load>" for name in failing):
            # The suite run itself broke (start-up, collection): no verdict on the mutant either way.
            return "untriaged", {"id": mutant.id, "diff": mutant.diff}
        new = {name: d for name, d in failing.items() if name not in already_failing}
        if not new:
            return "survive_both", {"id": mutant.id, "diff": mutant.diff}
        name, detail = next(iter(new.items()))
        message, example = split_detail(detail)
        return "missed_real", {"id": mutant.id, "diff": mutant.diff, "property": name,
                               "input": example or message, "message": message}

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            judged = list(pool.map(judge, mutants))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tuple([r for kind, r in judged if kind == wanted] for wanted in ("missed_real", "survive_both", "untriaged"))

