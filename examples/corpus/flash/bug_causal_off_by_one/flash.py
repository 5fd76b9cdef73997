"""Tiled attention forward with online softmax, computed in the input dtype.

No upcasting: scores, statistics and the accumulator all live in Q.dtype.
Masked scores are set to a large negative number instead of -inf, which keeps
every subtraction finite; because NEG - NEG == 0 would give a masked key
weight 1, masked probabilities are zeroed explicitly, and a row that saw no
key at all returns zeros instead of 0/0.
"""
import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    dt = Q.dtype
    NEG = dt.type(-1e9)
    B, H, N, D = Q.shape
    scale = dt.type(1.0 / np.sqrt(D))
    O = np.zeros_like(Q)
    idx = np.arange(N)

    for qs in range(0, N, tile_size):
        qe = min(qs + tile_size, N)
        Qi = Q[:, :, qs:qe]
        m = np.full((B, H, qe - qs, 1), NEG, dtype=dt)
        l = np.zeros((B, H, qe - qs, 1), dtype=dt)
        acc = np.zeros((B, H, qe - qs, D), dtype=dt)

        for ks in range(0, N, tile_size):
            ke = min(ks + tile_size, N)
            S = np.matmul(Qi, np.swapaxes(K[:, :, ks:ke], -1, -2)) * scale
            if causal:
                keep = idx[ks:ke][None, :] < idx[qs:qe][:, None]
                S = np.where(keep, S, NEG)
            m_new = np.maximum(m, S.max(axis=-1, keepdims=True))
            P = np.exp(S - m_new)
            if causal:
                P = np.where(keep, P, dt.type(0))
            corr = np.exp(m - m_new)
            l = l * corr + P.sum(axis=-1, keepdims=True)
            acc = acc * corr + P @ V[:, :, ks:ke]
            m = m_new

        O[:, :, qs:qe] = acc / np.where(l > 0, l, dt.type(1))
    return O
