"""Expose the corpus entry point on top of flash_attention_forward."""
import importlib.util
import pathlib

_spec = importlib.util.spec_from_file_location(
    "cross_length_topleft_flash", pathlib.Path(__file__).with_name("flash.py"))
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    out, _lse = _mod.flash_attention_forward(Q, K, V, block_size=tile_size, causal=causal)
    return out
