"""Tests of beam_search.generate_beams on tiny hand-made probability tables.

Every table below is given as probabilities; the model returns log(p) as logits, so the search's
log-softmax gives back log(p) and each expected logprob is a product of table entries, worked out
by hand in the comments. EOS is token 0 throughout.
"""

import math

import numpy as np
import pytest
from beam_search import generate_beams

EOS = 0
LN = math.log


def table_model(rows, default=None):
    """A model reading its next-token probabilities off `rows[tuple(prompt + generated)]`.

    Every call is recorded in `model.calls`, so tests can see what was expanded.
    """
    calls = []

    def model(sequences):
        calls.append([list(seq) for seq in sequences])
        probs = np.array([rows.get(tuple(seq), default) for seq in sequences], dtype=float)
        with np.errstate(divide="ignore"):
            return np.log(probs)

    model.calls = calls
    return model


def sequences(result):
    return [hyp["sequence"] for hyp in result]


# Prompt [3]. Step 1: EOS 0.3, token 1 0.6. After [1]: EOS 0.1, tokens 1..3 0.3 each. After that: uniform.
SHORT_EOS_TABLE = {
    (3,): [0.3, 0.6, 0.05, 0.05],
    (3, 1): [0.1, 0.3, 0.3, 0.3],
}
UNIFORM = [0.25, 0.25, 0.25, 0.25]


def test_one_beam_is_greedy_and_stops_at_eos():
    # argmax path: 3 -> 2 (0.6) -> 1 (0.5) -> EOS (0.7); logprob ln(0.6 * 0.5 * 0.7) = ln 0.21.
    model = table_model({
        (3,): [0.1, 0.2, 0.6, 0.1],
        (3, 2): [0.3, 0.5, 0.1, 0.1],
        (3, 2, 1): [0.7, 0.1, 0.1, 0.1],
    })
    [[best]] = generate_beams(model, [[3]], num_beams=1, max_new_tokens=5, eos_token_id=EOS)
    assert best["sequence"] == [2, 1, 0] and best["finished"]
    assert best["logprob"] == pytest.approx(LN(0.21))
    assert len(model.calls) == 3  # nothing is asked after EOS although 5 steps were allowed


def test_finished_beam_stays_in_pool_and_wins_without_penalty():
    # alpha = 0, K = 2.
    # step 1: keep [1] (ln .6 = -0.51) and [0] (ln .3 = -1.20, finished).
    # step 2: [1]'s children [1,1], [1,2], [1,3] at ln .18 = -1.71, [1,0] at ln .06 = -2.81.
    #         pool {[0], children}: keep [0] and [1,1] (three-way tie, smallest tuple).
    # step 3: [1,1]'s children all ln .045 = -3.10; the EOS child wins the tie (finished first).
    #         keep [0], [1,1,0]: all finished, so the search stops.
    # Dropping [0] at EOS would return two 3-token beams instead.
    model = table_model(SHORT_EOS_TABLE, default=UNIFORM)
    [result] = generate_beams(model, [[3]], num_beams=2, max_new_tokens=6, eos_token_id=EOS, length_penalty=0.0)
    assert sequences(result) == [[0], [1, 1, 0]]
    assert [h["logprob"] for h in result] == pytest.approx([LN(0.3), LN(0.045)])
    assert all(h["finished"] for h in result)


def test_strong_length_penalty_prefers_longer_hypotheses():
    # Same table, alpha = 2 (scores are logprob / L**2).
    # step 1 (L=1): keep [1] -0.51 and [0] -1.20.
    # step 2 (L=2): [1,1], [1,2], [1,3] at -1.71 / 4 = -0.43, [1,0] at -2.81 / 4 = -0.70;
    #               [0] (-1.20) falls out; keep [1,1], [1,2].
    # step 3 (L=3): all eight children at ln .045 / 9 = -0.345; finished first, then smaller
    #               tuple: [1,1,0], [1,2,0]. Without the penalty [0] would be the best (test above).
    model = table_model(SHORT_EOS_TABLE, default=UNIFORM)
    [result] = generate_beams(model, [[3]], num_beams=2, max_new_tokens=6, eos_token_id=EOS, length_penalty=2.0)
    assert sequences(result) == [[1, 1, 0], [1, 2, 0]]
    assert [h["score"] for h in result] == pytest.approx([LN(0.045) / 9] * 2)
    assert [h["logprob"] for h in result] == pytest.approx([LN(0.045)] * 2)


