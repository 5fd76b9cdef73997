"""A pytest plugin (`-p killmatrix.plugins.own_mutant_plugin`) that runs the collected tests against many mutants
of the user's implementation file in one sandboxed pytest child, one fork per mutant.

Collection (importing numpy, the user's module, their tests) happens once; each mutant then runs in
a forked process that executes the mutant's source as the module's code and binds its functions and
classes wherever the originals were bound (killmatrix/plugins/transplant_plugin.py `rebind`), runs the tests
and stops at the first failure. A fork that hangs is killed at its deadline (a timeout counts as
caught, as in mutmut); one that crashes or exits takes only itself down. First the unmutated code
runs every test: a test that fails there cannot kill anything and is left out of the mutant runs.
The whole child is confined by the sandbox like any run of outside code; this plugin adds no
permission, it only writes its result files to the folder it is given.

With `--own-triage MANIFEST` it runs the other side: the suite's collected properties (in a `check`
child, killmatrix/outside/check_run.py) against each mutant in turn, in the same child, so collection,
imports and the oracles are paid once, not once per mutant. Before each mutant the target variable
(`--own-target-env`) names the mutant's file and every outcome goes to that mutant's own outcomes file
(`N.jsonl`, read by pytest_runner.read_outcomes); a mutant's last test tears the session fixtures down,
so the next mutant's first test builds a fresh target (and the previous worker is ended). Tests the
unmutated code fails are not run (`--own-known-failing`), and a mutant stops at its first failing test:
one new failure decides. A failure on an explicit @example is searched again at once for a smaller input,
as `check` does in a second child (here: same child, same worker, outcomes to `N.shrink.jsonl`).
`N.done` marks a finished mutant: when a child dies in one, the parent starts another on the rest.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import time
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

from killmatrix.plugins.outcomes_plugin import OUTCOMES_ENV
from killmatrix.plugins.profiles import SHRINK_PROFILE
from killmatrix.plugins.pytest_runner import without_parameters
from killmatrix.plugins.transplant_plugin import rebind, user_module

BASELINE_FILE = "baseline.json"
EXPLICIT_FAILURE = "Failing explicit example"  # as check_run.EXPLICIT_FAILURE (not imported: a parent-side module)
POLL_S = 0.02


def pytest_addoption(parser):
    group = parser.getgroup("killmatrix own mutants")
    group.addoption("--own-mutants", default=None, help="a JSON list of {id, source} mutants of --own-file")
    group.addoption("--own-file", default=None, help="the staged implementation file the mutants replace")
    group.addoption("--own-results", default=None, help="the folder to write one result file per mutant")
    group.addoption("--own-timeout", type=float, default=60.0, help="seconds per mutant, after the baseline")
    group.addoption("--own-triage", default=None, help="a JSON list of {id, location}: run the suite against each")
    group.addoption("--own-target-env", default=None, help="with --own-triage: the variable naming the target")
    group.addoption("--own-deadline", type=float, default=None,
                    help="with --own-triage: start no mutant after this time (seconds since the epoch)")
    group.addoption("--own-known-failing", default=None,
                    help="with --own-triage: a JSON list of the tests (without parameters) the unmutated code fails: "
                         "they are not run; a mutant stops at its first other failure")


def _failure_reason(reports) -> str:
    for report in reports:
        if report.failed:
            text = str(report.longrepr or "").strip().splitlines()
            lines = [line for line in text if line.startswith("E ")] or text[-1:]
            return (lines[0][1:].strip() if lines and lines[0].startswith("E ") else (lines or [""])[0])[:300]
    return ""


def _run_items(items, *, stop_at_first: bool) -> dict[str, str]:
    """nodeid -> failure reason of every failing item (the first only, with `stop_at_first`)."""
    failing = {}
    for item in items:
        reports = runtestprotocol(item, nextitem=None, log=False)
        if any(r.failed for r in reports):
            failing[item.nodeid] = _failure_reason(reports) or "failed"
            if stop_at_first:
                break
    return failing


def _own_objects(module) -> dict[str, object]:
    """The functions and classes the module itself defines: what a mutant redefines."""
    return {name: value for name, value in vars(module).items()
            if (inspect.isfunction(value) or inspect.isclass(value)) and getattr(value, "__module__", None)
            == module.__name__}


def _install(module, source: str) -> None:
    """Execute `source` as the module's code in a fresh namespace and bind its definitions everywhere."""
    namespace = {"__name__": module.__name__, "__file__": module.__file__, "__builtins__": __builtins__}
    exec(compile(source, module.__file__, "exec"), namespace)
    for name, original in _own_objects(module).items():
        new = namespace.get(name)
        if new is not None and new is not original:
            rebind(original, new)


