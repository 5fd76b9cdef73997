"""Hypothesis strategies for tree speculative decoding: tree shapes and greedy drafts with wrong nodes.

A tree is its `parents` list in topological order (-1 = child of the last context token). A greedy
draft is a tree shape plus, per cycle, a shift per node: 0 keeps the target's true greedy token of the
node's path, anything else makes it wrong (properties/speculative_models.GreedyDraft). Equal shifts on
siblings give duplicate siblings; a wrong node's children continue the wrong path correctly, so they
"would match" if judged without their parent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hypothesis import strategies as st

from properties.speculative_models import GreedyDraft, PositionalLM

VOCAB = 16


@functools.cache
def target_model(seed: int) -> PositionalLM:
    return PositionalLM(seed=seed, vocab_size=VOCAB)


@st.composite
def tree_parents(draw, min_nodes: int = 0, max_nodes: int = 8) -> list[int]:
    """Any topological tree: each node's parent is -1 or an earlier node, drawn so chains (parent =
    the node just before), wide fans (parent -1) and everything between all come up."""
    count = draw(st.integers(min_nodes, max_nodes))
    parents: list[int] = []
    for node in range(count):
        parents.append(draw(st.one_of(st.just(node - 1), st.just(-1), st.integers(-1, node - 1))))
    return parents


# Mostly right, so long paths get accepted; wrong by any amount otherwise.
node_shifts = st.one_of(st.just(0), st.just(0), st.integers(1, VOCAB - 1))


@dataclass(frozen=True)
class GreedyCase:
    seed: int
    prompt: tuple[int, ...]
    parents: tuple[int, ...]
    shifts: tuple[tuple[int, ...], ...]  # per cycle, per node
    budget: int

    def target(self) -> PositionalLM:
        return target_model(self.seed)

    def draft(self) -> GreedyDraft:
        return GreedyDraft(self.target(), self.parents, self.shifts)


@st.composite
def greedy_cases(draw, max_nodes: int = 7, max_budget: int = 12) -> GreedyCase:
    parents = draw(tree_parents(max_nodes=max_nodes))
    shifts = draw(st.lists(st.tuples(*[node_shifts] * len(parents)), min_size=1, max_size=4))
    return GreedyCase(
        seed=draw(st.integers(0, 3)),
        prompt=tuple(draw(st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=5))),
        parents=tuple(parents),
        shifts=tuple(shifts),
        budget=draw(st.integers(1, max_budget)),
    )
