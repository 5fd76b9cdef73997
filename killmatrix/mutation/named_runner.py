"""Run a test suite against named mutants, each in its own mutated copy of the tree.

For every mutant: copy the tree to a scratch directory, apply the catalog edits there, run pytest
in a sandboxed child with the copy first on PYTHONPATH (so `impl` is the mutated copy even for test
files given by absolute path), and record every failing test, not just the first. Tests run under
the `kill` Hypothesis profile: derandomized, and without shrinking, since only the verdict counts.
The unmutated suite runs first: a red baseline would make every kill meaningless. The working tree
is never written.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from killmatrix.algorithms import ALGORITHMS, algorithm_label
from killmatrix.execution.executors import Executor, LocalExecutor, relocate
from killmatrix.mutation.catalog import ROOT, NamedMutant
from killmatrix.mutation.result_cache import RUN_INPUTS, ResultCache, inputs_digest
from killmatrix.mutation.tree_copy import copy_tree
from killmatrix.plugins.pytest_runner import PytestRun, run_pytest, without_parameters
from killmatrix.sandbox.limits import Limits

STATUSES = ("killed", "survived", "timeout", "error", "equivalent")
# A mutant may be slower than the reference (an extra pass, a materialized matrix) without hanging;
# a hang is cut at this multiple of the baseline's time plus a floor.
TIMEOUT_FACTOR, TIMEOUT_FLOOR_S = 5.0, 60.0


class BaselineFailed(RuntimeError):
    """The unmutated suite fails: kills against it would mean nothing."""


@dataclass(frozen=True)
class MutantResult:
    id: str
    algorithm: str
    status: str  # one of STATUSES
    killed_by: tuple[str, ...] = ()  # every failing test id (parametrization stripped), sorted
    duration: float = 0.0
    detail: str = ""
    cached: bool = False

    def to_json(self) -> dict:
        record = asdict(self)
        record["killed_by"] = list(self.killed_by)
        record["duration"] = round(self.duration, 2)
        return record

    @classmethod
    def from_json(cls, record: dict) -> MutantResult:
        return cls(**{**record, "killed_by": tuple(record["killed_by"])})


@dataclass(frozen=True)
class Baseline:
    algorithm: str
    duration: float
    test_durations: dict[str, float] = field(default_factory=dict)  # nodeid -> seconds, for --durations
    cached: bool = False


def suite_args(algorithm: str, test_args: Sequence[str]) -> list[str]:
    """pytest arguments for one algorithm's tests among `test_args`."""
    return ["-m", algorithm, *test_args]


def child_env(copy_root: Path, jobs: int) -> dict[str, str]:
    env = {"PYTHONPATH": str(copy_root), **{a.env: "" for a in ALGORITHMS}}  # the reference, never outside code
    if jobs > 1:
        # One BLAS thread per child: the children already fill the cores.
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def classify(run: PytestRun) -> tuple[str, tuple[str, ...], str]:
    """(status, killed_by, detail) of one mutant's test run."""
    failing = run.failed()
    broken = [o for o in failing if "::" not in o.nodeid]  # a collection error, not a test verdict
    if broken:
        return "error", (), f"collection failed in {broken[0].nodeid}: {broken[0].detail[-500:]}"
    killers = {o.test_id for o in failing}
    child = run.child
    if child.status in ("crash", "output") and run.unfinished:
        # The mutant took the test process down (memory, a signal, an output flood): that test caught it.
        killers.add(without_parameters(run.unfinished))
    killed_by = tuple(sorted(killers))
    if child.status == "timeout":
        if killed_by:
            return "killed", killed_by, f"{child.describe}; the killers found before the cut are listed"
        return "timeout", (), f"{child.describe} in {run.unfinished or 'pytest start-up'}"
    if killed_by:
        return "killed", killed_by, "" if child.status == "failed" else child.describe
    if child.status == "ok":
        return "survived", (), ""
    if child.returncode == 5:
        return "error", (), "no test was selected"
    return "error", (), f"pytest {child.describe}: {(child.stderr or child.stdout)[-500:].strip()}"


