"""The naive attention oracle: the full score matrix, materialized, in a chosen dtype.

In float64 it is the ground truth every flash test compares against. Run in the input's own dtype
it measures how much rounding a straightforward computation in that precision suffers, which is the
yardstick for how close flash must come (FlashAttention's own tests: flash's error against the
float64 reference may be at most a small multiple of that naive error).
"""

from __future__ import annotations

import numpy as np

# Flash may be this many times as far from the float64 truth as the naive same-dtype computation.
NAIVE_ERROR_MULTIPLE = 2.0
# Plus this many units of the dtype's epsilon (times max|V|), for inputs the naive path gets exact.
EPS_FLOOR = 16.0
# The seed's bar for float32: relative to the largest |V|.
FLOAT32_BOUND = 1e-4


def visible_keys(Nq: int, Nk: int, causal: bool, key_padding_mask: np.ndarray | None, B: int) -> np.ndarray:
    """Bool (B, 1, Nq, Nk): may query i attend to key j (bottom-right causal, padding)."""
    visible = np.ones((B, 1, Nq, Nk), bool)
    if causal:
        visible &= np.arange(Nk)[None, :] <= np.arange(Nq)[:, None] + (Nk - Nq)
    if key_padding_mask is not None:
        visible &= np.asarray(key_padding_mask, bool)[:, None, None, :]
    return visible


def naive_probabilities(Q, K, causal=True, key_padding_mask=None, dtype=np.float64) -> np.ndarray:
    """softmax(Q K^T / sqrt(D)) over the visible keys, (B, H, Nq, Nk) in `dtype`; rows that see no key are 0."""
    Q, K = (np.asarray(x).astype(dtype) for x in (Q, K))
    B, _, Nq, D = Q.shape
    S = np.where(visible_keys(Nq, K.shape[2], causal, key_padding_mask, B),
                 (Q @ K.swapaxes(-1, -2)) * dtype(1.0 / np.sqrt(D)), -np.inf)
    row_max = S.max(axis=-1, keepdims=True)
    sees_a_key = np.isfinite(row_max)
    P = np.exp(S - np.where(sees_a_key, row_max, 0))
    P /= np.where(sees_a_key, P.sum(axis=-1, keepdims=True), 1)
    return P


def naive_attention(Q, K, V, causal=True, key_padding_mask=None, dtype=np.float64) -> np.ndarray:
    """softmax(Q K^T / sqrt(D)) V computed in `dtype` throughout; rows that see no key are 0."""
    return naive_probabilities(Q, K, causal, key_padding_mask, dtype) @ np.asarray(V).astype(dtype)


def naive_log_sum_exp(Q, K, causal=True, key_padding_mask=None) -> np.ndarray:
    """Float64 log(sum_j exp(score_ij)) over the keys row i sees, -inf for a row that sees none."""
    Q, K = (np.asarray(x, np.float64) for x in (Q, K))
    B, _, Nq, D = Q.shape
    S = np.where(visible_keys(Nq, K.shape[2], causal, key_padding_mask, B),
                 Q @ K.swapaxes(-1, -2) / np.sqrt(D), -np.inf)
    row_max = S.max(axis=-1)
    shift = np.where(np.isfinite(row_max), row_max, 0)
    with np.errstate(divide="ignore"):
        return shift + np.log(np.exp(S - shift[..., None]).sum(axis=-1))


def flash_error_bound(Q, K, V, causal=True, key_padding_mask=None, dtype=None) -> float:
    """How far (max abs) flash's output in `dtype` may sit from the float64 oracle.

    2x the naive same-dtype computation's own error, plus a floor of a few epsilons of max|V|;
    never looser than the seed's 1e-4 (relative to max|V|) for float32.
    """
    return oracle_and_bound(Q, K, V, causal, key_padding_mask, dtype)[1]


def oracle_and_bound(Q, K, V, causal=True, key_padding_mask=None, dtype=None) -> tuple[np.ndarray, float]:
    """The float64 oracle and `flash_error_bound`, which needs it: one oracle computation for both."""
    dtype = np.dtype(dtype or np.asarray(Q).dtype)
    truth = naive_attention(Q, K, V, causal, key_padding_mask)
    same_dtype = naive_attention(Q, K, V, causal, key_padding_mask, dtype=dtype.type)
    v_max = float(np.abs(np.asarray(V, np.float64)).max())
    naive_error = float(np.abs(same_dtype.astype(np.float64) - truth).max())
    bound = NAIVE_ERROR_MULTIPLE * naive_error + EPS_FLOOR * float(np.finfo(dtype).eps) * v_max
    if dtype == np.float32:
        bound = min(bound, FLOAT32_BOUND * v_max)
    return truth, bound
