"""`killmatrix audit --impl PATH[:FUNC]`: the user's own implementation, audited with the user's own tests.

Three parts, each in sandboxed children, on copies in scratch (killmatrix/audit/own_tests.py stages them):

check  the `check` verdict of the unmutated implementation (correctness tier decides);
named  every named mutant of the reference, transplanted into their tests in place of their function
       (killmatrix/plugins/transplant_plugin.py), after a baseline run with the unmutated reference that
       leaves out the tests checking something beyond the contract;
own    mutmut's mutants of their file, against their tests and, for the ones the tests miss, against
       the suite's fast correctness properties (killmatrix/audit/own_mutants.py).

The user's files are only read. The whole result is cached by the content of everything it reads.
"""

from __future__ import annotations

import ast
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from killmatrix.algorithms import BY_NAME
from killmatrix.audit.own_mutants import (
    contract_target,
    failing_correctness,
    fast_selection,
    make_mutants,
    run_tests_on_mutants,
    triage,
)
from killmatrix.audit.own_tests import (
    FoundTests,
    Staged,
    find_tests,
    pytest_base_args,
    reference_algorithm,
    stage,
    suite_tests,
)
from killmatrix.execution.executors import Executor
from killmatrix.mutation.catalog import ROOT, load_catalog
from killmatrix.mutation.named_runner import child_env, run_named_mutants
from killmatrix.mutation.result_cache import RUN_INPUTS, ResultCache, inputs_digest
from killmatrix.outside.check_run import LoadError, RunSettings, run_suite_against
from killmatrix.outside.verdicts import judge_verdicts, property_verdicts
from killmatrix.plugins.audit_plugin import algorithms_tested
from killmatrix.plugins.pytest_runner import run_pytest
from killmatrix.rendering.terminal import check_json
from killmatrix.sandbox.limits import GiB, Limits

# "triage" (the suite on the mutants their tests miss) needs "own"; without it the misses stay untriaged.
PARTS = ("check", "named", "own", "triage")
OWN_MODULES = ("killmatrix/algorithms.py", "killmatrix/audit", "killmatrix/outside", "killmatrix/plugins",
               "killmatrix/sandbox")
# The reference's own tests have no use for more than this; a test that hangs on the reference is left out.
BASELINE_LIMITS = Limits(timeout_s=300, memory_bytes=4 * GiB)
NO_ASSERTION = "asserts nothing: it can never fail, so it kills no mutant"


@dataclass(frozen=True)
class OwnTarget:
    path: Path
    func: str
    algorithm: str

    @property
    def label(self) -> str:
        return f"{self.path}:{self.func}"


def _defined_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def resolve_target(spec: str, algorithm: str | None) -> OwnTarget:
    """`PATH[:FUNC]` and the algorithm (given, or guessed from the file); ValueError naming what is wrong.
    Read as text only: the user's code never runs in this process."""
    location, _, func = spec.rpartition(":") if spec.count(":") and not Path(spec).exists() else (spec, "", "")
    path = Path(location).expanduser()
    if not path.is_file() or path.suffix != ".py":
        raise ValueError(f"--impl {spec!r}: no such .py file")
    path = path.resolve()
    source = path.read_text(encoding="utf-8", errors="replace")
    algorithm = algorithm or reference_algorithm(path)
    if algorithm is None:
        guessed = algorithms_tested(source)
        if len(guessed) != 1:
            raise ValueError(f"cannot tell which algorithm {path.name} implements; pass --algorithm")
        algorithm = next(iter(guessed))
    try:
        defined = _defined_functions(path)
    except SyntaxError as exc:
        raise ValueError(f"{path}:{exc.lineno}: {exc.msg}: cannot audit a file that does not parse") from None
    own = [name for name in defined if not name.startswith(("test", "_"))]
    if not func:
        default = BY_NAME[algorithm].default_function
        func = default if default in defined else (own[0] if len(own) == 1 else "")
        if not func:
            raise ValueError(f"name the function to audit as {path.name}:FUNC (functions in it: {', '.join(own)})")
    if func not in defined:
        raise ValueError(f"{path.name} defines no top-level function {func!r} (functions in it: {', '.join(own)})")
    return OwnTarget(path, func, algorithm)


