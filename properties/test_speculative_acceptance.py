"""Maximal acceptance: a cycle emits the LONGEST draft path the target agrees with, plus one token.

A performance figure for outside code (docs/CONTRACT.md, DFlash): stopping at the first failing sibling,
as the challenge text literally asks, or dropping the bonus token stays lossless, so the golden rule
cannot see it; here it is a shorter cycle. The reference must reach the maximum.
"""

from __future__ import annotations

from hypothesis import example, given

from properties.speculative_oracle import ancestor_mask, autoregressive_greedy, longest_agreed_path
from properties.speculative_strategies import GreedyCase, greedy_cases


def _case(parents, shifts) -> GreedyCase:
    return GreedyCase(0, (1, 2, 3), tuple(parents), (tuple(shifts),), 1)


@given(case=greedy_cases())
# The second root matches after a failing first: stopping at the failing sibling loses it.
@example(case=_case([-1, -1, 1], [4, 0, 0]))
# A fully agreed chain: without the bonus token the cycle is one short.
@example(case=_case([-1, 0, 1], [0, 0, 0]))
# Duplicate siblings: the longest agreed path runs through the second one's child.
@example(case=_case([-1, -1, 1], [0, 0, 0]))
def test_cycle_accepts_the_longest_agreed_path_plus_one(dflash_impl, case):
    """A greedy cycle emits the deepest draft path whose every node is the target's token, then one more."""
    target, context = case.target(), list(case.prompt)
    tokens, parents = case.draft()(context)
    logits = target(context + tokens, ancestor_mask(len(context), parents))
    path = longest_agreed_path(target, context, tokens, parents)
    expected = path + autoregressive_greedy(target, context + path, 1)
    emitted = dflash_impl.verify_tree(context, tokens, parents, logits)
    assert len(emitted) == len(expected), (
        f"tree {parents} tokens {tokens}: the cycle emitted {len(emitted)} tokens {emitted}; the longest agreed "
        f"path has {len(path)} nodes, so a maximal cycle emits {len(expected)}: {expected}")
