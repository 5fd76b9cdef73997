"""Tree speculative decoding (DFlash, SpecInfer, Medusa): the tree mask, the accept walk, the loop.

A draft proposes a TREE of candidate tokens after the context (the prompt plus everything emitted so
far); the target scores the context and every node in ONE pass under a tree attention mask; the walk
below decides what this cycle emits. Nodes come in topological order (a parent's index is below its
child's); parent -1 means "child of the last context token".

Where a node is judged. The target's logits at row r predict the token AFTER position r. A node fills
the slot after its parent, so it is judged at its PARENT's row (row P - 1, the last context token,
for a root), never at its own row: that one predicts the node's children.

The walk. Only the children of the last accepted node compete, in index order: a rejected node's
subtree was drafted after a wrong token and is dead, and once a child is accepted its later siblings
were alternatives to it. The cycle then emits one token of the target's own at the row of the last
accepted node: the correction where every child was rejected, the bonus after an accepted leaf. So a
cycle emits the longest draft path the target agrees with, plus one token.

Greedy (temperature 0): a child is accepted iff its token is the argmax at its parent's row; the
token emitted at the end is that row's argmax. Every emitted token is the target's greedy token for
its prefix, so the cycles together emit exactly the target's autoregressive greedy decoding.

Sampling (temperature T > 0), the rule implemented. Let p = softmax(logits[parent row] / T). Row i
of `draft_probs` is the distribution q_i that node i's token x_i was drawn from, independently of its
siblings given the path (siblings usually share their parent's q; they need not). For the children
c_1, c_2, ... of the last accepted node, in index order:
    accept c_k with probability min(1, p(x_k) / q_k(x_k));
    on rejection replace p by normalize(max(0, p - q_k)) and go on to c_{k+1};
and when no child is left, draw the emitted token from the current p.
Why it is lossless (the token emitted for this slot is distributed as p, whatever q_k and however
many children): by induction on the number of children left. None left: the token is drawn from p.
Otherwise x_k ~ q_k is emitted with probability q_k(x) min(1, p(x)/q_k(x)) = min(p(x), q_k(x)); it is
rejected with probability Z = 1 - sum_x min(p(x), q_k(x)) = sum_x max(0, p(x) - q_k(x)), and then, by
induction (the later children are independent of this rejection), the slot gets a token distributed
as the residual max(0, p - q_k) / Z. In total min(p, q_k) + Z * max(0, p - q_k) / Z = p. An accepted
child's own children are then judged against the target's distribution at ITS row, which the tree pass
computes exactly, so the emitted sequence is distributed as autoregressive sampling at temperature T.
(Z = 0 means p = q_k: the child is then accepted with probability one, and the residual is never used.)
Greedy is the T -> 0 limit of this rule: p is one-hot, so a child is accepted iff it is the argmax.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def build_tree_mask(prompt_len: int, tree_parents: Sequence[int]) -> np.ndarray:
    """The (P+N, P+N) boolean mask of one tree pass, True = row i may attend to column j.

    The prompt is causal; a tree node sees every prompt token, itself and its ancestors, never a
    sibling, a cousin or another branch.
    """
    _check_count("prompt_len", prompt_len, minimum=1)
    parents = _checked_parents(tree_parents)
    size = prompt_len + len(parents)
    mask = np.zeros((size, size), dtype=bool)
    mask[:prompt_len, :prompt_len] = np.tri(prompt_len, dtype=bool)
    for node, parent in enumerate(parents):
        row = prompt_len + node
        if parent >= 0:
            mask[row] = mask[prompt_len + parent]  # what the parent sees: the prompt, its ancestors, itself
        else:
            mask[row, :prompt_len] = True
        mask[row, row] = True
    return mask


def verify_tree(prompt_tokens, tree_tokens, tree_parents, logits, temperature=0.0, *, draft_probs=None,
                rng=None) -> list[int]:
    """The tokens one cycle emits: the accepted path, then one token of the target's.

    `logits` are the target's `(P+N, vocab)` rows from one pass over prompt + tree under
    `build_tree_mask`. `temperature > 0` needs `draft_probs` (N, vocab) and a NumPy Generator `rng`.
    """
    prompt_len = len(_checked_tokens("prompt_tokens", prompt_tokens, None, minimum_length=1))
    parents = _checked_parents(tree_parents)
    if len(tree_tokens) != len(parents):
        raise ValueError(f"tree_tokens and tree_parents must have one entry per node, got {len(tree_tokens)} "
                         f"and {len(parents)}")
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != prompt_len + len(parents) or logits.shape[1] < 1:
        raise ValueError(f"logits must have shape (len(prompt_tokens) + len(tree_parents), vocab) = "
                         f"({prompt_len + len(parents)}, vocab), got {logits.shape}")
    if not np.isfinite(logits).all():
        raise ValueError("logits must be finite")
    tokens = _checked_tokens("tree_tokens", tree_tokens, logits.shape[1])
    temperature = _checked_temperature(temperature)
    if temperature == 0:
        judge = _Greedy(logits)
    else:
        judge = _Sampling(logits, temperature, _checked_draft_probs(draft_probs, tokens, logits.shape[1]),
                          _checked_rng(rng))

    # Greedy merges duplicate siblings into one candidate (the longest agreed path may run through the
    # second one's subtree); sampling keeps them apart, as the independent draws they are.
    stands_for = _duplicates_merged(tokens, parents) if temperature == 0 else list(range(len(parents))) + [-1]
    path = [-1]  # the accepted nodes; -1 stands for the last prompt token
    for node, parent in enumerate(parents):
        if stands_for[node] != node or stands_for[parent] != path[-1]:
            continue  # a merged duplicate; a rejected node's subtree; or a sibling of an accepted node
        # A node is judged at its PARENT's row: the target's prediction for the slot the node would fill.
        if judge.accepts(tokens[node], node, row=prompt_len + path[-1]):
            path.append(node)
    # The correction where every child of the last accepted node was rejected, the bonus after a leaf.
    return [tokens[node] for node in path[1:]] + [judge.pick(row=prompt_len + path[-1])]


def speculative_decode(target: Callable, draft: Callable, prompt, max_new_tokens: int, temperature=0.0, *,
                       rng=None) -> list[int]:
    """Generate exactly `max_new_tokens` tokens (prompt excluded), one target pass per cycle.

    `target(tokens, mask)` returns `(len(tokens), vocab)` logits, a row per position;
    `draft(tokens)` returns `(tree_tokens, tree_parents)`, plus `draft_probs` when sampling.
    """
    prompt = _checked_tokens("prompt", prompt, None, minimum_length=1)
    _check_count("max_new_tokens", max_new_tokens, minimum=1)
    temperature = _checked_temperature(temperature)
    if temperature > 0:
        _checked_rng(rng)
    generated: list[int] = []
    while len(generated) < max_new_tokens:
        context = prompt + generated
        proposal = tuple(draft(context))
        if len(proposal) not in (2, 3):
            raise ValueError(f"draft must return (tree_tokens, tree_parents[, draft_probs]), got {len(proposal)} items")
        tree_tokens, tree_parents = [int(t) for t in proposal[0]], list(proposal[1])
        logits = target(context + tree_tokens, build_tree_mask(len(context), tree_parents))
        generated += verify_tree(context, tree_tokens, tree_parents, logits, temperature,
                                 draft_probs=proposal[2] if len(proposal) == 3 else None, rng=rng)
    return generated[:max_new_tokens]  # the last cycle may overshoot the budget


def _duplicates_merged(tokens: list[int], parents: list[int]) -> list[int]:
    """Each node's representative, the first node with its token under its parent's representative;
    index -1 (the last prompt token, what `parents` calls -1) stands for itself."""
    first: dict[tuple[int, int], int] = {}
    stands_for: list[int] = []
    for node, parent in enumerate(parents):
        parent_rep = stands_for[parent] if parent >= 0 else -1
        stands_for.append(first.setdefault((parent_rep, tokens[node]), node))
    return stands_for + [-1]


class _Greedy:
    """Temperature 0: the target's argmax at a row is the only token it would emit there."""

    def __init__(self, logits: np.ndarray):
        self.logits = logits

    def accepts(self, token: int, node: int, row: int) -> bool:
        return token == self.pick(row)

    def pick(self, row: int) -> int:
        return int(np.argmax(self.logits[row]))


