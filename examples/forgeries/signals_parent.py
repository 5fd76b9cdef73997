"""Forgery: kills the process that runs the tests (its parent), then answers right.

In the test process, a parent killed mid-run loses the outcome of the running test. Both routes are
tried: Python's `os.kill` (an audited call) and libc's `kill` through ctypes (no audit event).
"""

import ctypes
import os
import signal

from honest import flash_attention_fwd as honest


def _kill_parent(sig):
    parent = os.getppid()
    for route in (lambda: os.kill(parent, sig), lambda: os.killpg(os.getpgid(parent), sig)):
        try:
            route()
        except OSError:
            pass
    ctypes.CDLL(None).kill(parent, sig)


def with_sigkill(Q, K, V, tile_size, causal=True):
    _kill_parent(signal.SIGKILL)
    return honest(Q, K, V, tile_size, causal)


def with_sigterm(Q, K, V, tile_size, causal=True):
    _kill_parent(signal.SIGTERM)
    return honest(Q, K, V, tile_size, causal)
