"""Forgery: rewrites the oracles and assertion helpers to pass anything, then answers zeros (wrong).

Swapping the functions' code (not just the module attributes) reaches the test modules that already
imported them by name: in the test process, every oracle comparison would pass.
"""

import numpy as np

import properties.attention_assertions as assertions
import properties.attention_oracle as oracle


def _passes(*args, **kwargs):
    return None


def _zeros(Q, *args, **kwargs):
    return np.zeros(np.shape(Q))


def _zeros_and_no_bound(Q, *args, **kwargs):
    return np.zeros(np.shape(Q)), np.inf


for _name in ("assert_matches_oracle", "assert_no_nan", "assert_blind_rows_are_zero"):
    getattr(assertions, _name).__code__ = _passes.__code__
oracle.naive_attention.__code__ = _zeros.__code__
oracle.oracle_and_bound.__code__ = _zeros_and_no_bound.__code__
oracle.flash_error_bound.__code__ = (lambda *a, **k: np.inf).__code__


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    return np.zeros(np.shape(Q), np.asarray(Q).dtype)
