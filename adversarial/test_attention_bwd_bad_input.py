"""Bad input to the backward: a ValueError naming the argument, as the forward does (docs/CONTRACT.md).
Hardening tier: outside code passes a case with any exception that has a message (adversarial/rejections.py)."""

import numpy as np
import pytest

from adversarial.rejections import rejects
from properties.attention_bwd_oracle import forward_saved

rng = np.random.default_rng(31)
Q, K, V, dO = (rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(4))
OUT, LSE = forward_saved(Q, K, V)


def _with(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    bad = array.copy()
    bad[index] = value
    return bad


# name -> (the arguments that differ from a valid call, the start of the expected message)
BAD_INPUTS = {
    # Shared with the forward.
    "Q_rank_3": ({"Q": Q[0]}, "Q must"),
    "K_V_shape_mismatch": ({"V": V[:, :, :2]}, "K and V must have the same shape"),
    "head_dim_mismatch": ({"K": K[..., :3], "V": V[..., :3]}, "K and V must match Q"),
    "integer_Q": ({"Q": Q.astype(np.int32)}, "Q must"),
    "NaN_in_V": ({"V": _with(V, (0, 0, 0, 0), np.nan)}, "V must be finite"),
    "tile_size_zero": ({"tile_size": 0}, "tile_size must"),
    "kv_tile_size_float": ({"kv_tile_size": 2.5}, "kv_tile_size must"),
    "mask_wrong_shape": ({"key_padding_mask": np.ones((1, 4), bool)}, "key_padding_mask must"),
    "mask_not_bool": ({"key_padding_mask": np.ones((1, 3), np.int8)}, "key_padding_mask must"),
    # The backward's own arguments.
    "O_wrong_shape": ({"O": OUT[:, :, :2]}, "O must"),
    "O_integer": ({"O": OUT.astype(np.int64)}, "O must"),
    "O_inf": ({"O": _with(OUT, (0, 1, 2, 3), np.inf)}, "O must be finite"),
    "dO_wrong_shape": ({"dO": dO[..., :3]}, "dO must"),
    "dO_NaN": ({"dO": _with(dO, (0, 0, 1, 0), np.nan)}, "dO must be finite"),
    "lse_wrong_shape": ({"lse": LSE[..., None]}, "lse must"),
    "lse_integer": ({"lse": LSE.astype(np.int32)}, "lse must"),
    "lse_NaN": ({"lse": _with(LSE, (0, 1, 0), np.nan)}, "lse must"),
    "lse_plus_inf": ({"lse": _with(LSE, (0, 0, 2), np.inf)}, "lse must"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_raises_value_error_naming_the_argument(flash_bwd_impl, name):
    changed, message = BAD_INPUTS[name]
    args = {"Q": Q, "K": K, "V": V, "O": OUT, "dO": dO, "lse": LSE, "tile_size": 2, **changed}
    options = {k: args.pop(k) for k in ("kv_tile_size", "key_padding_mask") if k in args}
    with rejects(flash_bwd_impl, f"^{message}"):
        flash_bwd_impl(*args.values(), causal=True, **options)

