"""Forgery: `sys.exit(0)` while being imported, before any test can call it."""

import sys

from honest import flash_attention_fwd  # noqa: F401 (correct, if it were ever reached)

sys.exit(0)
