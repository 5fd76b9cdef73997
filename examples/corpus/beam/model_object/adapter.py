"""Adapts the checker's batched `model(seqs) -> (n, vocab)` callable to `lm.forward(ids)`."""
import importlib.util
import pathlib

import numpy as np

# load the sibling beam.py by path so the adapter works whatever sys.path is
_spec = importlib.util.spec_from_file_location(
    "model_object_beam", pathlib.Path(__file__).with_name("beam.py"))
_impl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_impl)
generate_beams = _impl.generate_beams


class _ForwardModel:
    def __init__(self, model):
        self._model = model

    def forward(self, ids):
        return np.asarray(self._model([list(ids)]))[0]


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    batches = generate_beams(_ForwardModel(model), prompts, beam_width, max_new_tokens,
                             eos_token_id, alpha)
    return [[{"tokens": h["ids"], "logprob": h["logprob"], "score": h["norm_score"],
              "finished": h["done"]} for h in hyps] for hyps in batches]
