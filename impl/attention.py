"""Tiled FlashAttention forward with online-softmax rescaling (CONTRACTS §2).

Each query tile walks the KV tiles left to right and keeps, per query row, three running
statistics: `m` (the largest score seen), `l` (the sum of exp(score - m)) and `O` (the sum of
exp(score - m) * v). A tile that raises `m` finds `l` and `O` summed against a smaller reference
point, so both are first multiplied by `correction = exp(m_old - m_new) <= 1`; the output is `O / l`
once every tile is in. No buffer larger than one (query tile x KV tile) block of scores exists.
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

    acc_dtype = np.result_type(Q, K, V, np.float32)  # float16 inputs accumulate in float32
    K = K.astype(acc_dtype, copy=False)
    V = V.astype(acc_dtype, copy=False)
    scale = 1.0 / math.sqrt(D)
    # Bottom-right alignment: query i sees key j iff j <= i + diagonal.
    diagonal = Nk - Nq

    out = np.empty(Q.shape, Q.dtype)
    lse = np.empty((B, H, Nq), acc_dtype) if return_lse else None
    state = _RunningState(B, H, D, min(tile_size, Nq), min(kv_tile_size, Nk), acc_dtype, out.dtype)
    for q_start, q_end in tiles(Nq, tile_size):
        q_tile = state.start_query_tile(Q[:, :, q_start:q_end], scale, out[:, :, q_start:q_end])
        # KV tiles wholly to the right of the causal boundary are never visited.
        last_key = min(Nk, q_end + diagonal) if causal else Nk
        for k_start, k_end in tiles(last_key, kv_tile_size):
            S = state.scores(q_tile, K[:, :, k_start:k_end])
            if causal and k_end - 1 > q_start + diagonal:
                future = np.arange(k_start, k_end) > np.arange(q_start, q_end)[:, None] + diagonal
                np.copyto(S, -np.inf, where=future)
            if key_is_padding is not None:
                np.copyto(S, -np.inf, where=key_is_padding[..., k_start:k_end])
            state.absorb(S, V[:, :, k_start:k_end])
            if observer is not None:
                observer(state.snapshot((q_start, q_end), (k_start, k_end)))
        state.normalize_into(out[:, :, q_start:q_end])
        if lse is not None:
            state.log_sum_exp_into(lse[:, :, q_start:q_end])
    return (out, lse) if return_lse else out


def checked_arguments(Q, K, V, tile_size, kv_tile_size, key_padding_mask):
    """Validated (Q, K, V, kv_tile_size, key_is_padding), as the forward and the backward both take them."""
    Q, K, V = _checked_inputs(Q, K, V)
    kv_tile_size = tile_size if kv_tile_size is None else kv_tile_size
    _check_tile_size("tile_size", tile_size)
    _check_tile_size("kv_tile_size", kv_tile_size)
    return Q, K, V, kv_tile_size, _padding_from_mask(key_padding_mask, Q.shape[0], K.shape[2])


def tiles(stop: int, size: int) -> Iterator[tuple[int, int]]:
    """Half-open ranges covering [0, stop) in steps of `size`; the last one may be shorter."""
    for start in range(0, stop, size):
        yield start, min(start + size, stop)


class _RunningState:
    """The online-softmax statistics of one query tile, in buffers reused across all tiles."""

    def __init__(self, B: int, H: int, D: int, max_q: int, max_k: int, dtype: np.dtype, out_dtype: np.dtype):
        self._lead = (B, H)
        self._D = D
        self._dtype = dtype
        self._queries = np.empty(B * H * max_q * D, dtype)
        self._scores = np.empty(B * H * max_q * max_k, dtype)
        self._weighted_values = np.empty(B * H * max_q * D, dtype)
        # O accumulates in the output tile itself when that has the accumulator's dtype.
        self._O = None if out_dtype == dtype else np.empty(B * H * max_q * D, dtype)
        self._rows = {name: np.empty(B * H * max_q, dtype) for name in ("m", "l", "tile_max", "m_new",
                                                                       "shift", "correction", "tile_sum")}

    def _view(self, flat: np.ndarray, *tail: int) -> np.ndarray:
        """The front of a flat buffer as a contiguous (B, H, *tail) array."""
        shape = (*self._lead, *tail)
        return flat[: math.prod(shape)].reshape(shape)

    def start_query_tile(self, Q_tile: np.ndarray, scale: float, out_tile: np.ndarray) -> np.ndarray:
        """Store Q_tile * scale and reset m = -inf, l = 0, O = 0; returns the scaled queries."""
        tq = Q_tile.shape[2]
        q = self._view(self._queries, tq, self._D)
        np.multiply(Q_tile, scale, out=q, dtype=self._dtype)
        self.O = out_tile if self._O is None else self._view(self._O, tq, self._D)
        self.O.fill(0.0)
        for name, flat in self._rows.items():
            setattr(self, name, self._view(flat, tq))
        self.m.fill(-np.inf)
        self.l.fill(0.0)
        return q

    def scores(self, q_tile: np.ndarray, K_tile: np.ndarray) -> np.ndarray:
        """q_tile K_tile^T as a (B, H, Tq, Tk) view of key-major (Tk, B, H, Tq) memory.

        Key-major memory puts each score row's max and sum on the outermost axis, where NumPy
        reduces all B*H*Tq rows at once in whole-vector steps rather than one short row at a time
        (at tile 128 the row max runs 4x and the row sum 2x faster); BLAS reads it as a transposed matrix.
        """
        tq, tk = q_tile.shape[2], K_tile.shape[2]
        key_major = self._scores[: tk * math.prod(self._lead) * tq].reshape(tk, *self._lead, tq)
        np.matmul(K_tile, q_tile.swapaxes(-1, -2), out=key_major.transpose(1, 2, 0, 3))
        return key_major.transpose(1, 2, 3, 0)

    def absorb(self, S: np.ndarray, V_tile: np.ndarray) -> None:
        """One online-softmax step: fold a masked score tile S and its values into m, l and O.

        S is overwritten with the tile's unnormalized probabilities exp(S - m_new).
        """
        # Running max: the tile may raise it, never lower it.
        np.max(S, axis=-1, out=self.tile_max)
        np.maximum(self.m, self.tile_max, out=self.m_new)
        np.copyto(self.shift, self.m_new)
        # Masked-row guard: a row with no key seen yet has m_new = -inf, and exp(S - m_new) would be
        # exp(-inf - (-inf)) = NaN; shifting by 0 instead keeps its terms exp(-inf) = 0.
        np.copyto(self.shift, 0.0, where=self.m_new == -np.inf)
        # Rescale factor exp(m_old - m_new) <= 1: l and O were summed against the old max.
        np.subtract(self.m, self.shift, out=self.correction)
        np.exp(self.correction, out=self.correction)
        # Max subtraction keeps every exponent <= 0, so nothing overflows whatever the scores.
        S -= self.shift[..., None]
        np.exp(S, out=S)
        self.l *= self.correction
        self.l += np.sum(S, axis=-1, out=self.tile_sum)
        self.O *= self.correction[..., None]
        self.O += np.matmul(S, V_tile, out=self._view(self._weighted_values, S.shape[2], self._D))
        np.copyto(self.m, self.m_new)

    def snapshot(self, q_range: tuple[int, int], k_range: tuple[int, int]) -> TileUpdate:
        return TileUpdate(q_range, k_range, _read_only(self.m), _read_only(self.l), _read_only(self.O),
                          _read_only(self.correction))

    def normalize_into(self, out_tile: np.ndarray) -> None:
        """out = O / l; a row that saw no key has O = 0 and l = 0 and gets 0, not 0/0."""
        np.divide(self.O, self.l[..., None], out=self.O, where=self.l[..., None] > 0)
        if self.O is not out_tile:
            out_tile[...] = self.O

    def log_sum_exp_into(self, lse_tile: np.ndarray) -> None:
        """lse = m + log(l); -inf (m = -inf, l = 0) for a row that saw no key."""
        lse_tile.fill(-np.inf)
        np.log(self.l, out=lse_tile, where=self.l > 0)
        lse_tile += self.m


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
