"""The write guard refuses every audited change outside its roots and logs it; inside, all is allowed.

An audit hook cannot be removed, so the guard is installed in a child Python, never in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from killmatrix.sandbox.write_guard import read_attempts

CHILD = """
    import ctypes, json, os, shutil, socket, subprocess, sys
    from killmatrix.sandbox import write_guard

    scratch, outside, log = sys.argv[1:4]
    write_guard.install([scratch], log)
    write_guard.set_context("the-test")

    def attempt(name, action):
        try:
            action()
            return name, "allowed"
        except PermissionError:
            return name, "refused"

    results = dict([
        attempt("write inside", lambda: open(os.path.join(scratch, "ok.txt"), "w").write("fine")),
        attempt("mkdir inside", lambda: os.mkdir(os.path.join(scratch, "sub"))),
        attempt("read outside", lambda: open(os.path.join(outside, "keep.txt")).read()),
        attempt("write outside", lambda: open(os.path.join(outside, "keep.txt"), "w")),
        attempt("append outside", lambda: open(os.path.join(outside, "keep.txt"), "a")),
        attempt("os.open outside", lambda: os.open(os.path.join(outside, "new.txt"), os.O_CREAT | os.O_WRONLY)),
        attempt("remove outside", lambda: os.remove(os.path.join(outside, "keep.txt"))),
        attempt("rename outside", lambda: os.rename(os.path.join(outside, "keep.txt"), os.path.join(scratch, "x"))),
        attempt("rmtree outside", lambda: shutil.rmtree(outside)),
        attempt("escape by ..", lambda: open(os.path.join(scratch, "..", "outside", "keep.txt"), "w")),
        attempt("subprocess", lambda: subprocess.run(["rm", "-rf", outside])),
        attempt("os.system", lambda: os.system("true")),
        attempt("symlink in scratch to outside", lambda: os.symlink(os.path.join(outside, "keep.txt"),
                                                                    os.path.join(scratch, "ln"))),
        attempt("remove that symlink", lambda: os.remove(os.path.join(scratch, "ln"))),
        attempt("hard link from outside", lambda: os.link(os.path.join(outside, "keep.txt"),
                                                          os.path.join(scratch, "hl"))),
        attempt("tcp connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1)),
        attempt("ctypes lookup of unlink", lambda: ctypes.CDLL(None).unlink),
    ])
    print(json.dumps(results))
"""


def test_guard_refuses_changes_outside_and_allows_inside(tmp_path):
    scratch, outside = tmp_path / "scratch", tmp_path / "outside"
    scratch.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    log = scratch / "refusals.jsonl"
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(scratch), str(outside), str(log)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    results = json.loads(child.stdout)
    # A symlink acts on the link itself when removed; a ctypes lookup is noted, not refused.
    allowed = {"write inside", "mkdir inside", "read outside", "symlink in scratch to outside", "remove that symlink",
               "ctypes lookup of unlink"}
    assert {name for name, verdict in results.items() if verdict == "allowed"} == allowed
    assert (outside / "keep.txt").read_text() == "precious"
    assert not (outside / "new.txt").exists()
    attempts = read_attempts(log)
    assert [a["attempt"] for a in attempts if a["kind"] == "native"] == [
        "called native code via ctypes: unlink() (out of this hook's sight; the kernel's confinement still holds)"]
    assert len(attempts) == len(results) - len(allowed) + 1
    assert {a["nodeid"] for a in attempts} == {"the-test"}
    assert any(f"tried to write outside its scratch directory: {outside / 'keep.txt'}" in a["attempt"]
               for a in attempts)


def test_read_attempts_skips_a_line_cut_short(tmp_path):
    log = Path(tmp_path, "log.jsonl")
    log.write_text('{"nodeid": "a", "attempt": "open(x)"}\n{"nodeid": "b", "att')
    assert read_attempts(log) == [{"nodeid": "a", "attempt": "open(x)"}]
