"""Bad input raises ValueError naming the argument, one test per kind of bad input in docs/CONTRACT.md
(flash forward). Hardening tier: outside code passes a case with any exception that has a message
(adversarial/rejections.py); the reference and its mutants are held to the ValueError and its message."""

import numpy as np
import pytest

from adversarial.rejections import rejects


def _qkv(B=1, H=2, Nq=5, Nk=5, D=4, dtype=np.float32):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((B, H, Nq, D)).astype(dtype),
            rng.standard_normal((B, H, Nk, D)).astype(dtype),
            rng.standard_normal((B, H, Nk, D)).astype(dtype))


@pytest.mark.parametrize("name", ["Q", "K", "V"])
def test_rejects_array_that_is_not_4d(flash_impl, name):
    # No 4 in any shape here, so a message mentioning 4 states the expected rank.
    arrays = dict(zip("QKV", _qkv(D=3), strict=True))
    arrays[name] = arrays[name][0]
    with rejects(flash_impl, name, r"4|four"):
        flash_impl(arrays["Q"], arrays["K"], arrays["V"], 2)


@pytest.mark.parametrize("name, shapes", [("Q", dict(Nq=0)), ("K", dict(Nk=0)), ("Q", dict(D=0))],
                         ids=["Nq=0", "Nk=0", "D=0"])
def test_rejects_empty_dimension(flash_impl, name, shapes):
    with rejects(flash_impl, name):
        flash_impl(*_qkv(**shapes), 4)


@pytest.mark.parametrize("axis", [0, 1, 3], ids=["B", "H", "D"])
def test_rejects_k_and_v_that_disagree_with_q_in_batch_heads_or_head_dim(flash_impl, axis):
    Q, K, V = _qkv(B=2)
    K, V = (np.concatenate([x, x], axis=axis) for x in (K, V))
    with rejects(flash_impl, "K"):
        flash_impl(Q, K, V, 4)


def test_rejects_k_and_v_of_different_shapes(flash_impl):
    Q, K, V = _qkv()
    with rejects(flash_impl, "V"):
        flash_impl(Q, K, V[:, :, :3], 4)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True, None], ids=repr)
def test_rejects_tile_size_that_is_not_a_positive_int(flash_impl, bad):
    with rejects(flash_impl, "tile_size"):
        flash_impl(*_qkv(), bad)


@pytest.mark.parametrize("bad", [0, -1, 3.0], ids=repr)
def test_rejects_kv_tile_size_that_is_not_a_positive_int(flash_impl, bad):
    with rejects(flash_impl, "kv_tile_size"):
        flash_impl(*_qkv(), 4, kv_tile_size=bad)


@pytest.mark.parametrize("shape", [(1, 4), (2, 5), (5,), (1, 1, 5)], ids=str)
def test_rejects_padding_mask_of_wrong_shape(flash_impl, shape):
    with rejects(flash_impl, "key_padding_mask"):
        flash_impl(*_qkv(), 4, key_padding_mask=np.ones(shape, bool))


@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.uint8])
def test_rejects_padding_mask_that_is_not_bool(flash_impl, dtype):
    with rejects(flash_impl, "key_padding_mask"):
        flash_impl(*_qkv(), 4, key_padding_mask=np.ones((1, 5), dtype))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.complex64, np.bool_])
def test_rejects_non_float_dtype(flash_impl, dtype):
    Q, K, V = _qkv()
    with rejects(flash_impl, "Q"):
        flash_impl(Q.astype(dtype), K, V, 4)


@pytest.mark.parametrize("name", ["Q", "K", "V"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_rejects_nan_or_inf_in_inputs(flash_impl, name, value):
    arrays = dict(zip("QKV", _qkv(), strict=True))
    arrays[name][0, 1, 2, 3] = value
    with rejects(flash_impl, name):
        flash_impl(arrays["Q"], arrays["K"], arrays["V"], 4)
