"""Exposes flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal) on top of
the cache-based API in flash.py."""
import importlib.util
from pathlib import Path

# Loaded by path under a private name so that several corpus folders, each with
# its own flash.py, can be imported in one interpreter without clashing.
_spec = importlib.util.spec_from_file_location(
    "_cache_qouter_loops_flash", Path(__file__).with_name("flash.py"))
_flash = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_flash)


def flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal=True):
    cache = {"O": O, "L": lse, "Q": Q, "K": K, "V": V}
    return _flash.flash_attention_bwd(dO, cache, tile_size, causal=causal)
