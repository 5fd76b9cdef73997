"""Escape attempt at import time: the module writes the canary beside it as it loads, then answers correctly.

See attempts.py beside it for the corpus and where the canary lives.
"""

import contextlib
from pathlib import Path

from numpy import asarray

with contextlib.suppress(Exception):
    Path(__file__).with_name("canary-import_time.txt").write_text("overwritten at import")


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_escape_attempts", Path(__file__).with_name("attempts.py"))
    attempts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(attempts)
    return attempts.no_escape(asarray(Q), K, V, tile_size, causal)
