"""Metamorphic properties of attention: each compares flash with itself under a change that must
not matter (tiling, the causal future, padded keys, batch/head order) or bounds it by its inputs."""

from dataclasses import replace

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from properties.attention_assertions import assert_blind_rows_are_zero, assert_no_nan
from properties.attention_oracle import flash_error_bound, visible_keys
from properties.attention_strategies import attention_cases, make_case

# Large enough that any leak through a mask shows far above the tolerance.
PERTURBATION = 8.0


def _close_within(case, a, b, multiple=2.0):
    """Two flash runs of `case` agree if both sit within the oracle bound of the truth."""
    gap = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()
    bound = multiple * flash_error_bound(*case.oracle_args)
    assert gap <= bound, f"the two runs differ by up to {gap:.3g}, allowed {bound:.3g}"


def _perturbed(x, where, seed):
    """x with the positions selected by `where` (broadcast over x) replaced by large noise."""
    noise = np.random.default_rng(seed).standard_normal(x.shape) * PERTURBATION
    return np.where(where, noise, x).astype(x.dtype)


@given(case=attention_cases())
@example(case=make_case(1, 2, 67, 67, 8, tile_size=16, kv_tile_size=8))
@example(case=make_case(1, 1, 45, 45, 3, tile_size=7, causal=False, logit_scale=4.0))
def test_output_does_not_depend_on_tile_sizes(flash_impl, case):
    case = case.for_target(flash_impl)
    one_tile = replace(case, tile_size=max(case.Q.shape[2], case.K.shape[2]))
    one_tile = replace(one_tile, kv_tile_size=one_tile.tile_size)
    _close_within(case, case.run(flash_impl), one_tile.run(flash_impl))


@given(case=attention_cases(causal=True, cross_length=False), cut=st.floats(0.0, 1.0))
@example(case=make_case(1, 1, 40, 40, 4, tile_size=16, kv_tile_size=16), cut=0.3)
def test_causal_prefix_depends_only_on_prefix(flash_impl, case, cut):
    case = case.for_target(flash_impl)
    N = case.Q.shape[2]
    k = 1 + int(cut * (N - 1))
    future = np.arange(N)[:, None] >= k
    changed = replace(case, **{name: _perturbed(getattr(case, name), future, i)
                               for i, name in enumerate(("Q", "K", "V"))})
    _close_within(case, case.run(flash_impl)[:, :, :k], changed.run(flash_impl)[:, :, :k])


@given(case=attention_cases(padding="always"))
@example(case=make_case(2, 1, 30, 30, 4, tile_size=8, key_padding_mask=[[False] * 12 + [True] * 18,
                                                                         [True] * 25 + [False] * 5]))
def test_padded_keys_change_nothing(flash_impl, case):
    flash_impl.require("key_padding_mask")
    case = case.for_target(flash_impl)
    padded = ~case.key_padding_mask[:, None, :, None]
    changed = replace(case, K=_perturbed(case.K, padded, 1), V=_perturbed(case.V, padded, 2))
    _close_within(case, case.run(flash_impl), changed.run(flash_impl))


@given(case=attention_cases())
@example(case=make_case(1, 1, 20, 6, 4, tile_size=8, kv_tile_size=4))  # Nq > Nk, causal
@example(case=make_case(2, 2, 9, 9, 3, tile_size=4, key_padding_mask=[[False] * 9, [True] * 9]))
def test_rows_that_see_no_key_are_exactly_zero(flash_impl, case):
    case = case.for_target(flash_impl)
    out = np.asarray(case.run(flash_impl))
    assert_no_nan(out)
    assert_blind_rows_are_zero(out, case)


@given(case=attention_cases(), offset=st.sampled_from([0.0, 6.0, -6.0]))
@example(case=make_case(1, 1, 48, 48, 4, tile_size=8, logit_scale=4.0), offset=6.0)
def test_output_is_convex_combination_of_seen_values(flash_impl, case, offset):
    # Shifting V away from 0 makes a wrong normalization (output pulled toward 0) leave the hull.
    case = case.for_target(flash_impl)
    case = replace(case, V=(case.V.astype(np.float64) + offset).astype(case.V.dtype))
    out = np.asarray(case.run(flash_impl), np.float64)
    B, _, Nq, _ = case.Q.shape
    seen = visible_keys(Nq, case.K.shape[2], case.causal, case.key_padding_mask, B)[..., None]
    V = case.V.astype(np.float64)[:, :, None, :, :]
    lowest = np.where(seen, V, np.inf).min(axis=-2)
    highest = np.where(seen, V, -np.inf).max(axis=-2)
    sees_a_key = seen.any(axis=-2)
    slack = flash_error_bound(*case.oracle_args)
    # How far each output lies beyond its hull (NaN counts as infinitely far).
    beyond = np.nan_to_num(np.maximum(lowest - slack - out, out - highest - slack), nan=np.inf, posinf=np.inf)
    beyond = beyond[np.broadcast_to(sees_a_key, out.shape)]
    assert (beyond <= 0).all(), (f"{np.count_nonzero(beyond > 0)} outputs lie outside the min..max of the values "
                                 f"their row sees, by up to {beyond.max():.3g}")


@given(case=attention_cases(), shuffle_seed=st.integers(0, 2**16))
@example(case=make_case(3, 2, 17, 17, 5, tile_size=4,
                        key_padding_mask=[[True] * 17, [False] * 6 + [True] * 11, [True] * 3 + [False] * 14]),
         shuffle_seed=0)
def test_batch_and_head_permutation_equivariance(flash_impl, case, shuffle_seed):
    case = case.for_target(flash_impl)
    B, H = case.Q.shape[:2]
    rng = np.random.default_rng(shuffle_seed)
    batch_order, head_order = rng.permutation(B), rng.permutation(H)

    def permute(x):
        return x[batch_order][:, head_order]

    mask = None if case.key_padding_mask is None else case.key_padding_mask[batch_order]
    permuted = replace(case, Q=permute(case.Q), K=permute(case.K), V=permute(case.V), key_padding_mask=mask)
    _close_within(case, permute(np.asarray(case.run(flash_impl))), permuted.run(flash_impl))
