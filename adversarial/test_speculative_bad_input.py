"""Every bad input of docs/CONTRACT.md (DFlash) raises ValueError with a message naming the argument.
Hardening tier: outside code passes a case with any exception that has a message (adversarial/rejections.py)."""

from __future__ import annotations

import numpy as np
import pytest

from adversarial.rejections import rejects

GOOD = {"prompt_tokens": [0, 1], "tree_tokens": [2, 3], "tree_parents": [-1, 0], "logits": np.zeros((4, 5)),
        "temperature": 0.0}
UNIFORM = np.full((2, 5), 0.2)


@pytest.mark.parametrize(("change", "name"), [
    pytest.param({"tree_parents": [0, -1]}, "tree_parents", id="parent-not-topological"),
    pytest.param({"tree_parents": [-1, 1]}, "tree_parents", id="node-its-own-parent"),
    pytest.param({"tree_parents": [-2, 0]}, "tree_parents", id="parent-below-minus-one"),
    pytest.param({"tree_tokens": [2, 3, 4], "logits": np.zeros((5, 5))}, "tree_tokens", id="lengths-differ"),
    pytest.param({"tree_tokens": [2, 5]}, "tree_tokens", id="token-past-vocab"),
    pytest.param({"tree_tokens": [-1, 3]}, "tree_tokens", id="token-negative"),
    pytest.param({"logits": np.zeros((3, 5))}, "logits", id="logits-missing-a-row"),
    pytest.param({"logits": np.full((4, 5), np.nan)}, "logits", id="logits-nan"),
    pytest.param({"prompt_tokens": []}, "prompt_tokens", id="empty-prompt"),
    pytest.param({"temperature": -0.5}, "temperature", id="temperature-negative"),
    pytest.param({"temperature": float("inf")}, "temperature", id="temperature-infinite"),
    pytest.param({"temperature": float("nan")}, "temperature", id="temperature-nan"),
])
def test_bad_verify_input_raises_value_error_naming_it(dflash_impl, change, name):
    args = {**GOOD, **change}
    with rejects(dflash_impl, rf"\b{name}\b"):
        dflash_impl.verify_tree(args["prompt_tokens"], args["tree_tokens"], args["tree_parents"], args["logits"],
                                args["temperature"])


@pytest.mark.parametrize(("draft_probs", "rng"), [
    pytest.param(np.full((2, 5), 0.3), np.random.default_rng(0), id="rows-not-summing-to-one"),
    pytest.param(np.array([[1.2, -0.2, 0, 0, 0]] * 2), np.random.default_rng(0), id="negative-entry"),
    pytest.param(np.full((3, 5), 0.2), np.random.default_rng(0), id="a-row-too-many"),
    pytest.param(np.array([[1.0, 0, 0, 0, 0]] * 2), np.random.default_rng(0), id="drafted-token-has-probability-0"),
    pytest.param(None, np.random.default_rng(0), id="missing"),
])
def test_bad_draft_distribution_raises_value_error_naming_it(dflash_impl, draft_probs, rng):
    dflash_impl.require("sampling")
    with rejects(dflash_impl, r"\bdraft_probs\b"):
        dflash_impl.verify_tree([0, 1], [2, 3], [-1, 0], np.zeros((4, 5)), 1.0, draft_probs=draft_probs, rng=rng)


def test_sampling_without_an_rng_is_refused(dflash_impl):
    """temperature > 0 with no rng would be unreproducible: the contract asks for one."""
    dflash_impl.require("sampling")
    with rejects(dflash_impl, r"\brng\b"):
        dflash_impl.verify_tree([0, 1], [2, 3], [-1, 0], np.zeros((4, 5)), 1.0, draft_probs=UNIFORM, rng=object())


@pytest.mark.parametrize(("prompt_len", "parents", "name"), [
    pytest.param(0, [], "prompt_len", id="prompt-len-zero"),
    pytest.param(2, [-1, 2], "tree_parents", id="parent-after-child"),
])
def test_bad_mask_input_raises_value_error_naming_it(dflash_impl, prompt_len, parents, name):
    with rejects(dflash_impl, rf"\b{name}\b"):
        dflash_impl.build_tree_mask(prompt_len, parents)


def _never_called(*args):
    raise AssertionError("the loop ran although its arguments were bad")


@pytest.mark.parametrize(("change", "name"), [
    pytest.param({"prompt": []}, "prompt", id="empty-prompt"),
    pytest.param({"prompt": [1, -2]}, "prompt", id="negative-prompt-token"),
    pytest.param({"max_new_tokens": 0}, "max_new_tokens", id="no-tokens-asked"),
    pytest.param({"max_new_tokens": 2.0}, "max_new_tokens", id="float-budget"),
    pytest.param({"temperature": -1.0}, "temperature", id="temperature-negative"),
    pytest.param({"temperature": 0.5}, "rng", id="sampling-without-rng"),
])
def test_bad_decode_input_raises_value_error_naming_it(dflash_impl, change, name):
    """Checked before any model call (mutmut: a dropped or renamed check in speculative_decode)."""
    args = {"prompt": [1, 2], "max_new_tokens": 3, "temperature": 0.0, **change}
    if args["temperature"] > 0:
        dflash_impl.require("sampling")
    with rejects(dflash_impl, rf"\b{name}\b"):
        dflash_impl.speculative_decode(_never_called, _never_called, args["prompt"], args["max_new_tokens"],
                                       args["temperature"])


