"""Flash attention against the naive float64 oracle, with a tolerance tied to the input dtype."""

import numpy as np
from hypothesis import example, given

from properties.attention_assertions import assert_matches_oracle
from properties.attention_oracle import naive_log_sum_exp
from properties.attention_strategies import attention_cases, make_case

# Accumulator precision for the log-sum-exp (float32 for float16/float32 inputs).
LSE_RTOL = {np.float16: 1e-5, np.float32: 1e-5, np.float64: 1e-12}

ORACLE_EXAMPLES = [
    make_case(1, 1, 256, 256, 64, tile_size=64, seed=42),  # the seed's small shape
    make_case(2, 2, 37, 53, 7, tile_size=8, kv_tile_size=5, seed=1),  # Nq < Nk, bottom-right causal
    make_case(1, 2, 53, 37, 3, tile_size=16, kv_tile_size=7, seed=2),  # Nq > Nk: early rows see nothing
    make_case(2, 1, 29, 29, 16, tile_size=8, causal=False, seed=3, dtype=np.float16, logit_scale=4.0),
    make_case(2, 1, 23, 23, 5, tile_size=6, kv_tile_size=4, seed=4, dtype=np.float64,
              key_padding_mask=[[False] * 9 + [True] * 14, [True] * 17 + [False] * 6]),
]


def _with_examples(test):
    for case in ORACLE_EXAMPLES:
        test = example(case=case)(test)
    return test


@given(case=attention_cases())
@_with_examples
def test_matches_float64_oracle(flash_impl, case):
    case = case.for_target(flash_impl)
    out = np.asarray(case.run(flash_impl))
    assert out.shape == case.Q.shape, f"output shape {out.shape}, expected Q's {case.Q.shape}"
    assert out.dtype == case.Q.dtype, f"output dtype {out.dtype}, expected Q's {case.Q.dtype}"
    assert_matches_oracle(out, case)


@given(case=attention_cases())
@_with_examples
def test_log_sum_exp_matches_float64_oracle(flash_impl, case):
    flash_impl.require("return_lse")
    case = case.for_target(flash_impl)
    _, lse = case.run(flash_impl, return_lse=True)
    expected = naive_log_sum_exp(case.Q, case.K, case.causal, case.key_padding_mask)
    assert lse.shape == expected.shape
    sees_nothing = np.isneginf(expected)
    assert np.isneginf(lse[sees_nothing]).all(), "the lse of a row that sees no key is not -inf"
    rtol = LSE_RTOL[case.Q.dtype.type]
    np.testing.assert_allclose(lse[~sees_nothing], expected[~sees_nothing], rtol=rtol, atol=rtol)
