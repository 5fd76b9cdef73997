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
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from killmatrix.algorithms import ALGORITHMS, algorithm_label
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
        self.baselines: dict[str, Baseline] = {}
        # Computed once: the inputs do not change during a run (only copies are written).
        self._inputs = inputs_digest(self.root, [*RUN_INPUTS, *self.test_args], profile, repr(self.test_args))

    def _run_in_copy(self, algorithm: str, mutant: NamedMutant | None, limits: Limits) -> PytestRun | str:
        """The suite's run in a fresh copy, with `mutant` applied; a message if the mutant does not apply."""
        with tempfile.TemporaryDirectory(prefix="killmatrix-mutant-") as scratch:
            copy_root = copy_tree(self.root, Path(scratch) / "tree")
            if mutant is not None:
                try:
                    mutant.apply_to_tree(copy_root)
                except (ValueError, OSError) as exc:
                    return f"the edit no longer applies: {exc}"
            env = child_env(copy_root, self.jobs)
            if self.isolation:
                (Path(scratch) / "tmp").mkdir()
                env["TMPDIR"] = str(Path(scratch) / "tmp")
                limits = replace(limits, writable=(scratch,))
            return run_pytest(
                suite_args(algorithm, self.test_args),
                cwd=copy_root,
                env=env,
                limits=limits,
                profile=self.profile,
            )

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

    def run_one(self, mutant: NamedMutant) -> MutantResult:
        if mutant.equivalent:
            return MutantResult(mutant.id, mutant.algorithm, "equivalent", detail=mutant.reason)
        key = self._mutant_key(mutant)
        record = self.cache.get("named", key)
        if record is not None:
            return MutantResult.from_json({**record, "cached": True})
        baseline = self.baseline(mutant.algorithm)
        limits = self.limits or Limits(timeout_s=TIMEOUT_FLOOR_S + TIMEOUT_FACTOR * baseline.duration)
        start = time.monotonic()
        run = self._run_in_copy(mutant.algorithm, mutant, limits)
        duration = time.monotonic() - start
        if isinstance(run, str):
            result = MutantResult(mutant.id, mutant.algorithm, "error", duration=duration, detail=run)
        else:
            status, killed_by, detail = classify(run)
            result = MutantResult(mutant.id, mutant.algorithm, status, killed_by, duration, detail)
        if result.status != "timeout":  # a timeout depends on the machine's load: try again next time
            self.cache.put("named", key, result.to_json())
        return result

    def run(
        self, mutants: Iterable[NamedMutant], on_progress: Callable[[MutantResult], None] | None = None
    ) -> list[MutantResult]:
        mutants = list(mutants)
        for algorithm in sorted({m.algorithm for m in mutants if not m.equivalent}):
            self.baseline(algorithm)
        results: dict[str, MutantResult] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for future in as_completed([pool.submit(self.run_one, m) for m in mutants]):
                result = future.result()
                results[result.id] = result
                if on_progress is not None:
                    on_progress(result)
        return [results[m.id] for m in mutants]


def run_named_mutants(
    mutants: Iterable[NamedMutant],
    test_args: Sequence[str],
    *,
    root: Path = ROOT,
    jobs: int = 2,
    on_progress: Callable[[MutantResult], None] | None = None,
    cache: ResultCache | None = None,
    profile: str = "kill",
    limits: Limits | None = None,
    isolation: bool = False,
) -> list[MutantResult]:
    """Run `test_args` against every mutant; BaselineFailed if the unmutated suite fails.

    Each algorithm's tests are selected with `-m <algorithm>` among `test_args`. `limits=None` sets
    the timeout from the baseline's duration. `isolation`: confine every run to its copy (outside tests).
    """
    runner = NamedMutantRunner(test_args, root=root, jobs=jobs, cache=cache, profile=profile, limits=limits,
                               isolation=isolation)
    return runner.run(mutants, on_progress)
