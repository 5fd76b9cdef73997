"""Checking outside beam searches against every answer the policy allows when scores tie exactly.

CONTRACTS §3 breaks exact ties finished-first, then by the smaller token tuple; the seed asks only for
the first half, and only in its own scenario (a finished beam tied with an unfinished one), which
keeps strict tests of its own (`adversarial/test_beam_eos_schedules.py`). Outside code may break any
other exact tie its own way (first index, last index, by id): the reference and its mutants
(`target.is_reference`) are still held to the deterministic order, which is what kills
`beam-expansion-tie-order-differs`; outside code is held to the set of results some tie-break gives.
"""

from __future__ import annotations

import math
from itertools import pairwise, product

from hypothesis import reject

from properties.beam_hypothesis import Hyp
from properties.beam_oracle_policy import MAX_BRANCHES, Branch, TooManyTies, policy_beam_search, policy_branches, tied
from properties.beam_scoring import assert_same_hypotheses, log_softmax


def _pairs(hyps: list[Hyp]) -> list[tuple[tuple[int, ...], bool]]:
    return [(h.tokens, h.finished) for h in hyps]


def assert_scores_best_first(hyps: list[Hyp]) -> None:
    """Sorted by penalized score, best first; beams tied on the score may come in any order.
    (Fails on `beam-final-rank-by-raw-logprob`, whose order follows the raw logprob.)"""
    for before, after in pairwise(hyps):
        assert before.score >= after.score or tied(before.score, after.score), (
            f"not sorted by score, best first: {before.tokens} (score {before.score:.6g}) comes before "
            f"{after.tokens} (score {after.score:.6g})")


def assert_same_up_to_ties(actual: list[Hyp], expected: list[Hyp], rel: float = 1e-9) -> None:
    """The same hypotheses (tokens, finished, logprob, score), ordered by score; tied ones in any order."""
    got, want = sorted(_pairs(actual)), sorted(_pairs(expected))
    assert len(actual) == len(set(got)) and got == want, (
        f"(tokens, finished): got {_pairs(actual)}, expected {_pairs(expected)} in any order among exact ties")
    assert_scores_best_first(actual)
    by_tokens = {h.tokens: h for h in expected}
    for h in actual:
        want_h = by_tokens[h.tokens]
        assert math.isclose(h.logprob, want_h.logprob, rel_tol=rel, abs_tol=rel), (h, want_h)
        assert math.isclose(h.score, want_h.score, rel_tol=rel, abs_tol=rel), (h, want_h)


def _matching_branches(schedule, prompt, got: list[Hyp]) -> list[Branch]:
    try:
        branches = policy_branches(schedule.model(), prompt, schedule.beam_width, schedule.max_new_tokens,
                                   schedule.eos_token_id, schedule.alpha, guide=got)
    except TooManyTies:
        reject()  # too many exact ties to enumerate: this example says nothing either way
    return [b for b in branches if sorted(_pairs(b.kept)) == sorted(_pairs(got))]


def assert_policy_allows(target, schedule, actual: list[list[Hyp]]) -> None:
    """`actual` is what the policy gives: exactly (reference) or on some tie-break (outside code)."""
    strict = schedule.run(policy_beam_search).hypotheses
    assert len(actual) == len(strict), f"{len(actual)} result lists for {len(strict)} prompts"
    for prompt, got, want in zip(schedule.prompts, actual, strict, strict=True):
        if target.is_reference:
            assert_same_hypotheses(got, want)
            continue
        branches = _matching_branches(schedule, prompt, got)
        assert branches, (f"no tie-break of the policy returns (tokens, finished) {_pairs(got)}; "
                          f"with the contract's own tie-break it is {_pairs(want)}")
        assert_same_up_to_ties(got, list(branches[0].kept))


def allowed_batch_sizes(target, schedule, actual: list[list[Hyp]], expected: list[int],
                        limit: int = MAX_BRANCHES) -> set[tuple[int, ...]]:
    """Sequences per model call a batched search may show the model: per step, the live beams of every
    prompt still searching. The reference: `expected`; outside code: any sum over the policy branches
    that end in its own results (its results themselves are the policy test's business)."""
    options = []
    for prompt, got in zip(schedule.prompts, actual, strict=False):
        matched = [] if target.is_reference else _matching_branches(schedule, prompt, got)
        if not matched:
            return {tuple(expected)}
        options.append({b.live_counts for b in matched})
    if math.prod(len(o) for o in options) > limit:
        reject()
    allowed = set()
    for combo in product(*options):
        steps = max((len(c) for c in combo), default=0)
        allowed.add(tuple(sum(c[i] for c in combo if i < len(c)) for i in range(steps)))
    return allowed


def assert_greedy_up_to_ties(hyps: list[Hyp], model, prompt, max_new_tokens, eos_token_id, alpha) -> None:
    """A K = 1 result is a greedy path on which every token ties the most likely one (any tie-break)."""
    assert len(hyps) == 1, f"K = 1 returned {len(hyps)} hypotheses"
    (h,) = hyps
    tokens, logprob = list(prompt), 0.0
    for i, token in enumerate(h.tokens):
        lps = log_softmax(model([tokens])[0])
        assert 0 <= token < len(lps) and tied(lps[token], max(lps)), (
            f"K = 1 returned {h.tokens}: token {token} after {tuple(h.tokens[:i])} has log-prob "
            f"{lps[token] if 0 <= token < len(lps) else 'none'}, the most likely has {max(lps):.6g}")
        tokens.append(token)
        logprob += lps[token]
    complete = len(h.tokens) == max_new_tokens or (h.tokens and h.tokens[-1] == eos_token_id)
    assert complete and eos_token_id not in h.tokens[:-1], (
        f"K = 1 returned {h.tokens}: greedy decoding stops at EOS ({eos_token_id}) or after {max_new_tokens}")
    assert abs(h.logprob - logprob) <= 1e-9 * (1 + abs(logprob)), (h, logprob)
    assert abs(h.score - logprob / len(h.tokens) ** alpha) <= 1e-9 * (1 + abs(logprob)), (h, logprob)
