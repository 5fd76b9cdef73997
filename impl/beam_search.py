"""Batched beam search with finished beams kept in the pool and a length penalty (CONTRACTS §3).

Each step makes one model call for every unfinished beam of every prompt, then, per prompt:
  expansion  `expand`: each unfinished beam proposes its top 2K next tokens;
  pool       its kept finished beams plus all new candidates, never another prompt's;
  penalty    score = logprob / `length_penalty`(generated_length), for ranking only;
  selection  `select`: the top K of the pool under `rank_key`;
  stopping   a prompt whose kept beams are all finished has nothing left to expand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Hypothesis:
    """One returned sequence: generated tokens only (EOS included when finished)."""

    tokens: tuple[int, ...]
    logprob: float  # raw sum of the model's log-probs; the length penalty never touches it
    score: float  # logprob / len(tokens) ** alpha
    finished: bool


class _Beam(NamedTuple):
    seq: tuple[int, ...]  # prompt + generated tokens: exactly what the model reads
    start: int  # len(prompt): where the generated tokens begin
    logprob: float
    score: float
    finished: bool

    @property
    def generated(self) -> tuple[int, ...]:
        return self.seq[self.start :]


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6) -> list[list[Hypothesis]]:
    """Per prompt, the kept beams best first (see the module docstring and CONTRACTS §3)."""
    _check_arguments(prompts, beam_width, max_new_tokens, eos_token_id, alpha)
    kept = [[_Beam(tuple(int(t) for t in prompt), len(prompt), 0.0, 0.0, False)] for prompt in prompts]
    for _ in range(max_new_tokens):
        live = [(p, beam) for p, beams in enumerate(kept) for beam in beams if not beam.finished]
        if not live:
            break
        logits = _checked_logits(model([list(beam.seq) for _, beam in live]), len(live), eos_token_id)
        logprobs = log_softmax(logits)
        candidates = [[] for _ in kept]
        children = expand([beam for _, beam in live], logprobs, 2 * beam_width, eos_token_id, alpha)
        for (p, _), beams in zip(live, children, strict=True):
            candidates[p].extend(beams)
        kept = [
            select([b for b in beams if b.finished] + candidates[p], beam_width)
            for p, beams in enumerate(kept)
        ]
    return [[Hypothesis(b.generated, b.logprob, b.score, b.finished) for b in beams] for beams in kept]


def length_penalty(generated_length: int, alpha: float) -> float:
    """The divisor of the penalized score: score = logprob / length_penalty(generated_length, alpha)."""
    return generated_length**alpha


def rank_key(beam: _Beam) -> tuple:
    """Best first: higher penalized score, then finished, then the smaller generated-token tuple."""
    return (-beam.score, not beam.finished, beam.generated)


def select(pool: list[_Beam], beam_width: int) -> list[_Beam]:
    return sorted(pool, key=rank_key)[:beam_width]


def expand(parents: list[_Beam], logprobs: np.ndarray, width: int, eos_token_id: int, alpha: float):
    """Each parent's best `width` children (row r of `logprobs` continues parents[r]), ordered
    exactly as `rank_key` orders the pool, so no child left out could have entered the top K."""
    totals = np.array([b.logprob for b in parents])[:, None] + logprobs
    divisors = np.array([length_penalty(len(b.seq) - b.start + 1, alpha) for b in parents])
    scores = totals / divisors[:, None]
    # Contenders: every token scoring at least its row's width-th best, ties at that cut included.
    k = max(logprobs.shape[1] - width, 0)
    cut = np.partition(scores, k, axis=1)[:, k, None]
    rows, tokens = np.nonzero(scores >= cut)
    order = np.lexsort((tokens, tokens != eos_token_id, -scores[rows, tokens], rows))
    children: list[list[_Beam]] = [[] for _ in parents]
    for r, t in zip(rows[order].tolist(), tokens[order].tolist(), strict=True):
        if len(children[r]) < width:
            parent = parents[r]
            children[r].append(
                _Beam(parent.seq + (t,), parent.start, float(totals[r, t]), float(scores[r, t]), t == eos_token_id)
            )
    return children


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _checked_logits(raw, rows: int, eos_token_id: int) -> np.ndarray:
    logits = np.asarray(raw, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != rows:
        raise ValueError(
            f"model must return logits of shape ({rows}, vocab) for {rows} sequences, got shape {logits.shape}"
        )
    if not 0 <= eos_token_id < logits.shape[1]:
        raise ValueError(f"eos_token_id must lie in the vocabulary [0, {logits.shape[1]}), got {eos_token_id}")
    # The row maximum is NaN if any entry is, +inf if any entry is, -inf if all entries are.
    if not np.isfinite(logits.max(axis=1)).all():
        raise ValueError("model logits must have no NaN or +inf and at least one finite entry per row")
    return logits


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check_arguments(prompts, beam_width, max_new_tokens, eos_token_id, alpha) -> None:
    if not isinstance(prompts, list | tuple) or not prompts:
        raise ValueError(f"prompts must be a non-empty list of token-id lists, got {prompts!r}")
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, list | tuple) or not prompt or not all(_is_int(t) for t in prompt):
            raise ValueError(f"prompts[{i}] must be a non-empty list of int token ids, got {prompt!r}")
    for name, value in (("beam_width", beam_width), ("max_new_tokens", max_new_tokens)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if not _is_int(eos_token_id):
        raise ValueError(f"eos_token_id must be an int token id, got {eos_token_id!r}")
    if not isinstance(alpha, int | float | np.floating) or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number, got {alpha!r}")
