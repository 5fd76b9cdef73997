"""Tiled FlashAttention backward from the saved log-sum-exp (FlashAttention-2, Algorithm 2).

The forward saved `O` and `lse = m + log(l)` per query row, so the probabilities of any
(query tile, KV tile) block are recomputed exactly as `P = exp(S - lse)`, already normalized over
the full row. The softmax Jacobian then collapses to `dS = P * (dP - D)` with
`D = rowsum(dO * O)`, which equals `rowsum(P * dP)` over the *full* row, not over one tile.
The loop order is FlashAttention-2's: each KV tile is loaded once and walks the query tiles that can
see it, accumulating its own dK and dV; dQ is accumulated across KV tiles. No buffer larger than one
(query tile x KV tile) block of scores exists.
"""

from __future__ import annotations

import math

import numpy as np

from impl.attention import FLOAT_DTYPES, checked_arguments, hidden_keys, tiles


def flash_attention_bwd(
    Q, K, V, O, dO, lse, tile_size=128, causal=True, *, kv_tile_size=None, key_padding_mask=None  # noqa: E741
):
    """Gradients `(dQ, dK, dV)` of `sum(O * dO)` for the forward of CONTRACTS §2.

    `O` and `lse` are what `flash_attention_fwd(..., return_lse=True)` returned for the same
    arguments; `dO` is the upstream gradient. Each gradient has its input's shape and dtype.
    """
    Q, K, V, kv_tile_size, key_is_padding = checked_arguments(Q, K, V, tile_size, kv_tile_size, key_padding_mask)
    B, H, Nq, D = Q.shape
    Nk = K.shape[2]
    O = _checked_like_queries("O", O, Q.shape)  # noqa: E741 (the paper's and the issue's name)
    dO = _checked_like_queries("dO", dO, Q.shape)
    lse = _checked_lse(lse, Q.shape[:3])

    # The inputs' common dtype, at least float32: float16 inputs accumulate in float32.
    acc_dtype = np.result_type(Q, K, V, np.float32)
    scale = 1.0 / math.sqrt(D)
    # Bottom-right alignment: query i sees key j iff j <= i + diagonal.
    diagonal = Nk - Nq
    # A row that sees no key has lse = -inf; +inf instead makes its P = exp(S - inf) = 0, not NaN.
    lse = np.where(lse == -np.inf, np.inf, lse)
    # D once per full row, before any KV tile: the per-tile rowsum(P * dP) would miss the other tiles.
    D_rows = np.empty((B, H, Nq), acc_dtype)
    for q_start, q_end in tiles(Nq, tile_size):
        D_rows[:, :, q_start:q_end] = np.sum(np.asarray(dO[:, :, q_start:q_end], acc_dtype) * O[:, :, q_start:q_end],
                                             axis=-1)

    dQ = np.zeros((B, H, Nq, D), acc_dtype)  # accumulated across KV tiles
    dK, dV = np.empty(K.shape, K.dtype), np.empty(V.shape, V.dtype)
    for k_start, k_end in tiles(Nk, kv_tile_size):
        k, v = K[:, :, k_start:k_end], V[:, :, k_start:k_end]
        dK_tile = np.zeros((B, H, k_end - k_start, D), acc_dtype)
        dV_tile = np.zeros((B, H, k_end - k_start, D), acc_dtype)
        # Query tiles wholly above the causal boundary see none of these keys: the first query that
        # sees key k_start is k_start - diagonal, so the walk starts at the query tile holding it.
        first_query = max(0, k_start - diagonal) if causal else 0
        for q_start, q_end in tiles(Nq, tile_size, first=first_query - first_query % tile_size):
            # The forward's scale placement, (Q * scale) K^T, so P matches its lse bit for bit.
            q = np.multiply(Q[:, :, q_start:q_end], scale, dtype=acc_dtype)
            dO_tile = np.asarray(dO[:, :, q_start:q_end], acc_dtype)
            S = q @ k.swapaxes(2, 3)
            hidden = hidden_keys((q_start, q_end), (k_start, k_end), diagonal, causal, key_is_padding)
            if hidden is not None:
                np.copyto(S, -np.inf, where=hidden)
            # P from the saved lse, never from a running max: only lse normalizes over the full row.
            P = np.exp(S - lse[:, :, q_start:q_end, None])
            dV_tile += P.swapaxes(2, 3) @ dO_tile
            dP = dO_tile @ v.swapaxes(2, 3)
            dS = P * (dP - D_rows[:, :, q_start:q_end, None])
            # S = q K^T with q = Q * scale: dQ = scale * dS K, and dK = dS^T q carries the scale in q.
            dQ[:, :, q_start:q_end] += scale * (dS @ k)
            dK_tile += dS.swapaxes(2, 3) @ q
        dK[:, :, k_start:k_end] = dK_tile
        dV[:, :, k_start:k_end] = dV_tile
    return np.asarray(dQ, Q.dtype), dK, dV


def _checked_like_queries(name: str, x, shape: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x)
    if x.shape != shape:
        raise ValueError(f"{name} must have Q's shape {shape}, got {x.shape}")
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must have dtype float16, float32 or float64, got {x.dtype}")
    if not (np.isfinite(x.min()) and np.isfinite(x.max())):
        raise ValueError(f"{name} must be finite, got NaN or inf")
    return x


def _checked_lse(lse, shape: tuple[int, ...]) -> np.ndarray:
    lse = np.asarray(lse)
    if lse.shape != shape:
        raise ValueError(f"lse must have shape (B, H, Nq) = {shape}, got {lse.shape}")
    if lse.dtype not in FLOAT_DTYPES:
        raise ValueError(f"lse must have dtype float16, float32 or float64, got {lse.dtype}")
    # -inf is the lse of a row that sees no key; NaN or +inf come from no forward.
    if np.isnan(lse).any() or (lse == np.inf).any():
        raise ValueError("lse must be finite or -inf (a row that sees no key), got NaN or +inf")
    return lse
