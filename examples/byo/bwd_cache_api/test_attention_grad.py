"""The author's tests: gradients against central finite differences of sum(O * dO)."""
import numpy as np
import pytest
from attention_grad import attention_backward, attention_forward


def loss(Q, K, V, dO, tile, causal):
    return float((attention_forward(Q, K, V, tile, causal)[0] * dO).sum())


@pytest.mark.parametrize("causal", [True, False])
def test_gradients_match_finite_differences(causal):
    rng = np.random.default_rng(11)
    Q, K, V, dO = (rng.standard_normal((1, 2, 12, 4)) for _ in range(4))
    _, cache = attention_forward(Q, K, V, 5, causal)
    grads = attention_backward(dO, cache)
    for x, g in zip((Q, K, V), grads):
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            saved = x[idx]
            x[idx] = saved + 1e-6
            up = loss(Q, K, V, dO, 5, causal)
            x[idx] = saved - 1e-6
            down = loss(Q, K, V, dO, 5, causal)
            x[idx] = saved
            numeric[idx] = (up - down) / 2e-6
        np.testing.assert_allclose(g, numeric, atol=1e-5)


def test_shapes():
    Q = K = V = np.ones((2, 1, 7, 3))
    dQ, dK, dV = attention_backward(np.ones((2, 1, 7, 3)), attention_forward(Q, K, V, 4)[1])
    assert dQ.shape == dK.shape == dV.shape == Q.shape
