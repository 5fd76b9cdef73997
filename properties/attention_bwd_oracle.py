"""The naive attention backward: the textbook chain rule through the full probability matrix.

It shares nothing with the tiled backward's shortcuts: no saved lse (P is a fresh softmax of the
materialized scores) and no D-trick (the softmax Jacobian is applied as `P * (dP - rowsum(P * dP))`).
In float64 it is the ground truth, itself checked against finite differences of the forward oracle
(`test_attention_bwd_oracle.py`); in the input's dtype it measures what rounding costs, the
yardstick for how close the tiled backward must come, as for the forward.
"""

from __future__ import annotations

import numpy as np

from properties.attention_oracle import (
    EPS_FLOOR,
    NAIVE_ERROR_MULTIPLE,
    naive_attention,
    naive_log_sum_exp,
    naive_probabilities,
)

# Epsilons of relative error in P per unit of |lse|: S and the saved lse are each rounded once, so the
# exponent S - lse is off by about 2 eps |lse| (inherent to P = exp(S - lse) in the accumulation dtype,
# whichever scale placement recomputes S). The floor used to allow EPS_FLOOR = 16 of them. At 2, the
# reference's worst case uses 0.44 of the bound over 400 drawn cases with logit scales up to 64, and
# 0.29 on the overflow cases; without this term it is 3.0x over.
LSE_ROUNDING = 2.0


def naive_attention_bwd(Q, K, V, dO, causal=True, key_padding_mask=None, dtype=np.float64):
    """(dQ, dK, dV) of sum(attention(Q, K, V) * dO), computed in `dtype` throughout."""
    Q, K, V, dO = (np.asarray(x).astype(dtype) for x in (Q, K, V, dO))
    scale = dtype(1.0 / np.sqrt(Q.shape[-1]))
    P = naive_probabilities(Q, K, causal, key_padding_mask, dtype)
    dV = P.swapaxes(-1, -2) @ dO
    dP = dO @ V.swapaxes(-1, -2)
    dS = P * (dP - (P * dP).sum(axis=-1, keepdims=True))
    return (dS @ K) * scale, (dS.swapaxes(-1, -2) @ Q) * scale, dV


def forward_saved(Q, K, V, causal=True, key_padding_mask=None):
    """What a correct forward hands the backward, from the float64 oracle: O in Q's dtype, lse in the
    accumulation dtype. Taking them from the oracle, not from `impl`, keeps a forward bug from hiding
    (or faking) a backward one, and lets an outside backward be checked on its own."""
    acc_dtype = np.result_type(Q, K, V, np.float32)
    O = naive_attention(Q, K, V, causal, key_padding_mask).astype(np.asarray(Q).dtype)  # noqa: E741
    return O, naive_log_sum_exp(Q, K, causal, key_padding_mask).astype(acc_dtype)


def rounding_scales(Q, K, V, dO, causal=True, key_padding_mask=None) -> tuple[float, float, float]:
    """Per gradient, the largest entry of the same chain rule taken over absolute values.

    Rounding in any summation order stays within a few epsilons of it (the |A| |B| bound of a
    matrix product), also where the gradient itself cancels to 0: with a single visible key,
    dS = P * (dP - D) is exactly 0, yet the D-trick's D = rowsum(dO * O) carries O's rounding.
    """
    P = naive_probabilities(Q, K, causal, key_padding_mask)
    Q, K, V, dO = (np.abs(np.asarray(x, np.float64)) for x in (Q, K, V, dO))
    scale = 1.0 / np.sqrt(Q.shape[-1])
    dS = P * (dO @ V.swapaxes(-1, -2) + (dO * (P @ V)).sum(axis=-1, keepdims=True))
    return (float((dS @ K).max()) * scale, float((dS.swapaxes(-1, -2) @ Q).max()) * scale,
            float((P.swapaxes(-1, -2) @ dO).max()))


def bwd_error_bounds(Q, K, V, dO, causal=True, key_padding_mask=None, dtype=None):
    """The float64 gradients and, per gradient, how far (max abs) the tiled backward's may sit from them.

    As for the forward: twice the naive same-dtype backward's own error, plus a floor of a few
    epsilons of the gradient's rounding scale, plus LSE_ROUNDING epsilons per unit of the largest
    |lse|: exp turns the absolute rounding of its argument S - lse into relative error of P, and
    where P matters (S near lse) S and the saved lse are each rounded by about eps * |lse| (the floor
    is all that float64 inputs get, since their naive same-dtype backward is the oracle itself).
    """
    dtype = np.dtype(dtype or np.asarray(Q).dtype)
    truth = naive_attention_bwd(Q, K, V, dO, causal, key_padding_mask)
    same_dtype = naive_attention_bwd(Q, K, V, dO, causal, key_padding_mask, dtype=dtype.type)
    lse = naive_log_sum_exp(Q, K, causal, key_padding_mask)
    largest_lse = float(np.abs(lse[np.isfinite(lse)]).max(initial=0.0))
    floor = float(np.finfo(dtype).eps) * (EPS_FLOOR + LSE_ROUNDING * largest_lse)
    bounds = tuple(
        NAIVE_ERROR_MULTIPLE * float(np.abs(rough.astype(np.float64) - exact).max()) + floor * magnitude
        for rough, exact, magnitude in zip(same_dtype, truth, rounding_scales(Q, K, V, dO, causal, key_padding_mask),
                                           strict=True)
    )
    return truth, bounds
