"""Tiled attention forward, one head at a time, as in the FlashAttention paper's Algorithm 1.

Seed signature only: no kv_tile_size, key_padding_mask or observer, so the properties that need them
are skipped. Working per head keeps every temporary at one (tile x tile) block.
"""

import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    Q, K, V = (np.asarray(x) for x in (Q, K, V))
    for name, x in (("Q", Q), ("K", K), ("V", V)):
        if x.ndim != 4 or 0 in x.shape or x.dtype not in (np.float16, np.float32, np.float64):
            raise ValueError(f"{name} must be a float16/32/64 array of shape (B, H, N, D), got {x.dtype} {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name} must be finite")
    if K.shape != V.shape or K.shape[:2] != Q.shape[:2] or K.shape[3] != Q.shape[3]:
        raise ValueError(f"K and V must be (B, H, Nk, D) matching Q {Q.shape}, got {K.shape} and {V.shape}")
    if isinstance(tile_size, bool) or not isinstance(tile_size, int | np.integer) or tile_size < 1:
        raise ValueError(f"tile_size must be a positive int, got {tile_size!r}")

    B, H, Nq, D = Q.shape
    Nk = K.shape[2]
    work = np.float64 if Q.dtype == np.float64 else np.float32
    scale = work(1.0 / np.sqrt(D))  # a work-dtype scalar: a float64 one would promote every tile
    shift = Nk - Nq  # bottom-right causal alignment: query i sees keys j <= i + shift
    out = np.zeros(Q.shape, Q.dtype)
    for b in range(B):
        for h in range(H):
            for q0 in range(0, Nq, tile_size):
                q1 = min(q0 + tile_size, Nq)
                q = Q[b, h, q0:q1].astype(work) * scale
                row_max = np.full(q1 - q0, -np.inf, work)
                row_sum = np.zeros(q1 - q0, work)
                acc = np.zeros((q1 - q0, D), work)
                k_stop = min(Nk, q1 + shift) if causal else Nk
                for k0 in range(0, max(k_stop, 0), tile_size):
                    k1 = min(k0 + tile_size, k_stop)
                    s = q @ K[b, h, k0:k1].astype(work).T
                    if causal:
                        s[np.arange(k0, k1)[None, :] > np.arange(q0, q1)[:, None] + shift] = -np.inf
                    new_max = np.maximum(row_max, s.max(axis=1))
                    # Rows with no visible key yet keep max -inf; subtract 0 there to avoid inf - inf.
                    base = np.where(np.isneginf(new_max), 0.0, new_max)
                    rescale = np.exp(row_max - base)
                    p = np.exp(s - base[:, None])
                    row_sum = row_sum * rescale + p.sum(axis=1)
                    acc = acc * rescale[:, None] + p @ V[b, h, k0:k1].astype(work)
                    row_max = new_max
                seen = row_sum > 0
                out[b, h, q0:q1][seen] = acc[seen] / row_sum[seen][:, None]
    return out