def test_finished_beam_that_dropped_out_never_returns():
    # K = 1, alpha = 0. step 1: [1] (ln .6) beats [0] (ln .4, finished), so [0] is gone.
    # step 2: [1,1] at ln .54 = -0.62 is kept. step 3: uniform, every child ln .135 = -2.00;
    # the EOS child wins the tie. [0] at -0.92 would beat it, but it lost its slot at step 1.
    model = table_model({
        (3,): [0.4, 0.6, 0.0, 0.0],
        (3, 1): [0.1, 0.9, 0.0, 0.0],
    }, default=UNIFORM)
    [[best]] = generate_beams(model, [[3]], num_beams=1, max_new_tokens=4, eos_token_id=EOS, length_penalty=0.0)
    assert best["sequence"] == [1, 1, 0]
    assert best["logprob"] == pytest.approx(LN(0.135))


def test_length_penalty_counts_generated_tokens_only():
    # Prompt of 5 tokens, K = 2, alpha = 1, two steps.
    # step 1: [2] ln .58 = -0.545, [0] ln .4 = -0.916 (finished) kept.
    # step 2 (L=2): [2,0] ln .29 / 2 = -0.619 (finished), [2,1] ln .174 / 2 = -0.874, [0] -0.916:
    #         keep [2,0], [2,1].
    # Counting the prompt (L = 6 and 7) would rank [0] (-0.153) above [2,0] (-0.177) instead.
    prompt = [3, 3, 3, 3, 3]
    model = table_model({
        tuple(prompt): [0.4, 0.01, 0.58, 0.01],
        tuple(prompt + [2]): [0.5, 0.3, 0.1, 0.1],
    })
    [result] = generate_beams(model, [prompt], num_beams=2, max_new_tokens=2, eos_token_id=EOS, length_penalty=1.0)
    assert sequences(result) == [[2, 0], [2, 1]]
    assert [h["finished"] for h in result] == [True, False]
    assert [h["score"] for h in result] == pytest.approx([LN(0.29) / 2, LN(0.174) / 2])


def test_max_new_tokens_returns_best_unfinished_with_penalised_scores():
    # Every step: EOS 0.01, token 1 0.69, token 2 0.2, token 3 0.1. K = 2, alpha = 0.6, 2 steps.
    # step 1: [1], [2]. step 2: [1,1] = .69^2 = .4761, then [1,2] and [2,1] tie at .138:
    # the smaller tuple [1,2] wins. Both children of [1] survive: the cut is per prompt, not per beam.
    model = table_model({}, default=[0.01, 0.69, 0.2, 0.1])
    [result] = generate_beams(model, [[3]], num_beams=2, max_new_tokens=2, eos_token_id=EOS, length_penalty=0.6)
    assert sequences(result) == [[1, 1], [1, 2]]
    assert not any(h["finished"] for h in result)
    assert [h["logprob"] for h in result] == pytest.approx([LN(0.4761), LN(0.138)])
    assert [h["score"] for h in result] == pytest.approx([LN(0.4761) / 2 ** 0.6, LN(0.138) / 2 ** 0.6])


def test_ties_break_finished_first_then_smaller_tokens():
    # Uniform over 4 tokens, alpha = 0: every step-1 candidate has ln .25.
    # step 1: finished [0] first, then [1]. step 2: [1]'s children all ln 1/16 < ln .25;
    # [1,0] is finished so it goes first: keep [0], [1,0].
    model = table_model({}, default=UNIFORM)
    [result] = generate_beams(model, [[2]], num_beams=2, max_new_tokens=3, eos_token_id=EOS, length_penalty=0.0)
    assert sequences(result) == [[0], [1, 0]]
    assert [h["logprob"] for h in result] == pytest.approx([LN(0.25), LN(1 / 16)])


def test_tied_eos_survives_the_per_beam_cut_when_its_id_is_large():
    # EOS is the last of 6 tokens here, all equally likely; K = 1 so each beam keeps 2 children.
    # In the pool's order a finished candidate goes first among equals, so the cut keeps [5] (EOS)
    # and [0]; the pool then keeps [5]. Cutting by token id alone would keep [0], [1] and lose EOS.
    model = table_model({}, default=[1 / 6] * 6)
    [[best]] = generate_beams(model, [[2]], num_beams=1, max_new_tokens=3, eos_token_id=5, length_penalty=0.0)
    assert best["sequence"] == [5] and best["finished"]


