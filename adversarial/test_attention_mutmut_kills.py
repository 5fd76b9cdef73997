"""Flash-attention tests that kill mutmut survivors the rest of the suite let through.

Each test names the mutant it was written for (the survivor's changed line in impl/attention.py);
they check CONTRACTS §2 and the project rule that a bad argument raises a ValueError naming it.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from adversarial.rejections import rejects
from properties.applicability import not_applicable
from properties.attention_assertions import assert_float16_rounded_from_float32, assert_matches_oracle
from properties.attention_strategies import AttentionCase
from properties.float16_convention import check_float16_accumulation


def _qkv(Nq: int, Nk: int, D: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((1, 2, Nq, D)), rng.standard_normal((1, 2, Nk, D)), rng.standard_normal((1, 2, Nk, D))


def test_causal_is_the_default(flash_impl):
    # (`causal=True` -> `causal=False` in the signature.) The fixture always passes `causal`, so the
    # call goes to the function itself, without it; CONTRACTS §2 makes causal the default.
    parameter = inspect.signature(flash_impl.fn).parameters.get("causal")
    if parameter is None or parameter.default is inspect.Parameter.empty:
        pytest.skip("the implementation under test has no default for causal")
    Q, K, V = _qkv(5, 5)
    causal = np.asarray(flash_impl(Q, K, V, tile_size=2, causal=True))
    assert not np.allclose(causal, np.asarray(flash_impl(Q, K, V, tile_size=2, causal=False)))
    assert np.array_equal(np.asarray(flash_impl.fn(Q, K, V, 2)), causal)


def test_float16_inputs_accumulate_in_at_least_float32(flash_impl):
    """Float16 inputs are accumulated in at least float32, never in the float16 output tile.

    (Kills `self._O = None if out_dtype == dtype else ...` -> always None, and kin: O accumulated in
    the float16 output tile.) Rounded once from a float32 accumulator, every output is within one
    float16 step of the float64 truth (plus float32 rounding); summing 32 tiles into a float16
    accumulator rounds 32 times and strays several steps."""
    rng = np.random.default_rng(7)
    Q, K, V = (rng.standard_normal((1, 2, 256, 16)).astype(np.float16) for _ in range(3))
    out = np.asarray(flash_impl(Q, K, V, tile_size=8, causal=True))
    case = AttentionCase(Q, K, V, 8, 8, True)
    # Outside code may compute in float16 (an extension), but not beyond float16's own accuracy.
    check_float16_accumulation(flash_impl, lambda: assert_float16_rounded_from_float32(out, case),
                               lambda: assert_matches_oracle(out.astype(np.float64), case))


@pytest.mark.parametrize(
    ("option", "name"),
    [({"tile_size": 0}, "tile_size"), ({"tile_size": 2, "kv_tile_size": 0}, "kv_tile_size")],
    ids=["tile_size", "kv_tile_size"],
)
def test_bad_tile_size_error_names_the_argument(flash_impl, option, name):
    # (`_check_tile_size("tile_size", ...)` -> `"XXtile_sizeXX"`: the message must name the argument
    # itself, not a word that contains it.)
    Q, K, V = _qkv(3, 3)
    with rejects(flash_impl, rf"(?<![\w]){name}\b"):
        flash_impl(Q, K, V, causal=True, **option)


def test_observer_state_is_read_only(flash_impl):
    # (`view.flags.writeable = False` -> `True`: an observer could then corrupt the running state.)
    flash_impl.require("observer")
    Q, K, V = _qkv(4, 4)
    refused = []

    def try_to_write(update):
        for name in ("m", "l", "O", "correction"):
            with pytest.raises(ValueError, match="read-only"):
                getattr(update, name)[...] = 0.0
            refused.append(name)

    flash_impl(Q, K, V, tile_size=2, causal=True, observer=try_to_write)
    assert refused  # the observer was called


def test_rows_that_see_no_key_get_lse_minus_inf_without_warnings(flash_impl):
    # (`np.log(l, out=lse, where=l > 0)` -> no `where`: log(0) gives the same -inf, with a
    # "divide by zero" RuntimeWarning for every such row.) With Nq = 4 > Nk = 2 and bottom-right
    # causal alignment, query i sees key j iff j <= i - 2, so queries 0 and 1 see no key.
    flash_impl.require("return_lse", "cross_length")
    Q, K, V = _qkv(4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, lse = flash_impl(Q, K, V, tile_size=2, causal=True, return_lse=True)
    assert np.all(out[:, :, :2] == 0.0)
    assert np.all(lse[:, :, :2] == -np.inf) and np.all(np.isfinite(lse[:, :, 2:]))


def test_default_tile_size_is_128(flash_impl):
    """(`tile_size=128` -> `129` in the signature.) CONTRACTS §2 gives the reference's `tile_size` a
    default of 128, and the tiling is visible: the observer reports the query ranges (and the tiling
    decides the summation order of every output). docs/CONTRACT.md asks outside code for no default."""
    if not flash_impl.is_reference:
        not_applicable("the user contract fixes no default tile size")
    Q, K, V = _qkv(130, 130)
    query_ranges = set()
    flash_impl.fn(Q, K, V, causal=False, observer=lambda update: query_ranges.add(tuple(update.q_range)))
    assert sorted(query_ranges) == [(0, 128), (128, 130)], f"query tiles {sorted(query_ranges)}, expected 128 rows each"
