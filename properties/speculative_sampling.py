"""Exact emitted-token distributions of one sampling cycle, by enumeration on a two-token vocabulary.

The target's conditionals come from a table whose probabilities are multiples of 1/4 (`conditional`)
and every draft distribution is uniform, so every threshold the residual rule compares a uniform
against (min(1, p/q), the CDF of p or of a residual) is a multiple of 1/4. Playing every tuple of the
midpoints 1/8, 3/8, 5/8, 7/8 (ScriptedUniforms) for every drafted token tuple then gives each emitted
sequence its exact probability, in Fractions. A cycle stops early; the rest of each sequence is
completed from the table, as a perfect next cycle would, so a lossless cycle gives exactly the
autoregressive joint (properties/speculative_oracle.autoregressive_distribution).
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from itertools import product

import numpy as np

from properties.speculative_models import ScriptedUniforms, path_to

VOCAB = 2
GRID = [Fraction(2 * k + 1, 8) for k in range(4)]  # midpoints of the quarter cells
DRAFT_Q = (Fraction(1, 2), Fraction(1, 2))
_FIRST_TOKEN = (Fraction(1, 4), Fraction(3, 4), Fraction(1, 2))


def conditional(prefix: tuple[int, ...]) -> tuple[Fraction, Fraction]:
    """The table target's next-token distribution after `prefix` (a fixed, prefix-dependent pick)."""
    first = _FIRST_TOKEN[sum((token + 1) * (k + 2) for k, token in enumerate(prefix)) % 3]
    return first, 1 - first


def uniforms_needed(parents) -> int:
    """The most uniforms one cycle may draw: one per child judged along the way, plus the final pick."""
    children = defaultdict(int)
    for parent in parents:
        children[parent] += 1
    return max(sum(children[n] for n in [-1, *path_to(leaf, parents)]) for leaf in [-1, *range(len(parents))]) + 1


def cycle_distribution(verify, parents, temperature: float) -> dict[tuple[int, ...], Fraction]:
    """The exact joint of the first depth + 1 tokens: one cycle of `verify` on prompt [0], completed."""
    depth = max((len(path_to(n, parents)) for n in range(len(parents))), default=0)
    joint: dict[tuple[int, ...], Fraction] = defaultdict(Fraction)
    uniform_count = uniforms_needed(parents)
    for tokens in product(range(VOCAB), repeat=len(parents)):
        prefixes = [()] + [tuple(tokens[n] for n in path_to(node, parents)) for node in range(len(parents))]
        logits = temperature * np.log([[float(p) for p in conditional(prefix)] for prefix in prefixes])
        draft_probs = np.full((len(parents), VOCAB), 1 / VOCAB)
        weight = Fraction(1, VOCAB ** len(parents)) / len(GRID) ** uniform_count
        for uniforms in product(GRID, repeat=uniform_count):
            emitted = verify([0], list(tokens), list(parents), logits, temperature, draft_probs=draft_probs,
                             rng=ScriptedUniforms([float(u) for u in uniforms]))
            _complete(joint, tuple(emitted), weight, depth + 1)
    return dict(joint)


def _complete(joint, emitted: tuple[int, ...], weight: Fraction, length: int) -> None:
    if len(emitted) >= length:
        joint[emitted[:length]] += weight
        return
    for token, probability in enumerate(conditional(emitted)):
        _complete(joint, (*emitted, token), weight * probability, length)