def test_low_precision_logits_are_normalised_in_float64():
    # A float16 model: logits 0 and ln 3 round to 0 and 1.0986328125 in float16. The log-softmax
    # of those two float16 values, taken in float64, is ln(1 / (1 + e^1.0986328125)) for EOS;
    # done in float16 it would be off by ~1e-3.
    high = float(np.float16(LN(3)))

    def model(seqs):
        return np.array([[0.0, high]] * len(seqs), dtype=np.float16)

    [result] = generate_beams(model, [[1]], num_beams=2, max_new_tokens=1, eos_token_id=EOS, length_penalty=0.0)
    assert sequences(result) == [[1], [0]]
    expected_eos = -math.log1p(math.exp(high))
    assert result[1]["logprob"] == pytest.approx(expected_eos, rel=1e-12)
    assert result[0]["logprob"] == pytest.approx(high + expected_eos, rel=1e-12)


def test_finished_beams_are_never_expanded():
    rng = np.random.default_rng(7)
    bigram = rng.dirichlet(np.ones(5), size=5)
    bigram[:, EOS] += 0.3  # makes EOS likely enough that some beams finish early
    bigram /= bigram.sum(axis=1, keepdims=True)

    def model(seqs):
        model.calls.extend(seqs)
        return np.log(np.stack([bigram[seq[-1]] for seq in seqs]))

    model.calls = []
    prompt = [4, 2]
    [result] = generate_beams(model, [prompt], num_beams=3, max_new_tokens=5, eos_token_id=EOS)
    assert any(h["finished"] for h in result)
    assert all(EOS not in seq[len(prompt):] for seq in model.calls)
    assert all(h["sequence"][-1] == EOS for h in result if h["finished"])


def test_batch_of_two_prompts_matches_searching_each_alone():
    # Prompts of different lengths whose next-token tables depend on the prompt: a search that
    # mixed the two pools, or cut 2K candidates across the batch, would change one of them.
    rng = np.random.default_rng(3)
    table = rng.dirichlet(np.ones(6) * 0.5, size=6)

    def model(seqs):
        # the first prompt token steers the whole continuation
        return np.log(np.stack([table[(seq[-1] + 2 * seq[0]) % 6] for seq in seqs]))

    prompts = [[1], [4, 5, 2]]
    batch = generate_beams(model, prompts, num_beams=3, max_new_tokens=4, eos_token_id=EOS)
    alone = [generate_beams(model, [p], num_beams=3, max_new_tokens=4, eos_token_id=EOS)[0] for p in prompts]
    assert sequences(batch[0]) != sequences(batch[1])
    for got, want in zip(batch, alone, strict=True):
        assert sequences(got) == sequences(want)
        assert [h["score"] for h in got] == pytest.approx([h["score"] for h in want])
        scores = [h["score"] for h in got]
        assert scores == sorted(scores, reverse=True)


def test_huge_logits_and_forbidden_tokens():
    # Logits 5000 and 5000 + ln 3 are probabilities 1/4 and 3/4 (a naive exp overflows);
    # token 2 is forbidden (-inf), which is allowed, and never generated.
    def model(seqs):
        return np.array([[5000.0, 5000.0 + LN(3), -np.inf]] * len(seqs))

    [result] = generate_beams(model, [[1, 1]], num_beams=2, max_new_tokens=1, eos_token_id=EOS, length_penalty=0.0)
    assert sequences(result) == [[1], [0]]
    assert [h["logprob"] for h in result] == pytest.approx([LN(0.75), LN(0.25)])


GOOD = dict(input_ids=[[1, 2]], num_beams=2, max_new_tokens=3, eos_token_id=EOS, length_penalty=0.6)


@pytest.mark.parametrize("bad", [
    dict(input_ids=[]),
    dict(input_ids=[[1], []]),
    dict(input_ids=[[1, 2.5]]),
    dict(num_beams=0),
    dict(num_beams=True),
    dict(max_new_tokens=0),
    dict(max_new_tokens=2.0),
    dict(eos_token_id=4),  # the vocabulary below has 4 tokens
    dict(length_penalty=float("nan")),
    dict(length_penalty=float("inf")),
])
def test_bad_arguments_raise_value_error(bad):
    model = table_model({}, default=UNIFORM)
    with pytest.raises(ValueError):
        generate_beams(model, **{**GOOD, **bad})


@pytest.mark.parametrize("logits", [
    lambda n: np.full((n, 4), np.nan),
    lambda n: np.array([[0.0, np.inf, 0.0, 0.0]] * n),
    lambda n: np.full((n, 4), -np.inf),
    lambda n: np.zeros((n + 1, 4)),  # one row too many
    lambda n: np.zeros(4),
])
def test_malformed_model_output_raises_value_error(logits):
    with pytest.raises(ValueError):
        generate_beams(lambda seqs: logits(len(seqs)), **GOOD)
