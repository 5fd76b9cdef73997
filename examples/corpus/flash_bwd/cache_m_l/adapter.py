"""Contract wrapper: (Q, K, V, O, dO, lse) -> cache for flash.py's backward.

Only lse = m + log(l) is known here. Any split with that sum yields the same
probabilities exp(S - m) / l, so m = lse and l = 1 is used.
"""
import importlib.util
import pathlib

import numpy as np

_path = pathlib.Path(__file__).resolve().parent / "flash.py"
_spec = importlib.util.spec_from_file_location("cache_m_l_flash", _path)
_impl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_impl)


def flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal=True):
    lse = np.asarray(lse, dtype=np.float64)
    cache = {"O": O, "L": lse, "Q": Q, "K": K, "V": V, "m": lse, "l": np.ones_like(lse)}
    return _impl.flash_attention_bwd(dO, cache, tile_size, causal=causal)
