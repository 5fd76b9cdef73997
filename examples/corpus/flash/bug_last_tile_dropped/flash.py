"""FlashAttention forward (online softmax), accumulating in float64.

Each Q/K/V tile is upcast to float64 before the score product, so the online
statistics are as accurate as the naive float64 reference; the result is cast
back to the input dtype at the end. KV tiles that lie entirely in the future
are never visited, and only tiles that straddle the diagonal get a mask.
"""
import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    B, H, N, D = Q.shape
    T = int(tile_size)
    sm_scale = 1.0 / np.sqrt(D)
    out = np.empty(Q.shape, dtype=Q.dtype)

    for q0 in range(0, N, T):
        q1 = min(q0 + T, N)
        qt = Q[:, :, q0:q1].astype(np.float64)
        m_i = np.full(qt.shape[:-1], -np.inf)
        l_i = np.zeros(qt.shape[:-1])
        o_i = np.zeros(qt.shape)

        kv_limit = q1 if causal else N
        for k0 in range(0, kv_limit - T + 1, T):
            k1 = min(k0 + T, N)
            kt = K[:, :, k0:k1].astype(np.float64)
            vt = V[:, :, k0:k1].astype(np.float64)
            s = np.einsum('bhqd,bhkd->bhqk', qt, kt) * sm_scale
            if causal and k1 - 1 > q0:    # some key in this tile is after some query
                future = np.arange(k0, k1)[None, :] > np.arange(q0, q1)[:, None]
                s[..., future] = -np.inf

            m_new = np.maximum(m_i, s.max(axis=-1))
            p = np.exp(s - m_new[..., None])
            corr = np.exp(m_i - m_new)
            l_i = corr * l_i + p.sum(axis=-1)
            o_i = corr[..., None] * o_i + np.einsum('bhqk,bhkd->bhqd', p, vt)
            m_i = m_new

        out[:, :, q0:q1] = (o_i / l_i[..., None]).astype(Q.dtype)
    return out
