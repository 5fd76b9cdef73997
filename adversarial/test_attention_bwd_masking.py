"""Rows that see no key and keys that no row sees: their gradients are exactly 0, and nothing is NaN.

A row that sees no key has lse = -inf, and exp(S - lse) with S = -inf is exp(NaN): these cases are
where a backward that trusts the saved lse blindly, or re-derives a max from a fully masked tile,
breaks. Each case also has partly masked tiles, where every masked score must stay out of P.
The exact-zero checks themselves live in `assert_gradients_match_oracle`; here are the cases that
are sure to need them.
"""

import numpy as np
import pytest

from properties.attention_bwd_assertions import assert_gradients_match_oracle
from properties.attention_strategies import make_case

LEFT_PADDING = [[False] * 13 + [True] * 6, [False] * 2 + [True] * 17]  # 13 padded keys > the 4-key tile

MASKED_CASES = {
    # The first Nq - Nk = 9 queries see no key; KV tiles cut across the causal boundary.
    "causal_more_queries_than_keys": make_case(1, 2, 14, 5, 3, tile_size=4, kv_tile_size=3, seed=11),
    # The second batch row is fully padded; the first has padding inside a KV tile.
    "fully_padded_batch_row": make_case(2, 1, 9, 9, 4, tile_size=3, kv_tile_size=4, causal=False, seed=12,
                                        dtype=np.float64, key_padding_mask=[[True] * 6 + [False] * 3, [False] * 9]),
    # Left padding longer than a KV tile: whole tiles masked, and early causal rows that see only padding.
    "left_padding_longer_than_a_tile": make_case(2, 2, 19, 19, 5, tile_size=5, kv_tile_size=4, seed=13,
                                                 key_padding_mask=LEFT_PADDING),
}


@pytest.mark.parametrize("name", MASKED_CASES)
def test_masked_rows_and_keys_get_exactly_zero_gradient(flash_bwd_impl, name):
    case = MASKED_CASES[name]
    # Without its mask or its extra queries a case has nothing masked to test: skip, don't degrade.
    flash_bwd_impl.require(*(["key_padding_mask"] if case.key_padding_mask is not None else []),
                           *(["cross_length"] if case.Q.shape[2] != case.K.shape[2] else []))
    assert_gradients_match_oracle(flash_bwd_impl, case)