def _transplant_args(staged: Staged, target: OwnTarget, adapter: Path | None) -> list[str]:
    args = ["-p", "killmatrix.plugins.transplant_plugin", "-p", "killmatrix.plugins.audit_plugin",
            f"--audit-algorithm={target.algorithm}", "--transplant-file", str(staged.impl),
            f"--transplant-func={target.func}", f"--transplant-reference={BY_NAME[target.algorithm].reference}"]
    if adapter is not None:
        args += ["--transplant-adapter", str(staged.root / adapter.name)]
    return args


def reference_baseline(staged: Staged, target: OwnTarget, adapter: Path | None,
                       isolation: bool) -> tuple[dict[str, str], list[str]]:
    """Their tests with the unmutated reference in place of their function: (nodeid -> failure for each that
    fails there (it checks something beyond the contract), every test run); ValueError when none runs."""
    limits = BASELINE_LIMITS if not isolation else Limits(
        timeout_s=BASELINE_LIMITS.timeout_s, memory_bytes=BASELINE_LIMITS.memory_bytes, writable=(str(staged.root),))
    env = {**child_env(ROOT, 1), "TMPDIR": str(staged.root / "tmp")}
    (staged.root / "tmp").mkdir(exist_ok=True)
    run = run_pytest([*_transplant_args(staged, target, adapter), *pytest_base_args(staged)],
                     cwd=staged.root, env=env, limits=limits, profile="kill")
    broken = [o for o in run.failed() if "::" not in o.nodeid]
    if broken or (not run.outcomes and run.child.status != "ok"):
        detail = broken[0].detail if broken else (run.child.stdout + run.child.stderr)
        raise ValueError(f"the tests do not run with the reference in place of {target.func}: {detail.strip()[-600:]}")
    failing = {o.nodeid: (o.detail.strip().splitlines() or ["failed"])[0][:300] for o in run.failed()}
    if run.unfinished:
        failing[run.unfinished] = f"the test process {run.child.describe} in it"
    return failing, list(dict.fromkeys([*run.outcomes, *failing]))


def named_part(staged: Staged, target: OwnTarget, adapter: Path | None, catalog: Sequence, *, jobs: int,
               cache: ResultCache, isolation: bool, on_progress: Callable[[object], None] | None,
               silent: tuple[str, ...] = (), executor: Executor | None = None,
               suite: bool = False) -> tuple[dict, dict, list[str]]:
    """(the summary of the `catalog`'s named mutants, the tests left out with their reason, every test run).
    `suite`: the tests are killmatrix's own, for the reference."""
    if suite:
        # The suite's tests run against the named mutants of the reference as `make report` runs them.
        failing, tests, args, shipped = {}, [], list(staged.test_args), ()
    else:
        failing, tests = reference_baseline(staged, target, adapter, isolation)
        args = [*_transplant_args(staged, target, adapter), *(f"--deselect={n}" for n in failing),
                *(f"--deselect={n}" for n in silent), *pytest_base_args(staged)]
        shipped = (staged.root,)
    excluded = {nodeid: f"fails with the reference in place of {target.func} (it checks more than the contract): "
                        f"{reason}" for nodeid, reason in failing.items()}
    if not suite and set(tests) <= {*failing, *silent}:  # no test left to run: they kill nothing
        records = [{"id": m.id, "status": "equivalent" if m.equivalent else "survived", "killed_by": [],
                    "bug": m.bug} for m in catalog]
    else:
        results = run_named_mutants(catalog, args, jobs=jobs, cache=cache, isolation=isolation,
                                    on_progress=on_progress, executor=executor, shipped=shipped)
        bugs = {m.id: m.bug for m in catalog}
        records = [{"id": r.id, "status": r.status, "killed_by": [staged.display_name(t) for t in r.killed_by],
                    "bug": bugs[r.id], "detail": r.detail} for r in results]
    counted = [r for r in records if r["status"] != "equivalent"]
    summary = {"mutants": records, "killed": sum(r["status"] == "killed" for r in counted), "total": len(counted)}
    return summary, excluded, tests


