"""The beam tests' equipment (properties/beam_models.py): TinyLM gives each sequence of a left-padded batch the
logits it gets alone; its key/value cache changes no logit, serves exactly the sequences whose prefix
an earlier call computed, and stays within its bound; both models reject bad input with a ValueError.

The cache's oracle is the same model with the cache off (`cache_size=0`): every position computed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from impl.beam_search import beam_search
from properties.beam_models import ScriptedModel, TinyLM

# Tolerance of float64 sums over d_model = 64 and 4 * d_model terms: the cached and the full path
# compute the same products, possibly in another BLAS blocking.
TOLERANCE = {"rtol": 1e-12, "atol": 1e-12}
token_seqs = st.lists(st.integers(0, 999), min_size=1, max_size=9)


@st.composite
def decoding_steps(draw, max_batch=10):
    """The batches a decoder sends over 2-5 calls: each sequence of a call comes back in the next one
    extended by one token, or branched into two children sharing it as their prefix, and a fresh
    sequence may join."""
    steps = [draw(st.lists(token_seqs, min_size=1, max_size=4))]
    for _ in range(draw(st.integers(1, 4))):
        batch = []
        for seq in steps[-1]:
            branches = 2 if len(batch) + 2 <= max_batch and draw(st.booleans()) else 1
            batch += [seq + [draw(st.integers(0, 999))] for _ in range(branches)]
        steps.append(batch + draw(st.lists(token_seqs, max_size=1)))
    return steps


# Suffixes shared across different first tokens ([1, 2, 3] vs [4, 2, 3]): only a key on the whole
# prefix tells their states apart. [6, 2, 3] joins late; [1, 2, 3] branches; [5] is length 1.
SHARED_SUFFIXES = [
    [[1, 2, 3], [4, 2, 3], [5]],
    [[1, 2, 3, 7], [1, 2, 3, 8], [4, 2, 3, 7], [5, 9], [6, 2, 3]],
    [[1, 2, 3, 7, 7], [4, 2, 3, 7, 7], [1, 2, 3, 8, 7], [5, 9, 9], [6, 2, 3, 7]],
]


@given(decoding_steps())
@example(SHARED_SUFFIXES)
def test_cached_logits_equal_uncached_logits(steps):
    cached, uncached = TinyLM(seed=7), TinyLM(seed=7, cache_size=0)
    computed_before: set[tuple[int, ...]] = set()
    expected_positions = 0
    for batch in steps:
        np.testing.assert_allclose(cached(batch), uncached(batch), **TOLERANCE)
        # Only the newest position when an earlier call computed the prefix, the whole sequence otherwise.
        expected_positions += sum(1 if tuple(seq[:-1]) in computed_before else len(seq) for seq in batch)
        computed_before.update(tuple(seq) for seq in batch)
        assert cached.positions_computed == expected_positions


def test_tinylm_batch_gives_each_sequence_its_own_logits():
    model = TinyLM(seed=3)
    seqs = [[5], [1, 2, 3, 4, 5, 6, 7, 8, 9], [400, 7, 999]]
    together = model(seqs)
    assert together.shape == (3, 1000)
    for seq, row in zip(seqs, together, strict=True):
        np.testing.assert_allclose(row, model([seq])[0], **TOLERANCE)
    # Position matters: the same tokens in another order give other logits.
    assert not np.allclose(model([[1, 2]])[0], model([[2, 1]])[0])


@given(st.lists(st.tuples(token_seqs, st.booleans()), min_size=2, max_size=5))
@example([([1, 2, 3], True), ([1, 2, 4], True), ([9], False), ([5, 6, 7, 8, 9, 10, 11], True), ([8, 8], False)])
def test_tinylm_batch_equals_each_sequence_alone_with_warm_cache(seqs_and_warm):
    """Warm prefixes make some rows take the cached path, of different lengths, beside full-path rows."""
    model = TinyLM(seed=3)
    seqs = [seq for seq, _ in seqs_and_warm]
    warm_prefixes = [seq[:-1] for seq, warm in seqs_and_warm if warm and len(seq) > 1]
    if warm_prefixes:
        model(warm_prefixes)
    together = model(seqs)
    for seq, row in zip(seqs, together, strict=True):
        np.testing.assert_allclose(row, model([seq])[0], **TOLERANCE)


PROMPTS = [[11, 12, 13], [21, 22, 23, 24, 25], [31, 32, 33, 34, 35, 36, 37, 38, 39]]
BEAM_WIDTH, MAX_NEW_TOKENS = 4, 32
CACHE_BOUND = 2 * len(PROMPTS) * BEAM_WIDTH  # this step's live beams and the next step's


@pytest.mark.parametrize("per_beam", [False, True], ids=["batched", "per-beam-calls"])
def test_cache_stays_bounded_and_serves_every_step_of_a_search(per_beam):
    """A 32-step search (the bench's) inserts ~380 sequences into a cache of 24; after the prompts'
    first call, every call computes exactly one position per sequence, fed batched or beam by beam."""
    model = TinyLM(seed=0, cache_size=CACHE_BOUND)
    cache_sizes, rows, positions = [], [], []

    def watched(seqs):
        before = model.positions_computed
        logits = np.concatenate([model([seq]) for seq in seqs]) if per_beam else model(seqs)
        cache_sizes.append(len(model.cache))
        rows.append(len(seqs))
        positions.append(model.positions_computed - before)
        return logits

    beam_search(watched, PROMPTS, BEAM_WIDTH, MAX_NEW_TOKENS, eos_token_id=0)
    assert len(rows) == MAX_NEW_TOKENS and sum(rows) > CACHE_BOUND  # the search ran long enough to evict
    assert max(cache_sizes) == CACHE_BOUND
    assert positions == [sum(len(p) for p in PROMPTS), *rows[1:]]


def test_cache_evicts_the_least_recently_used_sequence():
    model = TinyLM(seed=0, cache_size=2)
    model([[1]])
    model([[2]])
    model([[1, 5]])  # reads [1]: now [2] is the least recently used, and inserting [1, 5] evicts it
    assert list(model.cache) == [(1,), (1, 5)]
    before = model.positions_computed
    model([[2, 6]])
    model([[1, 5, 7]])
    assert model.positions_computed - before == 2 + 1


def test_scripted_model_plays_its_table_and_logs_calls():
    model = ScriptedModel(3, {(1,): [0.0, 1.0, 2.0]}, default=[5.0, 5.0, 5.0])
    np.testing.assert_array_equal(model([[1], [2]]), [[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
    model([[1, 0]])
    assert model.batch_sizes == [2, 1] and model.calls == 2


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: ScriptedModel(0, {}), "vocab_size", id="scripted-vocab-zero"),
        pytest.param(lambda: ScriptedModel(3, {(1,): [0.0, 1.0]}), r"table\[\(1,\)\]", id="scripted-short-row"),
        pytest.param(lambda: ScriptedModel(3, {}, default=[0.0]), "default", id="scripted-short-default"),
        pytest.param(lambda: TinyLM(d_model=10, n_heads=4), "divisible", id="tinylm-heads"),
        pytest.param(lambda: TinyLM()([[1000]]), "token ids", id="tinylm-token-past-vocab"),
        pytest.param(lambda: TinyLM()([[1], []]), "non-empty", id="tinylm-empty-sequence"),
        pytest.param(lambda: TinyLM(max_positions=4)([[1] * 5]), "max_positions", id="tinylm-too-long"),
        pytest.param(lambda: TinyLM(cache_size=-1), "cache_size", id="tinylm-negative-cache"),
        pytest.param(lambda: TinyLM()([[1, 2.5]]), "token ids", id="tinylm-float-token"),
    ],
)
def test_models_reject_bad_input(build, message):
    with pytest.raises(ValueError, match=message):
        build()
