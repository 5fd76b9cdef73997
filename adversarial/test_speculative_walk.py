"""The accept walk on hand-built logits, one trap per test: each names the bug it catches.

Logits are written row by row (`_rows`): row P - 1 is the target's prediction after the prompt, row
P + i its prediction after node i. Rows a correct walk must not read hold a trap: the token a buggy
walk would wrongly accept there.
"""

from __future__ import annotations

import numpy as np
import pytest

from properties.speculative_models import GreedyDraft, PositionalLM
from properties.speculative_oracle import autoregressive_greedy

PROMPT = [0, 1]
VOCAB = 6


def _rows(*argmaxes: int) -> np.ndarray:
    """Logits whose row r peaks at argmaxes[r] (one row per prompt token and node)."""
    logits = np.zeros((len(argmaxes), VOCAB))
    logits[np.arange(len(argmaxes)), argmaxes] = 4.0
    return logits


# (id, tree_tokens, tree_parents, argmax per row, what a maximal cycle emits); every token of the last
# column is the target's, so a lossless cycle emits a non-empty prefix of it.
CASES = [
    # Subtree invalidation: the root is wrong, its children match the row after it; only the correction.
    ("rejected-node-whose-children-would-match", [4, 5, 5], [-1, 0, 0], (0, 3, 5, 0, 0), [3]),
    # Siblings are alternatives; the first root's own row (a trap for own-row judging) peaks at its token.
    ("second-root-matches-after-a-failing-first", [4, 3], [-1, -1], (0, 3, 4, 2), [3, 2]),
    # A chain the target agrees with all along: every node, then the bonus at the last node's row.
    ("full-chain-then-the-bonus", [3, 5, 1], [-1, 0, 1], (0, 3, 5, 1, 4), [3, 5, 1, 4]),
    # Two roots with the same right token: emitted once, then the bonus.
    ("duplicate-siblings", [3, 3], [-1, -1], (0, 3, 2, 2), [3, 2]),
    # Only children of the last accepted node compete: a later root matching the deepest row is not one.
    ("later-root-after-the-path-moved-on", [3, 5, 1], [-1, 0, -1], (0, 3, 5, 1, 2), [3, 5, 1]),
    # No draft at all: the cycle still emits one token, the argmax after the prompt.
    ("empty-tree", [], [], (0, 4), [4]),
    # A chain repeating one token: a child is no duplicate of its parent's sibling (a merge keyed on the
    # wrong parent skips the middle node and emits the third 3 too early, or stops one short).
    ("chain-repeating-one-token", [3, 3, 3], [-1, 0, 1], (0, 3, 3, 3, 2), [3, 3, 3, 2]),
]
CASE_IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("name", "tokens", "parents", "argmaxes", "maximal"), CASES, ids=CASE_IDS)
def test_cycle_emits_only_the_targets_tokens(dflash_impl, name, tokens, parents, argmaxes, maximal):
    """Lossless: a non-empty prefix of the target's tokens (stopping early is allowed, a wrong token is not)."""
    emitted = dflash_impl.verify_tree(PROMPT, tokens, parents, _rows(*argmaxes))
    assert emitted and emitted == maximal[:len(emitted)], f"{name}: emitted {emitted}, the target's are {maximal}"


@pytest.mark.parametrize(("name", "tokens", "parents", "argmaxes", "maximal"), CASES, ids=CASE_IDS)
def test_cycle_reaches_the_maximum(dflash_impl, name, tokens, parents, argmaxes, maximal):
    """Maximal: the longest agreed path and the correction or bonus (a performance figure for outside code)."""
    emitted = dflash_impl.verify_tree(PROMPT, tokens, parents, _rows(*argmaxes))
    assert emitted == maximal, f"{name}: emitted {emitted}, a maximal cycle emits {maximal}"


def test_tree_deeper_than_the_remaining_budget(dflash_impl):
    """A fully agreed chain of 6 with a budget of 2: exactly the first two greedy tokens."""
    target = PositionalLM(seed=1)
    draft = GreedyDraft(target, [-1, 0, 1, 2, 3, 4], [[0] * 6])
    got = dflash_impl.speculative_decode(target, draft, [4, 5], 2)
    assert got == autoregressive_greedy(target, [4, 5], 2), f"emitted {got}"
