"""Checks the forward-attention tests share, each failing with a message that says what went wrong.

`killmatrix check` and `grade` show the first line of a failure to whoever wrote the code under test,
so "assert np.False_" is not enough: say how many outputs, which kind of row, and how far off.
"""

from __future__ import annotations

import numpy as np

from properties.attention_oracle import naive_attention, oracle_and_bound, visible_keys
from properties.attention_strategies import AttentionCase


def assert_matches_oracle(out, case: AttentionCase) -> None:
    """Within the dtype's rounding bound of the float64 oracle (NaN counts as infinitely far)."""
    truth, bound = oracle_and_bound(*case.oracle_args)
    error = np.nan_to_num(np.abs(np.asarray(out, np.float64) - truth), nan=np.inf, posinf=np.inf).max()
    assert error <= bound, f"max error {error:.3g} against the float64 oracle, allowed {bound:.3g}"


# float32 rounding on top of the final float16 rounding, in units of float32 eps times max|V|.
FLOAT32_SLACK = 8


def assert_float16_rounded_from_float32(out, case: AttentionCase) -> None:
    """Float16 `out` lies within one float16 step (at the truth's magnitude) of the float64 truth, plus
    float32 rounding: what accumulating in float32 and rounding once to float16 gives. The reference
    uses at most half of it (0.50 of a step over 300 cases of the whole strategy)."""
    truth = naive_attention(*case.oracle_args)
    v_max = float(np.abs(case.V.astype(np.float64)).max())
    step = np.spacing(np.abs(truth).astype(np.float16)).astype(np.float64)
    allowed = step + FLOAT32_SLACK * float(np.finfo(np.float32).eps) * v_max
    steps = np.nan_to_num(np.abs(np.asarray(out, np.float64) - truth) / allowed, nan=np.inf)
    assert out.dtype == np.float16, f"output dtype {out.dtype}, expected float16"
    assert (steps <= 1).all(), (f"{np.count_nonzero(steps > 1)} of {steps.size} float16 outputs stray from the "
                                f"float64 truth by up to {steps.max():.1f} float16 steps, allowed 1 "
                                "(float32 accumulation rounded once)")


def assert_no_nan(out, *, nor_inf: bool = False) -> None:
    bad = ~np.isfinite(out) if nor_inf else np.isnan(out)
    kind = "NaN or inf" if nor_inf else "NaN"
    assert not bad.any(), f"{np.count_nonzero(bad)} of {bad.size} outputs are {kind}"


def blind_rows(case: AttentionCase) -> np.ndarray:
    """(B, 1, Nq): the query rows that see no key (causal boundary or padding)."""
    B, _, Nq, _ = case.Q.shape
    return ~visible_keys(Nq, case.K.shape[2], case.causal, case.key_padding_mask, B).any(axis=-1)


def assert_blind_rows_are_zero(out, case: AttentionCase, what: str = "output") -> None:
    """`out` (B, H, Nq, D), the output or dQ, is exactly 0 on every query row that sees no key."""
    out = np.asarray(out)
    rows = out[np.broadcast_to(blind_rows(case), out.shape[:3])]
    wrong = np.any(rows != 0, axis=-1)
    assert not wrong.any(), (f"{np.count_nonzero(wrong)} of {len(rows)} {what} rows that see no key are not "
                             f"exactly 0, first {rows[wrong][0][:4].tolist()}")
