"""The beam tests' equipment (impl/models.py): TinyLM gives each sequence of a left-padded batch the
logits it gets alone, and both models reject bad input with a ValueError."""

from __future__ import annotations

import numpy as np
import pytest

from impl.models import ScriptedModel, TinyLM


def test_tinylm_batch_gives_each_sequence_its_own_logits():
    model = TinyLM(seed=3)
    seqs = [[5], [1, 2, 3, 4, 5, 6, 7, 8, 9], [400, 7, 999]]
    together = model(seqs)
    assert together.shape == (3, 1000)
    for seq, row in zip(seqs, together, strict=True):
        np.testing.assert_allclose(row, model([seq])[0], rtol=1e-12, atol=1e-12)
    # Position matters: the same tokens in another order give other logits.
    assert not np.allclose(model([[1, 2]])[0], model([[2, 1]])[0])


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
    ],
)
def test_models_reject_bad_input(build, message):
    with pytest.raises(ValueError, match=message):
        build()
