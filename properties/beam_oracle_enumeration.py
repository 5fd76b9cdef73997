"""The exhaustive oracle: every sequence a search for one prompt could return, ranked.

A complete sequence either ends with EOS within `max_new_tokens` tokens or has exactly
`max_new_tokens` tokens and no EOS. A beam at least as wide as their number prunes nothing, so its
result must be this whole list, best (the global optimum of the penalized score) first.
"""

from __future__ import annotations

from properties.beam_hypothesis import Hyp
from properties.beam_scoring import best_first, hyp, log_softmax


def all_complete_sequences(model, prompt, max_new_tokens, eos_token_id, alpha) -> list[Hyp]:
    complete: list[Hyp] = []
    frontier: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    for depth in range(1, max_new_tokens + 1):
        rows = model([list(prompt) + list(tokens) for tokens, _ in frontier])
        growing = []
        for (tokens, logprob), row in zip(frontier, rows, strict=True):
            for token, lp in enumerate(log_softmax(row)):
                extended = (tokens + (token,), logprob + lp)
                if token == eos_token_id or depth == max_new_tokens:
                    complete.append(hyp(*extended, eos_token_id, alpha))
                else:
                    growing.append(extended)
        frontier = growing
    return sorted(complete, key=best_first)
