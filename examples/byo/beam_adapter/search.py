"""Batched beam search with its own API: `search(model, prompts, width=..., max_len=..., eos=...)`.

Returns, per prompt, up to `width` pairs `(generated_tokens, total_logprob)`, best first by
total_logprob / len(generated_tokens) ** alpha. Finished beams (ending in `eos`) stay in the pool and
compete with the new candidates; each live beam proposes its 2 * width best next tokens.
"""
import numpy as np


def _log_probs(logits):
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _rank(entry, alpha):
    tokens, logprob = entry[0], entry[1]
    return logprob / (len(tokens) ** alpha)


def search(model, prompts, *, width, max_len, eos, alpha=0.6):
    pools = [[((), 0.0, False)] for _ in prompts]
    for _ in range(max_len):
        live = [(i, beam) for i, pool in enumerate(pools) for beam in pool if not beam[2]]
        if not live:
            break
        table = _log_probs(model([list(prompts[i]) + list(beam[0]) for i, beam in live]))
        fresh = [[beam for beam in pool if beam[2]] for pool in pools]
        for (i, (tokens, logprob, _)), row in zip(live, table):
            for token in np.argsort(-row, kind="stable")[: 2 * width]:
                fresh[i].append((tokens + (int(token),), logprob + float(row[token]), int(token) == eos))
        pools = [sorted(cands, key=lambda e: -_rank(e, alpha))[:width] for cands in fresh]
    return [[(list(tokens), logprob) for tokens, logprob, _ in pool if tokens] for pool in pools]
