"""Attention forward without tiling: the full score matrix, and P @ V done by broadcasting.

Matches the oracle on small shapes. At the seed's large shape the (B, H, N, N, D) product asks
for tens of GiB: a memory bomb that the sandbox's memory limit turns into a verdict.
"""

import numpy as np


def attention_forward(Q, K, V, tile_size, causal=True):
    Q, K, V = (np.asarray(x) for x in (Q, K, V))
    work = np.float64 if Q.dtype == np.float64 else np.float32
    Nq, Nk, D = Q.shape[2], K.shape[2], Q.shape[3]
    scores = Q.astype(work) @ K.astype(work).swapaxes(-1, -2) / np.sqrt(D)
    if causal:
        visible = np.arange(Nk)[None, :] <= np.arange(Nq)[:, None] + (Nk - Nq)
        scores = np.where(visible, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores - np.where(np.isneginf(top), 0.0, top))
    total = weights.sum(axis=-1, keepdims=True)
    weights = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    return (weights[..., None] * V.astype(work)[:, :, None, :, :]).sum(axis=-2).astype(Q.dtype)
