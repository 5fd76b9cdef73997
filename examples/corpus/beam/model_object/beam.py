"""Beam search against a model object exposing `forward(ids) -> 1-D logits`.

`generate_beams` keeps, per prompt, parallel lists of sequences / logprobs / done flags.
It returns, per prompt, dicts {"ids", "logprob", "norm_score", "done"} best first.
Exact score ties: shorter hypothesis first, then lexicographically smaller ids.
"""
import numpy as np


def stable_log_softmax(logits):
    v = np.asarray(logits, dtype=np.float64).reshape(-1)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return np.full(v.shape, -np.inf)
    c = finite.max()
    with np.errstate(divide="ignore", invalid="ignore"):
        return v - c - np.log(np.exp(v - c).sum())


def _norm(logprob, n, alpha):
    return logprob / float(n) ** alpha


def _select(seqs, lps, done, k, alpha):
    order = sorted(range(len(seqs)),
                   key=lambda j: (-_norm(lps[j], len(seqs[j]), alpha), not done[j], len(seqs[j]), seqs[j]))
    order = order[:k]
    return [seqs[j] for j in order], [lps[j] for j in order], [done[j] for j in order]


def _run_prompt(lm, prompt, k, max_new, eos, alpha):
    seqs, lps, done = [[]], [0.0], [False]
    for _step in range(max_new):
        if all(done):
            break
        new_seqs, new_lps, new_done = [], [], []
        for seq, lp, fin in zip(seqs, lps, done):
            if fin:  # frozen: no children, but still a contender
                new_seqs.append(seq)
                new_lps.append(lp)
                new_done.append(True)
                continue
            row = stable_log_softmax(lm.forward(prompt + seq))
            n = min(2 * k, row.size)
            top = np.argpartition(-row, n - 1)[:n] if n < row.size else np.arange(row.size)
            for tok in top:
                tok = int(tok)
                if np.isneginf(row[tok]):
                    continue
                new_seqs.append(seq + [tok])
                new_lps.append(lp + float(row[tok]))
                new_done.append(tok == eos)
        seqs, lps, done = _select(new_seqs, new_lps, new_done, k, alpha)
    return [{"ids": s, "logprob": lp, "norm_score": _norm(lp, len(s), alpha), "done": d}
            for s, lp, d in zip(seqs, lps, done) if s]


def generate_beams(lm, prompt_batch, k, max_new, eos, alpha=0.6):
    if k < 1 or max_new < 0:
        raise ValueError("need k >= 1 and max_new >= 0")
    out = []
    for prompt in prompt_batch:
        if not prompt:
            raise ValueError("empty prompt")
        out.append(_run_prompt(lm, list(prompt), k, max_new, eos, alpha))
    return out
