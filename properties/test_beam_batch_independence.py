"""Each prompt is searched on its own: its hypotheses do not depend on what else is in the batch,
with a scripted model and with TinyLM (left padding, key padding mask, per-sequence positions)."""

from __future__ import annotations

import functools

from hypothesis import example, given
from hypothesis import strategies as st

from properties.beam_models import TinyLM
from properties.beam_schedules import ALPHAS, BeamSchedule, beam_schedules, logit_row
from properties.beam_scoring import assert_same_hypotheses

# Prompt (1,) is confident, prompt (2,) is not: pooled together, (1,)'s children crowd out (2,)'s.
CONFIDENT_AND_UNSURE = BeamSchedule(
    vocab_size=3, eos_token_id=0, prompts=((1,), (2,)), beam_width=2, max_new_tokens=2, alpha=0.0,
    table={(1,): logit_row(3, {1: -0.1}), (2,): logit_row(3, {1: -2.0, 2: -2.0})},
)


@given(beam_schedules())
@example(CONFIDENT_AND_UNSURE)
def test_prompt_alone_equals_prompt_in_batch(beam_impl, schedule):
    batched = schedule.run(beam_impl)
    for prompt, hyps in zip(schedule.prompts, batched, strict=True):
        (alone,) = schedule.run(beam_impl, prompts=[prompt])
        assert_same_hypotheses(hyps, alone)


@functools.cache
def tiny_lm() -> TinyLM:
    return TinyLM(seed=1)


@given(
    st.lists(st.lists(st.integers(0, 999), min_size=1, max_size=9), min_size=2, max_size=3),
    st.integers(1, 4),
    st.integers(1, 5),
    ALPHAS,
)
@example([[1, 2, 3], [4, 5, 6, 7, 8], [9] * 9], 3, 5, 0.6)
def test_prompt_alone_equals_prompt_in_batch_tinylm(beam_impl, prompts, beam_width, max_new_tokens, alpha):
    model = tiny_lm()
    # EOS as the first prompt's favourite first token: one prompt finishes early, the others go on.
    eos = int(model([prompts[0]])[0].argmax())
    batched = beam_impl(model, prompts, beam_width, max_new_tokens, eos, alpha=alpha)
    for prompt, hyps in zip(prompts, batched, strict=True):
        (alone,) = beam_impl(model, [prompt], beam_width, max_new_tokens, eos, alpha=alpha)
        assert_same_hypotheses(hyps, alone, rel=1e-7)
