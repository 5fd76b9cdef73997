"""Batched beam search for autoregressive models, in the style of Hugging Face ``generate``.

The public entry point is :func:`generate_beams`. It decodes a batch of prompts of different
lengths, each with its own beam of ``num_beams`` hypotheses, and returns for every prompt a list
of dicts ``{"sequence", "score", "logprob", "finished"}``, best first.

Semantics (they differ from ``transformers`` on purpose, see ``BeamHypotheses``):

* ``model(sequences)`` takes a list of token-id lists (prompt + tokens generated so far) and
  returns next-token logits of shape ``(len(sequences), vocab_size)``. Log-softmax is applied
  here, in float64.
* A hypothesis is ranked by ``logprob / generated_length ** length_penalty``, where
  ``generated_length`` counts generated tokens only (EOS included, prompt excluded). The stored
  ``logprob`` is the raw sum of token log-probabilities and is never rescaled.
* A candidate ending in ``eos_token_id`` is finished: it is never expanded again but keeps its
  slot for as long as it ranks among the ``num_beams`` best of its prompt's pool, which is
  {finished kept hypotheses} + {all new candidates}. Once it drops out it never comes back.
* Ties break deterministically: higher score, then finished before unfinished, then the
  lexicographically smaller token tuple.
* A prompt stops when all its kept hypotheses are finished; decoding stops when every prompt
  has stopped or after ``max_new_tokens`` steps.
* Tokens whose logit is ``-inf`` are forbidden and never proposed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

__all__ = ["BeamHypotheses", "BeamSearchScorer", "generate_beams"]


class Hypothesis(NamedTuple):
    """One kept beam: generated tokens only, raw summed log-prob, penalised score."""

    tokens: tuple
    logprob: float
    score: float
    finished: bool

    def as_dict(self) -> dict:
        """The public result record: ``sequence``, ``score``, ``logprob``, ``finished``."""
        return {
            "sequence": list(self.tokens),
            "score": self.score,
            "logprob": self.logprob,
            "finished": self.finished,
        }


def penalised_score(logprob: float, length: int, length_penalty: float) -> float:
    """``logprob / length ** length_penalty``; ``length`` counts generated tokens only."""
    return logprob / (float(length) ** length_penalty)


def _rank_key(hyp: Hypothesis):
    """Sort key of a prompt's pool: best score first, finished first, then smaller tokens."""
    return (-hyp.score, not hyp.finished, hyp.tokens)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64, stable for huge logits and for ``-inf`` entries."""
    z = np.asarray(logits, dtype=np.float64)
    top = z.max(axis=-1, keepdims=True)
    shifted = z - top
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class BeamHypotheses:
    """The finished hypotheses one prompt currently keeps among its ``num_beams`` slots.

    Unlike ``transformers.BeamHypotheses`` (a separate pool of up to ``num_beams`` finished
    sequences next to ``num_beams`` live ones), finished and live hypotheses here share the same
    ``num_beams`` slots: a finished hypothesis that is outranked loses its slot for good.
    """

    def __init__(self, num_beams: int, length_penalty: float):
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.beams: list[Hypothesis] = []
        self.done = False

    def __len__(self) -> int:
        return len(self.beams)

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return f"BeamHypotheses({len(self)} finished of {self.num_beams} slots, {state})"

    def add(self, tokens: Sequence[int], sum_logprobs: float) -> Hypothesis:
        """Store a finished hypothesis (``tokens`` end in EOS) with its penalised score."""
        score = penalised_score(sum_logprobs, len(tokens), self.length_penalty)
        hyp = Hypothesis(tuple(tokens), float(sum_logprobs), score, True)
        self.beams.append(hyp)
        self.beams.sort(key=_rank_key)
        return hyp

    def retain(self, kept: Sequence[Hypothesis]) -> None:
        """Forget the finished hypotheses that lost their slot this step; they never return."""
        survivors = set(kept)
        self.beams = [hyp for hyp in self.beams if hyp in survivors]

    def is_done(self, num_live: int) -> bool:
        """True once no kept hypothesis is still live; the prompt then stops for good."""
        if num_live == 0:
            self.done = True
        return self.done


class BeamSearchScorer:
    """Per-step selection for a whole batch: expand, pool, keep the top ``num_beams``."""

    def __init__(self, batch_size: int, num_beams: int, eos_token_id: int, length_penalty: float):
        self.num_beams = num_beams
        self.eos_token_id = eos_token_id
        self.length_penalty = length_penalty
        self.hyps = [BeamHypotheses(num_beams, length_penalty) for _ in range(batch_size)]
        # live[i]: the unfinished hypotheses prompt i keeps; one empty hypothesis to start.
        self.live: list[list[Hypothesis]] = [[Hypothesis((), 0.0, 0.0, False)] for _ in range(batch_size)]

    @property
    def is_done(self) -> bool:
        return all(h.done for h in self.hyps)

    def live_beams(self) -> list[tuple[int, Hypothesis]]:
        """(prompt index, hypothesis) for every beam that must be expanded next step."""
        return [(i, hyp) for i, beams in enumerate(self.live) if not self.hyps[i].done for hyp in beams]

    def _children(self, parent: Hypothesis, row: np.ndarray) -> list[Hypothesis]:
        """The parent's best ``min(2 * num_beams, vocab)`` children, in the pool's own order."""
        length = len(parent.tokens) + 1
        totals = parent.logprob + row
        scores = totals / (float(length) ** self.length_penalty)
        token_ids = np.arange(row.shape[0])
        not_eos = token_ids != self.eos_token_id
        order = np.lexsort((token_ids, not_eos, -scores))[: min(2 * self.num_beams, row.shape[0])]
        children = []
        for t in order:
            if not np.isfinite(totals[t]):
                break  # forbidden tokens sort last; everything after is forbidden too
            t = int(t)
            finished = t == self.eos_token_id
            children.append(Hypothesis(parent.tokens + (t,), float(totals[t]), float(scores[t]), finished))
        return children

    def process(self, beams: Sequence[tuple[int, Hypothesis]], logprobs: np.ndarray) -> None:
        """Advance every unfinished prompt by one token.

        ``beams`` is what :meth:`live_beams` returned and ``logprobs[j]`` the next-token
        log-probabilities of ``beams[j]``.
        """
        pools: dict[int, list[Hypothesis]] = {}
        for (i, parent), row in zip(beams, logprobs, strict=True):
            pool = pools.setdefault(i, list(self.hyps[i].beams))
            pool.extend(self._children(parent, row))
        for i, pool in pools.items():
            pool.sort(key=_rank_key)
            kept = pool[: self.num_beams]
            hyps = self.hyps[i]
            old = set(hyps.beams)
            hyps.retain(kept)
            for hyp in kept:
                if hyp.finished and hyp not in old:
                    hyps.add(hyp.tokens, hyp.logprob)
            self.live[i] = [hyp for hyp in kept if not hyp.finished]
            hyps.is_done(len(self.live[i]))

    def finalize(self) -> list[list[Hypothesis]]:
        """Every prompt's kept hypotheses (finished and live), best first."""
        return [sorted(list(h.beams) + list(live), key=_rank_key) for h, live in zip(self.hyps, self.live, strict=True)]


