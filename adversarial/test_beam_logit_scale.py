"""Overflow-scale logits: log-softmax is shift-invariant, so logits near 1000 (where exp overflows
float64 without the max shift) must give exactly the search they give shifted down by 1000."""

from __future__ import annotations

import math

import numpy as np

from properties.beam_models import ScriptedModel


def test_overflow_scale_logits_equal_their_shifted_copy(beam_impl):
    """Every prefix gets logits r = [0, -0.5, -2, -10] (+1000 in the hostile copy); EOS = 1.
    lse(r) = log(1 + e^-0.5 + e^-2 + e^-10) = 0.555, so token 0 has -0.555 and EOS -1.055.
    K = 2, alpha 0: step 1 keeps (0) and (EOS); step 2: (0, 0) at -1.110 is below (EOS) -1.055."""
    row = np.array([0.0, -0.5, -2.0, -10.0])
    lse = math.log(sum(math.exp(x) for x in row))
    results = [beam_impl(ScriptedModel(4, {}, default=row + shift), [[2]], 2, 2, 1, alpha=0.0)
               for shift in (0.0, 1000.0)]
    for (hyps,) in results:
        assert [h.tokens for h in hyps] == [(1,), (0, 0)]
        assert math.isclose(hyps[0].logprob, -0.5 - lse, abs_tol=1e-9)
        assert math.isclose(hyps[1].logprob, -2 * lse, abs_tol=1e-9)
