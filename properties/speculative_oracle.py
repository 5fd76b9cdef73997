"""Independent oracles for tree speculative decoding: none of them calls `impl.speculative`.

- `ancestor_mask`: the tree mask from each node's ancestor SET (walking parent pointers), not from
  the parent's row as the reference builds it;
- `autoregressive_greedy`: plain greedy decoding, one causal pass per token;
- `longest_agreed_path`: the deepest draft path whose every node is the target's greedy token for
  its own path, found by causal passes (what a maximal cycle accepts);
- `autoregressive_distribution`: the exact joint of the first tokens of ancestral sampling, from a
  table of conditionals, in Fractions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import product

import numpy as np

from properties.speculative_models import causal_mask, greedy_continuation, path_to


def ancestor_mask(prompt_len: int, parents: Sequence[int]) -> np.ndarray:
    size = prompt_len + len(parents)
    mask = np.zeros((size, size), dtype=bool)
    for i in range(prompt_len):
        for j in range(i + 1):
            mask[i, j] = True
    for node in range(len(parents)):
        mask[prompt_len + node, :prompt_len] = True
        for ancestor in path_to(node, parents):  # the node itself included
            mask[prompt_len + node, prompt_len + ancestor] = True
    return mask


def autoregressive_greedy(target, prompt: Sequence[int], count: int) -> list[int]:
    tokens = list(prompt)
    for _ in range(count):
        tokens.append(greedy_continuation(target, tokens))
    return tokens[len(prompt):]


def agreeing_nodes(target, context: Sequence[int], tokens: Sequence[int], parents: Sequence[int]) -> list[bool]:
    """Per node: is its token the target's greedy continuation of its own path (ancestors' tokens)?"""
    return [tokens[node] == greedy_continuation(
        target, list(context) + [tokens[n] for n in path_to(parents[node], parents)]) for node in range(len(parents))]


def longest_agreed_path(target, context, tokens, parents) -> list[int]:
    """The tokens of the deepest path whose every node agrees (the first such path in index order)."""
    agrees = agreeing_nodes(target, context, tokens, parents)
    best: list[int] = []
    for node in range(len(parents)):
        path = path_to(node, parents)
        if all(agrees[n] for n in path) and len(path) > len(best):
            best = path
    return [tokens[n] for n in best]


def autoregressive_distribution(conditional: Callable[[tuple[int, ...]], Sequence[Fraction]], vocab: int,
                                length: int) -> dict[tuple[int, ...], Fraction]:
    """P(first `length` tokens = y) under ancestral sampling from `conditional(prefix)`."""
    joint = {}
    for tokens in product(range(vocab), repeat=length):
        probability = Fraction(1)
        for k in range(length):
            probability *= conditional(tokens[:k])[tokens[k]]
        joint[tokens] = probability
    return joint


def one_step_rows(target, prompt: Sequence[int], tokens: Sequence[int], parents: Sequence[int]) -> np.ndarray:
    """Per node, the last row of the causal pass over prompt + the node's path: what its tree row must equal."""
    rows = []
    for node in range(len(parents)):
        sequence = list(prompt) + [tokens[n] for n in path_to(node, parents)]
        rows.append(target(sequence, causal_mask(len(sequence)))[-1])
    return np.array(rows).reshape(len(parents), -1)