def run_in_copy(root: Path, algorithm: str, mutant: NamedMutant | None, test_args: Sequence[str], *, limits: Limits,
                profile: str, jobs: int, isolation: bool) -> PytestRun | str:
    """The suite's run in a fresh copy of `root`, with `mutant` applied; a message if the mutant does not apply."""
    with tempfile.TemporaryDirectory(prefix="killmatrix-mutant-") as scratch:
        copy_root = copy_tree(root, Path(scratch) / "tree")
        if mutant is not None:
            try:
                mutant.apply_to_tree(copy_root)
            except (ValueError, OSError) as exc:
                return f"the edit no longer applies: {exc}"
        env = child_env(copy_root, jobs)
        if isolation:
            (Path(scratch) / "tmp").mkdir()
            env["TMPDIR"] = str(Path(scratch) / "tmp")
            limits = replace(limits, writable=(scratch,))
        return run_pytest(suite_args(algorithm, test_args), cwd=copy_root, env=env, limits=limits, profile=profile)


@dataclass(frozen=True)
class MutantTask:
    """One named mutant's run, everything it depends on named (an executor may run it on another machine)."""

    mutant: NamedMutant
    test_args: tuple[str, ...]
    limits: Limits
    profile: str
    jobs: int
    isolation: bool
    shipped: tuple[str, ...] = ()  # folders outside the tree that `test_args` name, as this machine knows them


def run_mutant_task(task: MutantTask, root: Path, *shipped: Path) -> MutantResult:
    """Run one mutant against a copy of `root`; `shipped`: where `task.shipped` are where this runs."""
    there = {str(here): origin for origin, here in zip(task.shipped, shipped, strict=True) if str(here) != origin}
    mutant = task.mutant
    start = time.monotonic()
    run = run_in_copy(root, mutant.algorithm, mutant, relocate(list(task.test_args), {v: k for k, v in there.items()}),
                      limits=task.limits, profile=task.profile, jobs=task.jobs, isolation=task.isolation)
    duration = time.monotonic() - start
    if isinstance(run, str):
        return MutantResult(mutant.id, mutant.algorithm, "error", duration=duration, detail=run)
    status, killed_by, detail = classify(run)
    return relocate(MutantResult(mutant.id, mutant.algorithm, status, killed_by, duration, detail), there)


