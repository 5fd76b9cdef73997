"""FlashAttention-1 style forward pass (Dao et al. 2022, Algorithm 1).

The loop order follows the paper: outer loop over KV blocks j, inner loop over
query blocks i. O, l and m live in full-length buffers (the paper's "HBM");
every block update merges the block's own statistics (block-local max m_t and
sum l_t) into them and writes back an O that is already normalised.
"""
import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    B, H, N, D = Q.shape
    Bc = Br = tile_size
    tau = 1.0 / np.sqrt(D)
    O = np.zeros_like(Q)
    l = np.zeros((B, H, N, 1))
    m = np.full((B, H, N, 1), -np.inf)

    for j0 in range(0, N, Bc):
        j1 = min(j0 + Bc, N)
        Kj, Vj = K[:, :, j0:j1], V[:, :, j0:j1]
        for i0 in range(0, N, Br):
            i1 = min(i0 + Br, N)
            S = tau * (Q[:, :, i0:i1] @ Kj.swapaxes(-1, -2))
            if causal:
                S = np.where(np.arange(j0, j1) > np.arange(i0, i1)[:, None], -np.inf, S)
            m_t = S.max(axis=-1, keepdims=True)
            P = np.exp(S - m_t)
            l_t = P.sum(axis=-1, keepdims=True)

            m_i, l_i = m[:, :, i0:i1], l[:, :, i0:i1]
            m_new = np.maximum(m_i, m_t)
            a, b = np.exp(m_i - m_new), np.exp(m_t - m_new)
            l_new = a * l_i + b * l_t
            O[:, :, i0:i1] = (l_i * a * O[:, :, i0:i1] + b * (P @ Vj)) / l_new
            m[:, :, i0:i1] = m_new
            l[:, :, i0:i1] = l_new

    return O
