"""The golden rule of tree speculative decoding: at temperature 0 it emits exactly the target's
autoregressive greedy tokens, whatever the draft proposed and wherever the budget cuts.

Kills every bug that emits a token the target would not (docs/CONTRACT.md, DFlash, correctness): a
node judged at its own row, a rejected node's subtree accepted, siblings accepted together, siblings
visible in the mask, slot positions instead of depth positions. It cannot kill a lossless bug that only
accepts fewer tokens (stopping at the first failing sibling, no bonus token): that is
test_speculative_acceptance.py's job.
"""

from __future__ import annotations

from hypothesis import example, given

from properties.speculative_oracle import ancestor_mask, autoregressive_greedy
from properties.speculative_strategies import GreedyCase, greedy_cases


def _case(parents, shifts, budget=8, prompt=(1, 2, 3), seed=0) -> GreedyCase:
    return GreedyCase(seed, tuple(prompt), tuple(parents), tuple(tuple(s) for s in shifts), budget)


@given(case=greedy_cases())
# A wrong root whose children continue its wrong path correctly (subtree invalidation).
@example(case=_case([-1, 0, 0], [[3, 0, 0]]))
# A failing first root, then a matching second root with a matching child (siblings are alternatives).
@example(case=_case([-1, -1, 1], [[5, 0, 0]]))
# A chain the target agrees with all along (the bonus token), deeper than the budget.
@example(case=_case([-1, 0, 1, 2, 3], [[0, 0, 0, 0, 0]], budget=3))
# Duplicate siblings, the second one's child agreeing, then a wrong cousin.
@example(case=_case([-1, -1, 1, 0], [[0, 0, 0, 7]]))
# The empty tree: one target token per cycle.
@example(case=_case([], [[]], budget=4))
def test_greedy_speculative_equals_autoregressive(dflash_impl, case):
    """Greedy speculative decoding emits the target's autoregressive greedy tokens, token for token."""
    target = case.target()
    expected = autoregressive_greedy(target, case.prompt, case.budget)
    got = dflash_impl.speculative_decode(target, case.draft(), list(case.prompt), case.budget)
    assert got == expected, (f"tree {list(case.parents)} with shifts {[list(s) for s in case.shifts]}: emitted "
                             f"{got}, autoregressive greedy decoding gives {expected}")


@given(case=greedy_cases(max_budget=6))
def test_each_cycle_emits_only_the_targets_tokens(dflash_impl, case):
    """One verification cycle emits a prefix of the target's greedy continuation, at least one token."""
    target, context = case.target(), list(case.prompt)
    tokens, parents = case.draft()(context)
    logits = target(context + tokens, ancestor_mask(len(context), parents))
    emitted = dflash_impl.verify_tree(context, tokens, parents, logits)
    expected = autoregressive_greedy(target, context, len(emitted))
    assert emitted and emitted == expected, (f"tree {parents} tokens {tokens}: the cycle emitted {emitted}, the "
                                             f"target's greedy tokens are {expected}")