class _Sampling:
    """Temperature > 0: the residual rule of the module docstring. `p` is the target's distribution at
    `row`, minus what the rejected siblings there have already covered."""

    def __init__(self, logits: np.ndarray, temperature: float, draft_probs: np.ndarray, rng):
        self.logits, self.temperature, self.draft_probs, self.rng = logits, temperature, draft_probs, rng
        self.row, self.p = None, None

    def _distribution(self, row: int) -> np.ndarray:
        if row != self.row:  # a new parent: start from the target's own distribution at its row
            scaled = self.logits[row] / self.temperature
            weights = np.exp(scaled - scaled.max())
            self.row, self.p = row, weights / weights.sum()
        return self.p

    def accepts(self, token: int, node: int, row: int) -> bool:
        p, q = self._distribution(row), self.draft_probs[node]
        if self.rng.random() < min(1.0, p[token] / q[token]):
            return True
        residual = np.maximum(p - q, 0.0)
        if residual.any():
            self.p = residual / residual.sum()
        return False

    def pick(self, row: int) -> int:
        p = self._distribution(row)
        return int(self.rng.choice(len(p), p=p))


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _checked_tokens(name: str, tokens, vocab: int | None, minimum_length: int = 0) -> list[int]:
    tokens = list(tokens)
    if len(tokens) < minimum_length:
        raise ValueError(f"{name} must hold at least {minimum_length} token(s), got {len(tokens)}")
    for token in tokens:
        if isinstance(token, bool) or not isinstance(token, int | np.integer) or token < 0 \
                or (vocab is not None and token >= vocab):
            bound = f"[0, {vocab})" if vocab is not None else ">= 0"
            raise ValueError(f"{name} must be int token ids in {bound}, got {token!r}")
    return [int(t) for t in tokens]


