"""Escape attempts: each function is a correct `flash_attention_fwd` that first tries to reach outside its sandbox.

`killmatrix check flash examples/escapes/attempts.py:NAME` runs one. The target of attempt NAME is
`canary-NAME.txt` beside this file (never inside a scratch directory), so a corpus run shows which
attempt got through; the TCP attempt connects to the port written in `listener_port.txt` beside it.
Neither travels through the environment: the process that runs outside code gets a minimal one.
Each attempt swallows its own failure and then answers correctly, so a verdict that is not `pass`
comes from what the sandbox saw, not from an exception. tests/test_sandbox_escapes.py runs them all
against a copy of this folder and checks every canary. `no_escape` is the control: it passes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from pathlib import Path

import numpy as np

PORT_FILE = Path(__file__).with_name("listener_port.txt")


def _attention(Q, K, V, causal):
    """Plain softmax attention (bottom-right causal alignment): right, and all an attempt needs."""
    Q, K, V = (np.asarray(x, np.float64) for x in (Q, K, V))
    s = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(Q.shape[-1])
    if causal:
        nq, nk = s.shape[-2:]
        s = np.where(np.arange(nk)[None, :] > np.arange(nq)[:, None] + (nk - nq), -np.inf, s)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ V


def canary(name: str) -> Path:
    return Path(__file__).with_name(f"canary-{name}.txt")


def attempt(escape):
    """A correct flash_attention_fwd that runs `escape(its canary)` once, on its first call, ignoring any failure."""
    tried = []

    def flash_attention_fwd(Q, K, V, tile_size, causal=True):
        if not tried:
            tried.append(escape.__name__)
            with contextlib.suppress(Exception):
                escape(canary(escape.__name__))
        return _attention(Q, K, V, causal).astype(np.asarray(Q).dtype)

    flash_attention_fwd.__doc__ = escape.__doc__
    return flash_attention_fwd


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _in_scratch(name: str) -> Path:
    return Path(os.getcwd(), name)  # the process's cwd is its scratch directory


@attempt
def no_escape(_canary):
    """The control: tries nothing."""


@attempt
def python_open_for_write(canary_path):
    """Python's open() for writing."""
    canary_path.write_text("overwritten by open()")


@attempt
def os_remove(canary_path):
    """os.remove()."""
    os.remove(canary_path)


@attempt
def os_truncate(canary_path):
    """os.truncate() to zero bytes."""
    os.truncate(canary_path, 0)


@attempt
def numpy_tofile(canary_path):
    """numpy's ndarray.tofile(), which opens the file itself."""
    np.zeros(4).tofile(str(canary_path))


@attempt
def os_system_rm(canary_path):
    """A shell command through os.system()."""
    os.system(f"rm -f {canary_path}")


@attempt
def subprocess_rm(canary_path):
    """rm in a subprocess."""
    subprocess.run(["rm", "-f", str(canary_path)], check=False)


@attempt
def ctypes_fopen_fputs(canary_path):
    """libc fopen() + fputs() through ctypes: no audit event sees the write itself."""
    libc = _libc()
    libc.fopen.restype = ctypes.c_void_p
    handle = libc.fopen(str(canary_path).encode(), b"w")
    if handle:
        libc.fputs(b"overwritten by fopen()", ctypes.c_void_p(handle))
        libc.fclose(ctypes.c_void_p(handle))


@attempt
def ctypes_unlink(canary_path):
    """libc unlink() through ctypes."""
    _libc().unlink(str(canary_path).encode())


@attempt
def ctypes_system(canary_path):
    """libc system() through ctypes: a shell the audit hook never hears of."""
    _libc().system(f"rm -f {canary_path}; echo overwritten > {canary_path}".encode())


@attempt
def symlink_in_scratch(canary_path):
    """A symlink planted in scratch pointing at the canary, then written through."""
    link = _in_scratch("innocent.txt")
    os.symlink(canary_path, link)
    link.write_text("overwritten through a symlink")


@attempt
def hard_link_in_scratch(canary_path):
    """A hard link to the canary made in scratch, then written through."""
    link = _in_scratch("innocent-hardlink.txt")
    os.link(canary_path, link)
    with open(link, "r+") as fh:
        fh.write("overwritten through a hard link")


@attempt
def proc_self_fd_reopen(canary_path):
    """Open the canary read-only, then reopen /proc/self/fd/N for writing."""
    fd = os.open(canary_path, os.O_RDONLY)
    with open(f"/proc/self/fd/{fd}", "w") as fh:
        fh.write("overwritten through /proc/self/fd")


@attempt
def kill_parent(_canary):
    """SIGKILL to the parent process (the one that records outcomes)."""
    os.kill(os.getppid(), signal.SIGKILL)


@attempt
def ctypes_kill_parent(_canary):
    """libc kill() of the parent through ctypes."""
    _libc().kill(os.getppid(), signal.SIGKILL)


@attempt
def tcp_connect(_canary):
    """A TCP connection to a listener on 127.0.0.1."""
    port = int(PORT_FILE.read_text())
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"escaped")
