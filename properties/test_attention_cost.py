"""Cost properties of the flash forward: performance bugs made deterministic, countable and killable.

A kernel that lost its causal skip, runs its statistics in float64 or re-allocates a buffer per tile
returns the same output; timing it would be flaky on a shared machine. These properties count instead:
the (query tile, KV tile) pairs the `observer` sees, the dtype of the running state it shows, and the
memory memray sees allocated per tile pair. Each records its figures (`record_property`) before
asserting, so `check` reports them for outside code in the performance tier; for the reference and
its mutants a wrong count fails, so the mutation report counts the kill. bench/cost_mutants.py
measures the slowdown each guarded bug causes.
"""

from __future__ import annotations

import numpy as np
import pytest

from adversarial.attention_memory import memory_profile

# (B, H, Nq, Nk, D, tile_size, kv_tile_size): tiles that do and do not divide the lengths, Nq < Nk and
# Nq > Nk (whose first query rows see no key), and a KV tile wider than the query tile.
TILINGS = [
    (1, 2, 64, 64, 8, 16, 16),
    (2, 1, 37, 37, 4, 8, 5),
    (1, 1, 13, 40, 4, 4, 6),
    (1, 1, 40, 13, 4, 6, 4),
    (1, 1, 33, 33, 4, 5, 11),
]


def _qkv(B, H, Nq, Nk, D, dtypes=(np.float32,) * 3, seed=0):
    rng = np.random.default_rng(seed)
    shapes = ((B, H, Nq, D), (B, H, Nk, D), (B, H, Nk, D))
    return tuple(rng.standard_normal(shape).astype(dtype) for shape, dtype in zip(shapes, dtypes, strict=True))


def tile_pairs_a_row_can_use(Nq, Nk, tile_size, kv_tile_size, causal) -> list[tuple[int, int]]:
    """(query tile start, KV tile start) of every pair in which some query may see some key (bottom-right
    causal): the least work a tiled kernel can do, and all of it (skipping one loses a key). A pair is
    named by its starts, since a kernel may cut its last KV tile at the causal boundary."""
    pairs = []
    for q_start in range(0, Nq, tile_size):
        q_end = min(q_start + tile_size, Nq)
        # The tile's last query sees the most keys: j <= (q_end - 1) + (Nk - Nq).
        reach = min(Nk, q_end + Nk - Nq) if causal else Nk
        pairs.extend((q_start, k_start) for k_start in range(0, reach, kv_tile_size))
    return pairs


def _visited(flash_impl, Q, K, V, tile_size, kv_tile_size, causal, **options) -> list:
    visited = []

    def record(update):
        visited.append((int(update.q_range[0]), int(update.k_range[0])))

    flash_impl(Q, K, V, tile_size, causal=causal, kv_tile_size=kv_tile_size, observer=record, **options)
    return visited


@pytest.mark.parametrize(("B", "H", "Nq", "Nk", "D", "tile", "kv_tile"), TILINGS)
def test_causal_call_visits_exactly_the_tiles_a_row_can_see(flash_impl, record_property, B, H, Nq, Nk, D, tile,
                                                           kv_tile):
    """A causal call visits each (query tile, KV tile) pair that holds a visible key exactly once, and
    no other. (Kills the lost causal skip: `last_key = ... if causal else Nk` -> always Nk, the mutmut
    `(causal) and False`, 1.9x slower at the seed's large causal shape, same output.)"""
    flash_impl.require("observer", "kv_tile_size")
    if Nq != Nk:
        flash_impl.require("cross_length")
    visited = _visited(flash_impl, *_qkv(B, H, Nq, Nk, D), tile, kv_tile, causal=True)
    minimum = tile_pairs_a_row_can_use(Nq, Nk, tile, kv_tile, causal=True)
    record_property("causal_tile_pairs_visited", len(visited))
    record_property("causal_tile_pairs_minimum", len(minimum))
    extra = sorted(set(visited) - set(minimum))
    assert not extra, (f"visited {len(visited)} tile pairs where {len(minimum)} hold every visible key; "
                       f"{len(extra)} hold none, first {extra[0]}")
    assert sorted(visited) == sorted(minimum), (
        f"visited {len(visited)} tile pairs, expected each of the {len(minimum)} holding a visible key once")


def test_non_causal_call_visits_every_tile_pair_once(flash_impl):
    """The counting above is not vacuous: without the mask every pair is needed, once. (Kills a skip
    applied to non-causal calls too, and an observer called twice per update.)"""
    flash_impl.require("observer", "kv_tile_size")
    visited = _visited(flash_impl, *_qkv(1, 1, 20, 20, 4), 6, 7, causal=False)
    assert sorted(visited) == sorted(tile_pairs_a_row_can_use(20, 20, 6, 7, causal=False))


# The accumulation dtype CONTRACTS §2 asks: the inputs' common dtype, at least float32.
STATE_DTYPES = [
    pytest.param((np.float32,) * 3, np.float32, id="float32"),
    pytest.param((np.float64,) * 3, np.float64, id="float64"),
    pytest.param((np.float16,) * 3, np.float32, id="float16"),
    pytest.param((np.float64, np.float32, np.float32), np.float64, id="Q64-KV32"),
    pytest.param((np.float32, np.float64, np.float32), np.float64, id="K64"),
    pytest.param((np.float32, np.float32, np.float64), np.float64, id="V64"),
]


