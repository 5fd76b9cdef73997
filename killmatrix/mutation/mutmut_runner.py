"""Run mutmut over `impl/` in a scratch copy of the tree and re-judge every mutant it did not kill.

mutmut narrows the tests per function (from its coverage stats) and stops at the first failure, so
its "survived" can miss a killer. Every mutant it did not kill is run again against the whole
algorithm suite through mutmut's own switch, `MUTANT_UNDER_TEST`, in the tree mutmut generated:
the code under test is exactly the mutant mutmut made (re-applying its diff to a copy could drift
from it), and the run is a fresh sandboxed pytest child, not a fork of mutmut's process, that
records every failing test. The tests mutmut already ran against that mutant all passed (that is
what "survived" means) and the runs are derandomized, so the re-run deselects them and runs only
the rest of the suite: a full suite per survivor would cost more than mutmut itself. `mutmut run`
exits 0 with survivors, so its result files are read here.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mutmut.stats import status_by_exit_code
from mutmut.utils.format_utils import mangled_name_from_mutant_name, orig_function_and_class_names_from_key

from killmatrix.algorithms import ALGORITHM_NAMES, ALGORITHMS
from killmatrix.execution.executors import Executor, LocalExecutor, relocate
from killmatrix.mutation.catalog import ROOT
from killmatrix.mutation.named_runner import TIMEOUT_FACTOR, TIMEOUT_FLOOR_S, child_env, classify
from killmatrix.mutation.result_cache import RUN_INPUTS, ResultCache, inputs_digest
from killmatrix.mutation.tree_copy import copy_tree
from killmatrix.plugins.pytest_runner import run_pytest
from killmatrix.sandbox.limits import Limits, run_child

# What mutmut reports as caught needs no second look; everything else is run again.
DETECTED = ("killed", "timeout")
# Derandomized, no example database, no shrinking: a verdict per test, the same on every run.
PROFILE = "kill"
MUTMUT_LIMITS = Limits(timeout_s=3600)
_DIFFS_SCRIPT = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
wanted = json.load(open(sys.argv[1]))
json.dump({name: get_diff_for_mutant(name, path=path) for name, path in wanted.items()}, open(sys.argv[2], "w"))
"""


class MutmutFailed(RuntimeError):
    """mutmut itself did not finish (its clean run failed, a crash, a timeout)."""


@dataclass(frozen=True)
class MutmutMutant:
    name: str  # mutmut's key, e.g. impl.attention.x_flash_attention_fwd__mutmut_12 (renumbered on edits)
    file: str
    function: str  # Class.method for methods
    mutmut_status: str  # what mutmut said
    status: str  # killed | survived | timeout | error after the re-run; the ledger: equivalent | accepted
    diff: str
    killed_by: tuple[str, ...] = ()
    detail: str = ""
    duration: float = 0.0  # seconds mutmut spent on it

    def to_json(self) -> dict:
        return {**asdict(self), "killed_by": list(self.killed_by)}

    @classmethod
    def from_json(cls, record: dict) -> MutmutMutant:
        return cls(**{**record, "killed_by": tuple(record["killed_by"])})


@dataclass(frozen=True)
class MutmutReport:
    mutants: tuple[MutmutMutant, ...]
    duration: float
    cached: bool = False

    def with_mutants(self, mutants: list[MutmutMutant]) -> MutmutReport:
        return replace(self, mutants=tuple(mutants))


def mutmut_settings(root: Path) -> dict:
    with (Path(root) / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh).get("tool", {}).get("mutmut", {})


def algorithm_of(file: str) -> str | None:
    """The algorithm whose suite exercises `file`; None (the whole suite) for shared code such as a toy model."""
    return next((a.name for a in ALGORITHMS if file == a.reference_module.replace(".", "/") + ".py"), None)


def _function_of(name: str) -> str:
    function, cls = orig_function_and_class_names_from_key(name)
    return f"{cls}.{function}" if cls else function


