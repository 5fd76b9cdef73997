"""FlashAttention-2 style backward: key/value tiles outer, query tiles inner.

dK and dV for one key/value tile are complete once its inner loop ends, so they
live in small tile-sized accumulators; dQ gathers contributions from every
key/value tile in a full-size buffer. All batch and head dimensions are handled
at once with batched matmuls.
"""
import numpy as np


def _t(x):
    return np.swapaxes(x, -1, -2)


def flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal=True):
    Q, K, V, O, dO = (np.asarray(x) for x in (Q, K, V, O, dO))
    if Q.ndim != 4 or any(x.shape != Q.shape for x in (K, V, O, dO)):
        raise ValueError("Q, K, V, O, dO must all be (B, H, N, D) with equal shapes")
    if np.shape(lse) != Q.shape[:3]:
        raise ValueError("lse must have shape (B, H, N)")
    if int(tile_size) != tile_size or tile_size < 1:
        raise ValueError("tile_size must be a positive integer")
    out_dtype = Q.dtype
    B, H, N, D = Q.shape
    T = int(tile_size)
    scale = 1.0 / np.sqrt(D)

    def tile(x, a, b):  # float64 copy of one tile; the full inputs stay as given
        return x[:, :, a:b].astype(np.float64)

    # Full-row D_i = sum_j P_ij dP_ij, obtained without P as dO_i . O_i.
    delta = np.einsum("bhnd,bhnd->bhn", dO, O, dtype=np.float64)[..., None]
    lse = np.asarray(lse, dtype=np.float64)[..., None]

    dq = np.zeros(Q.shape)
    dk = np.empty(Q.shape, dtype=out_dtype)
    dv = np.empty(Q.shape, dtype=out_dtype)
    for ks in range(0, N, T):
        ke = min(ks + T, N)
        k_t, v_t = tile(K, ks, ke), tile(V, ks, ke)
        dk_acc = np.zeros_like(k_t)
        dv_acc = np.zeros_like(v_t)
        for qs in range(0, N, T):
            qe = min(qs + T, N)
            if causal and qe - 1 < ks:
                continue  # every query of this tile precedes every key
            q_t, do_t = tile(Q, qs, qe), tile(dO, qs, qe)
            s = (q_t @ _t(k_t)) * scale
            if causal and ke - 1 > qs:
                future = np.arange(ks, ke)[None, :] > np.arange(qs, qe)[:, None]
                s = np.where(future, -np.inf, s)
            p = np.exp(s - lse[:, :, qs:qe])
            dv_acc += _t(p) @ do_t
            dp = do_t @ _t(v_t)
            ds = p * (dp - delta[:, :, qs:qe])
            dq[:, :, qs:qe] += scale * (ds @ k_t)
            dk_acc += scale * (_t(dp) @ q_t)
        dk[:, :, ks:ke] = dk_acc
        dv[:, :, ks:ke] = dv_acc
    return dq.astype(out_dtype), dk, dv
