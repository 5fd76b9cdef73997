"""Between the contract's backward and attention_grad.py's cache API (see examples/byo/README.md).

The contract's backward takes (Q, K, V, O, dO, lse, tile_size, causal) with lse = m + log(l); the cache
keeps m and l apart. Any split with the same sum gives the same probabilities, so to_contract uses
m = lse and l = 1.
"""
import numpy as np


def to_user(reference_fn):
    def attention_backward(dO, cache):
        lse = cache["m"] + np.log(cache["l"])
        return reference_fn(cache["Q"], cache["K"], cache["V"], cache["O"], dO, lse, cache["tile"],
                            causal=cache["causal"])

    return attention_backward


def to_contract(user_fn):
    def flash_attention_bwd(Q, K, V, O, dO, lse, tile_size=128, causal=True):
        lse = np.asarray(lse, dtype=np.float64)
        cache = {"Q": np.asarray(Q, np.float64), "K": np.asarray(K, np.float64), "V": np.asarray(V, np.float64),
                 "O": np.asarray(O, np.float64), "m": lse, "l": np.ones_like(lse), "tile": tile_size,
                 "causal": causal}
        dQ, dK, dV = user_fn(np.asarray(dO, np.float64), cache)
        return dQ.astype(np.asarray(Q).dtype), dK.astype(np.asarray(K).dtype), dV.astype(np.asarray(V).dtype)

    return flash_attention_bwd
