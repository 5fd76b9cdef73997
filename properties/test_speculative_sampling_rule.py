"""The contract's sampling rule, step by step, on scripted uniforms (extension `sampling`).

The exact-distribution tests cannot see a walk that is lossless by another route (a duplicate sibling
skipped, nothing accepted at all), nor a rule that differs only on a measure-zero uniform. Here each
uniform is chosen, so the emitted tokens follow from the contract's rule alone: for the children of the
last accepted node, in index order, one uniform u each, accepted iff u < min(1, p(x)/q(x)), else
p <- normalize(max(0, p - q)); then one uniform for the draw from p (inverting its CDF, as
numpy's choice does). Prompt [0], so row 0 is the target's prediction after the prompt.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from properties.speculative_models import ScriptedUniforms

_HALVES = np.zeros((2, 2))  # p = [1/2, 1/2] exactly at every row
_SKEWED = np.vstack([np.log([0.1, 0.4, 0.5]), np.zeros((2, 3))])  # after the prompt: p = [.1, .4, .5]
_FAR_APART = np.array([[800.0, 0.0], [0.0, 800.0]])  # exp(800) overflows float64 unless the max is taken off


@pytest.mark.parametrize(("logits", "temperature", "tokens", "parents", "draft_probs", "uniforms", "expected"), [
    # u = p/q = 1/2 exactly: u < 1/2 is false, so rejected; the residual [0, 1] gives 1
    # (mutmut: `<=`; a draft row with a zero entry refused).
    pytest.param(_HALVES, 1.0, [0], [-1], [[1.0, 0.0]], [0.5, 0.25], [1], id="uniform-equal-to-the-ratio-rejects"),
    # u just below 1/2: accepted, then the bonus from p = [1/2, 1/2] at u = 1/4 gives 0
    # (mutmut: a sentinel that lets no root compete when sampling, which accepts nothing).
    pytest.param(_HALVES, 1.0, [0], [-1], [[1.0, 0.0]], [0.4999, 0.25], [0, 0], id="uniform-below-the-ratio-accepts"),
    # The draft probabilities as exact Fractions, read as numbers (mutmut: no float64 conversion of draft_probs,
    # an object array that isfinite refuses).
    pytest.param(_HALVES, 1.0, [0], [-1], [[Fraction(1), Fraction(0)]], [0.4999, 0.25], [0, 0],
                 id="fraction-draft-probabilities"),
    # Two roots drafting the same token: the first rejected (u = .9 > .2), the second judged too against the
    # residual [0, 3/8, 5/8] (ratio 0, rejected at u = .1), leaving [0, 0, 1]: the draw gives 2. Skipping the
    # duplicate would draw from [0, 3/8, 5/8] at u = .1 and give 1 (mutmut: duplicates merged when sampling).
    pytest.param(_SKEWED, 1.0, [0, 0], [-1, -1], [[0.5, 0.25, 0.25], [0.2, 0.6, 0.2]], [0.9, 0.1, 0.5], [2],
                 id="rejected-duplicate-sibling-is-judged-again"),
    # Logits 800 apart: p = [1, 0], so the root drafting 1 is rejected (ratio 0) and the residual [1, 0] gives 0.
    # A NaN p would accept it, since min(1, nan) is 1 (mutmut: the max added to the scaled logits, not taken off).
    pytest.param(_FAR_APART, 1.0, [1], [-1], [[0.5, 0.5]], [0.7, 0.3], [0], id="logits-in-the-hundreds"),
    # float16 logits at T = 0.01: 1000 / 0.01 overflows float16, not float64 (mutmut: logits kept in the
    # caller's dtype).
    pytest.param(_FAR_APART.astype(np.float16) * np.float16(1.25), 0.01, [1], [-1], [[0.5, 0.5]], [0.7, 0.3],
                 [0], id="half-precision-logits-at-low-temperature"),
])
def test_walk_follows_the_rule_on_scripted_uniforms(dflash_impl, logits, temperature, tokens, parents, draft_probs,
                                                    uniforms, expected):
    dflash_impl.require("sampling")
    rng = ScriptedUniforms(uniforms)
    emitted = dflash_impl.verify_tree([0], tokens, parents, logits, temperature, draft_probs=draft_probs, rng=rng)
    assert emitted == expected, (f"tree {parents} tokens {tokens} on uniforms {uniforms}: emitted {emitted}, the "
                                 f"contract's rule gives {expected}")
    assert rng.used == len(uniforms), f"drew {rng.used} uniforms, the rule draws {len(uniforms)}"


def test_reference_accepts_draft_rows_within_its_tolerance(dflash_impl):
    """The reference reads a row as a distribution when np.allclose(sum, 1, atol=1e-6) (so within 1.1e-5,
    rtol included): 1.05e-5 off is accepted, 1e-4 off refused (mutmut: the atol dropped, which narrows the
    tolerance to 1.001e-5). Outside code may choose its own tolerance: reference only."""
    if not dflash_impl.is_reference:
        pytest.skip("the tolerance on draft rows is the reference's choice")
    emitted = dflash_impl.verify_tree([0], [0], [-1], _HALVES, 1.0, draft_probs=[[1.0 + 1.05e-5, 0.0]],
                                      rng=ScriptedUniforms([0.4999, 0.25]))
    assert emitted == [0, 0], f"emitted {emitted}"
    with pytest.raises(ValueError, match=r"\bdraft_probs\b"):
        dflash_impl.verify_tree([0], [0], [-1], _HALVES, 1.0, draft_probs=[[1.0 + 1e-4, 0.0]],
                                rng=ScriptedUniforms([0.4999, 0.25]))


def test_decode_loop_hands_the_draft_probabilities_and_the_rng_to_the_walk(dflash_impl):
    """One sampling cycle of speculative_decode on scripted uniforms: p = [1/4, 3/4] at every row, the root
    drafts 1 from q = [1/2, 1/2] (ratio 3/2, accepted at u = .9), the bonus draws 0 from p at u = .1. The
    only other sampling decode test is the slow chi-square one, so without this mutmut's own run misses
    a loop that drops or garbles draft_probs, the rng or the temperature on the way to the walk (mutmut:
    draft_probs None or proposal[3], rng None, the temperature argument dropped, so greedy: [1, 1])."""
    dflash_impl.require("sampling")
    rows = np.log([0.25, 0.75])

    def target(tokens, mask):
        return np.tile(rows, (len(tokens), 1))

    def draft(tokens):
        return [1], [-1], np.array([[0.5, 0.5]])

    rng = ScriptedUniforms([0.9, 0.1])
    got = dflash_impl.speculative_decode(target, draft, [0], 2, 1.0, rng=rng)
    assert got == [1, 0], f"emitted {got}; the rule on uniforms [.9, .1] gives [1, 0]"
    assert rng.used == 2, f"drew {rng.used} uniforms, the rule draws 2"
