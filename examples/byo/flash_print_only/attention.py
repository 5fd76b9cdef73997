"""Tiled attention forward; its "tests" only print numbers for a person to eyeball.

Heads are handled one at a time. Key/value tiles form the outer loop and every query row keeps its own
running max and running denominator, so the output is rescaled in place each time a larger score appears.
"""
import numpy as np


def flash_attention_fwd(Q, K, V, tile_size=32, causal=True):
    Q = np.asarray(Q)
    B, H, N, D = Q.shape
    result = np.zeros((B, H, N, D))
    for b in range(B):
        for h in range(H):
            q = Q[b, h].astype(np.float64) / np.sqrt(D)
            k = np.asarray(K)[b, h].astype(np.float64)
            v = np.asarray(V)[b, h].astype(np.float64)
            row_max = np.full(N, -np.inf)
            denom = np.zeros(N)
            o = result[b, h]
            for lo in range(0, N, tile_size):
                hi = min(lo + tile_size, N)
                scores = q @ k[lo:hi].T
                if causal:
                    hidden = np.arange(lo, hi)[None, :] > np.arange(N)[:, None]
                    scores[hidden] = -np.inf
                tile_max = scores.max(axis=1)
                new_max = np.maximum(row_max, tile_max)
                safe = np.where(np.isfinite(new_max), new_max, 0.0)
                weights = np.exp(scores - safe[:, None])
                shrink = np.exp(np.where(np.isfinite(row_max), row_max - safe, -np.inf))
                denom = denom * shrink + weights.sum(axis=1)
                o *= shrink[:, None]
                o += weights @ v[lo:hi]
                row_max = new_max
            o /= denom[:, None]
    return result.astype(Q.dtype)


if __name__ == "__main__":
    rng = np.random.default_rng(7)
    Q, K, V = (rng.standard_normal((1, 2, 64, 16)) for _ in range(3))
    out = flash_attention_fwd(Q, K, V, 16)
    s = Q @ K.swapaxes(-1, -2) / 4.0
    s = np.where(np.tril(np.ones((64, 64), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    expected = p / p.sum(-1, keepdims=True) @ V
    print("output shape", out.shape)
    print("max abs difference from naive attention:", np.abs(out - expected).max())
    print("looks good!")
