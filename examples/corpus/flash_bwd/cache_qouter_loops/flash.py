"""Tiled (Flash) attention forward and backward in NumPy, using the task's cache API.

Each (batch, head) pair is handled in plain Python loops. Inside a head the
query tiles form the outer loop and the key/value tiles the inner one, as in
FlashAttention-1. Only O and the row logsumexp L are kept from the forward.
"""
import numpy as np


def _tiles(n, t):
    return [(s, min(s + t, n)) for s in range(0, n, t)]


def _check(Q, K, V, tile_size):
    if Q.ndim != 4 or Q.shape != K.shape or K.shape != V.shape:
        raise ValueError("Q, K and V must share one (B, H, N, D) shape")
    if int(tile_size) != tile_size or tile_size < 1:
        raise ValueError("tile_size must be a positive integer")


def _scores(q, k, q0, k0, scale, causal):
    s = (q @ k.T) * scale
    if causal and k0 + k.shape[0] - 1 > q0:  # tile crosses the diagonal
        rows = np.arange(q0, q0 + q.shape[0])[:, None]
        cols = np.arange(k0, k0 + k.shape[0])[None, :]
        s = np.where(cols > rows, -np.inf, s)
    return s


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    _check(Q, K, V, tile_size)
    B, H, N, D = Q.shape
    scale = 1.0 / np.sqrt(D)
    O = np.zeros(Q.shape)
    L = np.zeros((B, H, N))
    for b in range(B):
        for h in range(H):
            q_all, k_all, v_all = (X[b, h].astype(np.float64) for X in (Q, K, V))
            for q0, q1 in _tiles(N, tile_size):
                m = np.full(q1 - q0, -np.inf)
                l = np.zeros(q1 - q0)
                acc = np.zeros((q1 - q0, D))
                for k0, k1 in _tiles(N, tile_size):
                    if causal and k0 > q1 - 1:
                        break  # this and every later key tile is in the future
                    s = _scores(q_all[q0:q1], k_all[k0:k1], q0, k0, scale, causal)
                    m_new = np.maximum(m, s.max(axis=1))
                    alpha = np.exp(m - m_new)  # <= 1: shrinks the old partial sums
                    p = np.exp(s - m_new[:, None])
                    l = l * alpha + p.sum(axis=1)
                    acc = acc * alpha[:, None] + p @ v_all[k0:k1]
                    m = m_new
                O[b, h, q0:q1] = acc / l[:, None]
                L[b, h, q0:q1] = m + np.log(l)
    O = O.astype(Q.dtype)
    return O, {"O": O, "L": L, "Q": Q, "K": K, "V": V}


def flash_attention_bwd(dO, cache, tile_size, causal=True):
    Q, K, V, O, L = (np.asarray(cache[key]) for key in ("Q", "K", "V", "O", "L"))
    dO = np.asarray(dO)
    _check(Q, K, V, tile_size)
    if dO.shape != Q.shape or O.shape != Q.shape or L.shape != Q.shape[:3]:
        raise ValueError("dO and O must match Q; L must be (B, H, N)")
    B, H, N, D = Q.shape
    scale = 1.0 / np.sqrt(D)
    # Tiles are widened to float64 one at a time; whole-head float64 copies
    # of Q, K, V, O, dO would cost more memory than the tiling saves.
    dQ = np.zeros(Q.shape, dtype=Q.dtype)
    dK, dV = np.zeros(Q.shape), np.zeros(Q.shape)
    for b in range(B):
        for h in range(H):
            for q0, q1 in _tiles(N, tile_size):
                q, do = Q[b, h, q0:q1].astype(np.float64), dO[b, h, q0:q1].astype(np.float64)
                lse = L[b, h, q0:q1, None].astype(np.float64)
                # sum_j P_ij dP_ij over the WHOLE row equals dO_i . O_i; a per-tile
                # rowsum would only see part of the row.
                delta = np.sum(do * O[b, h, q0:q1], axis=1, keepdims=True)
                dq = np.zeros((q1 - q0, D))
                for k0, k1 in _tiles(N, tile_size):
                    if causal and k0 > q1 - 1:
                        break
                    k, v = K[b, h, k0:k1].astype(np.float64), V[b, h, k0:k1].astype(np.float64)
                    p = np.exp(_scores(q, k, q0, k0, scale, causal) - lse)
                    dV[b, h, k0:k1] += p.T @ do
                    dp = do @ v.T
                    ds = p * (dp - delta)
                    dq += ds @ k
                    dK[b, h, k0:k1] += (ds.T @ q) * scale
                dQ[b, h, q0:q1] = dq * scale
    return dQ, dK.astype(Q.dtype), dV.astype(Q.dtype)
