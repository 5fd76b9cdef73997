"""Tiled FlashAttention backward from the saved log-sum-exp (FlashAttention-2, Algorithm 2).

The forward saved `O` and `lse = m + log(l)` per query row, so the probabilities of any
(query tile, KV tile) block are recomputed exactly as `P = exp(S - lse)`, already normalized over
the full row. The softmax Jacobian then collapses to `dS = P * (dP - D)` with
`D = rowsum(dO * O)`, which equals `rowsum(P * dP)` over the *full* row, not over one tile.
No buffer larger than one (query tile x KV tile) block of scores exists.
"""

from __future__ import annotations

import math

import numpy as np

from impl.attention import FLOAT_DTYPES, checked_arguments, tiles


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

    acc_dtype = np.result_type(Q, K, V, np.float32)  # float16 inputs accumulate in float32
    q, k, v, do = (np.asarray(x, dtype=acc_dtype) for x in (Q, K, V, dO))
    # A row that sees no key has lse = -inf; +inf instead makes its P = exp(S - inf) = 0, not NaN.
    lse = np.where(lse == -np.inf, np.inf, lse)[..., None]
    # D once per full row, before any tiling: the per-tile rowsum(P * dP) would miss the other tiles.
    D_rows = (do * O).sum(axis=3, keepdims=True)
    scale = 1.0 / math.sqrt(D)
    # Bottom-right alignment: query i sees key j iff j <= i + diagonal.
    diagonal = Nk - Nq

    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for q_start, q_end in tiles(Nq, tile_size):
        q_t, do_t, dq_t = q[:, :, q_start:q_end], do[:, :, q_start:q_end], dq[:, :, q_start:q_end]
        lse_t, D_t = lse[:, :, q_start:q_end], D_rows[:, :, q_start:q_end]
        # KV tiles wholly to the right of the causal boundary get no gradient from this query tile.
        last_key = min(Nk, q_end + diagonal) if causal else Nk
        for k_start, k_end in tiles(last_key, kv_tile_size):
            k_t, v_t = k[:, :, k_start:k_end], v[:, :, k_start:k_end]
            S = q_t @ k_t.swapaxes(2, 3)
            S *= scale
            hidden = _hidden_keys((q_start, q_end), (k_start, k_end), diagonal, causal, key_is_padding)
            if hidden is not None:
                np.copyto(S, -np.inf, where=hidden)
            # P from the saved lse, never from a running max: only lse normalizes over the full row.
            S -= lse_t
            P = np.exp(S, out=S)
            dv[:, :, k_start:k_end] += P.swapaxes(2, 3) @ do_t
            dP = do_t @ v_t.swapaxes(2, 3)
            dP -= D_t
            dS = np.multiply(P, dP, out=dP)
            dq_t += scale * (dS @ k_t)
            dk[:, :, k_start:k_end] += scale * (dS.swapaxes(2, 3) @ q_t)
    return np.asarray(dq, dtype=Q.dtype), np.asarray(dk, dtype=K.dtype), np.asarray(dv, dtype=V.dtype)


def _hidden_keys(q_range, k_range, diagonal: int, causal: bool, key_is_padding) -> np.ndarray | None:
    """True where a query of the tile may not see a key, broadcastable to (B, H, Tq, Tk); None if it sees all."""
    (q_start, q_end), (k_start, k_end) = q_range, k_range
    hidden = np.arange(k_start, k_end) > np.arange(q_start, q_end)[:, None] + diagonal if causal else None
    if key_is_padding is not None:
        padding = key_is_padding[..., k_start:k_end]
        hidden = padding if hidden is None else hidden | padding
    return hidden


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