@pytest.mark.parametrize(("change", "name"), [
    pytest.param({"prompt_tokens": [0, 1.0]}, "prompt_tokens", id="float-prompt-token"),
    pytest.param({"tree_tokens": [True, 3]}, "tree_tokens", id="bool-tree-token"),
    pytest.param({"tree_parents": [-1, 0.0]}, "tree_parents", id="float-parent"),
])
def test_ids_that_are_not_ints_are_refused(dflash_impl, change, name):
    """A float or bool id in range is still not an id (mutmut: the type test joined to the range test by `and`
    in _checked_tokens or _checked_parents, which leaves only the range)."""
    args = {**GOOD, **change}
    with rejects(dflash_impl, rf"\b{name}\b"):
        dflash_impl.verify_tree(args["prompt_tokens"], args["tree_tokens"], args["tree_parents"], args["logits"],
                                args["temperature"])


def test_token_errors_state_the_allowed_range(dflash_impl):
    """The message says what a token may be: [0, vocab) for the tree, >= 0 for the prompt (mutmut: the bound
    dropped, swapped or garbled in _checked_tokens)."""
    with rejects(dflash_impl, r"\btree_tokens\b", r"in \[0, 5\), got 5\b"):
        dflash_impl.verify_tree([0, 1], [2, 5], [-1, 0], np.zeros((4, 5)), 0.0)
    with rejects(dflash_impl, r"\bprompt\b", r"in >= 0, got -2\b"):
        dflash_impl.speculative_decode(_never_called, _never_called, [1, -2], 3, 0.0)


def test_logits_shape_error_states_the_expected_rows(dflash_impl):
    """P + N rows are expected, P = 2 prompt tokens and N = 2 nodes (mutmut: P - N in the message)."""
    with rejects(dflash_impl, r"\blogits\b", r"\(4, vocab\)"):
        dflash_impl.verify_tree([0, 1], [2, 3], [-1, 0], np.zeros((3, 5)), 0.0)


@pytest.mark.parametrize("temperature", [
    pytest.param(-0.5, id="negative"),
    pytest.param(float("inf"), id="infinite"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(True, id="bool"),
])
def test_bad_temperature_is_refused_with_every_sampling_argument_given(dflash_impl, temperature):
    """With valid draft_probs and rng nothing else can raise, so only the temperature check can refuse
    (mutmut: `or` turned into `and` in _checked_temperature, or the bool test dropped)."""
    dflash_impl.require("sampling")
    with rejects(dflash_impl, r"\btemperature\b"):
        dflash_impl.verify_tree([0, 1], [2, 3], [-1, 0], np.zeros((4, 5)), temperature, draft_probs=UNIFORM,
                                rng=np.random.default_rng(0))


def test_negative_draft_entry_is_refused_off_the_drafted_tokens(dflash_impl):
    """A row with a negative entry that still sums to 1 and gives the drafted tokens 2 and 3 probability > 0
    (mutmut: the finite and non-negative tests joined by `and`)."""
    dflash_impl.require("sampling")
    with rejects(dflash_impl, r"\bdraft_probs\b"):
        dflash_impl.verify_tree([0, 1], [2, 3], [-1, 0], np.zeros((4, 5)), 1.0,
                                draft_probs=np.array([[0.6, -0.2, 0.3, 0.3, 0.0]] * 2), rng=np.random.default_rng(0))


class _OnlyRandom:
    def random(self):
        return 0.5


class _OnlyChoice:
    def choice(self, n, p=None):
        return 0


@pytest.mark.parametrize("rng", [
    pytest.param(_OnlyRandom(), id="no-choice"),
    pytest.param(_OnlyChoice(), id="no-random"),
    pytest.param("seed", id="a-string"),
])
def test_rng_without_random_and_choice_is_refused_naming_its_type(dflash_impl, rng):
    """Both methods are needed, and the message names what was passed (mutmut: `and` turned into `or`, a
    getattr without its default, the type's name replaced by NoneType's)."""
    dflash_impl.require("sampling")
    with rejects(dflash_impl, r"\brng\b", rf"\b{type(rng).__name__}\b"):
        dflash_impl.verify_tree([0, 1], [2, 3], [-1, 0], np.zeros((4, 5)), 1.0, draft_probs=UNIFORM, rng=rng)


@pytest.mark.parametrize("proposal", [
    pytest.param(([2],), id="one-item"),
    pytest.param(([2], [-1], None, None), id="four-items"),
])
def test_draft_returning_the_wrong_number_of_items_is_refused(dflash_impl, proposal):
    """draft returns (tree_tokens, tree_parents[, draft_probs]) (mutmut: the message replaced by None)."""
    with rejects(dflash_impl, r"\bdraft\b"):
        dflash_impl.speculative_decode(_never_called, lambda tokens: proposal, [1, 2], 3, 0.0)