def read_results(work: Path) -> dict[str, tuple[str, str, float]]:
    """mutmut's verdicts from `work/mutants/**.meta`: name -> (source file, status, seconds)."""
    results: dict[str, tuple[str, str, float]] = {}
    mutants_dir = Path(work) / "mutants"
    for meta_path in sorted(mutants_dir.rglob("*.py.meta")):
        source = str(meta_path.relative_to(mutants_dir)).removesuffix(".meta")
        meta = json.loads(meta_path.read_text())
        for name, exit_code in meta["exit_code_by_key"].items():
            results[name] = (source, status_by_exit_code[exit_code], meta["durations_by_key"].get(name, 0.0))
    return results


def read_test_map(work: Path) -> dict[str, list[str]]:
    """mutmut's map from each function to the tests it ran against that function's mutants."""
    stats = json.loads((Path(work) / "mutants" / "mutmut-stats.json").read_text())
    return {name: sorted(tests) for name, tests in stats["tests_by_mangled_function_name"].items()}


def read_diffs(work: Path, files_by_name: dict[str, str]) -> dict[str, str]:
    """Each mutant's diff, as `mutmut show` prints it (computed by mutmut in `work`)."""
    if not files_by_name:
        return {}
    wanted, out = Path(work, "killmatrix-diffs-in.json"), Path(work, "killmatrix-diffs-out.json")
    wanted.write_text(json.dumps(files_by_name))
    child = run_child([sys.executable, "-c", _DIFFS_SCRIPT, str(wanted), str(out)], cwd=work, env=_plain_env(),
                      limits=Limits(timeout_s=600))
    if child.status != "ok":
        raise MutmutFailed(f"reading mutmut's diffs {child.describe}: {child.stderr[-1000:]}")
    return json.loads(out.read_text())


def _plain_env() -> dict[str, str]:
    # A stray MUTANT_UNDER_TEST from the calling shell would switch mutmut's own runs to a mutant.
    return {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}


@dataclass(frozen=True)
class RecheckTask:
    """One survivor's re-run, everything it depends on named (an executor may run it on another machine)."""

    mutant: MutmutMutant
    args: tuple[str, ...]
    limits: Limits
    jobs: int
    tree: str  # mutmut's generated tree, as this machine knows it


def recheck_task(task: RecheckTask, tree: Path) -> MutmutMutant:
    """Re-run one survivor in `tree` (mutmut's tree, here or unpacked on a worker) through MUTANT_UNDER_TEST."""
    mutant = task.mutant
    run = run_pytest(list(task.args), cwd=tree, env={**child_env(tree, task.jobs), "MUTANT_UNDER_TEST": mutant.name},
                     limits=task.limits, profile=PROFILE)
    if run.child.returncode == 5 and not run.outcomes:
        # Every test of the suite was among those mutmut ran, and all of them passed.
        return replace(mutant, status="survived", detail="mutmut already ran every test of the suite")
    status, killed_by, detail = classify(run)
    return relocate(replace(mutant, status=status, killed_by=killed_by, detail=detail),
                    {str(tree): task.tree} if str(tree) != task.tree else {})


