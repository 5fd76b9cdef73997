"""The running state at every (query tile, KV tile) step, through the `observer` extension of
docs/CONTRACT.md: inside the contract's bounds, equal to its exact float64 values, on the tile grid.

The final output cannot see a wrong intermediate scale when it cancels in O / l; the state can.
The bounds (l is a sum of n terms exp(score - m) each in (0, 1] with one equal to 1, and O an
l-weighted average of the values seen, so 1 <= l <= n and |O| <= l * max|V|) hold for any kernel
whatever its rounding, so they also judge outside code that computes in float16; the exact oracle
(`properties/attention_state_oracle.py`) sees what they let through, e.g. a sum that is never rescaled
but stays within [1, n].
"""

import numpy as np
from hypothesis import example, given

from adversarial.attention_hostile_cases import rising_logits_case
from properties.attention_oracle import visible_keys
from properties.attention_state_oracle import ExactStateChecker
from properties.attention_strategies import attention_cases, make_case

# Rounding slack on the bounds, by accumulator precision (float16 inputs accumulate in float32).
SLACK = {np.float16: 1e-4, np.float32: 1e-4, np.float64: 1e-10}


class BoundsChecker:
    """An observer asserting the bounds at each update."""

    def __init__(self, case):
        B, _, Nq, _ = case.Q.shape
        self.visible = visible_keys(Nq, case.K.shape[2], case.causal, case.key_padding_mask, B)
        self.abs_V = np.abs(case.V.astype(np.float64))
        self.slack = SLACK[case.Q.dtype.type]
        self.covered = {}  # q_range -> keys covered so far
        self.last_m = {}  # q_range -> m after the previous update
        self.updates = 0

    def __call__(self, update):
        q_range, (k_start, k_end) = tuple(update.q_range), tuple(update.k_range)
        m, l_sum, O_acc, correction = (np.array(a, np.float64)
                                       for a in (update.m, update.l, update.O, update.correction))
        visible = self.visible[:, :, q_range[0]:q_range[1]]
        covered = self.covered.setdefault(q_range, np.zeros(visible.shape[-1], bool))
        n_before = np.broadcast_to((visible & covered).sum(axis=-1), m.shape)
        covered[k_start:k_end] = True
        seen = visible & covered
        n = np.broadcast_to(seen.sum(axis=-1), m.shape)
        blind, has_seen, had_seen = n == 0, n >= 1, n_before >= 1

        where = f"after query rows {q_range}, keys {k_start}..{k_end}"
        assert not any(np.isnan(a).any() for a in (m, l_sum, O_acc, correction)), f"NaN in the running state {where}"
        assert (m[blind] == -np.inf).all() and (l_sum[blind] == 0).all() and (O_acc[blind] == 0).all(), (
            f"a row that has seen no key does not hold m = -inf, l = 0, O = 0 {where}")
        assert np.isfinite(m[has_seen]).all() and np.isfinite(l_sum).all() and np.isfinite(O_acc).all(), (
            f"inf in the running state {where}")
        previous_m = self.last_m.get(q_range, np.full(m.shape, -np.inf))
        assert (m >= previous_m).all(), f"the running max decreased {where}"
        assert (correction[had_seen] > 0).all() and (correction[had_seen] <= 1).all(), (
            f"correction outside (0, 1]: {correction[had_seen].min():.3g}..{correction[had_seen].max():.3g} {where}")
        assert (l_sum[has_seen] >= 1 - self.slack).all(), (
            f"l = {l_sum[has_seen].min():.3g} < 1: m is not the max of the scores seen {where}")
        assert (l_sum[has_seen] <= n[has_seen] * (1 + self.slack)).all(), (
            f"l/n up to {(l_sum[has_seen] / n[has_seen]).max():.3g} > 1: a term exp(s - m) exceeds 1 {where}")
        v_max = np.where(seen[..., None], self.abs_V[:, :, None], 0).max(axis=-2)
        O_bound = l_sum[..., None] * v_max
        assert (np.abs(O_acc) <= O_bound * (1 + self.slack)).all(), f"|O| > l max|V seen| {where}"

        self.last_m[q_range] = m
        self.updates += 1


# Small enough for a float64 prefix sum at every update; logit scales up to 16 make the max move often.
observer_cases = attention_cases(odd_lengths=(), max_len=24, head_dims=(1, 2, 3, 8), logit_scales=(1.0, 4.0, 16.0))
OBSERVER_EXAMPLES = [
    rising_logits_case(1, 2, 24, 4, peak=12.0, tile_size=8, kv_tile_size=5),
    make_case(2, 1, 13, 9, 3, tile_size=4, kv_tile_size=3, key_padding_mask=[[False] * 5 + [True] * 4, [True] * 9]),
    # float16 inputs, D = 3 (a scale 1/sqrt(3) that float16 rounds), the max rising tile after tile
    make_case(1, 2, 21, 21, 3, dtype=np.float16, tile_size=5, kv_tile_size=4, logit_scale=16.0, seed=5),
]


def _with_examples(test):
    for case in OBSERVER_EXAMPLES:
        test = example(case=case)(test)
    return test


@given(case=observer_cases)
@_with_examples
def test_running_state_stays_within_bounds_at_every_tile(flash_impl, case):
    flash_impl.require("observer")
    case = case.for_target(flash_impl)
    checker = BoundsChecker(case)
    case.run(flash_impl, observer=checker)
    assert checker.updates >= 1


@given(case=observer_cases)
@_with_examples
def test_running_state_equals_float64_prefix_sums_at_every_tile(flash_impl, case):
    """m is the max of the scores seen so far, l and O their exp-sums against that m, correction
    exp(m_old - m_new): each within the accumulation dtype's rounding of its float64 value."""
    flash_impl.require("observer")
    case = case.for_target(flash_impl)
    checker = ExactStateChecker(case)
    case.run(flash_impl, observer=checker)
    assert checker.updates >= 1


@given(case=attention_cases())
@example(case=make_case(1, 1, 23, 23, 4, tile_size=8, kv_tile_size=3))  # KV tiles narrower than query tiles
@example(case=make_case(1, 1, 23, 30, 4, tile_size=4, kv_tile_size=7, causal=False))  # and wider
def test_observer_sees_query_tiles_of_tile_size_and_key_tiles_of_kv_tile_size(flash_impl, case):
    """CONTRACTS §2: `tile_size` tiles the queries and `kv_tile_size` the keys, and the observer is
    called once per (query tile, KV tile) update. The output cannot tell: it does not depend on the
    tiling. A KV tile may end early at the causal boundary, never start off the grid or overrun it."""
    flash_impl.require("observer")
    case = case.for_target(flash_impl)
    seen = []
    case.run(flash_impl, observer=lambda update: seen.append((tuple(update.q_range), tuple(update.k_range))))
    Nq, Nk, tile, kv_tile = case.Q.shape[2], case.K.shape[2], case.tile_size, case.kv_tile_size
    query_tiles = {(start, min(start + tile, Nq)) for start in range(0, Nq, tile)}
    off_grid = sorted({q for q, _ in seen} - query_tiles)
    assert not off_grid, f"query ranges {off_grid[:3]} are not tiles of tile_size={tile} over Nq={Nq}"
    bad_keys = sorted({k for _, k in seen if k[0] % kv_tile or not k[0] < k[1] <= min(k[0] + kv_tile, Nk)})
    assert not bad_keys, f"key ranges {bad_keys[:3]} are not tiles of kv_tile_size={kv_tile} over Nk={Nk}"
    assert len(seen) == len(set(seen)), "the observer saw the same (query tile, KV tile) pair twice"
