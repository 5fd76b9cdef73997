"""Beam search that asks the model about one beam at a time.

Each hypothesis is a `Hypothesis` dataclass.  Prompts are decoded independently;
the model is called as model([sequence]) once per unfinished beam per step.
"""
import math
from dataclasses import dataclass, field
from typing import List

import numpy as np


@dataclass
class Hypothesis:
    tokens: List[int]
    logprob: float
    finished: bool
    score: float = field(default=0.0)


def length_penalized(logprob: float, n_generated: int, alpha: float) -> float:
    # only generated tokens (EOS included) count; the prompt never does
    return logprob / (n_generated ** alpha)


def log_softmax(row) -> List[float]:
    values = [float(x) for x in row]
    top = max(values)
    if top == -math.inf:
        return [-math.inf] * len(values)
    log_norm = top + math.log(sum(math.exp(v - top) for v in values))
    return [v - log_norm for v in values]


def _next_token_logprobs(model, sequence):
    out = np.asarray(model([sequence]), dtype=np.float64)
    return log_softmax(out[0])


def _decode_one(model, prompt, k, max_new_tokens, eos, alpha):
    beams = [Hypothesis(tokens=[], logprob=0.0, finished=False)]
    for _ in range(max_new_tokens):
        if all(h.finished for h in beams):
            break
        pool = [h for h in beams if h.finished]
        for parent in beams:
            if parent.finished:
                continue
            lps = _next_token_logprobs(model, prompt + parent.tokens)
            order = sorted(range(len(lps)), key=lambda t: -lps[t])[: 2 * k]
            for tok in order:
                if lps[tok] == -math.inf:
                    continue
                toks = parent.tokens + [tok]
                lp = parent.logprob + lps[tok]
                pool.append(Hypothesis(toks, lp, tok == eos, length_penalized(lp, len(toks), alpha)))
        # Python's sort is stable: ties keep pool order (finished beams first, then children)
        pool.sort(key=lambda h: (h.score, h.finished), reverse=True)  # a finished one wins an exact tie
        beams = pool[:k]
    return [h for h in beams if h.tokens]


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    if beam_width < 1 or max_new_tokens < 0:
        raise ValueError("beam_width must be >= 1 and max_new_tokens >= 0")
    results = []
    for prompt in prompts:
        if len(prompt) == 0:
            raise ValueError("empty prompt")
        results.append(_decode_one(model, list(prompt), beam_width, max_new_tokens,
                                   eos_token_id, alpha))
    return results
