"""Tiled attention backward that does every step in float64.

Inputs may arrive in float32 (or float16). Each tile is widened to float64 as
it is loaded (widening whole inputs would cost several (N, D) double buffers),
all score, probability and gradient arithmetic runs in double precision, and
the gradients are narrowed back to the dtype of Q when they are stored.
"""
import numpy as np

F64 = np.float64


def _validate(Q, K, V, O, dO, lse, tile_size):
    shape = np.shape(Q)
    if len(shape) != 4:
        raise ValueError(f"Q must be 4-D (B, H, N, D), got shape {shape}")
    for name, x in (("K", K), ("V", V), ("O", O), ("dO", dO)):
        if np.shape(x) != shape:
            raise ValueError(f"{name} has shape {np.shape(x)}, expected {shape}")
    if np.shape(lse) != shape[:3]:
        raise ValueError(f"lse has shape {np.shape(lse)}, expected {shape[:3]}")
    if not isinstance(tile_size, (int, np.integer)) or tile_size < 1:
        raise ValueError(f"tile_size must be a positive int, got {tile_size!r}")


def flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal=True):
    _validate(Q, K, V, O, dO, lse, tile_size)
    Q, K, V, O, dO, lse = (np.asarray(a) for a in (Q, K, V, O, dO, lse))
    result_dtype = Q.dtype
    n, d = Q.shape[2], Q.shape[3]
    scale = F64(1.0) / np.sqrt(F64(d))

    grad_q = np.zeros(Q.shape, dtype=result_dtype)  # each row block is final when stored
    grad_k = np.zeros(K.shape, dtype=F64)
    grad_v = np.zeros(V.shape, dtype=F64)

    for q_start in range(0, n, tile_size):
        q_stop = min(q_start + tile_size, n)
        q_blk = Q[:, :, q_start:q_stop].astype(F64)
        do_blk = dO[:, :, q_start:q_stop].astype(F64)
        lse_blk = lse[:, :, q_start:q_stop, None].astype(F64)
        # D_i over the full row (all key tiles), via the identity sum_j P dP = dO . O
        o_blk = O[:, :, q_start:q_stop].astype(F64)
        d_blk = np.einsum("bhqd,bhqd->bhq", do_blk, o_blk)[..., None]
        q_rows = np.arange(q_start, q_stop)[:, None]
        dq_blk = np.zeros(q_blk.shape, dtype=F64)

        for kv_start in range(0, n, tile_size):
            if causal and kv_start > q_stop - 1:
                break  # remaining key tiles lie entirely in the future
            kv_stop = min(kv_start + tile_size, n)
            k_blk = K[:, :, kv_start:kv_stop].astype(F64)
            v_blk = V[:, :, kv_start:kv_stop].astype(F64)

            scores = np.einsum("bhqd,bhkd->bhqk", q_blk, k_blk) * scale
            if causal:
                k_cols = np.arange(kv_start, kv_stop)[None, :]
                scores = np.where(k_cols > q_rows, -np.inf, scores)
            probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)

            grad_v[:, :, kv_start:kv_stop] += np.einsum("bhqk,bhqd->bhkd", probs, do_blk)
            dprobs = np.einsum("bhqd,bhkd->bhqk", do_blk, v_blk)
            dscores = probs * (dprobs - d_blk) * scale
            dq_blk += np.einsum("bhqk,bhkd->bhqd", dscores, k_blk)
            grad_k[:, :, kv_start:kv_stop] += np.einsum("bhqk,bhqd->bhkd", dscores, q_blk)

        grad_q[:, :, q_start:q_stop] = dq_blk

    return grad_q, grad_k.astype(result_dtype), grad_v.astype(result_dtype)
