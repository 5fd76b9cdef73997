"""Vectorised beam search: per prompt, one (beams, vocab) score matrix per step.

Finished rows of the matrix are -inf so they spawn no children; the finished
beams themselves re-enter the pool next to the children.  The per-row top-2K
uses np.argpartition: which member of a tie at a beam's 2K-th place survives is
whatever its introselect leaves (arbitrary but deterministic).  The final top-K is
a lexsort by score, finished first on an exact tie (the seed's gating case).
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
        step_lp = log_softmax_rows(model([prompt + tokens[i] for i in live]))
        expand = np.full((len(tokens), step_lp.shape[1]), -np.inf)
        expand[live] = step_lp  # finished rows stay -inf: they are never expanded
        cand = logprob[:, None] + expand
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
        pool_fin = np.concatenate([np.ones(done_idx.size, dtype=bool), cols == eos])
        # Best score first; on an exact tie a finished hypothesis first (the seed's gating case).
        pick = np.lexsort((~pool_fin, -pool_score))[:n]

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
