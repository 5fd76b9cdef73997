"""Mixed input dtypes accumulate in their common dtype (CONTRACTS §2 and §2b): a float64 operand keeps
float64 precision even when the others are float32; and beam search sums float64 log-probabilities
whatever the dtype of the model's logits.

A kernel that promotes only some of its operands (`np.result_type(K, V, np.float32)`, Q left out)
still returns an output close to the truth, within float32's error; only a float64 tolerance sees
that the float64 operand was rounded to float32 on the way. Every value below is exact in float32 or
float64 as given, so the float64 oracle is the truth and a float64 computation lands within ~1e-15 of it.
"""

from __future__ import annotations

import numpy as np
import pytest

from properties.attention_bwd_oracle import naive_attention_bwd, rounding_scales
from properties.attention_oracle import naive_attention, naive_log_sum_exp
from properties.beam_models import TinyLM

# A float64 accumulation misses the float64 truth by ~1e-15 of the output's scale here; one in float32
# by ~1e-7. Anything between is a kernel rounding some operand to float32.
FLOAT64_RELATIVE_ERROR = 1e-10
SHAPE = dict(B=1, H=2, N=48, D=8)


def _arrays(dtypes, seed=0):
    rng = np.random.default_rng(seed)
    B, H, N, D = SHAPE.values()
    return tuple(rng.standard_normal((B, H, N, D)).astype(dtype) for dtype in dtypes)


def test_float64_queries_with_float32_keys_accumulate_in_float64(flash_impl, record_property):
    """Q float64, K and V float32: the output (float64, Q's dtype) is float64-accurate. (Kills the
    promotion that drops Q, `acc_dtype = np.result_type(K, V, np.float32)`: the queries are rounded to
    float32 and the output is off by ~1e-7, 1e8 times the float64 error.)"""
    Q, K, V = _arrays((np.float64, np.float32, np.float32))
    out = np.asarray(flash_impl(Q, K, V, 16, causal=True))
    truth = naive_attention(Q, K, V, causal=True)
    error = float(np.abs(out.astype(np.float64) - truth).max() / np.abs(V).max())
    record_property("mixed_dtype_relative_error", float(f"{error:.3g}"))
    assert out.dtype == np.float64, f"output dtype {out.dtype}, expected Q's float64"
    assert error <= FLOAT64_RELATIVE_ERROR, (
        f"float64 Q with float32 K, V misses the float64 truth by {error:.2g} of max|V|, allowed "
        f"{FLOAT64_RELATIVE_ERROR:g}: the queries were rounded to float32")


def test_float64_keys_give_a_float64_log_sum_exp(flash_impl):
    """K float64, Q and V float32: lse comes in the accumulation dtype, float64, and float64-accurate.
    (Kills the promotion that drops K: the keys rounded to float32, lse float32.)"""
    flash_impl.require("return_lse")
    Q, K, V = _arrays((np.float32, np.float64, np.float32))
    _, lse = flash_impl(Q, K, V, 16, causal=True, return_lse=True)
    lse = np.asarray(lse)
    error = float(np.abs(lse - naive_log_sum_exp(Q, K, causal=True)).max())
    assert lse.dtype == np.float64 and error <= FLOAT64_RELATIVE_ERROR, (
        f"lse of float64 keys is {lse.dtype}, {error:.2g} from the float64 truth: the keys were rounded to float32")


@pytest.mark.parametrize("wide", ["Q", "K", "V"])
def test_float64_operand_keeps_float64_precision_in_its_gradient(flash_bwd_impl, record_property, wide):
    """One of Q, K, V float64, the others float32 (dO, O and lse float64): that operand's gradient
    (float64, its dtype) is float64-accurate. (Kills each backward promotion that drops an operand,
    `np.result_type(K, V, np.float32)` and kin: the gradient then carries float32 rounding.)"""
    dtypes = [np.float64 if name == wide else np.float32 for name in "QKV"]
    Q, K, V = _arrays(dtypes)
    dO = _arrays((np.float64,), seed=1)[0]
    O = naive_attention(Q, K, V, causal=True)  # noqa: E741
    lse = naive_log_sum_exp(Q, K, causal=True)
    grads = dict(zip("QKV", flash_bwd_impl(Q, K, V, O, dO, lse, 16, causal=True), strict=True))
    truth = dict(zip("QKV", naive_attention_bwd(Q, K, V, dO, causal=True), strict=True))
    scale = dict(zip("QKV", rounding_scales(Q, K, V, dO, causal=True), strict=True))
    grad = np.asarray(grads[wide])
    error = float(np.abs(grad.astype(np.float64) - truth[wide]).max() / scale[wide])
    record_property(f"mixed_dtype_relative_error_d{wide}", float(f"{error:.3g}"))
    assert grad.dtype == np.float64, f"d{wide} has dtype {grad.dtype}, expected {wide}'s float64"
    assert error <= FLOAT64_RELATIVE_ERROR, (
        f"d{wide} of a float64 {wide} among float32 operands misses the float64 truth by {error:.2g} of its "
        f"scale, allowed {FLOAT64_RELATIVE_ERROR:g}: the backward accumulated in float32")


def test_float32_logits_give_float64_log_probabilities(beam_impl, record_property):
    """A model that returns float32 logits: each hypothesis's logprob is the float64 sum of the float64
    log-softmax of those logits, as it is for a float64 model (the search's sums are float64 Python
    floats either way). (Kills `np.asarray(raw, dtype=None)` and kin: the log-softmax then runs in
    float32 and every step adds ~1e-7 of rounding to the sums the beams are ranked by.)"""
    lm = TinyLM(seed=5, vocab_size=40)

    def float32_model(seqs):
        return np.asarray(lm(seqs), np.float32)

    prompts = [[3, 1, 4], [15, 9]]
    error = 0.0
    for prompt, hyps in zip(prompts, beam_impl(float32_model, prompts, 3, 5, 0), strict=True):
        for hyp in hyps:
            seq, total = list(prompt), 0.0
            for token in hyp.tokens:
                logits = float32_model([seq])[0].astype(np.float64)
                total += float(logits[token] - logits.max() - np.log(np.exp(logits - logits.max()).sum()))
                seq.append(token)
            error = max(error, abs(hyp.logprob - total) / max(1.0, abs(total)))
    record_property("float32_logits_logprob_relative_error", float(f"{error:.3g}"))
    assert error <= FLOAT64_RELATIVE_ERROR, (
        f"logprobs of float32 logits are {error:.2g} (relative) from their float64 log-softmax sums, allowed "
        f"{FLOAT64_RELATIVE_ERROR:g}: the search computed its log-softmax in float32")
