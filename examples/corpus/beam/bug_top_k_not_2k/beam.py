"""Beam search whose public result is (tokens, penalised_score) per hypothesis.

Beams live in a dict {generated_tokens_tuple: accumulated_logprob}; a beam is
finished exactly when its last token is EOS.  Exact score ties are broken in
favour of the lexicographically LARGER token tuple.
"""
import numpy as np


def _logsoftmax(mat):
    mat = np.asarray(mat, dtype=np.float64)
    hi = np.max(mat, axis=1, keepdims=True)
    hi[np.isneginf(hi)] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return mat - hi - np.log(np.sum(np.exp(mat - hi), axis=1, keepdims=True))


class _Search:
    def __init__(self, next_logits, k, steps, eos, alpha):
        self.next_logits, self.k, self.steps, self.eos, self.alpha = next_logits, k, steps, eos, alpha

    def penalised(self, toks, lp):
        return lp / len(toks) ** self.alpha

    def is_done(self, toks):
        return len(toks) > 0 and toks[-1] == self.eos

    def run(self, prompt):
        beams = {(): 0.0}
        for _ in range(self.steps):
            growing = [t for t in beams if not self.is_done(t)]
            if not growing:
                break
            table = _logsoftmax(self.next_logits([list(prompt) + list(t) for t in growing]))
            width = min(self.k, table.shape[1])
            pool = {t: lp for t, lp in beams.items() if self.is_done(t)}
            for toks, row in zip(growing, table):
                for tok in np.argsort(-row)[:width]:
                    if np.isfinite(row[tok]):
                        pool[toks + (int(tok),)] = beams[toks] + float(row[tok])
            ranked = sorted(pool.items(), key=lambda kv: (self.penalised(*kv), kv[0]), reverse=True)
            beams = dict(ranked[: self.k])
        ranked = sorted(((t, self.penalised(t, lp)) for t, lp in beams.items() if t),
                        key=lambda ts: (ts[1], ts[0]), reverse=True)
        return [(list(t), s) for t, s in ranked]


def beam_search_scores(next_logits, prompts, k, max_new_tokens, eos, alpha=0.6):
    """Per prompt: list of (generated_tokens, length_penalised_score), best first."""
    if k < 1 or max_new_tokens < 0:
        raise ValueError("k must be >= 1 and max_new_tokens >= 0")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("empty prompt")
    search = _Search(next_logits, k, max_new_tokens, eos, alpha)
    return [search.run(p) for p in prompts]
