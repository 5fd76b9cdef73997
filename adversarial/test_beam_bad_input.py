"""Every bad input of docs/CONTRACT.md (beam search) raises ValueError with a message naming what is wrong.
Hardening tier: outside code passes a case with any exception that has a message (adversarial/rejections.py)."""

from __future__ import annotations

import numpy as np
import pytest

from adversarial.rejections import rejects
from properties.beam_models import ScriptedModel

GOOD = {"prompts": [[1, 2]], "beam_width": 2, "max_new_tokens": 3, "eos_token_id": 0}


def _fixed_logits(make):
    return lambda seqs: make(len(seqs))


@pytest.mark.parametrize(
    ("change", "model", "message"),
    [
        pytest.param({"prompts": []}, None, "prompt", id="empty-prompt-list"),
        pytest.param({"prompts": [[1], []]}, None, "prompt", id="empty-prompt"),
        pytest.param({"beam_width": 0}, None, "beam|width", id="beam-width-zero"),
        pytest.param({"max_new_tokens": 0}, None, "max_new_tokens|tokens", id="max-new-tokens-zero"),
        pytest.param({"eos_token_id": 4}, None, "eos", id="eos-past-vocab"),
        pytest.param({"eos_token_id": -1}, None, "eos", id="eos-negative"),
        pytest.param({}, _fixed_logits(lambda n: np.zeros((n + 1, 4))), "logit|shape", id="logits-extra-row"),
        pytest.param({}, _fixed_logits(lambda n: np.zeros(n)), "logit|shape", id="logits-one-dimensional"),
        pytest.param({}, _fixed_logits(lambda n: np.full((n, 4), np.nan)), "nan|finite", id="logits-nan"),
    ],
)
def test_bad_input_raises_value_error(beam_impl, change, model, message):
    args = {**GOOD, **change}
    model = ScriptedModel(4, {}) if model is None else model
    with rejects(beam_impl, f"(?i){message}"):
        beam_impl(model, args["prompts"], args["beam_width"], args["max_new_tokens"], args["eos_token_id"])