@pytest.mark.parametrize(("dtypes", "expected"), STATE_DTYPES)
def test_running_state_has_the_accumulation_dtype(flash_impl, record_property, dtypes, expected):
    """m, l and O, as the observer shows them, have the accumulation dtype: float64 statistics for
    float32 inputs cost 1.5x the time for nothing, float32 statistics for a float64 operand lose its
    precision. (Kills the float64 running state, mutmut's dtype-None buffers, and a dtype promotion
    that drops Q, K or V.)"""
    flash_impl.require("observer")
    seen = set()

    def record(update):
        seen.update((name, np.asarray(getattr(update, name)).dtype.name) for name in ("m", "l", "O"))

    Q, K, V = _qkv(1, 2, 24, 24, 8, dtypes)
    flash_impl(Q, K, V, 8, causal=True, observer=record)
    record_property("running_state_dtype", ",".join(sorted({dtype for _, dtype in seen})))
    wrong = sorted(f"{name}: {dtype}" for name, dtype in seen if dtype != np.dtype(expected).name)
    assert seen and not wrong, (f"inputs {'/'.join(np.dtype(d).name for d in dtypes)} accumulate in "
                                f"{np.dtype(expected).name}; the running state has {', '.join(wrong) or 'no array'}")


@pytest.mark.parametrize(("dtypes", "expected"), STATE_DTYPES[:3])
def test_log_sum_exp_has_the_accumulation_dtype(flash_impl, dtypes, expected):
    """lse comes in the accumulation dtype (CONTRACTS §2), never wider: float64 for float32 inputs
    doubles its buffer and the backward's reads of it for no precision the output keeps. (Kills
    mutmut's `np.empty((B, H, Nq), None)` for the lse buffer.)"""
    flash_impl.require("return_lse")
    _, lse = flash_impl(*_qkv(1, 2, 24, 24, 8, dtypes), 8, causal=True, return_lse=True)
    assert np.asarray(lse).dtype == expected, f"lse has dtype {np.asarray(lse).dtype}, expected {np.dtype(expected)}"


# One query tile and one KV tile of this shape; the lengths are whole multiples of the tile.
ALLOC_B, ALLOC_H, ALLOC_D, ALLOC_TILE = 1, 1, 64, 64
ALLOC_TILES = (2, 6)  # tiles per axis of the two (non-causal) calls compared: 4 and 36 tile pairs


def tile_pair_buffer_bytes(tile: int, D: int, itemsize: int, B: int = 1, H: int = 1) -> int:
    """The buffers one (query tile, KV tile) pair works on: its scores, its queries' output rows and
    its values."""
    return (tile * tile + 2 * tile * D) * itemsize * B * H


def _allocations_per_tile_pair(flash_impl, tmp_path) -> tuple[float, float, int]:
    """(allocations, bytes) per extra tile pair between the two calls, and the pairs of the larger."""
    warm_up = _qkv(1, 1, 128, 128, ALLOC_D)
    # NumPy and OpenBLAS set up their caches on first use; that is the libraries', not the call's.
    flash_impl(*warm_up, ALLOC_TILE, causal=False)
    profiles, pairs = [], []
    for tiles in ALLOC_TILES:
        N = tiles * ALLOC_TILE
        qkv = _qkv(ALLOC_B, ALLOC_H, N, N, ALLOC_D)
        profile = memory_profile(lambda qkv=qkv: flash_impl(*qkv, ALLOC_TILE, causal=False), tmp_path / f"{N}.bin")
        if profile.allocations is None:
            pytest.skip("memray saw no allocation records")
        profiles.append(profile)
        pairs.append(tiles * tiles)
    extra = pairs[1] - pairs[0]
    return ((profiles[1].allocations - profiles[0].allocations) / extra,
            (profiles[1].allocated_bytes - profiles[0].allocated_bytes) / extra, pairs[1])


def test_allocations_per_tile_pair_stay_within_one_pair_of_buffers(flash_impl, tmp_path, record_property):
    """Memory allocated per (query tile, KV tile) pair, measured by memray as the growth between a call
    of 4 and one of 36 pairs (so what is set up once per call cancels), stays below the pair's own
    buffers: its scores, output rows and values. A kernel that keeps its buffers across tiles allocates
    only NumPy's transient iteration buffers; one that allocates a fresh score block, product or cast
    per tile goes over. (Kills scores re-allocated per tile, `np.matmul(S, V, out=None)` (a fresh
    product per tile), the float64 weighted-values buffer (casts S and V to float64 per tile) and the
    float64 running state.)"""
    # Non-causal, so every pair is alike (a causal call also builds masks on the diagonal's pairs alone).
    per_pair, bytes_per_pair, pairs = _allocations_per_tile_pair(flash_impl, tmp_path)
    budget = tile_pair_buffer_bytes(ALLOC_TILE, ALLOC_D, np.dtype(np.float32).itemsize, ALLOC_B, ALLOC_H)
    record_property("allocations_per_tile_pair", round(per_pair, 1))
    record_property("allocated_bytes_per_tile_pair", round(bytes_per_pair))
    record_property("tile_pair_buffer_bytes", budget)
    assert bytes_per_pair <= budget, (
        f"allocates {bytes_per_pair:.0f} B ({per_pair:.1f} allocations) per tile pair over {pairs} pairs, more than "
        f"the pair's own scores, output rows and values ({budget} B): buffers are allocated inside the tile loop")
