"""Demonstrations for the equivalent beam mutants of mutation_config/named_beam.toml.

Each builds the mutant in memory and shows it returns exactly what the reference returns across
many forced-EOS schedules (and, for the per-beam cut, on TinyLM with a 1000-token vocabulary). These
compare two fixed implementations, so they take no `beam_impl` and do not run per mutant.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings

from impl.beam_search import beam_search
from killmatrix.mutation.catalog import get_mutant
from properties.beam_models import TinyLM
from properties.beam_schedules import beam_schedules

EQUIVALENT = ("beam-top-k-per-beam", "beam-rescore-finished-each-step", "beam-tie-break-on-whole-sequence")


@functools.cache
def mutant_search(mutant_id: str):
    return get_mutant(mutant_id).load_module().beam_search


def plain(results) -> list[list[tuple]]:
    """Results as plain tuples: the mutant's Hypothesis is a different class from the reference's."""
    return [[(h.tokens, h.logprob, h.score, h.finished) for h in hyps] for hyps in results]


@pytest.mark.parametrize("mutant_id", EQUIVALENT)
@settings(max_examples=200)
@given(schedule=beam_schedules(max_beam_width=3))
def test_equivalent_mutant_agrees_with_reference(mutant_id, schedule):
    assert plain(schedule.run(mutant_search(mutant_id))) == plain(schedule.run(beam_search))


def test_top_k_per_beam_agrees_on_tinylm():
    """Vocab 1000 against K = 4: the mutant's cut (4 per beam) really is narrower than 8."""
    model = TinyLM(seed=2)
    prompts = [[5, 6, 7], [10, 11, 12, 13, 14], [20] * 9]
    eos = int(model([prompts[0]])[0].argmax())
    args = (prompts, 4, 8, eos)
    assert plain(mutant_search("beam-top-k-per-beam")(model, *args)) == plain(beam_search(model, *args))
