"""A pytest plugin (`-p killmatrix.plugins.sandbox_plugin`) for children that run untrusted code.

Loaded only in the sandboxed runs of `check`, `grade` and `audit`, before any test module or outside
code is imported. It does two things inside the child:

- installs the write guard (killmatrix/sandbox/write_guard.py), the second line behind the kernel's
  confinement (killmatrix/sandbox/confinement.py, applied by killmatrix/sandbox/limits.py before this process
  started): it names what Python code tried outside the roots in `KILLMATRIX_SANDBOX_ROOTS`
  (default: the cwd, which every sandboxed run makes a scratch copy, and the temp dir); refusals go
  to `KILLMATRIX_SANDBOX_LOG`, charged to the running test;
- arms a per-test watchdog (`KILLMATRIX_TEST_TIMEOUT` seconds, `KILLMATRIX_SLOW_TEST_TIMEOUT` for
  tests marked `slow`, the large shapes): faulthandler's watchdog thread is
  native and needs no GIL, so even a C loop that never yields is cut off. It writes the stuck
  stack to `KILLMATRIX_WATCHDOG_FILE` and exits the child; the parent reads that as a timeout of
  the test that was running and carries on with the rest.
"""

from __future__ import annotations

import faulthandler
import os
import tempfile

import pytest

from killmatrix.plugins.outcomes_plugin import OUTCOMES_ENV
from killmatrix.sandbox import write_guard

ROOTS_ENV = "KILLMATRIX_SANDBOX_ROOTS"
LOG_ENV = "KILLMATRIX_SANDBOX_LOG"
TIMEOUT_ENV = "KILLMATRIX_TEST_TIMEOUT"
SLOW_TIMEOUT_ENV = "KILLMATRIX_SLOW_TEST_TIMEOUT"
SHRINK_SHARE = 0.3
WATCHDOG_ENV = "KILLMATRIX_WATCHDOG_FILE"


_watchdog = {"file": None, "timeout": 0.0, "slow": 0.0}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Install before any conftest, test module or outside code is imported (not at plugin import:
    the parent imports this module for its constants)."""
    roots = [r for r in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if r] or [os.getcwd(), tempfile.gettempdir()]
    # The parent reads every test's outcome from this one file, outside the scratch directory.
    if os.environ.get(OUTCOMES_ENV):
        roots.append(os.environ[OUTCOMES_ENV])
    write_guard.install(roots, os.environ.get(LOG_ENV) or os.path.join(roots[0], "sandbox-refusals.jsonl"))
    timeout = float(os.environ.get(TIMEOUT_ENV, "0"))
    if timeout > 0:
        slow = float(os.environ.get(SLOW_TIMEOUT_ENV, "0")) or timeout
        _watchdog.update(file=open(os.environ[WATCHDOG_ENV], "a"), timeout=timeout, slow=slow)  # noqa: SIM115


def pytest_configure(config):
    import numpy as np

    # Failure messages and shrunk examples quote arrays; summarized, they stay readable in a table.
    np.set_printoptions(threshold=12, edgeitems=2, precision=4, linewidth=160)
    if _watchdog["timeout"]:
        _cap_shrinking(_watchdog["timeout"] * SHRINK_SHARE)


def _cap_shrinking(seconds: float) -> None:
    """Shrinking a failure can take far longer than finding it; give it a share of the test's time
    so a failing property reports its smallest example found so far instead of timing out."""
    try:
        from hypothesis.internal.conjecture import engine
    except ImportError:
        return
    if hasattr(engine, "MAX_SHRINKING_SECONDS"):  # internal to Hypothesis (6.x): keep its default if it goes
        engine.MAX_SHRINKING_SECONDS = seconds


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    write_guard.set_context(item.nodeid)
    if _watchdog["file"] is not None:
        limit = _watchdog["slow"] if item.get_closest_marker("slow") else _watchdog["timeout"]
        faulthandler.dump_traceback_later(limit, exit=True, file=_watchdog["file"])
    try:
        yield
    finally:
        if _watchdog["file"] is not None:
            faulthandler.cancel_dump_traceback_later()
        write_guard.set_context("<between tests>")
