"""Forgery: exceptions that are not errors to an `except Exception`, raised in a call.

In the test process, SystemExit and KeyboardInterrupt stop pytest itself, and pytest's own Skipped
turns a failing test into a skip.
"""

import pytest


def system_exit(Q, K, V, tile_size, causal=True):
    raise SystemExit(0)


def keyboard_interrupt(Q, K, V, tile_size, causal=True):
    raise KeyboardInterrupt


def pytest_skip(Q, K, V, tile_size, causal=True):
    raise pytest.skip.Exception("not my problem", allow_module_level=True)