def named_mutants(algorithm: str, only: Sequence[str] = ()) -> list:
    """The algorithm's named mutants, or `only` these; ValueError naming an id that is not one of them."""
    catalog = [m for m in load_catalog() if m.algorithm == algorithm]
    unknown = sorted(set(only) - {m.id for m in catalog})
    if unknown:
        raise ValueError(f"no named mutant {', '.join(unknown)} of {algorithm} in the catalog")
    return [m for m in catalog if m.id in only] if only else catalog


def check_part(staged: Staged, target: OwnTarget, adapter: Path | None, isolation: bool) -> tuple[dict, set[str]]:
    """(`check --json`'s record of the unmutated code, the correctness properties it fails)."""
    settings = RunSettings(isolation=isolation)
    location = contract_target(staged.root, staged.impl_path, target.func, adapter)
    try:
        run = run_suite_against(target.algorithm, location, settings)
    except LoadError as exc:
        return {"verdict": "fail", "reason": f"does not load: {exc}", "properties": []}, {"<load>"}
    verdicts = property_verdicts(run.outcomes, run.write_attempts, run.selected)
    record = check_json(str(target.path), target.algorithm, judge_verdicts(verdicts), verdicts)
    return record, set(failing_correctness(verdicts))


def own_part(staged: Staged, target: OwnTarget, adapter: Path | None, failing_properties: set[str], *, jobs: int,
             isolation: bool, progress: Callable[[str, int | None, int], None] | None,
             timings: dict[str, float], with_triage: bool = True, triage_budget_s: float | None = None,
             silent: tuple[str, ...] = (), cache: ResultCache | None = None,
             executor: Executor | None = None) -> tuple[dict, dict, list]:
    """(the own-mutant summary, tests left out, every test collected)."""
    mutants = make_mutants(staged.impl, target.func)
    if progress:
        progress("their tests against mutmut's mutants of their file", len(mutants), 0)
    start = time.monotonic()
    verdict = run_tests_on_mutants(staged, mutants, jobs=jobs, isolation=isolation, left_out=silent,
                                   executor=executor,
                                   on_done=(lambda n: progress("", None, n)) if progress else None)
    timings["own: their tests"] = time.monotonic() - start
    excluded = {n: f"fails against the implementation itself: {reason}" for n, reason in verdict.failing_on_own.items()}
    missed = [m for m in mutants if verdict.results[m.id]["status"] == "survived"]
    if progress and with_triage:
        progress(f"the suite's fast properties ({fast_selection(target.algorithm)[:40]}...) against the misses",
                 len(missed), 0)
    summary = {"total": len(mutants), "killed": len(mutants) - len(missed)}
    if not with_triage:
        return {**summary, "untriaged": [{"id": m.id, "diff": m.diff} for m in missed]}, excluded, list(verdict.tests)
    real, both, left = triage(staged, missed, target.algorithm, target.func, adapter, failing_properties, jobs=jobs,
                              isolation=isolation, budget_s=triage_budget_s, cache=cache, executor=executor,
                              on_done=(lambda n: progress("", None, n)) if progress else None)
    timings["own: the suite on their misses"] = time.monotonic() - start - timings["own: their tests"]
    summary.update(missed_real=real, survive_both=both)
    if left:
        summary["untriaged"] = left
    return summary, excluded, list(verdict.tests)


def cache_key(target: OwnTarget, found: FoundTests, adapter: Path | None, parts: Sequence[str],
              budget: str = "", only: Sequence[str] = ()) -> str:
    files = [target.path, *found.files, *([adapter] if adapter else [])]
    return inputs_digest(ROOT, [*RUN_INPUTS, *OWN_MODULES, "mutation_config", *map(str, files)], "own-audit",
                         target.func, target.algorithm, ",".join(parts), fast_selection(target.algorithm), budget,
                         ",".join(sorted(only)))


