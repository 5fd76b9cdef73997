"""The escape corpus (examples/escapes/): every attempt to reach outside the sandbox leaves its canary
byte-identical, leaves the processes that judge it alive, and comes back as a verdict that says what it tried.

One run of the real `check` machinery (`run_suite_against`: load probe, confined pytest child, audit
hook, refusal log, verdicts) over a generated suite with one property per attempt; each property loads
its attempt as a target of its own, so each runs in its own confined worker process, and the verdicts
come out one per attempt. One run instead of one per attempt keeps it to seconds. The canaries and the
TCP listener live in tmp_path, outside every scratch directory. A second test takes the audit hook away
and lets the kernel alone face every attempt.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from killmatrix.mutation.catalog import ROOT
from killmatrix.outside.check_run import RunSettings, run_suite_against
from killmatrix.outside.verdicts import property_verdicts
from killmatrix.sandbox.confinement import unavailable_reason
from killmatrix.sandbox.limits import MiB

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=f"no isolation: {unavailable_reason()}")

CORPUS = ROOT / "examples" / "escapes"
WRITE = "tried to write outside its scratch directory: {canary}"
SPAWN = "tried to start another program"
# attempt -> what its verdict must say it tried; the function's name in attempts.py, or import_time.py's.
ATTEMPTS = {
    "python_open_for_write": WRITE,
    "os_remove": WRITE,
    "os_truncate": WRITE,
    "numpy_tofile": WRITE,
    "os_system_rm": SPAWN,
    "subprocess_rm": SPAWN,
    "ctypes_fopen_fputs": "called native code via ctypes: fopen()",
    "ctypes_unlink": "called native code via ctypes: unlink()",
    "ctypes_system": "called native code via ctypes: system()",
    "symlink_in_scratch": WRITE,
    "hard_link_in_scratch": WRITE,
    "proc_self_fd_reopen": WRITE,
    "kill_parent": "tried to signal process",
    "ctypes_kill_parent": "called native code via ctypes: kill()",
    "tcp_connect": "tried to open a network connection",
    "import_time": WRITE,
}
CONTROL = "no_escape"
CANARY_BYTES = b"the user's precious file\n"

# One property per attempt, each with its own target (and so its own worker process).
PROPERTY = """
    def test_{name}():
        answers_like_plain_attention(target_from_env("flash", {{BY_NAME["flash"].env: {target!r}}}))
    """
PROPERTIES_HEAD = """
    import numpy as np
    import pytest

    from killmatrix.algorithms import BY_NAME
    from killmatrix.outside.adapters import target_from_env

    pytestmark = pytest.mark.flash  # what `check flash` selects (the suite plugin marks only `flash_impl` users)


    def answers_like_plain_attention(flash):
        rng = np.random.default_rng(0)
        q, k, v = (rng.normal(size=(1, 2, 5, 4)) for _ in range(3))
        s = q @ k.transpose(0, 1, 3, 2) / 2.0
        s = np.where(np.triu(np.ones((5, 5), bool), 1), -np.inf, s)
        p = np.exp(s - s.max(-1, keepdims=True))
        np.testing.assert_allclose(flash(q, k, v, 2, causal=True), p / p.sum(-1, keepdims=True) @ v, atol=1e-9)
    """
SETTINGS = RunSettings(per_test_timeout_s=30, slow_test_timeout_s=30, budget_s=240, memory_bytes=2048 * MiB,
                       output_bytes=8 * MiB, load_timeout_s=30)


def _canary(folder: Path, name: str) -> Path:
    return folder / f"canary-{name}.txt"


def _target(folder: Path, name: str) -> str:
    return f"{folder / 'import_time.py'}" if name == "import_time" else f"{folder / 'attempts.py'}:{name}"


def _suite(root: Path, folder: Path) -> Path:
    properties = textwrap.dedent(PROPERTIES_HEAD) + "".join(
        "\n" + textwrap.dedent(PROPERTY).format(name=name, target=_target(folder, name))
        for name in [CONTROL, *ATTEMPTS]
    )
    (root / "properties").mkdir(parents=True)
    (root / "properties" / "test_escapes.py").write_text(properties)
    return root


@pytest.fixture
def corpus(tmp_path):
    """A copy of the corpus with a canary per attempt and a TCP listener beside it; yields (folder, listener)."""
    folder = shutil.copytree(CORPUS, tmp_path / "escapes", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ATTEMPTS:
        _canary(folder, name).write_bytes(CANARY_BYTES)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        (folder / "listener_port.txt").write_text(str(listener.getsockname()[1]))
        yield folder, listener


def _untouched(folder: Path, listener: socket.socket) -> list[str]:
    """What got through: canaries removed or changed, a connection to the listener."""
    escaped = []
    for name in ATTEMPTS:
        canary = _canary(folder, name)
        if not canary.exists():
            escaped.append(f"{name}: removed its canary")
        elif hashlib.sha256(canary.read_bytes()).digest() != hashlib.sha256(CANARY_BYTES).digest():
            escaped.append(f"{name}: changed its canary to {canary.read_bytes()[:60]!r}")
    try:
        listener.accept()
        escaped.append("a connection reached the listener")
    except BlockingIOError:
        pass
    return escaped


def test_every_escape_is_refused_and_named_in_its_verdict(tmp_path, corpus):
    """Catches any layer that lets an attempt through (a canary changes, the listener gets a connection),
    a verdict that passes an attempt or does not say what it tried, and a signal that reaches the
    processes judging the code (the attempt's verdict would be a crash). The control must pass, or a
    suite failing every target would pass this test."""
    folder, listener = corpus
    run = run_suite_against("flash", _target(folder, CONTROL), SETTINGS, suite_root=_suite(tmp_path / "suite", folder))
    verdicts = {v.name.rpartition("::test_")[2]: v for v in property_verdicts(run.outcomes, run.write_attempts,
                                                                              run.selected)}
    problems = _untouched(folder, listener)
    if verdicts.get(CONTROL) is None or verdicts[CONTROL].status != "passed":
        problems.append(f"the control did not pass: {verdicts.get(CONTROL)}")
    for name, said in ATTEMPTS.items():
        verdict = verdicts.get(name)
        expected = said.format(canary=_canary(folder, name).resolve())
        if verdict is None or verdict.status == "passed" or expected not in verdict.detail \
                or "SIGKILL" in verdict.detail or "crashed" in verdict.detail:
            problems.append(f"{name}: expected an error saying {expected!r}, got {verdict}")
    assert not problems, "\n".join(problems)


KERNEL_ONLY = """
    import importlib.util, os, sys
    from killmatrix.sandbox import confinement

    folder, scratch = sys.argv[1:3]
    os.chdir(scratch)
    confinement.confine([scratch])
    q = [[[[1.0, 2.0]]]]
    for file in ("attempts.py", "import_time.py"):
        spec = importlib.util.spec_from_file_location(file[:-3], os.path.join(folder, file))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # import_time.py makes its attempt here
        for name in dir(module):
            fn = getattr(module, name)
            if callable(fn) and getattr(fn, "__name__", "") == "flash_attention_fwd":
                fn(q, q, q, 1)
    print("survived")
"""


def test_the_kernel_alone_refuses_every_attempt(tmp_path, corpus):
    """No audit hook here: the Python-level attempts reach the kernel too. Catches a Landlock ruleset
    that misses a write right (truncate, refer, remove), the /proc/self/fd reopen, TCP, or signal
    scoping (this very process is the attempts' parent: it would die)."""
    folder, listener = corpus
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(KERNEL_ONLY), str(folder), str(scratch)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 0 and "survived" in child.stdout, child.stderr[-2000:]
    assert _untouched(folder, listener) == []
