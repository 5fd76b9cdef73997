"""Per-prompt beam search returning (generated_tokens, logprob) pairs, best first.

A beam is a tuple (tokens, logprob, done).  Selection uses heapq.nlargest on the
accumulated logprob, so exact ties keep the order in which candidates were pooled.
"""
import heapq

import numpy as np


def _normalize(logits):
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=1, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lse = np.log(np.exp(x - m).sum(axis=1, keepdims=True)) + m
        return x - lse


def _penalized(beam, alpha):
    tokens, logprob, _ = beam
    return logprob / len(tokens) ** alpha


def _search_prompt(model, prompt, k, steps, eos, alpha):
    beams = [((), 0.0, False)]
    for _ in range(steps):
        open_beams = [b for b in beams if not b[2]]
        if not open_beams:
            break
        table = _normalize(model([list(prompt) + list(b[0]) for b in open_beams]))
        width = min(2 * k, table.shape[1])
        pool = [b for b in beams if b[2]]
        for (tokens, logprob, _), row in zip(open_beams, table):
            best = np.argsort(row)[::-1][:width]
            pool.extend((tokens + (int(t),), logprob + float(row[t]), int(t) == eos)
                        for t in best if np.isfinite(row[t]))
        beams = heapq.nlargest(k, pool, key=lambda b: b[1])
    return [(list(t), lp) for t, lp, _ in beams if t]


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    if beam_width < 1:
        raise ValueError("beam_width must be positive")
    if max_new_tokens < 0:
        raise ValueError("max_new_tokens must be non-negative")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    return [_search_prompt(model, p, beam_width, max_new_tokens, eos_token_id, alpha)
            for p in prompts]
