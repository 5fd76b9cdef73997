"""The scoring rules of CONTRACTS §3 in plain Python floats, shared by both beam-search oracles.

Independent of `impl/`: log-softmax, the penalized score and the ranking are written out here from
the contract text, so an oracle built on them is a second implementation, not a copy.
"""

from __future__ import annotations

import math

from properties.beam_hypothesis import Hyp


def log_softmax(logits) -> list[float]:
    row = [float(x) for x in logits]
    top = max(row)
    shifted = [x - top for x in row]
    log_total = math.log(sum(math.exp(x) for x in shifted))
    return [x - log_total for x in shifted]


def hyp(tokens: tuple[int, ...], logprob: float, eos_token_id: int, alpha: float) -> Hyp:
    """A hypothesis with its penalized score: logprob / generated_length ** alpha."""
    return Hyp(tokens, logprob, logprob / len(tokens) ** alpha, tokens[-1] == eos_token_id)


def best_first(h: Hyp) -> tuple:
    """Sort key: higher score, then finished before unfinished, then the smaller token tuple."""
    return (-h.score, not h.finished, h.tokens)


def sequence_logprob(model, prompt, tokens) -> float:
    """The sum of the model's log-softmax along `tokens`, one prefix at a time."""
    seq = list(prompt)
    total = 0.0
    for token in tokens:
        total += log_softmax(model([seq])[0])[token]
        seq.append(token)
    return total


def assert_same_hypotheses(actual: list[Hyp], expected: list[Hyp], rel: float = 1e-9) -> None:
    """Same tokens and finished flags in the same order; logprobs and scores equal up to rounding."""
    got, want = [(h.tokens, h.finished) for h in actual], [(h.tokens, h.finished) for h in expected]
    assert got == want, f"(tokens, finished) best first: got {got}, expected {want}"
    for got, want in zip(actual, expected, strict=True):
        assert math.isclose(got.logprob, want.logprob, rel_tol=rel, abs_tol=rel), (got, want)
        assert math.isclose(got.score, want.score, rel_tol=rel, abs_tol=rel), (got, want)
