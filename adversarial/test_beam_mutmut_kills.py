"""Beam-search tests that kill mutmut survivors the rest of the suite let through.

Each test names the mutant it was written for (the survivor's changed line in impl/beam_search.py);
they check CONTRACTS §3 and the project rule that a bad argument raises a ValueError naming it.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from adversarial.rejections import rejects
from properties.beam_models import ScriptedModel

GOOD = {"prompts": [[1, 2]], "beam_width": 2, "max_new_tokens": 2, "eos_token_id": 0, "alpha": 0.6}


@pytest.mark.parametrize(
    ("change", "name"),
    [
        # ("beam_width" -> "XXbeam_widthXX" / "BEAM_WIDTH" in the message)
        pytest.param({"beam_width": 0}, "beam_width", id="beam-width-zero"),
        pytest.param({"max_new_tokens": 0}, "max_new_tokens", id="max-new-tokens-zero"),
        # (`_is_int`: `and not isinstance(value, bool)` -> `or ...` takes floats and bools for ints)
        pytest.param({"beam_width": 2.0}, "beam_width", id="beam-width-float"),
        pytest.param({"beam_width": True}, "beam_width", id="beam-width-bool"),
        # (`raise ValueError(None)`: a message that names nothing)
        pytest.param({"eos_token_id": 1.0}, "eos_token_id", id="eos-float"),
        pytest.param({"alpha": "0.6"}, "alpha", id="alpha-string"),
        # (`not isinstance(alpha, ...) or not isfinite(alpha)` -> `and`: NaN passes as a number)
        pytest.param({"alpha": float("nan")}, "alpha", id="alpha-nan"),
    ],
)
def test_bad_argument_raises_value_error_naming_it(beam_impl, change, name):
    args = {**GOOD, **change}
    with rejects(beam_impl, rf"\b{name}\b"):
        beam_impl(ScriptedModel(4, {}), **args)


def test_logits_row_without_a_finite_entry_is_refused(beam_impl):
    # (`logits.max(axis=1)` -> `axis=None`: one finite row hid another row that is all -inf, whose
    # log-softmax is NaN.) The message names the logits, case and all.
    table = {(1, 2): [-np.inf] * 4, (3,): [0.0, 1.0, 2.0, 3.0]}
    with rejects(beam_impl, r"\blogits\b"):
        beam_impl(ScriptedModel(4, table), [[1, 2], [3]], 1, 1, 0)


def test_prompts_on_far_apart_logit_scales_share_a_batch(beam_impl):
    """Log-softmax shifts each row by its own max, so prompts on far-apart logit scales share a batch.

    (Kills `logits.max(axis=1)` -> `axis=None` in log_softmax: one shift for the whole batch.)

    Prompt [5] gets logits [1000, 999, 998] and prompt [6] gets [0, -1, -2] in the same model call.
    Alone or batched, K = 1 and one step pick token 0 for each, with logprob
    -log(1 + e^-1 + e^-2) = -0.4076 (log-softmax is shift-invariant); a shift by the batch's
    maximum would leave prompt [6] with exp(-1000) = 0 everywhere and a logprob of -inf or NaN."""
    expected = -math.log(1 + math.exp(-1) + math.exp(-2))
    model = ScriptedModel(3, {(5,): [1000.0, 999.0, 998.0], (6,): [0.0, -1.0, -2.0]})
    results = beam_impl(model, [[5], [6]], 1, 1, 2, alpha=0.0)
    assert [[h.tokens for h in hyps] for hyps in results] == [[(0,)], [(0,)]]
    for hyps in results:
        assert math.isclose(hyps[0].logprob, expected, abs_tol=1e-9)


def _tokens(hypothesis) -> tuple[int, ...]:
    if isinstance(hypothesis, dict):
        return tuple(hypothesis["tokens"])
    return tuple(hypothesis.tokens if hasattr(hypothesis, "tokens") else hypothesis[0])


def _scores(result) -> list[list[float]] | None:
    """The penalized scores of a raw result (hypotheses as objects or dicts); None for (tokens, logprob) pairs."""
    try:
        return [[float(h["score"] if isinstance(h, dict) else h.score) for h in hyps] for hyps in result]
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


# EOS = 0, K = 2, prompt [1]: the finished (2, 0) (logprob -0.953) and (2, 1, 0) (logprob -1.549) trade
# places between alpha 0.6 (-0.953 / 2**0.6 = -0.629 beats -1.549 / 3**0.6 = -0.801) and alpha 1.6
# (-0.314 loses to -0.267): the default alpha shows in the ranking, whatever form the hypotheses take.
RANKING_FLIPS_WITH_ALPHA = ScriptedModel(3, {(1,): [-3.0, 2.0, 2.5], (1, 1): [0.5, 1.5, 0.5],
                                             (1, 2): [2.5, 2.0, -3.0]}, default=[1.0, -1.5, -3.0])


def test_default_length_penalty_alpha_is_0_6(beam_impl):
    """The seed's default alpha is 0.6: a call without alpha ranks and scores as alpha=0.6 does."""
    # (`alpha=0.6` -> `alpha=1.6` in the signature.) The fixture always passes alpha, so the call
    # goes to the function itself, without it. Three generated tokens (EOS is never likely) make
    # the score logprob / 3 ** alpha depend on alpha.
    parameter = inspect.signature(beam_impl.fn).parameters.get("alpha")
    assert parameter is not None and parameter.default is not inspect.Parameter.empty, \
        "beam_search has no default alpha: the seed asks for alpha=0.6 by default"
    flip = RANKING_FLIPS_WITH_ALPHA

    def ranking(**alpha):
        return [[_tokens(h) for h in hyps] for hyps in beam_impl.fn(flip, [[1]], 2, 3, 0, **alpha)]

    assert ranking() == ranking(alpha=0.6) != ranking(alpha=1.6), "the default alpha ranks unlike alpha=0.6"
    model = ScriptedModel(4, {}, default=[-50.0, 0.0, 0.5, 1.0])
    by_default = _scores(beam_impl.fn(model, [[1]], 2, 3, 0))
    if by_default is not None:  # (tokens, logprob) pairs carry no score: the ranking above decided
        assert by_default == _scores(beam_impl.fn(model, [[1]], 2, 3, 0, alpha=0.6))
        assert by_default != _scores(beam_impl.fn(model, [[1]], 2, 3, 0, alpha=1.6))
