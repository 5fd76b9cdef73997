"""Attention forward and backward with a cache API, the way autograd-style code is often written.

`attention_forward(Q, K, V, tile=..., causal=...)` returns `(O, cache)`; the cache keeps the inputs,
the output, each row's running max `m` and denominator `l`. `attention_backward(dO, cache)` returns
`(dQ, dK, dV)`, recomputing each probability tile as exp(S - m) / l instead of storing P.
"""
import numpy as np


def _scores(q, k, row0, col0, causal):
    s = q @ k.T / np.sqrt(q.shape[-1])
    if causal:
        rows = np.arange(row0, row0 + q.shape[0])[:, None]
        cols = np.arange(col0, col0 + k.shape[0])[None, :]
        s = np.where(cols > rows, -np.inf, s)
    return s


def attention_forward(Q, K, V, tile=32, causal=True):
    B, H, N, D = Q.shape
    O = np.zeros(Q.shape)
    m = np.full((B, H, N), -np.inf)
    l = np.zeros((B, H, N))
    for b, h in np.ndindex(B, H):
        for r in range(0, N, tile):
            rows = slice(r, min(r + tile, N))
            for c in range(0, min(r + tile, N) if causal else N, tile):
                cols = slice(c, min(c + tile, N))
                s = _scores(Q[b, h, rows], K[b, h, cols], r, c, causal)
                m_new = np.maximum(m[b, h, rows], s.max(axis=1))
                p = np.exp(s - m_new[:, None])
                alpha = np.exp(m[b, h, rows] - m_new)
                l[b, h, rows] = l[b, h, rows] * alpha + p.sum(axis=1)
                O[b, h, rows] = O[b, h, rows] * alpha[:, None] + p @ V[b, h, cols]
                m[b, h, rows] = m_new
    O /= l[..., None]
    return O, {"Q": Q, "K": K, "V": V, "O": O, "m": m, "l": l, "tile": tile, "causal": causal}


def attention_backward(dO, cache):
    Q, K, V, O = cache["Q"], cache["K"], cache["V"], cache["O"]
    m, l, tile, causal = cache["m"], cache["l"], cache["tile"], cache["causal"]
    B, H, N, D = Q.shape
    dQ, dK, dV = np.zeros(Q.shape), np.zeros(K.shape), np.zeros(V.shape)
    delta = (dO * O).sum(axis=-1)
    for b, h in np.ndindex(B, H):
        for c in range(0, N, tile):
            cols = slice(c, min(c + tile, N))
            for r in range(c if causal else 0, N, tile):
                rows = slice(r, min(r + tile, N))
                s = _scores(Q[b, h, rows], K[b, h, cols], r, c, causal)
                p = np.exp(s - m[b, h, rows, None]) / l[b, h, rows, None]
                dV[b, h, cols] += p.T @ dO[b, h, rows]
                dp = dO[b, h, rows] @ V[b, h, cols].T
                ds = p * (dp - delta[b, h, rows, None]) / np.sqrt(D)
                dQ[b, h, rows] += ds @ K[b, h, cols]
                dK[b, h, cols] += ds.T @ Q[b, h, rows]
    return dQ, dK, dV
