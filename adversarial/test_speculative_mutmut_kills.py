"""Kills for mutmut survivors of impl/speculative.py that no property reached: a degenerate vocabulary,
the mask's dtype, the default temperature, the number of target passes. Each test names its mutants."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from properties.speculative_models import PositionalLM
from properties.speculative_oracle import autoregressive_greedy


def test_one_token_vocabulary_is_a_vocabulary(dflash_impl):
    """With one token the target always agrees: every drafted 0, then the bonus 0 (mutmut: vocab >= 2 asked
    of the logits' second dimension)."""
    emitted = dflash_impl.verify_tree([0], [0, 0], [-1, 0], np.zeros((3, 1)), 0.0)
    assert emitted == [0, 0, 0], f"a one-token vocabulary emitted {emitted}"


def test_mask_is_boolean(dflash_impl):
    """The contract's mask is bool: a 0/1 float mask breaks a target that inverts it (`~mask`) (mutmut: the
    mask allocated with the default float dtype). Read unconverted, past the adapter's bool cast."""
    mask = np.asarray(dflash_impl._mask_fn(2, [-1, 0]))
    assert mask.dtype == np.bool_, f"build_tree_mask returned dtype {mask.dtype}, the contract asks bool"


def _default_of(fn, name):
    parameter = inspect.signature(fn).parameters.get(name) if fn is not None else None
    return inspect.Parameter.empty if parameter is None else parameter.default


def test_greedy_is_the_default_temperature(dflash_impl):
    """verify_tree and speculative_decode called without a temperature decode greedily, as the contract's
    `temperature=0.0` says (mutmut: a default of 1.0, which asks for draft_probs and an rng). The adapter
    always passes a temperature, so the functions are called directly; a signature without the default
    (the challenge text's verify_and_accept) is not asked."""
    verify, decode = dflash_impl.fn, dflash_impl._decode_fn
    asked = 0
    if not dflash_impl.verifies_from_model and _default_of(verify, "temperature") is not inspect.Parameter.empty:
        logits = np.zeros((3, 5))
        logits[1, 2], logits[2, 4] = 1.0, 1.0  # after the prompt: 2 (the root agrees); after the root: 4
        emitted = [int(t) for t in verify([0, 1], [2], [-1], logits)]
        assert emitted == [2, 4], f"verify_tree without a temperature emitted {emitted}, greedy gives [2, 4]"
        asked += 1
    if _default_of(decode, "temperature") is not inspect.Parameter.empty:
        target = PositionalLM(seed=1)
        got = [int(t) for t in decode(target, lambda tokens: ([], []), [4, 5], 3)]
        assert got == autoregressive_greedy(target, [4, 5], 3), f"speculative_decode without a temperature: {got}"
        asked += 1
    if not asked:
        pytest.skip(f"{dflash_impl.name} takes no default temperature")


def test_one_target_pass_per_cycle(dflash_impl):
    """An empty draft emits one token per cycle: a budget of 3 takes 3 passes, none after the budget is met
    (mutmut: `<=` in the loop's condition, one wasted pass whose tokens are cut off). The target refuses a
    sixth pass, so a loop that never reaches the budget (mutmut: `generated =` for `+=`) fails at once
    instead of running into the mutant timeout."""
    model, passes = PositionalLM(seed=2), []

    def target(tokens, mask):
        passes.append(len(tokens))
        assert len(passes) <= 5, f"a sixth target pass for a budget of 3 one-token cycles (contexts {passes})"
        return model(tokens, mask)

    got = dflash_impl.speculative_decode(target, lambda tokens: ([], []), [1, 2], 3)
    assert got == autoregressive_greedy(model, [1, 2], 3), f"emitted {got}"
    assert len(passes) == 3, f"{len(passes)} target passes for 3 one-token cycles"
