"""Cost properties of beam search: what the model is asked to compute, counted, never timed.

A search that re-sends its finished beams, or a model whose cache the search's calls defeat, returns
the same beams at a higher price. Both are counted here through the model the search is handed (it
stays in the test process even for outside code): the sequences of every call, and `TinyLM`'s
`positions_computed`. The figures are recorded before asserting, so `check` reports them for outside
code in the performance tier; for the reference and its mutants a wrong count fails.
"""

from __future__ import annotations

from properties.beam_models import ScriptedModel, TinyLM

EOS = 0


class RecordingModel:
    """Passes every call on to `model` and keeps the sequences it was shown, call by call."""

    def __init__(self, model):
        self.model = model
        self.calls: list[list[tuple[int, ...]]] = []

    def __call__(self, seqs):
        self.calls.append([tuple(int(t) for t in seq) for seq in seqs])
        return self.model(seqs)


def _eos_leaning_model() -> RecordingModel:
    """Five tokens, EOS a little likelier than each other token everywhere: beams finish at every
    step while others go on, so finished beams sit in the pool for many steps."""
    return RecordingModel(ScriptedModel(5, {}, default=[0.4, 0.0, 0.1, 0.2, 0.3]))


def test_model_never_scores_a_finished_or_already_scored_sequence(beam_impl, record_property):
    """Each call carries only unfinished beams, each sequence once in the whole search: rows per step
    equal the unfinished beams. (Kills a search that sends its finished beams to the model again at
    every step and drops their rows: the same beams, up to K extra rows per prompt and step.)"""
    model = _eos_leaning_model()
    prompts = [[1, 2], [3], [4, 4, 1]]
    beam_impl(model, prompts, 3, 6, EOS)
    shown = [seq for call in model.calls for seq in call]
    # No prompt holds EOS, so a sequence ending in it is a finished beam.
    finished = [seq for seq in shown if seq[-1] == EOS]
    repeated = len(shown) - len(set(shown))
    record_property("model_rows_per_step", round(len(shown) / max(len(model.calls), 1), 2))
    record_property("model_rows_wasted", len(finished) + repeated)
    assert not finished, (f"{len(finished)} of {len(shown)} rows sent to the model were finished beams "
                          f"(ending in EOS), first {finished[0]}: their logits are never used")
    assert not repeated, f"{repeated} of {len(shown)} rows sent to the model had been scored before"


def test_cached_model_computes_each_position_once(beam_impl, record_property):
    """With `TinyLM`'s key/value cache, the first step computes the prompts and every later row only
    its newest position: positions computed = prompt lengths + rows after the first call. (Kills the
    whole prefix recomputed each step despite the cache, `_recall` always missing: ~L times the work
    per row at length L, the same logits.)"""
    lm = TinyLM(seed=3, vocab_size=50)
    model = RecordingModel(lm)
    prompts = [[5, 7, 9, 11], [2, 3], [13, 1, 8]]
    beam_impl(model, prompts, 3, 5, EOS)
    first, later = model.calls[0], [seq for call in model.calls[1:] for seq in call]
    minimum = sum(len(seq) for seq in first) + len(later)
    record_property("model_positions_computed", lm.positions_computed)
    record_property("model_positions_minimum", minimum)
    assert len(model.calls) > 1, "the search stopped after one step; nothing was left to cache"
    assert lm.positions_computed == minimum, (
        f"the model computed {lm.positions_computed} positions where the cache allows {minimum} (the prompts, then "
        f"one per row): prefixes were recomputed")
