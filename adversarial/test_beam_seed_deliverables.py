"""The seed's deliverable tests for Challenge 2, made exact (its own numbers are partly wrong).

1. K = 1, a prompt of 3 tokens, alpha 0: greedy decoding (TinyLM).
2. Several prompts of different lengths, K = 3, alpha 0.6: each prompt as if alone (TinyLM).
3. The EOS test: a finished beam at -3.0 after 5 tokens against an unfinished one at -4.0 after 10.
"""

from __future__ import annotations

import math

import pytest

from properties.beam_models import ScriptedModel, TinyLM
from properties.beam_schedules import logit_row
from properties.beam_scoring import assert_same_hypotheses, log_softmax


def test_seed_beam_width_one_prompt_of_three_is_greedy(beam_impl):
    model = TinyLM(seed=4)
    prompt = [17, 4, 250]
    eos = 7
    tokens, logprob = [], 0.0
    for _ in range(12):
        lps = log_softmax(model([prompt + tokens])[0])
        token = max(range(len(lps)), key=lambda t: (lps[t], t == eos, -t))
        tokens.append(token)
        logprob += lps[token]
    ((hyp,),) = beam_impl(model, [prompt], 1, 12, eos, alpha=0.0)
    assert hyp.tokens == tuple(tokens) and not hyp.finished  # EOS 7 never leads here
    assert math.isclose(hyp.logprob, logprob, rel_tol=1e-9)


def test_seed_prompts_of_different_lengths_are_independent(beam_impl):
    model = TinyLM(seed=5)
    prompts = [[3, 1, 4], [1, 5, 9, 2, 6], [5, 3, 5, 8, 9, 7, 9, 3, 2]]
    eos = int(model([prompts[1]])[0].argmax())  # the middle prompt may stop at once
    batched = beam_impl(model, prompts, 3, 6, eos, alpha=0.6)
    for prompt, hyps in zip(prompts, batched, strict=True):
        assert len(hyps) == 3, f"{len(hyps)} hypotheses for prompt {prompt} with K = 3"
        assert_same_hypotheses(hyps, beam_impl(model, [prompt], 3, 6, eos, alpha=0.6)[0], rel=1e-7)


# Step 1: token 1 (path A) at -1.0, token 2 (path B) at -1.2, the other two at -1.80.
# Path A goes on with token 1 three times, then EOS, each at -0.5: finished at -3.0 with 5 tokens.
# Path B goes on with token 2 nine times, each at -2.8/9: -4.0 with 10 tokens, unfinished at the limit.
# Off-path tokens get what is left: log((1 - e^-0.5) / 3) = -2.03 on A's rows and -2.42 on B's, so
# every alternative stays below both kept beams (step 10: -3.69 - 2.42 = -6.1 < -4.0; with alpha 0.6
# -6.1 / 10^0.6 = -1.53 < A's -1.142) and K = 2 keeps A and B to the end.
SEED_EOS_TABLE = {
    (9,): logit_row(4, {1: -1.0, 2: -1.2}),
    **{(9,) + (1,) * n: logit_row(4, {1: -0.5} if n < 4 else {0: -0.5}) for n in range(1, 5)},
    **{(9,) + (2,) * n: logit_row(4, {2: -2.8 / 9}) for n in range(1, 10)},
}
A = ((1, 1, 1, 1, 0), -3.0, True)
B = ((2,) * 10, -4.0, False)


@pytest.mark.parametrize(
    ("alpha", "expected"),
    [
        (0.0, [A, B]),  # -3.0 > -4.0: the finished beam wins, as the seed says
        # -3.0 / 5^0.6 = -1.142 < -4.0 / 10^0.6 = -1.005: the seed's claim holds only for alpha below
        # log(4/3) / log(2) = 0.415, so at the default alpha the longer beam wins.
        (0.6, [B, A]),
    ],
)
def test_seed_finished_beam_against_longer_unfinished(beam_impl, alpha, expected):
    (hyps,) = beam_impl(ScriptedModel(4, SEED_EOS_TABLE), [[9]], 2, 10, 0, alpha=alpha)
    assert [(h.tokens, h.finished) for h in hyps] == [(t, f) for t, _, f in expected]
    for h, (tokens, logprob, _) in zip(hyps, expected, strict=True):
        score = logprob / len(tokens) ** alpha
        assert math.isclose(h.logprob, logprob, abs_tol=1e-9), f"{h}: logprob should be {logprob}"
        assert math.isclose(h.score, score, abs_tol=1e-9), f"{h}: score should be {score:.6g}"
