"""Attention backward one query row at a time, with the keys walked in tiles.

For row i only keys 0..i (causal) or 0..N-1 are visited, tile by tile, so the
largest temporary is (B, H, tile, D). Batch and head axes ride along in every
operation. Rows and tiles are widened to float64 only as they are used.
Slow in Python for long sequences, but simple to follow.
"""
import numpy as np


def flash_attention_bwd(Q, K, V, O, dO, lse, tile_size, causal=True):
    arrays = [np.asarray(x) for x in (Q, K, V, O, dO)]
    q, k, v, o, do = arrays
    if q.ndim != 4 or any(a.shape != q.shape for a in arrays):
        raise ValueError("Q, K, V, O and dO must be equal-shape (B, H, N, D) arrays")
    lse = np.asarray(lse, dtype=np.float64)
    if lse.shape != q.shape[:3]:
        raise ValueError("lse must be (B, H, N)")
    if tile_size < 1 or int(tile_size) != tile_size:
        raise ValueError("tile_size must be a positive integer")
    tile = int(tile_size)
    n, d = q.shape[2], q.shape[3]
    c = 1.0 / np.sqrt(d)

    f64 = np.float64
    dq = np.zeros(q.shape, dtype=q.dtype)  # a row of dQ is complete after its loop
    dk = np.zeros(q.shape, dtype=f64)
    dv = np.zeros(q.shape, dtype=f64)
    for i in range(n):
        qi, doi, li = q[:, :, i].astype(f64), do[:, :, i].astype(f64), lse[:, :, i, None]
        # Softmax-backward needs sum over ALL visible keys of P*dP; for one
        # row that is just dO_i . O_i, available before any key tile is seen.
        delta = np.sum(doi * o[:, :, i], axis=-1, keepdims=True)
        dqi = np.zeros_like(qi)
        visible = i + 1 if causal else n
        for j0 in range(0, visible, tile):
            j1 = min(j0 + tile, visible)  # truncating at i+1 is the causal mask
            kt, vt = k[:, :, j0:j1].astype(f64), v[:, :, j0:j1].astype(f64)
            s = np.einsum("bhd,bhjd->bhj", qi, kt) * c
            p = np.exp(s - li)
            dv[:, :, j0:j1] += p[..., None] * doi[:, :, None, :]
            dp = np.einsum("bhd,bhjd->bhj", doi, vt)
            ds = p * (dp - delta) * c
            dqi += np.einsum("bhj,bhjd->bhd", ds, kt)
            dk[:, :, j0:j1] += ds[..., None] * qi[:, :, None, :]
        dq[:, :, i] = dqi

    return dq, dk.astype(q.dtype), dv.astype(q.dtype)
