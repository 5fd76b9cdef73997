"""A pytest plugin (`-p killmatrix.plugins.outcomes_plugin`) that streams every test's outcome to a file.

One JSON line per event, flushed at once, so a child killed mid-run (timeout, crash, memory) still
leaves the outcomes of every test that finished and names the one that was running.
"""

from __future__ import annotations

import json
import os
import re

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


def pytest_collection_finish(session):
    # The selection, once: the parent needs it to tell a test that never reported from one never selected.
    _emit({"event": "collected", "nodeids": [_nodeid(item.nodeid, item.location) for item in session.items]})


def pytest_runtest_logstart(nodeid, location):
    _emit({"event": "start", "nodeid": _nodeid(nodeid, location)})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not call.excinfo:
        return
    report = outcome.get_result()
    exc = _first_failure(call.excinfo.value)
    notes = [n for e in (call.excinfo.value, exc) for n in getattr(e, "__notes__", ())]
    example = "\n".join(dict.fromkeys(n for n in notes if n.startswith(_EXAMPLE_NOTES)))
    if example:
        report.user_properties.append(("falsifying", example))
    if not report.skipped:
        # An attribute, not a user property (those are the test's own figures); it survives xdist.
        report.killmatrix_message = failure_message(exc)


def _first_failure(exc: BaseException) -> BaseException:
    """Hypothesis reports several distinct failures (or a flaky one) as an exception group: the first."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


_REGEX_MISMATCH = re.compile(r"Regex pattern did not match\.\s*(?:Expected )?[Rr]egex: (?P<pattern>.*?)\n\s*"
                             r"(?:Actual message|Input): (?P<message>.*)", re.S)
MESSAGE_LINES = 6


def failure_message(exc: BaseException) -> str:
    """What went wrong, in words: an assertion's own message (or its `assert` line when it has none),
    `ExceptionType: message` for an exception the code under test raised, and for `pytest.raises(match=)`
    the pattern expected and the message actually raised. Never a traceback."""
    text = str(exc).strip()
    if isinstance(exc, AssertionError) and (mismatch := _REGEX_MISMATCH.search(text)):
        raised = exc.__context__
        kind = type(raised).__name__ if raised is not None else "an exception"
        return (f"expected an error whose message matches {mismatch['pattern'].strip()}; "
                f"{kind} was raised with message {mismatch['message'].strip()}")
    if isinstance(exc, AssertionError):
        # pytest appends its explanation (`assert x == y`, `+  where ...`, a diff) after the message.
        lines = text.splitlines()
        cut = next((i for i, ln in enumerate(lines) if i and ln.startswith("assert ")), len(lines))
        kept = [ln for ln in lines[:cut] if not ln.lstrip().startswith("+")] or lines[:1]
        return "\n".join(kept[:MESSAGE_LINES]) or "assertion failed (no message)"
    if isinstance(exc, pytest.fail.Exception):
        return text
    name = type(exc).__name__
    return f"{name}: {chr(10).join(text.splitlines()[:MESSAGE_LINES])}" if text else name


_FRAGMENT = re.compile(r"^[\s^~]*$|^\s*(File \"|Traceback|\+ Exception Group|[|+]\s|>\s)")


def _detail(report) -> tuple[str, str]:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: "), ""
    falsifying = dict(report.user_properties).get("falsifying", "")
    message = getattr(report, "killmatrix_message", "")
    if not message:  # a failure outside the test call (fixture, collection): pytest's own error lines
        text = report.longreprtext or ""
        lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
        lines = [ln for ln in lines if not _FRAGMENT.match(ln)]
        message = "\n".join(lines[:20]) if lines else text.strip().splitlines()[-1:][0] if text.strip() else ""
    return message[:DETAIL_CHARS], falsifying[:DETAIL_CHARS]


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
            "figures": _figures(report),
        }
    )


def _figures(report) -> dict:
    """Numbers a test recorded with `record_property` (performance figures: memory, model calls)."""
    return {name: value for name, value in report.user_properties
            if name != "falsifying" and isinstance(value, int | float | str)}


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "result", "nodeid": report.nodeid or "<collection>", "outcome": "error",
               "detail": (report.longreprtext or "")[-DETAIL_CHARS:], "falsifying": "", "duration": 0.0})