def _in_fork(target, result_path: Path, timeout_s: float) -> dict:
    """Run `target()` (which returns a JSON-able dict) in a forked child; its dict, or what became of it."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            record = target()
            result_path.write_text(json.dumps(record))
        except BaseException as exc:  # noqa: BLE001 (the user's code may raise anything, SystemExit included)
            result_path.write_text(json.dumps({"status": "killed", "killed_by": "<module load>",
                                               "detail": f"{type(exc).__name__}: {exc}"[:300]}))
        finally:
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout_s:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"status": "timeout", "killed_by": "", "detail": f"no end within {timeout_s:.0f} s"}
        time.sleep(POLL_S)
    if result_path.exists():
        return json.loads(result_path.read_text())
    how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
    return {"status": "killed", "killed_by": "", "detail": f"the test process ended ({how})"}


def _explicit_failure(outcomes: Path, item) -> bool:
    """Whether the item's failure just recorded in `outcomes` was an explicit @example (reported unshrunk)."""
    for line in reversed(outcomes.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        if record.get("event") == "result" and record["nodeid"] == item.nodeid:
            return record["falsifying"].startswith(EXPLICIT_FAILURE)
    return False


_saved_settings: dict[int, object] = {}


def _with_shrink_settings(item, restore: bool = False) -> bool:
    """As `check` re-runs such a test (profile `shrink_search`: no explicit examples, more generated ones,
    shrinking), in this process: the Hypothesis test's settings, with that profile's phases and examples.
    False when the item is not a Hypothesis test."""
    from hypothesis import settings

    test = getattr(item, "obj", None)
    test = getattr(test, "__func__", test)
    if restore:
        test._hypothesis_internal_use_settings = _saved_settings.pop(id(test))
        return True
    current = getattr(test, "_hypothesis_internal_use_settings", None)
    if current is None:
        return False
    shrink = settings.get_profile(SHRINK_PROFILE)
    _saved_settings[id(test)] = current
    test._hypothesis_internal_use_settings = settings(current, phases=shrink.phases, max_examples=shrink.max_examples)
    return True


def _triage_loop(session) -> bool:
    from killmatrix.outside import remote_target

    config = session.config
    out = Path(config.getoption("own_results"))
    variable = config.getoption("own_target_env")
    deadline = config.getoption("own_deadline")
    known = set(json.loads(Path(config.getoption("own_known_failing")).read_text())) \
        if config.getoption("own_known_failing") else set()
    # A test the unmutated code fails says nothing about a mutant; one new failure is the whole verdict.
    items = [item for item in session.items if without_parameters(item.nodeid) not in known]
    collected = json.dumps({"event": "collected", "nodeids": [item.nodeid for item in items]})
    for index, mutant in enumerate(json.loads(Path(config.getoption("own_triage")).read_text())):
        if (out / f"{index}.done").exists():
            continue
        if deadline is not None and time.time() > deadline:
            break
        outcomes = out / f"{index}.jsonl"
        outcomes.write_text(collected + "\n")
        os.environ[variable] = mutant["location"]
        os.environ[OUTCOMES_ENV] = str(outcomes)
        for position, item in enumerate(items):
            # nextitem=None after the mutant's last test: the session fixtures (the target) are torn down.
            nextitem = items[position + 1] if position + 1 < len(items) else None
            failed_before = session.testsfailed
            item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if session.testsfailed > failed_before:
                if _explicit_failure(outcomes, item) and _with_shrink_settings(item):
                    # Same worker, same fixtures: the search ends with nextitem=None, tearing them down.
                    os.environ[OUTCOMES_ENV] = str(out / f"{index}.shrink.jsonl")
                    try:
                        item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
                    finally:
                        _with_shrink_settings(item, restore=True)
                elif nextitem is not None:
                    session._setupstate.teardown_exact(None)
                break
        for function in list(remote_target._live):
            function.close()
        remote_target._live.clear()
        (out / f"{index}.done").write_text("")
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    config = session.config
    if config.getoption("own_triage") and not session.testsfailed:
        return _triage_loop(session)
    manifest = config.getoption("own_mutants")
    if not manifest or session.testsfailed:  # a collection error: let pytest report it
        return None
    out = Path(config.getoption("own_results"))
    module = user_module(Path(config.getoption("own_file")))
    items = list(session.items)

    def baseline() -> dict:
        return {"tests": [i.nodeid for i in items], "failing": _run_items(items, stop_at_first=False)}

    start = time.monotonic()
    base = _in_fork(baseline, out / BASELINE_FILE, timeout_s=config.getoption("own_timeout") * 10)
    if "tests" not in base:
        (out / BASELINE_FILE).write_text(json.dumps({"error": base.get("detail", "the baseline did not finish")}))
        return True
    limit = max(10.0, 5 * (time.monotonic() - start)) + config.getoption("own_timeout")
    passing = [i for i in items if i.nodeid not in base["failing"]]
    for index, mutant in enumerate(json.loads(Path(manifest).read_text())):
        source = Path(mutant["source"]).read_text(encoding="utf-8")

        def run_mutant(source=source) -> dict:
            _install(module, source)
            failing = _run_items(passing, stop_at_first=True)
            if failing:
                nodeid, reason = next(iter(failing.items()))
                return {"status": "killed", "killed_by": nodeid, "detail": reason}
            return {"status": "survived", "killed_by": "", "detail": ""}

        record = _in_fork(run_mutant, out / f"{index}.json", limit)
        (out / f"{index}.json").write_text(json.dumps({**record, "id": mutant["id"]}))
    return True
