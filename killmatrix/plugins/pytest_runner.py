"""Run pytest in a sandboxed child and read back every test's outcome.

The one way killmatrix runs a test suite: for named mutants, for `audit`, for `check` and `grade`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from killmatrix.plugins.outcomes_plugin import OUTCOMES_ENV
from killmatrix.sandbox.limits import DEFAULT_LIMITS, ChildResult, Limits, run_child


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # a result record: keep pytest from collecting it where a test module imports it

    nodeid: str
    outcome: str  # passed | failed | skipped | error
    detail: str = ""
    falsifying: str = ""
    duration: float = 0.0
    figures: dict = field(default_factory=dict)  # what the test recorded with record_property

    @property
    def test_id(self) -> str:
        return without_parameters(self.nodeid)


def without_parameters(nodeid: str) -> str:
    """The node id without its parametrization, as the catalog names tests."""
    return nodeid.split("[", 1)[0]


@dataclass(frozen=True)
class PytestRun:
    outcomes: dict[str, TestOutcome]
    child: ChildResult
    unfinished: str | None  # the test that was running when the child died, if it died
    collected: list[str] | None = None  # the tests selected, when collection finished

    def failed(self) -> list[TestOutcome]:
        return [o for o in self.outcomes.values() if o.outcome in ("failed", "error")]


def read_outcomes(path: Path) -> tuple[dict[str, TestOutcome], str | None, list[str] | None]:
    """Outcomes by node id, the test running when the file ends (if any), and the collected node ids."""
    outcomes: dict[str, TestOutcome] = {}
    running: str | None = None
    collected: list[str] | None = None
    if not path.exists():
        return outcomes, None, None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if record["event"] == "collected":
            collected = record["nodeids"]
            continue
        if record["event"] == "start":
            running = record["nodeid"]
            continue
        previous = outcomes.get(record["nodeid"])
        # Keep the worst phase: a teardown error must not hide behind a passed call.
        if previous is None or previous.outcome in ("passed", "skipped"):
            outcomes[record["nodeid"]] = TestOutcome(
                record["nodeid"], record["outcome"], record["detail"], record["falsifying"], record["duration"],
                record.get("figures") or {},
            )
        if record["nodeid"] == running:
            running = None
    return outcomes, running, collected


def run_pytest(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    profile: str = "mutation",
) -> PytestRun:
    """`python -m pytest ARGS` in `cwd`, under `limits`, with the given Hypothesis profile."""
    with tempfile.TemporaryDirectory(prefix="killmatrix-run-") as scratch:
        outcomes_path = Path(scratch, "outcomes.jsonl")
        child_env = {
            **os.environ,
            **(env or {}),
            OUTCOMES_ENV: str(outcomes_path),
            "KILLMATRIX_PROFILE": profile,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        argv = [sys.executable, "-m", "pytest", "-p", "killmatrix.plugins.outcomes_plugin", "-p", "no:cacheprovider",
                "-q", "--no-header", "-rN", *args]
        # The child streams its outcomes to a file outside its own scratch directory.
        child = run_child(argv, cwd=Path(cwd), env=child_env, limits=limits.also_writable(scratch))
        outcomes, running, collected = read_outcomes(outcomes_path)
        return PytestRun(outcomes=outcomes, child=child, unfinished=running if child.status != "ok" else None,
                         collected=collected)
