"""killmatrix/sandbox/confinement.py: what a confined process can still do, and what the kernel refuses it.

Confinement cannot be undone, so every check runs in a child Python that confines itself and reports
what happened to each attempt as JSON. The commands' policy (refuse to run unconfined without
`--no-isolation`, say so in the verdict) is tested through the test hook KILLMATRIX_ASSUME_NO_LANDLOCK.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from killmatrix.outside.check_run import TargetRun
from killmatrix.plugins.pytest_runner import TestOutcome
from killmatrix.sandbox import confinement
from killmatrix.sandbox.limits import Limits, run_child
from tests.outward_cli import outward_app

needs_landlock = pytest.mark.skipif(confinement.unavailable_reason() is not None,
                                    reason=f"no isolation: {confinement.unavailable_reason()}")

CHILD = """
    import ctypes, json, os, signal, socket, sys
    from killmatrix.sandbox import confinement

    a, b, port, mode = sys.argv[1:5]
    if mode == "nested":
        confinement.confine([a])
        os.makedirs(os.path.join(a, "sub"))
        confinement.confine([os.path.join(a, "sub")])
    else:
        confinement.confine([a], readable_only_elsewhere=mode != "no-reads")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fopen.restype = ctypes.c_void_p

    def native_write(path):
        handle = libc.fopen(path.encode(), b"w")
        if not handle:
            return os.strerror(ctypes.get_errno())
        libc.fputs(b"written", ctypes.c_void_p(handle))
        libc.fclose(ctypes.c_void_p(handle))
        return "done"

    def attempt(action):
        try:
            action()
            return "done"
        except OSError as exc:
            return exc.strerror

    results = {
        "write in A": native_write(os.path.join(a, "new.txt")),
        "write in A/sub": native_write(os.path.join(a, "sub", "new.txt")) if mode == "nested" else "n/a",
        "write in B": native_write(os.path.join(b, "new.txt")),
        "unlink in B": "done" if libc.unlink(os.path.join(b, "keep.txt").encode()) == 0 else "refused",
        "read in B": attempt(lambda: open(os.path.join(b, "keep.txt")).read()),
        "write /dev/null": attempt(lambda: open(os.devnull, "w").write("x")),
        "tcp connect": attempt(lambda: socket.create_connection(("127.0.0.1", int(port)), timeout=2)),
        "signal parent": attempt(lambda: os.kill(os.getppid(), 0)),
        "network namespace": confinement.network_namespace or "entered",
    }
    print(json.dumps(results))
"""


def _confined_child(tmp_path, mode: str = "plain") -> tuple[dict, socket.socket]:
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    b.mkdir()
    (b / "keep.txt").write_text("precious")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(a), str(b), str(listener.getsockname()[1]), mode],
        capture_output=True, text=True, timeout=60,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout), listener


@needs_landlock
def test_a_confined_child_writes_only_beneath_its_folder_and_reaches_nothing_outside(tmp_path):
    """Catches a ruleset that does not handle writes (B changes), one that forgets the writable folder
    or /dev/null (A refused), a missing TCP rule (the listener gets a connection) and missing signal
    scoping (the parent could be signalled)."""
    results, listener = _confined_child(tmp_path)
    with listener:
        assert results["write in A"] == "done"
        assert results["write in B"] == "Permission denied"
        assert results["unlink in B"] == "refused"
        assert (tmp_path / "B" / "keep.txt").read_text() == "precious"
        assert not (tmp_path / "B" / "new.txt").exists()
        assert results["read in B"] == "done"  # reading stays allowed by default
        assert results["write /dev/null"] == "done"
        assert results["tcp connect"] != "done"
        with pytest.raises(BlockingIOError):
            listener.accept()
        assert results["signal parent"] == "Operation not permitted"
        if _namespaces_allowed():  # containers often forbid them: then Landlock's TCP refusal is all there is
            assert results["network namespace"] == "entered"


def _namespaces_allowed() -> bool:
    probe = subprocess.run(["unshare", "--user", "--net", "--map-root-user", "true"], capture_output=True)
    return probe.returncode == 0


@needs_landlock
def test_readable_only_elsewhere_false_also_confines_reads(tmp_path):
    """Catches the read rights not being handled when asked for (B readable)."""
    results, listener = _confined_child(tmp_path, "no-reads")
    listener.close()
    assert results["read in B"] == "Permission denied"
    assert results["write in A"] == "done"


@needs_landlock
def test_a_second_confine_can_only_narrow(tmp_path):
    """Catches a second call that fails (the remote worker confines itself inside a confined child) or
    that widens instead of nesting: A stays refused once narrowed to A/sub."""
    results, listener = _confined_child(tmp_path, "nested")
    listener.close()
    assert results["write in A/sub"] == "done"
    assert results["write in A"] == "Permission denied"
    assert results["write in B"] == "Permission denied"
    if _namespaces_allowed():  # the second call keeps the first's namespace instead of a user one it cannot map
        assert results["network namespace"] == "entered"


@needs_landlock
def test_run_child_confines_through_limits_writable(tmp_path):
    """Catches `Limits.writable` not reaching the preexec: the child's native write outside would land."""
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    script = ("import ctypes, sys; libc = ctypes.CDLL(None); "
              "[libc.system(f'echo x > {d}/f.txt'.encode()) for d in sys.argv[1:]]")
    child = run_child([sys.executable, "-c", script, str(inside), str(outside)], cwd=inside, env={},
                      limits=Limits(timeout_s=60, writable=(str(inside),)))
    assert child.status == "ok", child.stderr
    assert (inside / "f.txt").exists()
    assert not (outside / "f.txt").exists()


