"""Tiled attention whose forward keeps the row max m and row sum l separately.

The cache carries 'm' and 'l' next to the required O, L (= m + log l), Q, K, V;
the backward rebuilds probabilities as exp(S - m) / l, which is the same number
as exp(S - L). Heads are visited one by one; key/value tiles are the outer loop.
"""
import numpy as np


def _masked_scores(q, k, r0, c0, causal):
    s = q @ k.T / np.sqrt(q.shape[1])
    if causal:
        r = np.arange(r0, r0 + q.shape[0])
        c = np.arange(c0, c0 + k.shape[0])
        s[c[None, :] > r[:, None]] = -np.inf
    return s


def _validate(tile_size, *arrays):
    if arrays[0].ndim != 4 or any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError("arrays must share a (B, H, N, D) shape")
    if int(tile_size) != tile_size or tile_size <= 0:
        raise ValueError("tile_size must be a positive integer")


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    Q, K, V = np.asarray(Q), np.asarray(K), np.asarray(V)
    _validate(tile_size, Q, K, V)
    B, H, N, D = Q.shape
    out = np.zeros((B, H, N, D))
    m = np.full((B, H, N), -np.inf)
    l = np.zeros((B, H, N))
    for b, h in np.ndindex(B, H):
        q, k, v = (x[b, h].astype(np.float64) for x in (Q, K, V))
        for r0 in range(0, N, tile_size):
            r1 = min(r0 + tile_size, N)
            mi, li, acc = m[b, h, r0:r1], l[b, h, r0:r1], out[b, h, r0:r1]  # views
            for c0 in range(0, r1 if causal else N, tile_size):
                c1 = min(c0 + tile_size, N)
                s = _masked_scores(q[r0:r1], k[c0:c1], r0, c0, causal)
                m_new = np.maximum(mi, s.max(axis=1))
                p = np.exp(s - m_new[:, None])
                fix = np.exp(mi - m_new)
                li[:] = li * fix + p.sum(axis=1)
                acc[:] = acc * fix[:, None] + p @ v[c0:c1]
                mi[:] = m_new
            acc /= li[:, None]
    O = out.astype(Q.dtype)
    return O, {"O": O, "L": m + np.log(l), "Q": Q, "K": K, "V": V, "m": m, "l": l}


def flash_attention_bwd(dO, cache, tile_size, causal=True):
    Q, K, V, O = (np.asarray(cache[key]) for key in ("Q", "K", "V", "O"))
    dO = np.asarray(dO)
    _validate(tile_size, Q, K, V, O, dO)
    m = np.asarray(cache["m"], dtype=np.float64)
    l = np.asarray(cache["l"], dtype=np.float64)
    B, H, N, D = Q.shape
    scale = 1.0 / np.sqrt(D)
    wide = lambda x, b, h, a, z: x[b, h, a:z].astype(np.float64)  # float64 per tile only
    dQ, dK, dV = (np.zeros(Q.shape, dtype=Q.dtype) for _ in range(3))
    for b, h in np.ndindex(B, H):
        row_d = np.einsum("nd,nd->n", dO[b, h], O[b, h], dtype=np.float64)  # full-row sum of P*dP
        dq = np.zeros((N, D))  # one head's float64 dQ, filled from every key tile
        for c0 in range(0, N, tile_size):
            c1 = min(c0 + tile_size, N)
            k, v = wide(K, b, h, c0, c1), wide(V, b, h, c0, c1)
            dk, dv = np.zeros_like(k), np.zeros_like(v)
            # Under the causal mask, query tiles ending before c0 see none of these keys.
            for r0 in range(c0 if causal else 0, N, tile_size):
                r1 = min(r0 + tile_size, N)
                q, g = wide(Q, b, h, r0, r1), wide(dO, b, h, r0, r1)
                s = _masked_scores(q, k, r0, c0, causal)
                p = np.exp(s - m[b, h, r0:r1, None]) / l[b, h, r0:r1, None]
                dv += p.T @ g
                ds = p * (g @ v.T - row_d[r0:r1, None])
                dq[r0:r1] += scale * ds @ k
                dk += scale * ds.T @ q
            dK[b, h, c0:c1], dV[b, h, c0:c1] = dk, dv
        dQ[b, h] = dq
    return dQ, dK, dV
