"""Identical keys make attention a plain average: every row outputs the mean of the values it sees.

Worked example of docs/EXTENDING.md. The expected output is derived by hand (equal scores give
equal softmax weights), not by an oracle, so it also checks the oracle's own idea of "visible".
"""

from dataclasses import replace

import numpy as np
from hypothesis import example, given

from properties.attention_oracle import flash_error_bound, visible_keys
from properties.attention_strategies import attention_cases, make_case


@given(case=attention_cases())
@example(case=make_case(1, 1, 40, 40, 4, tile_size=16, kv_tile_size=8))  # a diagonal tile, rows past its first
def test_identical_keys_average_the_seen_values(flash_impl, case):
    """Equal scores weigh every seen key alike: the output is the mean of the seen values."""
    case = case.for_target(flash_impl)
    case = replace(case, K=np.broadcast_to(case.K[:, :, :1], case.K.shape).copy())
    B, _, Nq, _ = case.Q.shape
    seen = np.broadcast_to(visible_keys(Nq, case.K.shape[2], case.causal, case.key_padding_mask, B),
                           (*case.Q.shape[:3], case.K.shape[2]))
    counts = seen.sum(axis=-1, keepdims=True)
    expected = (seen @ case.V.astype(np.float64)) / np.maximum(counts, 1)
    out = np.asarray(case.run(flash_impl), np.float64)
    assert np.abs(out - expected).max() <= flash_error_bound(*case.oracle_args)