def test_the_test_hook_makes_landlock_unavailable(monkeypatch):
    """Catches the hook being ignored: the refusal path could not be tested on a machine with Landlock."""
    monkeypatch.setenv(confinement.ASSUME_NO_LANDLOCK_ENV, "1")
    assert confinement.ASSUME_NO_LANDLOCK_ENV in confinement.unavailable_reason()
    with pytest.raises(confinement.ConfinementError, match="treated as missing"):
        confinement.confine([])  # refuses before touching this process


def test_bad_writable_paths_are_value_errors():
    with pytest.raises(ValueError, match="sequence of paths"):
        confinement.confine("/tmp")  # a string is a sequence too: of one-letter folders
    with pytest.raises(ValueError, match="does not exist"):
        confinement.confine(["/no/such/folder/anywhere"])
    with pytest.raises(ValueError, match="tuple of paths"):
        Limits(writable="/tmp")


@pytest.mark.parametrize("args", [["check", "flash", "x.py"], ["grade", "somewhere"], ["audit", "tests.py"]])
def test_without_isolation_the_commands_refuse_in_one_line(monkeypatch, args):
    """Catches a command that would run outside code unconfined, silently, when the kernel cannot confine."""
    monkeypatch.setenv(confinement.ASSUME_NO_LANDLOCK_ENV, "1")
    result = CliRunner().invoke(outward_app(), args)
    assert result.exit_code == 2
    assert "cannot isolate outside code" in result.output and "--no-isolation" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_no_isolation_runs_unconfined_and_says_so(monkeypatch, tmp_path):
    """Catches `--no-isolation` still refusing, confining anyway (a crash where Landlock is missing), or
    a verdict line that does not say the code ran unconfined."""
    monkeypatch.setenv(confinement.ASSUME_NO_LANDLOCK_ENV, "1")
    seen = {}

    def fake_run(algorithm, target, settings, **_):
        seen["isolation"] = settings.isolation
        nodeid = "adversarial/test_attention_seed_deliverables.py::test_seed_small_shape_matches_naive_within_1e_4"
        return TargetRun(algorithm, target, outcomes={nodeid: TestOutcome(nodeid, "passed")}, selected=[nodeid])

    monkeypatch.setattr("killmatrix.commands.check.run_suite_against", fake_run)
    out = tmp_path / "check.json"
    result = CliRunner().invoke(outward_app(), ["check", "flash", "x.py", "--no-isolation", "--json", str(out)])
    assert seen == {"isolation": False}
    assert "(no isolation)" in result.output, result.output
    assert json.loads(out.read_text())["isolated"] is False  # the record says so too, not only the screen
