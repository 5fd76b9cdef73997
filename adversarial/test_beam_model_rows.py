"""Which model row continues which beam, and what a row may hold (CONTRACTS §3).

A batched search sends the live beams of every prompt in one call and must read each beam's
continuation from that beam's own row. Prompts soon differ in how many beams are still live (one
finished, the other did not): code that lays the rows out as if every prompt had as many live beams
as the batch's first reads another beam's row without any error. A row may also ban a token with a
`-inf` logit; the search must accept it and simply never prefer that token.

Every expected value below is derived by hand from the logits (alpha = 0, so score = logprob).
"""

from __future__ import annotations

import math

import numpy as np

from properties.beam_models import ScriptedModel
from properties.beam_schedules import logit_row

EOS = 0

# Prompt (1,) keeps two live beams after step 1: (1,) at -0.5 and (2,) at -1.0, EOS and 3 share the
# rest (-4.36 each). Prompt (2,) keeps the finished (0,) at -0.3 and the live (3,) at -1.5, so at step 2
# the call carries three rows: (1, 1), (1, 2), (2, 3). Read at "prompt index x its live count", the
# live beam (2, 3) would get row 1, the row of (1, 2), and continue with token 2 instead of token 1.
TWO_LIVE_THEN_ONE = ScriptedModel(4, {
    (1,): logit_row(4, {1: -0.5, 2: -1.0}),
    (1, 1): logit_row(4, {3: -0.2}),
    (1, 2): logit_row(4, {2: -0.05}),
    (2,): logit_row(4, {EOS: -0.3, 3: -1.5}),
    (2, 3): logit_row(4, {1: -0.1}),
})


def _summary(hyps) -> list[tuple[tuple[int, ...], float, bool]]:
    return [(h.tokens, round(h.logprob, 9), h.finished) for h in hyps]


def test_each_live_beam_reads_its_own_row_when_prompts_have_different_live_counts(beam_impl):
    """(Kills beam-parent-row-misaligned: rows laid out at a fixed stride per prompt.)"""
    batched = beam_impl(TWO_LIVE_THEN_ONE, [[1], [2]], 2, 2, EOS, alpha=0.0)
    # Prompt (1,): (1, 3) at -0.5 - 0.2 beats (2, 2) at -1.0 - 0.05; every other child is below -1.9.
    # Prompt (2,): the finished (0,) at -0.3, then (3, 1) at -1.5 - 0.1; (3, 2) would need row (1, 2).
    expected = [
        [((1, 3), -0.7, False), ((2, 2), -1.05, False)],
        [((EOS,), -0.3, True), ((3, 1), -1.6, False)],
    ]
    assert [_summary(hyps) for hyps in batched] == expected, (
        "a live beam continued from another beam's logits row: with one prompt at two live beams and "
        "the other at one, each beam's continuation must come from its own row")


# One step over four tokens. Row (5,): token 2 is banned, although its raw logit would be the highest
# of the others; log-softmax over the finite logits [1, 0, -, 0.5] gives token 0: 1 - L, token 3:
# 0.5 - L, token 1: -L with L = log(e + 1 + e^0.5) = 1.6052. Row (6,): every token but EOS banned.
BANNED = ScriptedModel(4, {(5,): [1.0, 0.0, -np.inf, 0.5], (6,): [-np.inf, -np.inf, -np.inf, 2.0]})


def test_banned_tokens_are_accepted_and_rank_below_every_finite_one(beam_impl):
    """A `-inf` logit is a banned token, which CONTRACTS §3 allows: no error, no NaN, and the K = 3
    kept children are the three finite ones. (Kills beam-banned-token-refused, which checks every
    logit for finiteness instead of every row for one finite entry.)"""
    log_total = math.log(math.e + 1.0 + math.exp(0.5))
    (five, six) = beam_impl(BANNED, [[5], [6]], 3, 1, 3, alpha=0.0)
    assert [(h.tokens, h.finished) for h in five] == [((0,), False), ((3,), True), ((1,), False)]
    for h, logit in zip(five, (1.0, 0.5, 0.0), strict=True):
        assert math.isclose(h.logprob, logit - log_total, abs_tol=1e-12), (h, logit - log_total)
    # Prompt (6,): EOS (3) takes all the probability; the two best of the banned tokens follow at -inf.
    assert six[0].tokens == (3,) and six[0].finished and six[0].logprob == 0.0, six
    assert all(h.logprob == -math.inf and not math.isnan(h.score) for h in six[1:]), six
