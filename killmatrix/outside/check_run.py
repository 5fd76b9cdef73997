"""Run the property and adversarial suite against one outside implementation, sandboxed.

The suite is copied to a scratch directory, which is the child's cwd, its TMPDIR and the only place
the write guard lets it change; the target is named by absolute path in `KILLMATRIX_FLASH_TARGET` /
`KILLMATRIX_BEAM_TARGET`. One child runs the tests in order; when it dies (a hang cut by the
per-test watchdog, a crash, the wall-clock backstop) the test that was running gets that verdict and
a fresh child runs the tests not yet done, so one bad property costs the others nothing. A time
budget per target bounds the whole: a target that hangs on every call cannot take forever.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from killmatrix.algorithms import ALGORITHMS, BY_NAME
from killmatrix.layout import PACKAGE_DIR
from killmatrix.mutation.catalog import ROOT
from killmatrix.outside import remote_target
from killmatrix.outside.adapters import parse_spec
from killmatrix.outside.load_probe import LOAD_FAILED
from killmatrix.plugins import sandbox_plugin
from killmatrix.plugins.profiles import SHRINK_PROFILE
from killmatrix.plugins.pytest_runner import TestOutcome, run_pytest
from killmatrix.sandbox import write_guard
from killmatrix.sandbox.limits import GiB, Limits, MiB, run_child

# No conftest.py or pyproject: an installed wheel has neither, so the suite plugin is loaded by name (PLUGINS).
SUITE_PARTS = ("impl", "properties", "adversarial")
SUITE_DIRS = ("properties", "adversarial")
_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "schemas", "vendor", "suite")
# The write guard and watchdog; outside code in its own worker process, each call cut before the watchdog.
PLUGINS = ("-p", "killmatrix.plugins.suite_plugin", "-p", "killmatrix.plugins.sandbox_plugin",
           "-p", "killmatrix.outside.remote_target")


@dataclass(frozen=True)
class RunSettings:
    per_test_timeout_s: float = 15.0
    slow_test_timeout_s: float = 60.0  # tests marked `slow`: the seed's large shapes
    budget_s: float = 300.0  # wall clock for one target's whole suite
    memory_bytes: int = 3 * GiB
    output_bytes: int = 32 * MiB
    load_timeout_s: float = 30.0
    # Confine every child to its scratch directory (killmatrix/sandbox/confinement.py); False only when the
    # user passed --no-isolation on a machine that cannot confine.
    isolation: bool = True

    def __post_init__(self) -> None:
        for name in ("per_test_timeout_s", "slow_test_timeout_s", "budget_s", "memory_bytes", "output_bytes",
                     "load_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RunSettings.{name} must be positive, got {getattr(self, name)!r}")


class LoadError(Exception):
    """The target cannot be loaded: no such file, an import that fails, no such function."""


@dataclass
class TargetRun:
    algorithm: str
    target: str
    outcomes: dict[str, TestOutcome] = field(default_factory=dict)  # nodeid -> outcome, in run order
    write_attempts: list[dict] = field(default_factory=list)  # {"nodeid", "attempt"} refused by the guard
    duration_s: float = 0.0
    # Every node id the selection collects, listed before any target code runs: a test missing from
    # `outcomes` at the end never gave a result (the process ended early), which is no pass.
    selected: list[str] = field(default_factory=list)


class _Scratch:
    """The scratch copy of the suite and the environment of every child that runs in it."""

    def __init__(self, algorithm: str, location: str, settings: RunSettings, suite_root: Path):
        self.root = Path(tempfile.mkdtemp(prefix="killmatrix-check-"))
        for part in SUITE_PARTS:
            source = suite_root / part
            if source.is_dir():
                shutil.copytree(source, self.root / part, ignore=_NOT_COPIED)
        # The plugins and the tier registry run beside the suite, from the same copy: the tree's own when it is a
        # checkout (an extended tree carries its own tiers), else the installed package's.
        package = suite_root / "killmatrix" if (suite_root / "killmatrix").is_dir() else PACKAGE_DIR
        shutil.copytree(package, self.root / "killmatrix", ignore=_NOT_COPIED)
        (self.root / "tmp").mkdir()
        self.log = self.root / "sandbox-refusals.jsonl"
        self.watchdog = self.root / "watchdog.txt"
        # The log, the watchdog file and TMPDIR are inside the root: the only folder the children may change.
        self.writable = (str(self.root),) if settings.isolation else None
        self.env = {
            BY_NAME[algorithm].env: location,
            "PYTHONPATH": str(self.root),
            "TMPDIR": str(self.root / "tmp"),
            sandbox_plugin.ROOTS_ENV: str(self.root),
            sandbox_plugin.LOG_ENV: str(self.log),
            sandbox_plugin.WATCHDOG_ENV: str(self.watchdog),
            sandbox_plugin.TIMEOUT_ENV: str(settings.per_test_timeout_s),
            sandbox_plugin.SLOW_TIMEOUT_ENV: str(settings.slow_test_timeout_s),
            # One BLAS thread: checks may run side by side (grade) on few cores.
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            # The worker that runs the outside code confines itself too, unless the user allowed otherwise.
            remote_target.ALLOW_UNCONFINED_ENV: "" if settings.isolation else "1",
        }
        for other in (a.env for a in ALGORITHMS):
            self.env.setdefault(other, "")

    def watchdog_fired(self, size_before: int) -> bool:
        return self.watchdog.exists() and self.watchdog.stat().st_size > size_before

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _check_loads(algorithm: str, location: str, scratch: _Scratch, settings: RunSettings) -> None:
    limits = Limits(timeout_s=settings.load_timeout_s, memory_bytes=settings.memory_bytes, writable=scratch.writable,
                    file_bytes=settings.output_bytes)
    child = run_child([sys.executable, "-m", "killmatrix.outside.load_probe", algorithm, location],
                      cwd=scratch.root, env={**os.environ, **scratch.env, "PYTHONDONTWRITEBYTECODE": "1"},
                      limits=limits)
    if child.status == "ok":
        return
    if child.returncode == LOAD_FAILED:
        reason = (child.stdout.strip().splitlines() or ["unknown error"])[-1]
    elif child.status == "timeout":
        reason = f"importing it did not finish within {settings.load_timeout_s:.0f} s"
    else:
        last = (child.stderr.strip().splitlines() or [""])[-1]
        reason = f"importing it {child.describe}" + (f": {last}" if last else "")
    raise LoadError(reason)


def _death_outcome(nodeid: str, child, watchdog_fired: bool, settings: RunSettings) -> TestOutcome:
    """The verdict of the test a child died in."""
    if watchdog_fired:
        return TestOutcome(nodeid, "timeout", "no result within its time limit (the call hung or was too slow)")
    if child.status == "timeout":
        return TestOutcome(nodeid, "timeout", f"cut when the {settings.budget_s:.0f} s budget for this target ran out")
    if child.status == "output":
        return TestOutcome(nodeid, "error", f"flooded its output past {settings.output_bytes // MiB} MiB")
    return TestOutcome(nodeid, "error", f"the test process {child.describe}")


def _remaining_tests(base_args: list[str], done: list[str], scratch: _Scratch) -> list[str]:
    """Node ids still to run, listed by a collect-only child (collection runs no target code)."""
    run = run_pytest([*base_args, "--collect-only", *(f"--deselect={n}" for n in done)], cwd=scratch.root,
                     env=scratch.env, limits=Limits(timeout_s=60, writable=scratch.writable))
    return [line for line in run.child.stdout.splitlines() if "::" in line and " " not in line]


EXPLICIT_FAILURE = "Failing explicit example"


def _search_smaller_inputs(result: TargetRun, scratch: _Scratch, settings: RunSettings, left: float) -> None:
    """Hypothesis reports a failing explicit `@example` as written, unshrunk (a 256x64 case for a bug
    that shows at N = 2): re-run just those tests once, explicit examples off and more generated ones
    (profile `shrink_search`), and report the shrunk input of any that fail there too."""
    explicit = [n for n, o in result.outcomes.items()
                if o.outcome == "failed" and o.falsifying.startswith(EXPLICIT_FAILURE)]
    if not explicit or left <= 0:
        return
    limits = Limits(timeout_s=min(left, settings.slow_test_timeout_s * len(explicit)), writable=scratch.writable,
                    memory_bytes=settings.memory_bytes, file_bytes=settings.output_bytes)
    run = run_pytest([*PLUGINS, "--show-capture=no", "--tb=short", *explicit],
                     cwd=scratch.root, env=scratch.env, limits=limits, profile=SHRINK_PROFILE)
    for nodeid in explicit:
        found = run.outcomes.get(nodeid)
        if found is not None and found.outcome == "failed" and found.falsifying \
                and not found.falsifying.startswith(EXPLICIT_FAILURE):
            result.outcomes[nodeid] = found


def run_suite_against(
    algorithm: str,
    target: str,
    settings: RunSettings = RunSettings(),
    *,
    selection: list[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
    suite_root: Path = ROOT,
) -> TargetRun:
    """Every property of `algorithm`'s suite (under `suite_root`) against `target` (`path.py[:func]`).

    LoadError when the target does not load. `selection` narrows the run (pytest `-k`-style
    arguments, e.g. ["-k", "oracle"]); `on_progress` gets the number of tests done after each child.
    """
    try:
        spec = parse_spec(target, algorithm)
    except ValueError as exc:
        raise LoadError(str(exc)) from None
    location = f"{spec.location}:{spec.func}"
    start = time.monotonic()
    scratch = _Scratch(algorithm, location, settings, Path(suite_root))
    result = TargetRun(algorithm, spec.label)
    try:
        _check_loads(algorithm, location, scratch, settings)
        base_args = [*PLUGINS, "-m", algorithm, "--show-capture=no", "--tb=short",
                     *(selection or []), *(d for d in SUITE_DIRS if (scratch.root / d).is_dir())]
        while True:
            left = settings.budget_s - (time.monotonic() - start)
            if left <= 0:
                remaining = _remaining_tests(base_args, list(result.outcomes), scratch)
                result.selected = result.selected or [*result.outcomes, *remaining]
                for nodeid in remaining:
                    result.outcomes[nodeid] = TestOutcome(
                        nodeid, "timeout", f"not run: the {settings.budget_s:.0f} s budget for this target ran out"
                    )
                break
            watchdog_before = scratch.watchdog.stat().st_size if scratch.watchdog.exists() else 0
            # The backstop only matters when the watchdog cannot fire (it is a native thread, so rarely).
            limits = Limits(timeout_s=left + settings.slow_test_timeout_s, memory_bytes=settings.memory_bytes,
                            writable=scratch.writable,
                            file_bytes=settings.output_bytes)
            deselect = [f"--deselect={n}" for n in result.outcomes]
            run = run_pytest([*base_args, *deselect], cwd=scratch.root, env=scratch.env, limits=limits)
            if not deselect:  # the first child: its collection is the whole selection
                result.selected = run.collected if run.collected is not None else \
                    _remaining_tests(base_args, [], scratch)
            result.outcomes.update(run.outcomes)
            watchdog_fired = scratch.watchdog_fired(watchdog_before)
            if run.unfinished is not None:
                result.outcomes[run.unfinished] = _death_outcome(run.unfinished, run.child, watchdog_fired, settings)
            if on_progress is not None:
                on_progress(len(result.outcomes))
            # Exit 1 is also what os._exit(1) in outside code looks like: done only if no test was cut short.
            completed = run.child.status in ("ok", "failed") and run.unfinished is None and not watchdog_fired
            if completed or run.child.returncode == 5:  # 5: nothing (left) to run
                break
            if not run.outcomes and run.unfinished is None:
                # Died outside any test (start-up, collection): say so once instead of per test.
                result.outcomes["<suite>"] = TestOutcome(
                    "<suite>", "error", f"pytest {run.child.describe}: {run.child.stderr.strip()[-300:]}"
                )
                break
        _search_smaller_inputs(result, scratch, settings, settings.budget_s - (time.monotonic() - start))
        result.write_attempts = write_guard.read_attempts(scratch.log)
    finally:
        result.duration_s = time.monotonic() - start
        scratch.cleanup()
    return result

