"""The slow oracle: CONTRACTS §3 transcribed step by step in plain Python, one beam at a time.

It also reports how many sequences the search has to show the model at each step (every unfinished
kept beam of every prompt), which is what one batched call per step must carry.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from properties.beam_hypothesis import Hyp
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


# Ties up to rounding: two sums of the same log-probs taken in another order may differ in the last bit.
TIE_REL = 1e-12
# Past this many live branches (or choices at one cut) the tie-branching oracle gives up on an example.
MAX_BRANCHES = 4096


class TooManyTies(Exception):
    """The exact ties of a schedule allow more results than the tie-branching oracle will enumerate."""


def tied(a: float, b: float) -> bool:
    """Equal penalized scores, up to the last bits a different summation order may change. A banned
    token's `-inf` ties only another `-inf` (the relative slack of an infinite score is infinite)."""
    if a == b:
        return True
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= TIE_REL * max(1.0, abs(a), abs(b))


@dataclass(frozen=True)
class Branch:
    """One result the policy allows for one prompt, and how many live beams it showed the model per step."""

    kept: tuple[Hyp, ...]  # best first, ties in the contract's own order
    live_counts: tuple[int, ...]


def _required(guide: list[Hyp] | None, step: int) -> frozenset[tuple[int, ...]] | None:
    """What must be kept after `step` for the search to end with `guide`: every returned hypothesis's
    prefix of that length, and every returned finished one that is already complete."""
    if guide is None:
        return None
    return frozenset(h.tokens[:step] for h in guide if len(h.tokens) >= step or h.finished)


def _top_k_choices(pool: list[Hyp], k: int, required: frozenset | None, limit: int):
    """Every top-K of `pool` that some tie-break allows (and that keeps `required`, when given)."""
    ranked = sorted(pool, key=best_first)
    if len(ranked) <= k:
        candidates = [ranked]
    else:
        boundary = ranked[k - 1].score
        above = [h for h in ranked if h.score > boundary and not tied(h.score, boundary)]
        at = [h for h in ranked if tied(h.score, boundary)]
        free, fixed = at, []
        if required is not None:
            if not required <= {h.tokens for h in above + at}:
                return []  # something the result holds was cut here on every tie-break
            fixed = [h for h in at if h.tokens in required]
            free = [h for h in at if h.tokens not in required]
        room = k - len(above) - len(fixed)
        if room < 0:
            return []
        if math.comb(len(free), room) > limit:
            raise TooManyTies(f"{math.comb(len(free), room)} ways to fill {room} places from {len(free)} tied beams")
        candidates = [above + fixed + list(c) for c in itertools.combinations(free, room)]
    if required is not None:
        candidates = [c for c in candidates if required <= {h.tokens for h in c}]
    return candidates


def policy_branches(model, prompt, beam_width, max_new_tokens, eos_token_id, alpha, *, guide=None,
                    limit: int = MAX_BRANCHES) -> list[Branch]:
    """Every result the policy allows for one prompt when exact ties may be broken any way at all.

    Each step's pool is cut to K at every tie-break: among beams tied with the K-th, any choice is
    right (the per-beam top-2K cut is left out: a child it drops has 2K siblings at least as good, so it
    reaches the top K only through such a tie). `guide`, a result to check, prunes the branches that
    cannot end in it. Raises TooManyTies past `limit` branches.
    """
    states: dict[tuple[tuple[Hyp, ...], tuple[int, ...]], None] = {((_EMPTY,), ()): None}
    finals: dict[tuple[tuple[Hyp, ...], tuple[int, ...]], None] = {}
    for step in range(1, max_new_tokens + 1):
        grown: dict[tuple[tuple[Hyp, ...], tuple[int, ...]], None] = {}
        required = _required(guide, step)
        for kept, counts in states:
            live = [h for h in kept if not h.finished]
            if not live:
                finals[(kept, counts)] = None
                continue
            rows = model([list(prompt) + list(h.tokens) for h in live])
            pool = [h for h in kept if h.finished]
            for parent, row in zip(live, rows, strict=True):
                pool.extend(hyp(parent.tokens + (token,), parent.logprob + lp, eos_token_id, alpha)
                            for token, lp in enumerate(log_softmax(row)))
            for choice in _top_k_choices(pool, beam_width, required, limit):
                grown[(tuple(sorted(choice, key=best_first)), counts + (len(live),))] = None
            if len(grown) > limit:
                raise TooManyTies(f"more than {limit} tie-breaks stay possible after step {step}")
        states = grown
    finals.update(states)
    return [Branch(kept, counts) for kept, counts in finals]
