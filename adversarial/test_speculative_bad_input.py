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
