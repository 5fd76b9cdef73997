"""Tiled FlashAttention forward pass (online softmax) in NumPy.

Queries are processed in tiles of `tile_size` rows. For each query tile we
stream over the key/value tiles and keep, per query row, a running max `m`,
a running denominator `l` and an un-normalised output `acc`. Everything is
vectorised over batch and heads, so the largest temporary is (B, H, T, T).
"""
import math

import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    B, H, N, D = Q.shape
    scale = 1.0 / math.sqrt(D)
    O = np.empty_like(Q)

    for q0 in range(0, N, tile_size):
        q1 = min(q0 + tile_size, N)
        q = Q[:, :, q0:q1] * scale          # fold the softmax scale into Q once
        m = np.full((B, H, q1 - q0, 1), -np.inf)
        l = np.zeros((B, H, q1 - q0, 1))
        acc = np.zeros((B, H, q1 - q0, D))

        for k0 in range(0, N, tile_size):
            if causal and k0 >= q1:
                break  # this and every later KV tile is entirely in the future
            k1 = min(k0 + tile_size, N)
            s = q @ K[:, :, k0:k1].swapaxes(-1, -2)          # (B, H, Tq, Tk)
            if causal:
                rows = np.arange(q0, q1)[:, None]
                cols = np.arange(k0, k1)[None, :]
                s = s + np.where(cols > rows, -np.inf, 0.0)
            m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
            alpha = np.exp(m - m_new)       # <= 1: shrinks what was accumulated
            p = np.exp(s - m_new)
            l = l * alpha + p.sum(axis=-1, keepdims=True)
            acc = acc * alpha + p @ V[:, :, k0:k1]
            m = m_new

        O[:, :, q0:q1] = acc / l
    return O
