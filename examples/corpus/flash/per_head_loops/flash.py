"""Flash attention forward, written the 'kernel' way: one (batch, head) at a
time, 2-D tiles only, running softmax statistics per query tile.

Never builds the N x N score matrix: the biggest array is tile x tile.
"""
import math

import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    B, H, N, D = Q.shape
    T = int(tile_size)
    scale = 1.0 / math.sqrt(D)
    out = np.zeros_like(Q)

    for b in range(B):
        for h in range(H):
            q_all, k_all, v_all = Q[b, h], K[b, h], V[b, h]
            for qs in range(0, N, T):
                qe = min(qs + T, N)
                qt = q_all[qs:qe]
                row_max = np.full(qe - qs, -np.inf)
                row_sum = np.zeros(qe - qs)
                o = np.zeros((qe - qs, D))

                for ks in range(0, N, T):
                    if causal and ks > qe - 1:
                        continue  # whole tile is in the future for these rows
                    ke = min(ks + T, N)
                    s = (qt @ k_all[ks:ke].T) * scale
                    if causal:
                        qi = np.arange(qs, qe)[:, None]
                        kj = np.arange(ks, ke)[None, :]
                        s = np.where(kj <= qi, s, -np.inf)

                    new_max = np.maximum(row_max, s.max(axis=1))
                    p = np.exp(s - new_max[:, None])
                    c = np.exp(row_max - new_max)
                    row_sum = c * row_sum + p.sum(axis=1)
                    o = c[:, None] * o + p @ v_all[ks:ke]
                    row_max = new_max

                out[b, h, qs:qe] = o / row_sum[:, None]
    return out
