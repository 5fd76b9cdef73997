"""Tiled attention backward computed entirely in the caller's dtype.

No upcast: float32 in means float32 scores, probabilities and accumulators
(and float32 out). Heads are flattened to one axis of length B*H and processed
one at a time; queries are the outer tile loop, keys/values the inner one.
"""
import numpy as np


def flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal=True):
    Q = np.asarray(Q)
    if Q.ndim != 4:
        raise ValueError("expected Q of shape (B, H, N, D)")
    if not np.issubdtype(Q.dtype, np.floating):
        raise ValueError("Q must be a floating point array")
    B, H, N, D = Q.shape
    if any(np.shape(x) != Q.shape for x in (K, V, O, dO)) or np.shape(lse) != (B, H, N):
        raise ValueError("K, V, O, dO must match Q and lse must be (B, H, N)")
    T = int(tile_size)
    if T < 1 or T != tile_size:
        raise ValueError("tile_size must be a positive integer")
    dt = Q.dtype
    # A NumPy float64 scalar would promote float32 arrays; keep the scale in dt.
    scale = dt.type(1.0 / np.sqrt(D))

    q, k, v, o, do = (np.asarray(x, dtype=dt).reshape(B * H, N, D) for x in (Q, K, V, O, dO))
    L = np.asarray(lse, dtype=dt).reshape(B * H, N)
    dq = np.zeros((B * H, N, D), dt)
    dk = np.zeros((B * H, N, D), dt)
    dv = np.zeros((B * H, N, D), dt)

    for head in range(B * H):
        Di = np.sum(do[head] * o[head], axis=1)  # full-row sum_j P_ij dP_ij
        for i0 in range(0, N, T):
            i1 = min(i0 + T, N)
            qi, doi = q[head, i0:i1], do[head, i0:i1]
            Li, Dcol = L[head, i0:i1, None], Di[i0:i1, None]
            acc = np.zeros((i1 - i0, D), dt)
            j_end = i1 if causal else N  # keys past the last query row are never seen
            for j0 in range(0, j_end, T):
                j1 = min(j0 + T, N)
                kj, vj = k[head, j0:j1], v[head, j0:j1]
                S = (qi @ kj.T) * scale
                if causal and j1 - 1 > i0:
                    S[np.arange(j0, j1)[None, :] > np.arange(i0, i1)[:, None]] = -np.inf
                P = np.exp(S - Li)
                dv[head, j0:j1] += P.T @ doi
                dS = P * (doi @ vj.T - Dcol)
                acc += dS @ kj
                dk[head, j0:j1] += (dS.T @ qi) * scale
            dq[head, i0:i1] = acc * scale

    shape = (B, H, N, D)
    return dq.reshape(shape), dk.reshape(shape), dv.reshape(shape)
