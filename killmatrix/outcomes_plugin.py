"""A pytest plugin (`-p killmatrix.outcomes_plugin`) that streams every test's outcome to a file.

One JSON line per event, flushed at once, so a child killed mid-run (timeout, crash, memory) still
leaves the outcomes of every test that finished and names the one that was running.
"""

from __future__ import annotations

import json
import os

import pytest

OUTCOMES_ENV = "KILLMATRIX_OUTCOMES"
DETAIL_CHARS = 4000
# Hypothesis attaches the shrunk input to the exception as a note with one of these openings
# (the wording changed across Hypothesis versions).
_EXAMPLE_NOTES = ("Falsifying", "Failing test case", "Failing example", "Failing explicit example")


def _emit(record: dict) -> None:
    path = os.environ.get(OUTCOMES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


_rootdir = None


def pytest_configure(config):
    global _rootdir
    _rootdir = config.rootpath


def _nodeid(nodeid: str, location) -> str:
    # pytest names a test in a file outside the rootdir "::name", losing the file: put it back, absolute.
    if nodeid.startswith("::") and location and _rootdir is not None:
        return f"{(_rootdir / location[0]).resolve()}{nodeid}"
    return nodeid


def pytest_runtest_logstart(nodeid, location):
    _emit({"event": "start", "nodeid": _nodeid(nodeid, location)})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    notes = getattr(call.excinfo.value, "__notes__", ()) if call.excinfo else ()
    example = "\n".join(n for n in notes if n.startswith(_EXAMPLE_NOTES))
    if example:
        outcome.get_result().user_properties.append(("falsifying", example))


def _detail(report) -> tuple[str, str]:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: "), ""
    text = report.longreprtext or ""
    falsifying = dict(report.user_properties).get("falsifying", "")
    lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    summary = "\n".join(lines[:20]) if lines else text[-DETAIL_CHARS:]
    return summary[:DETAIL_CHARS], falsifying[:DETAIL_CHARS]


def pytest_runtest_logreport(report):
    # A setup or teardown failure counts as an error of that test; its call phase is the verdict otherwise.
    if report.when != "call" and report.passed:
        return
    outcome = report.outcome if report.when == "call" else ("skipped" if report.skipped else "error")
    detail, falsifying = _detail(report)
    _emit(
        {
            "event": "result",
            "nodeid": _nodeid(report.nodeid, report.location),
            "outcome": outcome,
            "detail": detail,
            "falsifying": falsifying,
            "duration": round(report.duration, 3),
        }
    )


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "result", "nodeid": report.nodeid or "<collection>", "outcome": "error",
               "detail": (report.longreprtext or "")[-DETAIL_CHARS:], "falsifying": "", "duration": 0.0})
