"""The backward never materializes N x N, seen by memray.

Correctness (the backward's definition: "must NOT materialize the full (N, N) attention matrix"): at
B=1, H=2, N=2048, D=64 no single allocation reaches one N x N float32 matrix (16 MiB); a tiled
backward's largest buffer, even in float64, is a few MiB. Performance (a figure for outside code), at
the seed's large shape (B=2, H=8, N=4096, D=64, tile 128): no single allocation reaches N * N * 4
bytes, and the working memory (the peak beyond the three gradients the call returns, which alone hold
3 * B * H * N * D floats) stays under the seed's bar of 0.3 * N * N * 4 bytes: float32 inputs are
worked on in place, not copied or widened.
"""

import numpy as np
import pytest

from adversarial.attention_memory import PEAK_SHARE_OF_SCORE_MATRIX, memory_profile
from properties.attention_bwd_oracle import forward_saved, naive_attention_bwd

B, H, N, D, TILE = 2, 8, 4096, 64, 128
SCORE_MATRIX_BYTES = N * N * np.dtype(np.float32).itemsize
MiB = 2**20


def _large_inputs(B=B, H=H, N=N):
    rng = np.random.default_rng(41)
    Q, K, V, out, dO = (rng.standard_normal((B, H, N, D), dtype=np.float32) for _ in range(5))
    # Any lse at or above the row's largest score keeps P = exp(S - lse) in [0, 1]; only the
    # allocations matter here, and |q| * max|k| / sqrt(D) bounds every score without a forward pass.
    k_norm = np.linalg.norm(K, axis=-1).max(axis=-1, keepdims=True)
    lse = (np.linalg.norm(Q, axis=-1) * k_norm / np.sqrt(D)).astype(np.float32)
    return Q, K, V, out, dO, lse


def _warm_up_blas(flash_bwd_impl=None):
    # OpenBLAS maps a 32 MiB buffer on its first matmul; that is not the backward's doing. Outside code
    # runs in its own worker process, so a small call of the backward warms up the BLAS that counts.
    a = np.ones((256, 256), np.float32)
    a @ a
    if flash_bwd_impl is not None:
        flash_bwd_impl(*_large_inputs(B=1, H=1, N=256), TILE, causal=True)


def test_no_allocation_comes_near_a_score_matrix(flash_bwd_impl, tmp_path, record_property):
    """(Kills a backward that recomputes P, dP or dS for a whole head at once: N*N*4 B or more.)"""
    n = 2048
    Q, K, V, out, dO, lse = _large_inputs(B=1, H=2, N=n)
    _warm_up_blas(flash_bwd_impl)
    profile = memory_profile(lambda: flash_bwd_impl(Q, K, V, out, dO, lse, TILE, causal=True), tmp_path / "bwd.bin")
    record_property("largest_allocation_mib_n2048", round(profile.largest_allocation / MiB, 1))
    score_matrix = n * n * np.dtype(np.float32).itemsize
    assert profile.largest_allocation < score_matrix, (
        f"largest single allocation {profile.largest_allocation / MiB:.1f} MiB >= one N x N float32 score matrix "
        f"({score_matrix / MiB:.0f} MiB) at B=1, H=2, N=2048: the scores were materialized")


@pytest.mark.slow
def test_backward_never_allocates_a_score_matrix(flash_bwd_impl, tmp_path, record_property):
    Q, K, V, out, dO, lse = _large_inputs()
    _warm_up_blas(flash_bwd_impl)
    grads = []
    profile = memory_profile(lambda: grads.extend(flash_bwd_impl(Q, K, V, out, dO, lse, TILE, causal=True)),
                             tmp_path / "bwd.bin")
    record_property("largest_allocation_mib", round(profile.largest_allocation / MiB, 1))
    record_property("working_peak_mib", round((profile.peak - sum(g.nbytes for g in grads)) / MiB, 1))
    assert profile.largest_allocation < SCORE_MATRIX_BYTES, (
        f"largest allocation {profile.largest_allocation} B >= N*N*4 = {SCORE_MATRIX_BYTES} B")
    working = profile.peak - sum(g.nbytes for g in grads)
    assert working < PEAK_SHARE_OF_SCORE_MATRIX * SCORE_MATRIX_BYTES, (
        f"peak beyond the gradients {working} B >= {PEAK_SHARE_OF_SCORE_MATRIX} * N*N*4 B")
    assert all(np.isfinite(g).all() for g in grads)


@pytest.mark.slow
def test_memory_check_catches_the_naive_backward(tmp_path):
    """Positive control: the naive backward of a single head already allocates one N x N matrix."""
    Q, K, V, _, dO, _ = (x[:1, :1] for x in _large_inputs())
    _warm_up_blas()
    profile = memory_profile(lambda: naive_attention_bwd(Q, K, V, dO, dtype=np.float32), tmp_path / "naive.bin")
    assert profile.largest_allocation >= SCORE_MATRIX_BYTES


def _allocated_bytes(flash_bwd_impl, dtype, capture) -> int | None:
    rng = np.random.default_rng(0)
    Q, K, V, dO = (rng.standard_normal((1, 2, 128, 32)).astype(dtype) for _ in range(4))
    O, lse = forward_saved(Q, K, V, causal=True)  # noqa: E741
    flash_bwd_impl(Q, K, V, O, dO, lse, 32, causal=True)  # NumPy's and OpenBLAS's first-use caches
    return memory_profile(lambda: flash_bwd_impl(Q, K, V, O, dO, lse, 32, causal=True), capture).allocated_bytes


# The reference's float32 call allocates 0.53 of its float64 call (the rest of the half is per-call
# bookkeeping); one float64 accumulator or block for float32 inputs takes it to 0.60 or more.
FLOAT32_SHARE_OF_FLOAT64_BYTES = 0.56


def test_float32_backward_works_in_float32(flash_bwd_impl, tmp_path, record_property):
    """CONTRACTS §2b accumulates in the inputs' common dtype, so float32 inputs are worked on in float32,
    where every tile-sized block takes half the bytes it takes for float64 inputs. (Kills float64 work
    for float32 inputs, as mutmut's dtype=None makes it: float64 dK or dV tiles 0.60 of the float64
    call's bytes, a float64 dQ 0.72, a float64 D 1.17, `np.result_type(Q, K, V, None)` 1.27.)"""
    bytes32 = _allocated_bytes(flash_bwd_impl, np.float32, tmp_path / "bwd32.bin")
    bytes64 = _allocated_bytes(flash_bwd_impl, np.float64, tmp_path / "bwd64.bin")
    if not bytes32 or not bytes64:
        pytest.skip("memray saw no allocation records")
    share = bytes32 / bytes64
    record_property("bwd_float32_over_float64_allocated_bytes", round(share, 3))
    assert share <= FLOAT32_SHARE_OF_FLOAT64_BYTES, (
        f"a float32 backward allocates {share:.2f} of what the same float64 call does, more than "
        f"{FLOAT32_SHARE_OF_FLOAT64_BYTES}: some of its work on float32 inputs is done in float64")
