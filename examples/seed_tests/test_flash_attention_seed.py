"""The seed's first `test_flash_attention`, verbatim: a small-shape oracle check, then the
large-shape memory test, which prints the peak and asserts nothing about it."""

import numpy as np

from impl.attention import flash_attention_fwd


def test_flash_attention():
    # Small test: compare against naive full attention
    B, H, N, D = 1, 1, 256, 64
    Q = np.random.randn(B, H, N, D).astype(np.float32)
    K = np.random.randn(B, H, N, D).astype(np.float32)
    V = np.random.randn(B, H, N, D).astype(np.float32)

    # Naive
    S = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(D)
    causal_mask = np.triu(np.ones((N, N)) * -np.inf, k=1)
    S = S + causal_mask[None, None, :, :]
    P = np.exp(S - S.max(axis=-1, keepdims=True))
    P = P / P.sum(axis=-1, keepdims=True)
    naive_out = P @ V

    # Flash
    flash_out = flash_attention_fwd(Q, K, V, tile_size=32, causal=True)
    assert np.allclose(naive_out, flash_out, atol=1e-4, rtol=1e-4)

    # Large test: verify it runs without O(N²) memory
    B, H, N, D = 2, 8, 4096, 64
    Q = np.random.randn(B, H, N, D).astype(np.float32)
    K = np.random.randn(B, H, N, D).astype(np.float32)
    V = np.random.randn(B, H, N, D).astype(np.float32)

    import tracemalloc
    tracemalloc.start()
    _ = flash_attention_fwd(Q, K, V, tile_size=128, causal=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Naive would allocate N*N*4 = 4096*4096*4 ≈ 67 MB just for the score matrix
    # Flash should be well under that (O(tile_size * N), not O(N²))
    print(f"Peak memory: {peak / 1024 / 1024:.1f} MB")
