"""Overflow-scale logits: float32 scores in the hundreds, rising from one KV tile to the next.

exp(S) alone overflows float32 past 88; only exp(S - lse) with the saved full-row lse stays in [0, 1].
Rising scores make every tile's own max differ from the row's final one, so probabilities that are
re-normalized per tile, instead of by the saved lse, come out wrong here by orders of magnitude.
"""

import numpy as np
import pytest

from properties.attention_bwd_assertions import assert_gradients_match_oracle
from properties.attention_strategies import AttentionCase, make_case


def rising_scores_case(causal: bool) -> AttentionCase:
    """Scaled scores ~ 10 * j * (1 + i / N), up to ~440, jittered by the other features."""
    B, H, N, D = 1, 2, 23, 4
    rng = np.random.default_rng(21)
    Q = np.zeros((B, H, N, D))
    Q[..., 0] = 1 + np.arange(N) / N
    K = np.zeros((B, H, N, D))
    K[..., 0] = 10.0 * np.arange(N) * np.sqrt(D)
    Q[..., 1:] = rng.standard_normal((B, H, N, D - 1))
    K[..., 1:] = rng.standard_normal((B, H, N, D - 1))
    V = rng.standard_normal((B, H, N, D))
    as32 = [x.astype(np.float32) for x in (Q, K, V)]
    return AttentionCase(*as32, tile_size=5, kv_tile_size=4, causal=causal, seed=21)


OVERFLOW_CASES = {
    "rising_causal": rising_scores_case(causal=True),
    "rising_full": rising_scores_case(causal=False),
    # Random scores with a standard deviation of 300.
    "random_scale_300": make_case(2, 2, 29, 29, 8, tile_size=6, kv_tile_size=7, seed=22, logit_scale=300.0),
}


@pytest.mark.parametrize("name", OVERFLOW_CASES)
def test_overflow_scale_logits_stay_finite_and_correct(flash_bwd_impl, name):
    assert_gradients_match_oracle(flash_bwd_impl, OVERFLOW_CASES[name])