class NamedMutantRunner:
    """Runs one suite (`test_args`) against the reference and against named mutants of `root`."""

    def __init__(
        self,
        test_args: Sequence[str],
        *,
        root: Path = ROOT,
        jobs: int = 2,
        cache: ResultCache | None = None,
        profile: str = "kill",
        limits: Limits | None = None,
        isolation: bool = False,
        executor: Executor | None = None,
        shipped: Sequence[Path] = (),
    ):
        if jobs < 1:
            raise ValueError(f"jobs must be a positive int, got {jobs!r}")
        self.test_args = list(test_args)
        self.root = Path(root)
        self.jobs = jobs
        self.cache = cache or ResultCache(None)
        self.profile = profile
        self.limits = limits
        self.isolation = isolation  # confine each run to its copy (killmatrix/sandbox/confinement.py): outside tests
        self.executor = executor or LocalExecutor(jobs)
        self.shipped = tuple(str(p) for p in shipped)  # folders outside `root` the test args name (staged tests)
        self.baselines: dict[str, Baseline] = {}
        # Computed once: the inputs do not change during a run (only copies are written).
        self._inputs = inputs_digest(self.root, [*RUN_INPUTS, *self.test_args], profile, repr(self.test_args))

    def _run_in_copy(self, algorithm: str, mutant: NamedMutant | None, limits: Limits) -> PytestRun | str:
        return run_in_copy(self.root, algorithm, mutant, self.test_args, limits=limits, profile=self.profile,
                           jobs=self.jobs, isolation=self.isolation)

    def baseline(self, algorithm: str) -> Baseline:
        """Run the unmutated suite once; BaselineFailed if it is not green."""
        if algorithm in self.baselines:
            return self.baselines[algorithm]
        key = inputs_digest(self.root, [], self._inputs, "baseline", algorithm)
        record = self.cache.get("baseline", key)
        if record is not None:
            baseline = Baseline(algorithm, record["duration"], record["test_durations"], cached=True)
        else:
            run = self._run_in_copy(algorithm, None, self.limits or Limits(timeout_s=1800))
            status, killed_by, detail = classify(run)
            if status != "survived":
                failing = ", ".join(killed_by) or detail
                raise BaselineFailed(
                    f"the unmutated {algorithm_label(algorithm)} suite is not green ({status}: {failing}); "
                    "fix it before judging mutants"
                )
            durations = {o.nodeid: o.duration for o in run.outcomes.values()}
            baseline = Baseline(algorithm, run.child.duration_s, durations)
            self.cache.put("baseline", key, {"duration": baseline.duration, "test_durations": durations})
        self.baselines[algorithm] = baseline
        return baseline

    def _mutant_key(self, mutant: NamedMutant) -> str:
        edits = repr([(e.find, e.replace) for e in mutant.edits])
        return inputs_digest(self.root, [], self._inputs, "named", mutant.algorithm, mutant.file, edits)

    def _task(self, mutant: NamedMutant) -> MutantTask:
        baseline = self.baseline(mutant.algorithm)
        limits = self.limits or Limits(timeout_s=TIMEOUT_FLOOR_S + TIMEOUT_FACTOR * baseline.duration)
        return MutantTask(mutant, tuple(self.test_args), limits, self.profile, self.jobs, self.isolation, self.shipped)

    def _known(self, mutant: NamedMutant) -> MutantResult | None:
        """The result without a run: an equivalent mutant, or one in the cache."""
        if mutant.equivalent:
            return MutantResult(mutant.id, mutant.algorithm, "equivalent", detail=mutant.reason)
        record = self.cache.get("named", self._mutant_key(mutant))
        return None if record is None else MutantResult.from_json({**record, "cached": True})

    def _store(self, result: MutantResult, mutant: NamedMutant) -> None:
        if result.status != "timeout":  # a timeout depends on the machine's load: try again next time
            self.cache.put("named", self._mutant_key(mutant), result.to_json())

    def run_one(self, mutant: NamedMutant) -> MutantResult:
        known = self._known(mutant)
        if known is not None:
            return known
        result = run_mutant_task(self._task(mutant), self.root, *map(Path, self.shipped))
        self._store(result, mutant)
        return result

    def run(
        self, mutants: Iterable[NamedMutant], on_progress: Callable[[MutantResult], None] | None = None
    ) -> list[MutantResult]:
        """Every mutant's result: the cache's where it has one, else a run on the executor, merged into the cache
        as it comes back (so a warm rerun starts no task anywhere)."""
        mutants = list(mutants)
        for algorithm in sorted({m.algorithm for m in mutants if not m.equivalent}):
            self.baseline(algorithm)
        results: dict[str, MutantResult] = {}
        todo: list[NamedMutant] = []
        for mutant in mutants:
            known = self._known(mutant)
            if known is None:
                todo.append(mutant)
                continue
            results[mutant.id] = known
            if on_progress is not None:
                on_progress(known)
        by_id = {m.id: m for m in todo}

        def arrived(result: MutantResult) -> None:
            self._store(result, by_id[result.id])
            results[result.id] = result
            if on_progress is not None:
                on_progress(result)

        self.executor.map(run_mutant_task, [self._task(m) for m in todo], shared=(self.root, *map(Path, self.shipped)),
                          on_result=arrived)
        return [results[m.id] for m in mutants]


def run_named_mutants(
    mutants: Iterable[NamedMutant],
    test_args: Sequence[str],
    *,
    on_progress: Callable[[MutantResult], None] | None = None,
    **options,
) -> list[MutantResult]:
    """Run `test_args` against every mutant; BaselineFailed if the unmutated suite fails.

    Each algorithm's tests are selected with `-m <algorithm>` among `test_args`. `options` are
    NamedMutantRunner's (root, jobs, cache, profile, limits, isolation, executor, shipped).
    """
    return NamedMutantRunner(test_args, **options).run(mutants, on_progress)
