"""Tiled FlashAttention forward with online-softmax rescaling (CONTRACTS §2).

Each query tile walks the KV tiles left to right and keeps, per query row, three running
statistics: `m` (the largest score seen), `l` (the sum of exp(score - m)) and `O` (the sum of
exp(score - m) * v). A tile that raises `m` finds `l` and `O` summed against a smaller reference
point, so both are first multiplied by `correction = exp(m_old - m_new) <= 1`; the output is `O / l`
once every tile is in. No buffer larger than one (query tile x KV tile) block of scores exists, and
no input is converted whole: float16 tiles are upcast one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class TileUpdate:
    """What the observer sees after one (query tile, KV tile) update.

    The arrays are read-only views of the live running state, valid only during the call
    (copy them to keep them). Row r of each array is query `q_range[0] + r`.
    """

    q_range: tuple[int, int]
    k_range: tuple[int, int]
    m: np.ndarray  # (B, H, Tq) running max of the scores seen
    l: np.ndarray  # noqa: E741 (B, H, Tq) running sum of exp(score - m), the paper's name
    O: np.ndarray  # noqa: E741 (B, H, Tq, D) running sum of exp(score - m) * v, not yet divided by l
    correction: np.ndarray  # (B, H, Tq) exp(m_old - m_new), the factor this update applied to l and O


def flash_attention_fwd(
    Q,
    K,
    V,
    tile_size=128,
    causal=True,
    *,
    kv_tile_size=None,
    key_padding_mask=None,
    observer: Callable[[TileUpdate], None] | None = None,
    return_lse=False,
):
    """softmax(Q K^T / sqrt(D)) V, tile by tile, as CONTRACTS §2 specifies.

    Returns the output (Q's shape and dtype), or `(output, lse)` when `return_lse` is set, with
    `lse[b, h, i] = log(sum_j exp(score_ij))` over the keys row i sees (-inf when it sees none).
    """
    Q, K, V, kv_tile_size, key_is_padding = checked_arguments(Q, K, V, tile_size, kv_tile_size, key_padding_mask)
    B, H, Nq, D = Q.shape
    Nk = K.shape[2]
    # The inputs' common dtype, at least float32: float16 inputs accumulate in float32.
    acc_dtype = np.result_type(Q, K, V, np.float32)
    scale = 1.0 / math.sqrt(D)
    # Bottom-right alignment: query i sees key j iff j <= i + diagonal.
    diagonal = Nk - Nq

    out = np.empty(Q.shape, Q.dtype)
    lse = np.empty((B, H, Nq), acc_dtype) if return_lse else None
    # The two blocks every tile pair produces, the scores and P @ V, are written into these two buffers
    # instead of fresh arrays: a kernel allocating them per pair is the cost mutant
    # flash-cost-scores-reallocated-per-tile (properties/test_attention_cost.py counts the bytes).
    scores = np.empty((B, H, min(tile_size, Nq), min(kv_tile_size, Nk)), acc_dtype)
    weighted_values = np.empty((B, H, min(tile_size, Nq), D), acc_dtype)
    for q_start, q_end in tiles(Nq, tile_size):
        # Upcast before scaling: Q * scale rounded in float16 would lose what the float32 sums keep.
        # Only this tile of Q is converted; q @ K_tile and P @ V_tile promote one K and V tile at a
        # time to q's dtype, so float16 K and V are never converted whole.
        q = np.multiply(Q[:, :, q_start:q_end], scale, dtype=acc_dtype)
        tq = q_end - q_start
        m = np.full((B, H, tq), -np.inf, acc_dtype)  # running max of the scores seen
        l = np.zeros((B, H, tq), acc_dtype)  # noqa: E741 (the paper's names) running sum of exp(score - m)
        # O, the running sum of exp(score - m) * v, accumulates in the output rows themselves when they
        # have the accumulation dtype: at the seed's shape that keeps the peak at 18.6 MiB instead of
        # 19.1 MiB, under the seed's bar of 19.2 MiB (adversarial/test_attention_memory.py).
        O = out[:, :, q_start:q_end] if out.dtype == acc_dtype else np.empty((B, H, tq, D), acc_dtype)  # noqa: E741
        O[...] = 0.0
        # KV tiles wholly to the right of the causal boundary are never visited.
        last_key = min(Nk, q_end + diagonal) if causal else Nk
        for k_start, k_end in tiles(last_key, kv_tile_size):
            S = np.matmul(q, K[:, :, k_start:k_end].swapaxes(2, 3), out=scores[:, :, :tq, :k_end - k_start])
            hidden = hidden_keys((q_start, q_end), (k_start, k_end), diagonal, causal, key_is_padding)
            if hidden is not None:
                np.copyto(S, -np.inf, where=hidden)
            # Running max: the tile may raise it, never lower it.
            m_new = np.maximum(m, S.max(axis=-1))
            # Masked-row guard: a row with no key seen yet has m_new = -inf, and exp(S - m_new) would be
            # exp(-inf - (-inf)) = NaN; shifting by 0 instead keeps its terms exp(-inf) = 0.
            shift = np.where(m_new == -np.inf, 0.0, m_new)
            # Rescale factor exp(m_old - m_new) <= 1: l and O were summed against the old max.
            correction = np.exp(m - shift)
            # Max subtraction keeps every exponent <= 0, so nothing overflows whatever the scores.
            S -= shift[..., None]
            P = np.exp(S, out=S)  # P takes the scores' buffer
            l *= correction  # noqa: E741
            l += P.sum(axis=-1)  # noqa: E741
            O *= correction[..., None]  # noqa: E741
            O += np.matmul(P, V[:, :, k_start:k_end], out=weighted_values[:, :, :tq])  # noqa: E741
            m = m_new
            if observer is not None:
                observer(TileUpdate((q_start, q_end), (k_start, k_end), _read_only(m), _read_only(l),
                                    _read_only(O), _read_only(correction)))
        # A row that saw no key has O = 0 and l = 0 and gets 0, not 0/0.
        np.divide(O, l[..., None], out=O, where=l[..., None] > 0)
        if O.dtype != out.dtype:
            out[:, :, q_start:q_end] = O
        if lse is not None:
            with np.errstate(divide="ignore"):  # log(0) = -inf: with m = -inf, the lse of a row that saw no key
                lse[:, :, q_start:q_end] = m + np.log(l)
    return (out, lse) if return_lse else out


def checked_arguments(Q, K, V, tile_size, kv_tile_size, key_padding_mask):
    """Validated (Q, K, V, kv_tile_size, key_is_padding), as the forward and the backward both take them."""
    Q, K, V = _checked_inputs(Q, K, V)
    kv_tile_size = tile_size if kv_tile_size is None else kv_tile_size
    _check_tile_size("tile_size", tile_size)
    _check_tile_size("kv_tile_size", kv_tile_size)
    return Q, K, V, kv_tile_size, _padding_from_mask(key_padding_mask, Q.shape[0], K.shape[2])


def tiles(stop: int, size: int, first: int = 0) -> Iterator[tuple[int, int]]:
    """Half-open ranges covering [first, stop) in steps of `size`; the last one may be shorter."""
    for start in range(first, stop, size):
        yield start, min(start + size, stop)


def hidden_keys(q_range, k_range, diagonal: int, causal: bool, key_is_padding) -> np.ndarray | None:
    """True where a query of the tile may not see a key (causal or padding), broadcastable to
    (B, H, Tq, Tk); None when every query of the tile sees every key of it. Forward and backward both
    mask with it."""
    (q_start, q_end), (k_start, k_end) = q_range, k_range
    hidden = None
    # Only a KV tile reaching past its first query's diagonal holds a future key.
    if causal and k_end - 1 > q_start + diagonal:
        hidden = np.arange(k_start, k_end) > np.arange(q_start, q_end)[:, None] + diagonal
    if key_is_padding is not None:
        padding = key_is_padding[..., k_start:k_end]
        hidden = padding if hidden is None else hidden | padding
    return hidden


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _checked_inputs(Q, K, V) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = {}
    for name, x in (("Q", Q), ("K", K), ("V", V)):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"{name} must be a 4-D array (B, H, N, D), got shape {x.shape}")
        if 0 in x.shape:
            raise ValueError(f"{name} must have no empty dimension, got shape {x.shape}")
        if x.dtype not in FLOAT_DTYPES:
            raise ValueError(f"{name} must have dtype float16, float32 or float64, got {x.dtype}")
        # min/max propagate NaN and expose inf without a temporary the size of x.
        if not (np.isfinite(x.min()) and np.isfinite(x.max())):
            raise ValueError(f"{name} must be finite, got NaN or inf")
        arrays[name] = x
    Q, K, V = arrays["Q"], arrays["K"], arrays["V"]
    if K.shape != V.shape:
        raise ValueError(f"K and V must have the same shape (B, H, Nk, D), got {K.shape} and {V.shape}")
    if K.shape[:2] != Q.shape[:2] or K.shape[3] != Q.shape[3]:
        raise ValueError(
            f"K and V must match Q in B, H and D: Q is {Q.shape}, K and V are {K.shape}"
        )
    return Q, K, V


def _check_tile_size(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _padding_from_mask(key_padding_mask, B: int, Nk: int) -> np.ndarray | None:
    """The mask inverted (True = padding), shaped (B, 1, 1, Nk) to broadcast over heads and queries."""
    if key_padding_mask is None:
        return None
    mask = np.asarray(key_padding_mask)
    if mask.dtype != np.bool_:
        raise ValueError(f"key_padding_mask must have dtype bool (True = real key), got {mask.dtype}")
    if mask.shape != (B, Nk):
        raise ValueError(f"key_padding_mask must have shape (B, Nk) = {(B, Nk)}, got {mask.shape}")
    return ~mask[:, None, None, :]
