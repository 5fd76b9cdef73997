"""Flash attention backward against the naive float64 backward, across the forward's strategies."""

from dataclasses import replace

import numpy as np
from hypothesis import example, given

from properties.attention_bwd_assertions import assert_gradients_match_oracle, run_backward, upstream_gradient
from properties.attention_bwd_oracle import forward_saved
from properties.attention_strategies import attention_cases, make_case
from properties.float16_convention import check_float16_accumulation
from properties.test_attention_oracle import ORACLE_EXAMPLES

# Beyond the forward's examples (the seed's small shape, Nq < Nk, Nq > Nk, float16, left and right
# padding): each query tile and each KV tile count reaches at least 3, so a D summed per KV tile, or a
# dK/dV kept from the last query tile only, differs from the truth in every one of them.
BWD_EXAMPLES = [
    make_case(1, 2, 24, 24, 4, tile_size=8, kv_tile_size=8, causal=False, seed=5),  # square tiles: P @ dO runs
    make_case(2, 1, 31, 31, 5, tile_size=7, kv_tile_size=11, causal=True, seed=6, dtype=np.float64),
]


def _with_examples(test):
    for case in ORACLE_EXAMPLES + BWD_EXAMPLES:
        test = example(case=case)(test)
    return test


@given(case=attention_cases())
@_with_examples
def test_gradients_match_float64_oracle(flash_bwd_impl, case):
    assert_gradients_match_oracle(flash_bwd_impl, case)


@given(case=attention_cases(dtypes=(np.float16,)))
@example(case=make_case(1, 2, 37, 37, 8, tile_size=8, kv_tile_size=16, dtype=np.float16, seed=7))
def test_float16_inputs_accumulate_in_float32(flash_bwd_impl, case):
    """CONTRACTS §2: accumulation is at least float32. So float16 inputs give the float32 run on the same
    values, rounded to float16 (one float16 ulp allowed). The oracle comparison cannot show this: its
    float16 yardstick is the naive backward computed in float16 throughout."""
    case = case.for_target(flash_bwd_impl)
    dO = upstream_gradient(case)
    O, lse = forward_saved(*case.oracle_args)  # noqa: E741
    narrow = run_backward(flash_bwd_impl, case, dO, (O, lse))
    widened = replace(case, Q=case.Q.astype(np.float32), K=case.K.astype(np.float32), V=case.V.astype(np.float32))
    wide = run_backward(flash_bwd_impl, widened, dO.astype(np.float32), (O.astype(np.float32), lse))
    check_float16_accumulation(flash_bwd_impl, lambda: _assert_rounded_from_float32(narrow, wide),
                               lambda: assert_gradients_match_oracle(flash_bwd_impl, case))


def _assert_rounded_from_float32(narrow, wide) -> None:
    """(Fails when float16 inputs are accumulated in float16.)"""
    for name, got, reference in zip(("dQ", "dK", "dV"), narrow, wide, strict=True):
        assert got.dtype == np.float16, f"{name} has dtype {got.dtype}, expected float16"
        ulp = np.spacing(np.abs(reference).astype(np.float16)).astype(np.float32)
        assert (np.abs(got.astype(np.float32) - reference) <= ulp).all(), f"{name} is not the float32 result rounded"
