"""Vectorised beam search: per prompt, one (beams, vocab) score matrix per step.

Finished beams re-enter the pool next to the children of every kept beam.  Both the per-row
top-2K and the final top-K use np.argpartition; which member of an exact tie at
the K-th place survives is whatever argpartition's introselect leaves (arbitrary
but deterministic), and kept beams are then ordered by a stable argsort.
"""
import numpy as np


def log_softmax_rows(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def _top_per_row(mat, width):
    if width >= mat.shape[1]:
        return np.broadcast_to(np.arange(mat.shape[1]), mat.shape)
    return np.argpartition(-mat, width - 1, axis=1)[:, :width]


def _decode(model, prompt, k, max_new_tokens, eos, alpha):
    tokens = [[]]
    logprob = np.zeros(1)
    finished = np.zeros(1, dtype=bool)
    for step in range(1, max_new_tokens + 1):
        live = np.flatnonzero(~finished)
        if live.size == 0:
            break
        step_lp = log_softmax_rows(model([prompt + t for t in tokens]))
        cand = logprob[:, None] + step_lp
        cols = _top_per_row(cand, 2 * k)
        rows = np.repeat(np.arange(len(tokens)), cols.shape[1])
        cols = cols.reshape(-1)
        vals = cand[rows, cols]
        ok = np.isfinite(vals)
        rows, cols, vals = rows[ok], cols[ok], vals[ok]

        done_idx = np.flatnonzero(finished)
        done_len = np.array([len(tokens[i]) for i in done_idx], dtype=np.float64)
        pool_lp = np.concatenate([logprob[done_idx], vals])
        pool_len = np.concatenate([done_len, np.full(vals.size, float(step))])
        pool_score = pool_lp / pool_len ** alpha

        n = min(k, pool_score.size)
        pick = np.argpartition(-pool_score, n - 1)[:n] if n < pool_score.size else np.arange(n)
        pick = pick[np.argsort(-pool_score[pick], kind="stable")]

        new_tokens, new_fin = [], []
        for p in pick:
            if p < done_idx.size:
                new_tokens.append(tokens[done_idx[p]])
                new_fin.append(True)
            else:
                c = p - done_idx.size
                new_tokens.append(tokens[rows[c]] + [int(cols[c])])
                new_fin.append(int(cols[c]) == eos)
        tokens, logprob, finished = new_tokens, pool_lp[pick], np.array(new_fin, dtype=bool)

    scores = [lp / len(t) ** alpha if t else 0.0 for t, lp in zip(tokens, logprob)]
    return [{"tokens": t, "logprob": float(lp), "score": float(s), "finished": bool(f)}
            for t, lp, s, f in zip(tokens, logprob, scores, finished) if t]


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    if beam_width < 1 or max_new_tokens < 0:
        raise ValueError("beam_width must be >= 1 and max_new_tokens >= 0")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("empty prompt")
    return [_decode(model, list(p), beam_width, max_new_tokens, eos_token_id, alpha)
            for p in prompts]
