"""A correct tiled forward with the seed's signature: every forgery here is this plus one trick."""

import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    Q, K, V = (np.asarray(x) for x in (Q, K, V))
    work = np.float64 if Q.dtype == np.float64 else np.float32
    B, H, Nq, D = Q.shape
    Nk = K.shape[2]
    shift = Nk - Nq  # bottom-right causal alignment
    out = np.zeros(Q.shape, Q.dtype)
    for q0 in range(0, Nq, tile_size):
        q1 = min(q0 + tile_size, Nq)
        q = Q[:, :, q0:q1].astype(work) * work(1 / np.sqrt(D))
        m = np.full(q.shape[:3], -np.inf, work)
        l_sum = np.zeros(q.shape[:3], work)
        acc = np.zeros(q.shape, work)
        for k0 in range(0, Nk, tile_size):
            k1 = min(k0 + tile_size, Nk)
            s = q @ np.swapaxes(K[:, :, k0:k1].astype(work), -1, -2)
            if causal:
                s = np.where(np.arange(k0, k1)[None, :] <= np.arange(q0, q1)[:, None] + shift, s, -np.inf)
            m_new = np.maximum(m, s.max(axis=-1))
            base = np.where(np.isneginf(m_new), 0, m_new)
            p = np.exp(s - base[..., None])
            correction = np.exp(m - base)
            l_sum = l_sum * correction + p.sum(axis=-1)
            acc = acc * correction[..., None] + p @ V[:, :, k0:k1].astype(work)
            m = m_new
        seen = l_sum > 0
        out[:, :, q0:q1] = np.where(seen[..., None], acc / np.where(seen, l_sum, 1)[..., None], 0)
    return out