class MutmutRunner:
    def __init__(
        self,
        *,
        root: Path = ROOT,
        jobs: int = 2,
        cache: ResultCache | None = None,
        suite_seconds: dict[str, float] | None = None,
        only_files: list[str] | None = None,
        executor: Executor | None = None,
    ):
        self.root = Path(root)
        self.only_files = sorted(only_files) if only_files else None
        self.jobs = jobs
        self.executor = executor or LocalExecutor(jobs)
        self.cache = cache or ResultCache(None)
        self.settings = mutmut_settings(self.root)
        self.test_paths = list(self.settings.get("pytest_add_cli_args_test_selection", []))
        self.suite_seconds = suite_seconds or {}

    def _recheck_task(self, work: Path, mutant: MutmutMutant, already_run: list[str]) -> RecheckTask:
        algorithm = algorithm_of(mutant.file)
        tree = work / "mutants"
        known = [self.suite_seconds[a] for a in ([algorithm] if algorithm else self.suite_seconds)
                 if a in self.suite_seconds]
        limits = Limits(timeout_s=TIMEOUT_FLOOR_S + TIMEOUT_FACTOR * sum(known)) if known else Limits(timeout_s=900)
        # Shared code (a toy model) gets every algorithm's suite.
        args = ["-m", algorithm or " or ".join(ALGORITHM_NAMES), *self.test_paths]
        args += [arg for test in already_run for arg in ("--deselect", test)]
        return RecheckTask(mutant, tuple(args), limits, self.jobs, str(tree))

    def _run_mutmut(self, work: Path) -> None:
        # mutmut hands each mutant its tests as a set: a fixed hash seed fixes their order, and with it the time.
        env = {**_plain_env(), "KILLMATRIX_PROFILE": PROFILE, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "PYTHONHASHSEED": "0"}
        argv = [sys.executable, "-c", "import sys; from mutmut.__main__ import cli; sys.exit(cli())",
                "run", "--max-children", str(self.jobs)]
        # mutmut selects mutants by name pattern: the module, then the mangled function name.
        argv += [f.removesuffix(".py").replace("/", ".") + ".*" for f in self.only_files or ()]
        child = run_child(argv, cwd=work, env=env, limits=MUTMUT_LIMITS)
        if child.status != "ok":
            tail = (child.stdout[-1500:] + child.stderr[-1500:]).replace("\r", "\n")
            raise MutmutFailed(f"mutmut run {child.describe}:\n{tail}")

    def run(self, on_progress: Callable[[str, int, int], None] | None = None) -> MutmutReport:
        """Run (or read from the cache) mutmut and the re-runs; `on_progress(phase, done, total)`."""
        key = inputs_digest(self.root, RUN_INPUTS, "mutmut", json.dumps(self.settings, sort_keys=True),
                            repr(self.only_files))
        record = self.cache.get("mutmut", key)
        if record is not None:
            mutants = tuple(MutmutMutant.from_json(m) for m in record["mutants"])
            return MutmutReport(mutants, record["duration"], cached=True)
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="killmatrix-mutmut-") as scratch:
            work = copy_tree(self.root, Path(scratch) / "tree")
            if on_progress:
                on_progress("mutmut run", 0, 1)
            self._run_mutmut(work)
            results = {name: found for name, found in read_results(work).items()
                       if self.only_files is None or found[0] in self.only_files}
            diffs = read_diffs(work, {name: file for name, (file, _, _) in results.items()})
            mutants = [
                MutmutMutant(name, file, _function_of(name), status, status if status in DETECTED else "survived",
                             diffs.get(name, ""), duration=seconds)
                for name, (file, status, seconds) in results.items()
            ]
            suspects = [m for m in mutants if m.mutmut_status not in DETECTED]
            if on_progress:
                on_progress("re-running mutmut survivors", 0, len(suspects))
            rechecked: dict[str, MutmutMutant] = {}
            tests_by_function = read_test_map(work)
            tasks = [self._recheck_task(work, m, tests_by_function.get(mangled_name_from_mutant_name(m.name), []))
                     for m in suspects]

            def arrived(result: MutmutMutant) -> None:
                rechecked[result.name] = result
                if on_progress:
                    on_progress("re-running mutmut survivors", len(rechecked), len(suspects))

            # mutmut's own run above stays on this machine (it is one process with its own children); the
            # re-runs fan out, its generated tree travelling to the executor's workers.
            self.executor.map(recheck_task, tasks, shared=(work / "mutants",), on_result=arrived)
        mutants = [rechecked.get(m.name, m) for m in mutants]
        report = MutmutReport(tuple(mutants), time.monotonic() - start)
        if not any(m.status == "timeout" for m in rechecked.values()):  # a re-run timeout may be load: retry next time
            self.cache.put("mutmut", key, {"mutants": [m.to_json() for m in mutants], "duration": report.duration})
        return report
