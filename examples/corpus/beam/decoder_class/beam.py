"""BeamSearchDecoder: batched beam search with EOS-aware pools.

Ranking is a stable sort on the penalised score, finished before unfinished on an
exact tie (the seed's gating case); otherwise a tie is won by whichever hypothesis
entered the pool first.  The pool is built by walking the
kept beams in rank order: a finished beam contributes itself, an unfinished one
contributes its children (most probable token first).
"""
import numpy as np


class _Beam:
    __slots__ = ("tokens", "logprob", "finished", "score")

    def __init__(self, tokens, logprob, finished, alpha):
        self.tokens = tokens
        self.logprob = logprob
        self.finished = finished
        self.score = logprob / len(tokens) ** alpha if tokens else 0.0

    def __repr__(self):
        return f"_Beam({self.tokens}, lp={self.logprob:.4f}, fin={self.finished})"


class BeamSearchDecoder:
    def __init__(self, model, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
        if beam_width < 1:
            raise ValueError("beam_width must be >= 1")
        if max_new_tokens < 0:
            raise ValueError("max_new_tokens must be >= 0")
        self.model = model
        self.k = beam_width
        self.max_new_tokens = max_new_tokens
        self.eos = eos_token_id
        self.alpha = alpha

    @staticmethod
    def _log_probs(logits):
        logits = np.asarray(logits, dtype=np.float64)
        shift = logits.max(axis=-1, keepdims=True)
        shift = np.where(np.isneginf(shift), 0.0, shift)
        z = logits - shift
        with np.errstate(divide="ignore", invalid="ignore"):
            return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def _expand(self, beam, row):
        order = np.argsort(-row, kind="stable")[: 2 * self.k]
        return [_Beam(beam.tokens + [int(t)], beam.logprob + float(row[t]), int(t) == self.eos,
                      self.alpha) for t in order if row[t] > -np.inf]

    def search(self, prompts):
        prompts = [list(p) for p in prompts]
        if any(not p for p in prompts):
            raise ValueError("prompts must be non-empty")
        kept = [[_Beam([], 0.0, False, self.alpha)] for _ in prompts]
        done = [False] * len(prompts)
        for _ in range(self.max_new_tokens):
            live = [(i, b) for i in range(len(prompts)) if not done[i]
                    for b in kept[i] if not b.finished]
            if not live:
                break
            rows = iter(self._log_probs(self.model([prompts[i] + b.tokens for i, b in live])))
            for i in range(len(prompts)):
                if done[i]:
                    continue
                pool = []
                for beam in kept[i]:
                    pool.extend([beam] if beam.finished else self._expand(beam, next(rows)))
                pool.sort(key=lambda b: (b.score, b.finished), reverse=True)
                kept[i] = pool[: self.k]
                done[i] = all(b.finished for b in kept[i])
        return [[b for b in beams if b.tokens] for beams in kept]


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    decoder = BeamSearchDecoder(model, beam_width, max_new_tokens, eos_token_id, alpha)
    return decoder.search(prompts)
