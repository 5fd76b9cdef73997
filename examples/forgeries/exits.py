"""Forgery: the process ends with status 0 during a call.

Run in the test process, `os._exit(0)` ended pytest mid-test with status 0, and `check` printed
`verdict: pass`. `on_first_call` exits at once; `on_second_call` answers its first call right (a test
that calls once passes) and exits on the next.
"""

import os

from honest import flash_attention_fwd as honest

_calls = []


def on_first_call(Q, K, V, tile_size, causal=True):
    os._exit(0)


def on_second_call(Q, K, V, tile_size, causal=True):
    _calls.append(1)
    if len(_calls) >= 2:
        os._exit(0)
    return honest(Q, K, V, tile_size, causal)
