"""The slow oracle: CONTRACTS §3 transcribed step by step in plain Python, one beam at a time.

It also reports how many sequences the search has to show the model at each step (every unfinished
kept beam of every prompt), which is what one batched call per step must carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from killmatrix.targets import Hyp
from properties.beam_scoring import best_first, hyp, log_softmax

# Nothing generated yet; its score is never read, since an unfinished beam only gets expanded.
_EMPTY = Hyp((), 0.0, 0.0, False)


@dataclass(frozen=True)
class PolicyRun:
    hypotheses: list[list[Hyp]]
    batch_sizes: list[int]  # unfinished beams across all prompts, per step taken


def policy_beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha) -> PolicyRun:
    kept: list[list[Hyp]] = [[_EMPTY] for _ in prompts]
    batch_sizes = []
    for _ in range(max_new_tokens):
        live = [(p, h) for p, beams in enumerate(kept) for h in beams if not h.finished]
        if not live:
            break
        batch_sizes.append(len(live))
        rows = model([list(prompts[p]) + list(h.tokens) for p, h in live])
        pools = [[h for h in beams if h.finished] for beams in kept]
        for (p, parent), row in zip(live, rows, strict=True):
            children = [
                hyp(parent.tokens + (token,), parent.logprob + lp, eos_token_id, alpha)
                for token, lp in enumerate(log_softmax(row))
            ]
            children.sort(key=best_first)
            pools[p].extend(children[: 2 * beam_width])
        kept = [sorted(pool, key=best_first)[:beam_width] for pool in pools]
    return PolicyRun(kept, batch_sizes)
