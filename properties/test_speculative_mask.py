"""The tree attention mask, and what it is for: a tree pass is EXACT, not an approximation.

Kills a mask that lets siblings (or cousins, or other branches) be seen, that forgets the prompt or an
ancestor, or that is not causal on the prompt; and, through a target that reads each row's position
off the mask, any mask that puts a node at the wrong position.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from properties.speculative_models import GreedyDraft
from properties.speculative_oracle import ancestor_mask, one_step_rows
from properties.speculative_strategies import VOCAB, target_model, tree_parents


@given(prompt_len=st.integers(1, 6), parents=tree_parents(max_nodes=10))
@example(prompt_len=1, parents=[])
@example(prompt_len=2, parents=[-1, -1, 0, 1, 2])  # two branches: no node sees the other branch
def test_mask_equals_ancestor_oracle(dflash_impl, prompt_len, parents):
    """The mask is the prompt's causal mask plus, per node, the prompt, itself and its ancestors."""
    got = dflash_impl.build_tree_mask(prompt_len, parents)
    expected = ancestor_mask(prompt_len, parents)
    assert got.shape == expected.shape, f"mask shape {got.shape}, expected {expected.shape}"
    wrong = np.argwhere(got != expected)
    assert not len(wrong), (f"P={prompt_len}, parents {parents}: {len(wrong)} entries differ, first (row, column) "
                            f"{tuple(wrong[0])}: got {got[tuple(wrong[0])]}")


@given(seed=st.integers(0, 3), prompt=st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=5),
       parents=tree_parents(min_nodes=1, max_nodes=8), shift=st.integers(0, VOCAB - 1))
@example(seed=0, prompt=[1, 2, 3], parents=[-1, -1, 0, 1, 2, 2], shift=0)
def test_tree_pass_rows_equal_autoregressive_rows(dflash_impl, seed, prompt, parents, shift):
    """Each node's row of one tree pass equals the last row of the causal pass over prompt + its path."""
    target = target_model(seed)
    tokens, _ = GreedyDraft(target, parents, [[shift] * len(parents)])(prompt)
    tree_rows = target(prompt + tokens, dflash_impl.build_tree_mask(len(prompt), parents))[len(prompt):]
    expected = one_step_rows(target, prompt, tokens, parents)
    close = np.isclose(tree_rows, expected, rtol=1e-9, atol=1e-9).all(axis=1)
    assert close.all(), (f"parents {parents}: the tree rows of nodes {np.flatnonzero(~close).tolist()} differ from "
                         "their autoregressive rows (a node sees the wrong positions, or sits at the wrong one)")
