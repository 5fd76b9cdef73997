"""No N x N score matrix, proven with memray at the seed's large shape (B=2, H=8, N=4096, D=64).

memray records every allocation the call makes; the largest must stay below one N x N float32 matrix
and the peak below the seed's 30 % of it. The positive control runs the naive oracle through the
same check and requires it to fail, so the check is known to be able to fail.
"""

import numpy as np
import pytest

from adversarial.attention_memory import memory_profile, quadratic_memory_violations
from properties.attention_oracle import naive_attention

LARGE = dict(B=2, H=8, N=4096, D=64)


def _inputs(B, H, N, D, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((B, H, N, D), dtype=np.float32) for _ in range(3))


@pytest.mark.slow
def test_large_causal_float32_call_allocates_no_score_matrix(flash_impl, tmp_path):
    Q, K, V = _inputs(**LARGE)
    # OpenBLAS maps its work buffer on first use; that is the library's, not the call's, memory.
    flash_impl(*_inputs(1, 1, 256, LARGE["D"]), tile_size=128, causal=True)
    profile = memory_profile(lambda: flash_impl(Q, K, V, tile_size=128, causal=True), tmp_path / "flash.bin")
    assert quadratic_memory_violations(profile, LARGE["N"]) == []


def test_positive_control_naive_attention_fails_the_memory_check(tmp_path):
    N = 512
    Q, K, V = _inputs(1, 1, N, 32)
    profile = memory_profile(lambda: naive_attention(Q, K, V, causal=True), tmp_path / "naive.bin")
    assert len(quadratic_memory_violations(profile, N)) == 2
