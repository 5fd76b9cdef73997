"""The naive backward is itself checked: against central finite differences of the forward oracle.

These tests check the oracle, not an implementation under test, so they take no `flash_bwd_impl`
and do not run once per mutant.
"""

import numpy as np
import pytest

from properties.attention_bwd_oracle import naive_attention_bwd
from properties.attention_oracle import naive_attention

STEP = 1e-5  # central differences in float64: truncation ~ STEP**2, rounding ~ 1e-16 / STEP
TOLERANCE = 1e-8


def _finite_difference(loss, x: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + STEP
        up = loss()
        x[index] = saved - STEP
        down = loss()
        x[index] = saved
        grad[index] = (up - down) / (2 * STEP)
    return grad


@pytest.mark.parametrize(
    ("Nq", "Nk", "causal", "padding"),
    [
        (3, 3, True, None),
        (4, 3, False, None),
        (2, 5, True, None),  # bottom-right: every query sees the first Nk - Nq keys
        (5, 2, True, None),  # the first Nq - Nk queries see no key at all
        (3, 4, True, [[False, True, True, False], [False, False, False, False]]),  # 2nd batch fully padded
    ],
)
def test_naive_bwd_matches_finite_differences(Nq, Nk, causal, padding):
    rng = np.random.default_rng(Nq * 10 + Nk)
    B, H, D = (2 if padding else 1), 2, 3
    Q = rng.standard_normal((B, H, Nq, D))
    K, V = rng.standard_normal((2, B, H, Nk, D))
    dO = rng.standard_normal((B, H, Nq, D))
    mask = None if padding is None else np.array(padding)

    def loss() -> float:
        return float(np.sum(naive_attention(Q, K, V, causal, mask) * dO))

    expected = [_finite_difference(loss, x) for x in (Q, K, V)]
    for name, got, want in zip(("dQ", "dK", "dV"), naive_attention_bwd(Q, K, V, dO, causal, mask), expected,
                               strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE, err_msg=name)
