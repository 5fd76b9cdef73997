"""Hypothesis strategies for flash-attention inputs.

The shape, tiling, dtype, causality and padding layout are drawn by Hypothesis (so they shrink to
the smallest failing layout); the values come from a drawn seed, which keeps large arrays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

FLOAT_DTYPES = (np.float16, np.float32, np.float64)
HEAD_DIMS = (1, 2, 3, 7, 8, 16, 33, 64)
# Primes, powers of two and their neighbours, so tiles rarely divide the length.
ODD_LENGTHS = (61, 64, 97, 127, 128, 131, 257)
# Fewest tiles per axis the tile-size strategy aims for at long lengths; keeps examples fast.
MAX_TILES_PER_AXIS = 16


@dataclass(frozen=True)
class AttentionCase:
    Q: np.ndarray
    K: np.ndarray
    V: np.ndarray
    tile_size: int
    kv_tile_size: int
    causal: bool
    key_padding_mask: np.ndarray | None = None
    seed: int = 0
    logit_scale: float = 1.0

    def __repr__(self) -> str:
        mask = None if self.key_padding_mask is None else self.key_padding_mask.astype(int).tolist()
        return (f"AttentionCase(Q{self.Q.shape}, Nk={self.K.shape[2]}, {self.Q.dtype}, tile={self.tile_size}, "
                f"kv_tile={self.kv_tile_size}, causal={self.causal}, mask={mask}, seed={self.seed}, "
                f"logit_scale={self.logit_scale})")

    @property
    def oracle_args(self) -> tuple:
        return self.Q, self.K, self.V, self.causal, self.key_padding_mask

    def for_target(self, flash_impl) -> AttentionCase:
        """The same case restricted to what the target supports (fewer features, same oracle)."""
        case = self
        if not flash_impl.supports("key_padding_mask"):
            case = replace(case, key_padding_mask=None)
        if not flash_impl.supports("kv_tile_size"):
            case = replace(case, kv_tile_size=case.tile_size)
        Nq, Nk = case.Q.shape[2], case.K.shape[2]
        if Nq != Nk and not flash_impl.supports("cross_length"):
            n = min(Nq, Nk)
            mask = None if case.key_padding_mask is None else case.key_padding_mask[:, :n]
            case = replace(case, Q=case.Q[:, :, :n], K=case.K[:, :, :n], V=case.V[:, :, :n], key_padding_mask=mask)
        return case

    def run(self, flash_impl, **options):
        """Call the target on this case (extra options such as `observer` passed through)."""
        kv_tile = self.kv_tile_size if self.kv_tile_size != self.tile_size else None
        return flash_impl(self.Q, self.K, self.V, self.tile_size, causal=self.causal, kv_tile_size=kv_tile,
                          key_padding_mask=self.key_padding_mask, **options)


def make_case(B, H, Nq, Nk, D, *, dtype=np.float32, tile_size=16, kv_tile_size=None, causal=True,
              key_padding_mask=None, seed=0, logit_scale=1.0) -> AttentionCase:
    """A case with standard-normal values (Q and K scaled by sqrt(logit_scale)), for `@example`s."""
    rng = np.random.default_rng(seed)
    root = math.sqrt(logit_scale)
    Q = (rng.standard_normal((B, H, Nq, D)) * root).astype(dtype)
    K = (rng.standard_normal((B, H, Nk, D)) * root).astype(dtype)
    V = rng.standard_normal((B, H, Nk, D)).astype(dtype)
    mask = None if key_padding_mask is None else np.asarray(key_padding_mask, bool)
    return AttentionCase(Q, K, V, tile_size, kv_tile_size or tile_size, causal, mask, seed, logit_scale)


def lengths(max_small: int = 40, odd_lengths=ODD_LENGTHS) -> st.SearchStrategy[int]:
    small = st.integers(1, max_small)
    return st.one_of(small, st.sampled_from(odd_lengths)) if odd_lengths else small


def tile_sizes(n: int) -> st.SearchStrategy[int]:
    """From 1 (when n is short) to past n, never more than MAX_TILES_PER_AXIS tiles."""
    return st.integers(max(1, math.ceil(n / MAX_TILES_PER_AXIS)), n + 8)


@st.composite
def padding_masks(draw, B: int, Nk: int) -> np.ndarray:
    """Per batch row: some real keys, padded at the back or, for left-padded batches, at the front;
    zero real keys (a fully padded row) is included."""
    rows = []
    for _ in range(B):
        n_real = draw(st.integers(0, Nk))
        pad_front = draw(st.booleans())
        real = np.arange(Nk) >= Nk - n_real if pad_front else np.arange(Nk) < n_real
        rows.append(real)
    return np.stack(rows)


@st.composite
def attention_cases(draw, *, dtypes=FLOAT_DTYPES, causal=None, cross_length=True, padding=True,
                    max_len: int = 40, odd_lengths=ODD_LENGTHS, head_dims=HEAD_DIMS,
                    logit_scales=(0.25, 1.0, 4.0)) -> AttentionCase:
    """`causal` None draws it; `padding` is False (no mask), True (maybe a mask) or "always"."""
    B = draw(st.integers(1, 2))
    H = draw(st.integers(1, 3))
    Nq = draw(lengths(max_len, odd_lengths))
    Nk = draw(st.one_of(st.just(Nq), lengths(max_len, odd_lengths))) if cross_length else Nq
    D = draw(st.sampled_from(head_dims))
    dtype = draw(st.sampled_from(dtypes))
    is_causal = draw(st.booleans()) if causal is None else causal
    tile_size = draw(tile_sizes(Nq))
    kv_tile_size = draw(st.one_of(st.just(tile_size), tile_sizes(Nk)))
    masks = {False: st.none(), True: st.none() | padding_masks(B, Nk), "always": padding_masks(B, Nk)}
    mask = draw(masks[padding])
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from(logit_scales))
    return make_case(B, H, Nq, Nk, D, dtype=dtype, tile_size=tile_size, kv_tile_size=kv_tile_size,
                     causal=is_causal, key_padding_mask=mask, seed=seed, logit_scale=scale)