def _check_int(name: str, value, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_length_penalty(value) -> float:
    """A finite real exponent; 0 ranks by raw logprob, larger values favour longer outputs."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"length_penalty must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"length_penalty must be finite, got {value!r}")
    return float(value)


def _check_prompts(input_ids) -> list[list[int]]:
    if isinstance(input_ids, (str, bytes)) or not isinstance(input_ids, (Sequence, np.ndarray)) or len(input_ids) == 0:
        raise ValueError("input_ids must be a non-empty list of prompts (lists of token ids)")
    prompts = []
    for n, prompt in enumerate(input_ids):
        if isinstance(prompt, (str, bytes)) or not isinstance(prompt, (Sequence, np.ndarray)) or len(prompt) == 0:
            raise ValueError(f"input_ids[{n}] must be a non-empty list of token ids, got {prompt!r}")
        prompts.append([_check_int(f"input_ids[{n}][{k}]", tok, 0) for k, tok in enumerate(prompt)])
    return prompts


def _check_logits(logits, rows: int, vocab: int | None) -> np.ndarray:
    """The model's output as float64, refused when malformed; ``vocab`` is None on the first call."""
    try:
        z = np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model must return a float array of logits: {exc}") from None
    if z.ndim != 2 or z.shape[0] != rows or z.shape[1] == 0 or (vocab is not None and z.shape[1] != vocab):
        expected = f"({rows}, {vocab if vocab is not None else 'vocab_size'})"
        raise ValueError(f"model returned logits of shape {z.shape}, expected {expected}")
    if np.isnan(z).any():
        raise ValueError("model returned NaN logits")
    if np.isposinf(z).any():
        raise ValueError("model returned +inf logits")
    if not np.isfinite(z).any(axis=1).all():
        raise ValueError("model returned a row of logits with no finite entry (every token forbidden)")
    return z


def generate_beams(
    model: Callable[[list[list[int]]], np.ndarray],
    input_ids: Sequence[Sequence[int]],
    num_beams: int,
    max_new_tokens: int,
    eos_token_id: int,
    length_penalty: float = 0.6,
) -> list[list[dict]]:
    """Beam-search ``max_new_tokens`` at most for every prompt in ``input_ids``.

    Args:
        model: ``model(sequences) -> logits`` with ``sequences`` a list of token-id lists
            (prompt plus generated tokens) and ``logits`` of shape ``(len(sequences), vocab)``.
        input_ids: non-empty list of non-empty prompts; lengths may differ.
        num_beams: hypotheses kept per prompt (>= 1).
        max_new_tokens: decoding steps at most (>= 1).
        eos_token_id: the end-of-sequence id; must lie inside the model's vocabulary.
        length_penalty: exponent ``alpha`` of the generated length in the ranking score.

    Returns:
        One list per prompt, best first, of at most ``num_beams`` dicts with ``sequence``
        (generated ids only, EOS included if finished), ``score`` (penalised), ``logprob``
        (raw sum of log-probs) and ``finished``.

    Raises:
        ValueError: on malformed arguments or model output.

    Example:
        >>> import numpy as np
        >>> probs = np.array([0.5, 0.3, 0.2])          # a model that ignores its input
        >>> model = lambda seqs: np.log(np.tile(probs, (len(seqs), 1)))
        >>> out = generate_beams(model, [[1, 2]], num_beams=2, max_new_tokens=2, eos_token_id=0)
        >>> [hyp["sequence"] for hyp in out[0]]
        [[0], [1, 0]]
        >>> round(out[0][1]["logprob"], 4)              # ln(0.3 * 0.5)
        -1.8971
    """
    prompts = _check_prompts(input_ids)
    num_beams = _check_int("num_beams", num_beams, 1)
    max_new_tokens = _check_int("max_new_tokens", max_new_tokens, 1)
    eos_token_id = _check_int("eos_token_id", eos_token_id)
    if eos_token_id < 0:
        raise ValueError(f"eos_token_id must be a token id inside the vocabulary, got {eos_token_id}")
    length_penalty = _check_length_penalty(length_penalty)
    if not callable(model):
        raise ValueError("model must be callable")

    scorer = BeamSearchScorer(len(prompts), num_beams, eos_token_id, length_penalty)
    vocab = None
    for _ in range(max_new_tokens):
        beams = scorer.live_beams()
        if not beams:
            break
        sequences = [prompts[i] + list(hyp.tokens) for i, hyp in beams]
        logits = _check_logits(model(sequences), len(sequences), vocab)
        if vocab is None:
            vocab = logits.shape[1]
            if eos_token_id >= vocab:
                raise ValueError(f"eos_token_id {eos_token_id} is outside the vocabulary of size {vocab}")
        scorer.process(beams, log_softmax(logits))
        if scorer.is_done:
            break

    return [[hyp.as_dict() for hyp in per_prompt] for per_prompt in scorer.finalize()]
