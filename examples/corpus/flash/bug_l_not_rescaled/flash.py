"""Object-oriented FlashAttention forward.

`FlashAttention(tile_size, causal)(Q, K, V)` returns the attention output and
remembers the per-row log-sum-exp in `self.lse` (what a backward pass would
need). Heads are flattened into the batch axis so tiles are 3-D arrays.
"""
import numpy as np


class FlashAttention:
    def __init__(self, tile_size=64, causal=True):
        self.tile_size = int(tile_size)
        self.causal = causal
        self.lse = None

    def _tiles(self, n, stop=None):
        stop = n if stop is None else stop
        for start in range(0, stop, self.tile_size):
            yield start, min(start + self.tile_size, n)

    def _query_tile(self, q, K, V, q0, q1):
        BH, Tq, D = q.shape
        m = np.full((BH, Tq, 1), -np.inf)
        l = np.zeros((BH, Tq, 1))
        o = np.zeros((BH, Tq, D))
        n = K.shape[1]
        for k0, k1 in self._tiles(n, stop=q1 if self.causal else n):
            s = np.matmul(q, K[:, k0:k1].transpose(0, 2, 1))
            if self.causal and k1 > q0 + 1:
                allowed = np.greater_equal.outer(np.arange(q0, q1), np.arange(k0, k1))
                s = s + np.where(allowed, 0.0, -np.inf)
            m_next = np.maximum(m, s.max(axis=2, keepdims=True))
            rescale = np.exp(m - m_next)
            p = np.exp(s - m_next)
            l = l + p.sum(axis=2, keepdims=True)
            o = rescale * o + np.matmul(p, V[:, k0:k1])
            m = m_next
        return o / l, m + np.log(l)

    def __call__(self, Q, K, V):
        B, H, N, D = Q.shape
        q_all, k_all, v_all = (x.reshape(B * H, N, D) for x in (Q, K, V))
        scale = 1.0 / np.sqrt(D)
        out = np.empty((B * H, N, D), dtype=Q.dtype)
        lse = np.empty((B * H, N))
        for q0, q1 in self._tiles(N):
            q_tile = q_all[:, q0:q1] * scale
            out[:, q0:q1], tile_lse = self._query_tile(q_tile, k_all, v_all, q0, q1)
            lse[:, q0:q1] = tile_lse[..., 0]
        self.lse = lse.reshape(B, H, N)
        return out.reshape(B, H, N, D)


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    return FlashAttention(tile_size, causal)(Q, K, V)
