"""Whole KV tiles that a query row cannot see: its first tiles under left padding, tiles past the
causal boundary when Nq > Nk, and tile grids that do not line up (kv_tile_size != tile_size).

A row whose every score so far is -inf has m = -inf, and exp(S - m) is exp(-inf - (-inf)) = NaN
unless the kernel guards it; the output of a row that never sees a key must be exactly 0.
"""

import numpy as np
import pytest

from properties.attention_assertions import assert_blind_rows_are_zero, assert_matches_oracle, assert_no_nan, blind_rows
from properties.attention_strategies import make_case


def _left_padded(real_lengths, N):
    return [[j >= N - n for j in range(N)] for n in real_lengths]


MASKED_TILE_CASES = {
    "left_padding_longer_than_a_tile": make_case(2, 2, 40, 40, 8, tile_size=8,
                                                 key_padding_mask=_left_padded([21, 7], 40)),
    "kv_tiles_misaligned_with_query_tiles": make_case(2, 1, 37, 37, 5, tile_size=8, kv_tile_size=3,
                                                      key_padding_mask=_left_padded([30, 11], 37)),
    "nq_above_nk_causal": make_case(1, 2, 50, 20, 6, tile_size=16, kv_tile_size=6),
    "nq_above_nk_causal_left_padding": make_case(2, 1, 33, 19, 4, tile_size=5, kv_tile_size=4,
                                              key_padding_mask=_left_padded([19, 6], 19)),
}


@pytest.mark.parametrize("case", MASKED_TILE_CASES.values(), ids=MASKED_TILE_CASES.keys())
def test_fully_masked_tiles_leave_no_nan_and_blind_rows_zero(flash_impl, case):
    Nq, Nk = case.Q.shape[2], case.K.shape[2]
    if Nq != Nk:
        flash_impl.require("cross_length")
    out = np.asarray(case.run(flash_impl))
    assert_no_nan(out)
    assert blind_rows(case).any(), "the case must contain rows that see no key"
    assert_blind_rows_are_zero(out, case)
    assert_matches_oracle(out, case)
