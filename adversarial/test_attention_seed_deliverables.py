"""The seed's two deliverable tests (Challenge 1, `verify_flash_attention`), kept as the seed wrote
them: its own naive reference, its -1e10 causal mask, its relative-error bar and its tracemalloc
memory bar. They are weaker than the rest of the suite by design; they record what was asked. The
memory bar is a performance figure, not a verdict: the output alone fills 0.25 of it, so correct
code that vectorises over B and H can cross it (the correctness test of "no N x N matrix" is
adversarial/test_attention_memory.py::test_no_allocation_comes_near_a_score_matrix)."""

import numpy as np
import pytest

from adversarial.attention_memory import memory_profile


def test_seed_small_shape_matches_naive_within_1e_4(flash_impl):
    B, H, N, D = 1, 1, 256, 64
    rng = np.random.default_rng(42)
    Q = rng.normal(size=(B, H, N, D)).astype(np.float32)
    K = rng.normal(size=(B, H, N, D)).astype(np.float32)
    V = rng.normal(size=(B, H, N, D)).astype(np.float32)
    scale = 1.0 / np.sqrt(D)
    S = (Q @ K.transpose(0, 1, 3, 2)) * scale
    mask = np.triu(np.ones((N, N)) * (-1e10), k=1)
    S = S + mask[None, None, :, :]
    P = np.exp(S - S.max(axis=-1, keepdims=True))
    P = P / P.sum(axis=-1, keepdims=True)
    naive_out = P @ V
    flash_out = flash_impl(Q, K, V, tile_size=64, causal=True)
    rel_err = np.abs(flash_out - naive_out).max() / np.abs(naive_out).max()
    assert rel_err < 1e-4, f"rel error {rel_err:.2e} >= 1e-4"


@pytest.mark.slow
def test_seed_large_shape_peak_memory_below_30_percent_of_score_matrix(flash_impl, record_property):
    B, H, N, D = 2, 8, 4096, 64
    rng = np.random.default_rng(42)
    Q = rng.normal(size=(B, H, N, D)).astype(np.float32)
    K = rng.normal(size=(B, H, N, D)).astype(np.float32)
    V = rng.normal(size=(B, H, N, D)).astype(np.float32)
    # tracemalloc in the process that runs the implementation (its worker, for outside code).
    peak_bytes = memory_profile(lambda: flash_impl(Q, K, V, tile_size=128, causal=True), tracer="tracemalloc").peak
    naive_score_bytes = N * N * 4
    record_property("tracemalloc_peak_mib", round(peak_bytes / 2**20, 1))
    assert peak_bytes < naive_score_bytes * 0.3, f"peak {peak_bytes} B too close to naive {naive_score_bytes} B"