def _checked_parents(tree_parents) -> list[int]:
    parents = list(tree_parents)
    for node, parent in enumerate(parents):
        if isinstance(parent, bool) or not isinstance(parent, int | np.integer) or not -1 <= parent < node:
            raise ValueError(f"tree_parents[{node}] must be -1 or the index of an earlier node (topological "
                             f"order), got {parent!r}")
    return [int(p) for p in parents]


def _checked_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float | np.floating | np.integer) \
            or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    return float(temperature)


def _checked_draft_probs(draft_probs, tokens: list[int], vocab: int) -> np.ndarray:
    if draft_probs is None:
        raise ValueError("draft_probs is required when temperature > 0: the distribution each node was drawn from")
    q = np.asarray(draft_probs, dtype=np.float64)
    if q.shape != (len(tokens), vocab):
        raise ValueError(f"draft_probs must have shape (len(tree_tokens), vocab) = ({len(tokens)}, {vocab}), "
                         f"got {q.shape}")
    if not np.isfinite(q).all() or (q < 0).any() or not np.allclose(q.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("draft_probs rows must be probability distributions (finite, >= 0, summing to 1)")
    if len(tokens) and (q[np.arange(len(tokens)), tokens] <= 0).any():
        raise ValueError("draft_probs gives a drafted token probability 0: it cannot have been drawn from it")
    return q


def _checked_rng(rng):
    # Duck-typed, so a test can script the uniforms: only random() and choice(n, p=...) are used.
    if not (callable(getattr(rng, "random", None)) and callable(getattr(rng, "choice", None))):
        raise ValueError(f"rng must be a numpy.random.Generator when temperature > 0, got {type(rng).__name__}")
    return rng
