"""A tiled FlashAttention forward, written the way a chat answer ships it: tests at the bottom of the file.

Rows of Q are processed one query tile at a time; the keys stream past in tiles of the same size while
a running max `m`, a running sum `l` and an unnormalized accumulator are rescaled on every new tile.
"""
import numpy as np


def flash_attention_fwd(Q, K, V, tile_size=64, causal=True):
    Q, K, V = (np.asarray(x) for x in (Q, K, V))
    B, H, N, D = Q.shape
    scale = 1.0 / np.sqrt(D)
    out = np.empty(Q.shape, dtype=np.float64)
    for start in range(0, N, tile_size):
        stop = min(start + tile_size, N)
        q = Q[:, :, start:stop].astype(np.float64) * scale
        m = np.full((B, H, stop - start), -np.inf)
        l = np.zeros((B, H, stop - start))
        acc = np.zeros((B, H, stop - start, D))
        key_stop = stop if causal else N
        for k0 in range(0, key_stop, tile_size):
            k1 = min(k0 + tile_size, key_stop)
            s = q @ K[:, :, k0:k1].astype(np.float64).swapaxes(-1, -2)
            if causal:
                rows = np.arange(start, stop)[:, None]
                cols = np.arange(k0, k1)[None, :]
                s = np.where(cols <= rows, s, -np.inf)
            m_new = np.maximum(m, s.max(axis=-1))
            p = np.exp(s - m_new[..., None])
            correction = np.exp(m - m_new)
            l = l * correction + p.sum(axis=-1)
            acc = acc * correction[..., None] + p @ V[:, :, k0:k1].astype(np.float64)
            m = m_new
        out[:, :, start:stop] = acc / l[..., None]
    return out.astype(Q.dtype)


def naive_attention(Q, K, V, causal=True):
    s = Q @ K.swapaxes(-1, -2) / np.sqrt(Q.shape[-1])
    if causal:
        n = Q.shape[2]
        s = np.where(np.tril(np.ones((n, n), dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ V


def _inputs(seed, shape):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(3)]


def test_matches_naive_causal():
    Q, K, V = _inputs(0, (1, 2, 48, 16))
    np.testing.assert_allclose(flash_attention_fwd(Q, K, V, 16), naive_attention(Q, K, V), atol=1e-8)


def test_matches_naive_not_causal():
    Q, K, V = _inputs(1, (2, 1, 40, 8))
    np.testing.assert_allclose(flash_attention_fwd(Q, K, V, 16, causal=False),
                               naive_attention(Q, K, V, causal=False), atol=1e-8)


def test_tile_size_does_not_matter():
    Q, K, V = _inputs(2, (1, 1, 33, 8))
    np.testing.assert_allclose(flash_attention_fwd(Q, K, V, 4), flash_attention_fwd(Q, K, V, 32), atol=1e-10)


def test_float32_stays_float32():
    Q, K, V = (x.astype(np.float32) for x in _inputs(3, (1, 1, 8, 4)))
    assert flash_attention_fwd(Q, K, V, 4).dtype == np.float32
