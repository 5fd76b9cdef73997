"""Online-softmax attention, one query row at a time.

This is the textbook recurrence written as plainly as possible: for each query
row we walk over the keys it may see in chunks of `tile_size`, keeping a scalar
running max `m`, a scalar running sum `l` and a D-vector accumulator. Slow
(Python loops) but easy to check; memory is O(tile_size + D) per row.
"""
import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    B, H, N, D = Q.shape
    scale = D ** -0.5
    O = np.empty_like(Q)
    for b in range(B):
        for h in range(H):
            for i in range(N):
                q = Q[b, h, i]
                stop = i + 1 if causal else N      # keys this row is allowed to see
                m, l = -np.inf, 0.0
                acc = np.zeros(D)
                for start in range(0, stop, tile_size):
                    end = min(start + tile_size, stop)
                    s = (K[b, h, start:end] @ q) * scale
                    m_new = max(m, s.max())
                    corr = np.exp(m - m_new)       # 0 on the first chunk, else <= 1
                    p = np.exp(s - m_new)
                    l = l * corr + p.sum()
                    acc = acc * corr + p @ V[b, h, start:end]
                    m = m_new
                O[b, h, i] = acc / l
    return O