def audit_own(
    spec: str,
    *,
    algorithm: str | None = None,
    adapter: Path | None = None,
    tests: Sequence[Path] = (),
    parts: Sequence[str] = PARTS,
    jobs: int = 2,
    cache: ResultCache | None = None,
    isolation: bool = True,
    progress: Callable[[str, int | None, int], None] | None = None,
    triage_budget_s: float | None = None,
    executor: Executor | None = None,
    only: Sequence[str] = (),
) -> dict:
    """The CONTRACTS §4 `audit --impl` record. `progress(phase, total, advance)`: a new phase when `phase` is
    set. The mutant runs fan out on `executor` (`jobs` local threads by default); the check runs here.
    ValueError for a bad target, adapter, test path or part, and for tests that do not run at all."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise ValueError(f"unknown part {', '.join(unknown) or '(none)'}: choose among {', '.join(PARTS)}")
    if "triage" in parts and "own" not in parts:
        raise ValueError("the triage part judges the mutants of the own part: ask for both")
    target = resolve_target(spec, algorithm)
    catalog = named_mutants(target.algorithm, only)  # an unknown --only is an error before any run
    if adapter is not None:
        adapter = Path(adapter).resolve()
        if not adapter.is_file():
            raise ValueError(f"--adapter {str(adapter)!r}: no such file")
        source = adapter.read_text(encoding="utf-8", errors="replace")
        if "def to_user" not in source:
            raise ValueError(f"--adapter {adapter.name} defines no to_user(reference_fn)")
    suite = reference_algorithm(target.path) == target.algorithm  # the reference, with its own suite
    found = suite_tests(list(tests) or None) if suite else find_tests(target.path, list(tests) or None)
    cache = cache or ResultCache(None)
    key = cache_key(target, found, adapter, parts, repr(triage_budget_s), only)
    record = cache.get("own_audit", key)
    if record is not None:
        return {**record, "cached": True}
    staged = stage(target.path, found, extra=[adapter] if adapter else [], key=key, algorithm=target.algorithm)
    timings: dict[str, float] = {}
    silent = tuple(staged.nodeid(name) for name in found.silent)  # they can never fail: they kill nothing
    excluded_silent = {name: NO_ASSERTION for name in silent}
    result: dict = {"target": target.label, "algorithm": target.algorithm, "tests": [], "excluded_tests": [],
                    "silent_tests": list(found.silent)}
    excluded: dict[str, str] = dict(excluded_silent)
    try:
        if found.empty:
            raise ValueError(f"no test found for {target.path.name}: no test_* function in it, no sibling test file, "
                             "no __main__ block (name test files as TESTS)")
        failing_properties: set[str] = set()
        if "check" in parts:
            start = time.monotonic()
            if progress:
                progress(f"check: the suite against {target.path.name}:{target.func}", None, 0)
            result["check"], failing_properties = check_part(staged, target, adapter, isolation)
            timings["check"] = time.monotonic() - start
        if "own" in parts:
            result["own"], own_excluded, result["tests"] = own_part(
                staged, target, adapter, failing_properties, jobs=jobs, isolation=isolation, progress=progress,
                timings=timings, with_triage="triage" in parts, triage_budget_s=triage_budget_s, silent=silent,
                cache=cache, executor=executor)
            excluded.update(own_excluded)
        if "named" in parts:
            start = time.monotonic()
            if progress:
                progress("named mutants against the suite" if found.suite else
                         "named mutants transplanted into their tests", len(catalog), 0)
            result["named"], named_excluded, tests = named_part(
                staged, target, adapter, catalog, jobs=jobs, cache=cache, isolation=isolation,
                on_progress=(lambda r: progress("", None, 1)) if progress else None, silent=silent,
                executor=executor, suite=found.suite)
            result["tests"] = result["tests"] or tests
            for nodeid, reason in named_excluded.items():
                excluded.setdefault(nodeid, reason)
            timings["named"] = time.monotonic() - start
    finally:
        shutil.rmtree(staged.root, ignore_errors=True)
    result["tests"] = list(dict.fromkeys([*(staged.display_name(t) for t in result["tests"]), *found.silent]))
    result["excluded_tests"] = [{"name": staged.display_name(n), "reason": r} for n, r in excluded.items()]
    result["timings"] = {k: round(v, 1) for k, v in timings.items()}
    cache.put("own_audit", key, result)
    return result
