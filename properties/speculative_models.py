"""Test equipment for tree speculative decoding: a target that works under any mask, drafts, a scripted rng.

Kept outside `impl/` (mutmut mutates all of `impl/`): the properties must hold for any target, so a
mutant of the equipment would only test the equipment. The protocol (docs/CONTRACT.md, DFlash):
`target(tokens, mask) -> (len(tokens), vocab)` logits, a row per position, and
`draft(tokens) -> (tree_tokens, tree_parents[, draft_probs])`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def causal_mask(length: int) -> np.ndarray:
    return np.tri(length, dtype=bool)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    weights = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


class PositionalLM:
    """One attention layer over token + position embeddings, random weights from `seed`, any boolean mask.

    Row i's position is the number of positions it may see minus one (its own position in a causal
    pass; P + d - 1 for a tree node at depth d, the slot it would hold in autoregressive decoding).
    So a tree node's row sees the same (token, position) pairs as the last row of the autoregressive
    pass over its path, and gets the same logits up to summation order. `calls` counts the passes.
    """

    def __init__(self, seed: int = 0, vocab_size: int = 16, d_model: int = 16, max_positions: int = 128):
        rng = np.random.default_rng(seed)
        self.vocab_size, self.max_positions = vocab_size, max_positions
        self.token_embedding = rng.standard_normal((vocab_size, d_model))
        self.position_embedding = rng.standard_normal((max_positions, d_model))
        self.w_qkv = rng.standard_normal((d_model, 3 * d_model)) / np.sqrt(d_model)
        self.w_out = rng.standard_normal((d_model, d_model)) / np.sqrt(d_model)
        # Peaked enough that greedy tokens differ from position to position, far from ties.
        self.w_head = 3.0 * rng.standard_normal((d_model, vocab_size)) / np.sqrt(d_model)
        self.calls = 0

    def positions(self, mask: np.ndarray) -> np.ndarray:
        return mask.sum(axis=1) - 1

    def __call__(self, tokens: Sequence[int], mask) -> np.ndarray:
        tokens, mask = np.asarray(tokens, dtype=np.int64), np.asarray(mask, dtype=bool)
        if mask.shape != (len(tokens), len(tokens)) or not mask.diagonal().all():
            raise ValueError(f"mask must be ({len(tokens)}, {len(tokens)}) with every position seeing itself")
        if len(tokens) > self.max_positions or tokens.min() < 0 or tokens.max() >= self.vocab_size:
            raise ValueError("tokens must be ids in the vocabulary, at most max_positions of them")
        self.calls += 1
        x = self.token_embedding[tokens] + self.position_embedding[self.positions(mask)]
        q, k, v = np.split(x @ self.w_qkv, 3, axis=-1)
        scores = np.where(mask, q @ k.T / np.sqrt(q.shape[-1]), -np.inf)
        h = x + softmax(scores) @ v @ self.w_out
        return h @ self.w_head


def greedy_continuation(target, tokens: Sequence[int]) -> int:
    """The target's greedy next token after `tokens`, from an ordinary causal pass."""
    return int(np.argmax(target(list(tokens), causal_mask(len(tokens)))[-1]))


def path_to(node: int, parents: Sequence[int]) -> list[int]:
    """The nodes from the root down to `node`, inclusive."""
    path = []
    while node >= 0:
        path.append(node)
        node = parents[node]
    return path[::-1]


class GreedyDraft:
    """Drafts a fixed tree shape whose nodes carry the target's true greedy continuation of their own
    path, shifted by `shifts[cycle][node]` (mod vocab) to make a node wrong (0 = right).

    A node under a wrong node continues the WRONG path correctly: exactly the child that "would
    match" if judged without its parent. Cycles past the end of `shifts` reuse its last entry.
    """

    def __init__(self, target, parents: Sequence[int], shifts: Sequence[Sequence[int]]):
        if not shifts or any(len(s) != len(parents) for s in shifts):
            raise ValueError("shifts needs at least one cycle, each with one shift per node")
        self.target, self.parents, self.shifts = target, list(parents), [list(s) for s in shifts]
        self.cycle = 0

    def __call__(self, context: Sequence[int]):
        shifts = self.shifts[min(self.cycle, len(self.shifts) - 1)]
        self.cycle += 1
        tokens: list[int] = []
        for node, parent in enumerate(self.parents):
            path_tokens = [tokens[n] for n in path_to(parent, self.parents)]
            true = greedy_continuation(self.target, list(context) + path_tokens)
            tokens.append((true + shifts[node]) % self.target.vocab_size)
        return tokens, list(self.parents)


class SampledDraft:
    """Draws every node independently from the draft model's distribution at its parent's path,
    at `temperature`, with its own seeded rng; returns the distributions as `draft_probs`."""

    def __init__(self, draft_model, parents: Sequence[int], temperature: float, seed: int):
        self.model, self.parents, self.temperature = draft_model, list(parents), temperature
        self.rng = np.random.default_rng(seed)

    def __call__(self, context: Sequence[int]):
        tokens: list[int] = []
        probs = np.zeros((len(self.parents), self.model.vocab_size))
        for node, parent in enumerate(self.parents):
            prefix = list(context) + [tokens[n] for n in path_to(parent, self.parents)]
            probs[node] = softmax(self.model(prefix, causal_mask(len(prefix)))[-1], self.temperature)
            tokens.append(int(self.rng.choice(self.model.vocab_size, p=probs[node])))
        return tokens, list(self.parents), probs


class ScriptedUniforms:
    """An rng that plays given uniforms: `random()` returns the next one, `choice(n, p=p)` inverts p's
    CDF at the next one, as numpy's Generator does (and refuses a p that does not sum to 1, as it does).
    Enumerating every tuple of uniforms from a grid makes a sampler's output distribution exact, when
    every threshold it compares against lies on the grid's cell boundaries."""

    def __init__(self, uniforms: Sequence[float]):
        self.uniforms, self.used = list(uniforms), 0

    def random(self, size=None) -> float:
        if size is not None:
            raise ValueError("ScriptedUniforms.random draws one uniform at a time")
        if self.used == len(self.uniforms):
            raise ValueError(f"the sampler drew more than the {len(self.uniforms)} scripted uniforms")
        self.used += 1
        return self.uniforms[self.used - 1]

    def choice(self, a, size=None, replace=True, p=None) -> int:
        n = a if isinstance(a, int | np.integer) else len(a)
        if size is not None or p is None:
            raise ValueError("ScriptedUniforms.choice draws one item with given probabilities p")
        p = np.asarray(p, dtype=np.float64)
        if p.shape != (n,) or (p < 0).any() or abs(p.sum() - 1) > 1e-8:
            raise ValueError("probabilities do not sum to 1")
        cdf = np.cumsum(p)
        index = int(np.searchsorted(cdf / cdf[-1], self.random(), side="right"))
        return index if isinstance(a, int | np.integer) else a[index]
