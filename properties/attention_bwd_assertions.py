"""What every backward test shares: the upstream gradient of a case, the target's call, the oracle check.

Cases are the forward's `AttentionCase`s (`properties/attention_strategies.py`); the backward adds
only `dO`, drawn from the case's own seed so a failing case reproduces from its repr.
"""

from __future__ import annotations

import numpy as np

from properties.attention_assertions import assert_blind_rows_are_zero
from properties.attention_bwd_oracle import bwd_error_bounds, forward_saved
from properties.attention_oracle import visible_keys
from properties.attention_strategies import AttentionCase

GRADIENT_NAMES = ("dQ", "dK", "dV")


def upstream_gradient(case: AttentionCase) -> np.ndarray:
    """dO: standard normal in Q's shape and dtype, from a stream of the case's seed that Q/K/V do not use."""
    return np.random.default_rng([case.seed, 1]).standard_normal(case.Q.shape).astype(case.Q.dtype)


def run_backward(target, case: AttentionCase, dO: np.ndarray, saved=None):
    """The target's (dQ, dK, dV), given `saved` = (O, lse), by default what a correct forward saves.

    `case` must already be `case.for_target(target)`; options the case does not need are not passed.
    """
    O, lse = forward_saved(*case.oracle_args) if saved is None else saved  # noqa: E741
    kv_tile = case.kv_tile_size if case.kv_tile_size != case.tile_size else None
    return target(case.Q, case.K, case.V, O, dO, lse, case.tile_size, causal=case.causal, kv_tile_size=kv_tile,
                  key_padding_mask=case.key_padding_mask)


def assert_gradients_match_oracle(target, case: AttentionCase) -> float:
    """Each gradient has its input's shape and dtype, is finite and lies within the oracle's bound;
    a query that sees no key gets dQ exactly 0, a key that no query sees gets dK and dV exactly 0.

    Returns the largest share of its bound that any gradient's error used (for `hypothesis.target`).
    """
    case = case.for_target(target)
    dO = upstream_gradient(case)
    got = run_backward(target, case, dO)
    truth, bounds = bwd_error_bounds(case.Q, case.K, case.V, dO, case.causal, case.key_padding_mask)
    worst_share = 0.0
    for name, grad, source, exact, bound in zip(GRADIENT_NAMES, got, (case.Q, case.K, case.V), truth, bounds,
                                                strict=True):
        assert grad.shape == source.shape, f"{name} has shape {grad.shape}, expected {source.shape}"
        assert grad.dtype == source.dtype, f"{name} has dtype {grad.dtype}, expected {source.dtype}"
        assert np.isfinite(grad).all(), f"{name} has NaN or inf"
        error = float(np.abs(grad.astype(np.float64) - exact).max())
        assert error <= bound, f"{name} is {error:.3g} from the float64 oracle, allowed {bound:.3g}"
        worst_share = max(worst_share, error / bound if bound > 0 else 0.0)
    _assert_unseen_exactly_zero(case, *got)
    return worst_share


def _assert_unseen_exactly_zero(case: AttentionCase, dQ, dK, dV) -> None:
    assert_blind_rows_are_zero(dQ, case, what="dQ")
    B, _, Nq, _ = case.Q.shape
    seen_by_nobody = ~visible_keys(Nq, case.K.shape[2], case.causal, case.key_padding_mask, B)[:, 0].any(axis=1)
    for name, grad in (("dK", dK), ("dV", dV)):
        assert (grad.transpose(0, 2, 1, 3)[seen_by_nobody] == 0).all(), f"{name} of a key no query sees is not 0"
