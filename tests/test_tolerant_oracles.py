"""The convention-tolerant oracles: outside code may break exact ties its own way, compute float16 in
float16 and align a causal Nq != Nk mask top-left; the reference stays held to CONTRACTS' own choices.

Each test names the false verdict it guards against: a correct outside implementation failing (the
tolerance is missing) or a wrong one passing (the tolerance is too wide).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _pytest.outcomes import Skipped

from adversarial.test_beam_eos_schedules import test_finished_wins_a_tie_with_unfinished as seed_tie_test
from impl.attention import flash_attention_fwd
from impl.attention_bwd import flash_attention_bwd
from killmatrix.outside.adapters import BeamTarget, FlashBwdTarget, FlashTarget, _probe_gradients
from properties.beam_oracle_policy import TooManyTies, policy_branches
from properties.beam_schedules import BeamSchedule, logit_row
from properties.beam_tie_tolerance import assert_greedy_up_to_ties, assert_policy_allows
from properties.float16_convention import check_float16_accumulation

# Tokens 1 and 2 tie exactly at -1.0 after the prompt; token 0 (EOS) trails at log(1 - 2e^-1) = -1.33.
TIED_PAIR = BeamSchedule(vocab_size=3, eos_token_id=0, prompts=((1,),), beam_width=2, max_new_tokens=1, alpha=0.6,
                         table={(1,): logit_row(3, {1: -1.0, 2: -1.0})})
# The same without the tie: token 1 at -0.3 clearly ahead of token 2 at -1.5.
CLEAR_ORDER = TIED_PAIR.replace(table={(1,): logit_row(3, {1: -0.3, 2: -1.5})})


def _canned(*results):
    """A beam search that returns these token lists for its one prompt, with their true logprobs."""
    def search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
        out = []
        for tokens in results:
            lps = [0.0]
            seq = list(prompts[0])
            for t in tokens:
                row = np.asarray(model([seq])[0], float)
                lps.append(lps[-1] + float(row[t] - np.log(np.exp(row - row.max()).sum()) - row.max()))
                seq.append(t)
            out.append((list(tokens), lps[-1]))
        return [out]
    return search


def _outside(fn) -> BeamTarget:
    return BeamTarget(fn=fn, name="outside")


@pytest.mark.parametrize("order", [((1,), (2,)), ((2,), (1,))])
def test_either_order_of_an_exact_tie_is_allowed(order):
    """(A first-index tie-break failing the policy oracle: the false failure issue 11 reports.)"""
    target = _outside(_canned(*order))
    assert_policy_allows(target, TIED_PAIR, TIED_PAIR.run(target))


def test_either_choice_at_a_tied_cut_is_allowed_but_not_a_worse_one():
    one = TIED_PAIR.replace(beam_width=1)
    for choice in ((1,), (2,)):
        target = _outside(_canned(choice))
        assert_policy_allows(target, one, one.run(target))
    worse = _outside(_canned((0,)))
    with pytest.raises(AssertionError, match="no tie-break of the policy"):
        assert_policy_allows(worse, one, one.run(worse))


def test_a_reorder_without_a_tie_is_rejected():
    """(The tolerance must not hide `beam-final-rank-by-raw-logprob`-like misorders.)"""
    target = _outside(_canned((2,), (1,)))
    with pytest.raises(AssertionError, match="not sorted by score"):
        assert_policy_allows(target, CLEAR_ORDER, CLEAR_ORDER.run(target))


def test_the_reference_keeps_the_contract_tie_break():
    """The reference (and every mutant, which runs as the reference) must order ties as CONTRACTS §3
    says: this is what kills beam-expansion-tie-order-differs."""
    reference_like = BeamTarget(fn=_canned((2,), (1,)), name="reference", is_reference=True)
    with pytest.raises(AssertionError, match="best first"):
        assert_policy_allows(reference_like, TIED_PAIR, TIED_PAIR.run(reference_like))


def test_the_seed_tie_stays_strict_for_outside_code():
    """A finished beam tied with an unfinished one must win, whoever wrote the code (the seed's gating
    case): an outside search that keeps the unfinished (1, 1, 1) fails."""
    keeps_unfinished = _outside(_canned((1, 1, 1, 0)))
    with pytest.raises(AssertionError):
        seed_tie_test(keeps_unfinished)
    seed_tie_test(_outside(_canned((1, 1, 3))))


def test_branching_is_capped():
    """Uniform rows tie everything: past the cap the oracle gives up instead of running for minutes."""
    wide = BeamSchedule(vocab_size=6, eos_token_id=0, prompts=((1,),), beam_width=3, max_new_tokens=3, alpha=0.0,
                        table={})
    with pytest.raises(TooManyTies):
        policy_branches(wide.model(), (1,), 3, 3, 0, 0.0, limit=10)


def test_greedy_accepts_any_tied_argmax_and_nothing_else():
    model = TIED_PAIR.model()
    for tokens in ((1,), (2,)):
        lp = -1.0
        assert_greedy_up_to_ties([_hyp(tokens, lp, 0.6)], model, (1,), 1, 0, 0.6)
    with pytest.raises(AssertionError, match="the most likely"):
        assert_greedy_up_to_ties([_hyp((0,), math.log(1 - 2 * math.exp(-1.0)), 0.6)], model, (1,), 1, 0, 0.6)


def _hyp(tokens, logprob, alpha):
    from properties.beam_hypothesis import Hyp

    return Hyp(tokens, logprob, logprob / len(tokens) ** alpha, False)


# float16: strict for the reference, an accepted convention for outside code, unless beyond float16 accuracy.

def _fails():
    raise AssertionError("outputs stray 12 float16 steps")


def test_float16_computed_in_float16_is_an_accepted_convention_for_outside_code():
    outside = FlashTarget(fn=flash_attention_fwd, name="outside")
    with pytest.raises(Skipped, match="accepted convention"):
        check_float16_accumulation(outside, _fails, lambda: None)


def test_float16_beyond_float16_accuracy_fails_outside_code():
    outside = FlashTarget(fn=flash_attention_fwd, name="outside")
    with pytest.raises(AssertionError, match="beyond"):
        check_float16_accumulation(outside, _fails, lambda: _raise("beyond float16 accuracy"))


def test_float16_stays_strict_for_the_reference():
    reference = FlashTarget(fn=flash_attention_fwd, name="reference", is_reference=True)
    with pytest.raises(AssertionError, match="float16 steps"):
        check_float16_accumulation(reference, _fails, lambda: None)


def _raise(message):
    raise AssertionError(message)


# Nq != Nk: probed with both causal alignments.

def _top_left_forward(Q, K, V, tile_size, causal=True):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if causal:
        scores = np.where(np.tri(Q.shape[2], K.shape[2], dtype=bool), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ V


def test_top_left_causal_alignment_is_unsupported_with_its_reason_not_a_failure():
    target = FlashTarget(fn=_top_left_forward, name="top-left")
    assert not target.supports("cross_length")
    with pytest.raises(Skipped, match="top-left"):
        target.require("cross_length")


def test_bottom_right_alignment_supports_cross_length():
    assert FlashTarget(fn=flash_attention_fwd, name="outside").supports("cross_length")
    assert FlashBwdTarget(fn=flash_attention_bwd, name="outside").supports("cross_length")


def test_a_causal_alignment_that_is_neither_stays_supported_so_the_tests_show_it():
    """(A mask that ignores causality when Nq != Nk is a bug, not a convention.)"""
    def ignores_causal(Q, K, V, tile_size, causal=True):
        return _top_left_forward(Q, K, V, tile_size, causal=False)

    assert FlashTarget(fn=ignores_causal, name="neither").supports("cross_length")


def test_top_left_backward_is_unsupported():
    def top_left_bwd(Q, K, V, O, dO, lse, tile_size, causal=True):  # noqa: E741
        return _probe_gradients(Q, K, V, dO, 0 if causal else None)[2:]

    assert not FlashBwdTarget(fn=top_left_bwd, name="top-left").supports("cross_length")


def test_kv_tile_size_is_dropped_for_a_target_without_it():
    """(An @example carrying kv_tile_size skipped whole correctness tests on the seed's signature.)"""
    def seed_signature(Q, K, V, tile_size, causal=True):
        return flash_attention_fwd(Q, K, V, tile_size, causal=causal)

    target = FlashTarget(fn=seed_signature, name="seed-signature")
    rng = np.random.default_rng(0)
    Q, K, V = (rng.standard_normal((1, 1, 9, 4)) for _ in range(3))
    np.testing.assert_allclose(target(Q, K, V, 4, kv_tile_size=3), flash_attention_fwd(Q, K, V, 4))
    with pytest.raises(Skipped, match="kv_tile_size"):
        target(Q, K, V, 4, kv_tile_size=0)  # an invalid one still needs the feature (a bad-input test)
