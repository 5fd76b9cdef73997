"""Batched beam search that selects over the whole batch at once: the top K x batch candidates of
all prompts together, so a confident prompt takes beam slots from a hesitant one.
"""

import numpy as np


def _score(logprob, length, alpha):
    return logprob / length**alpha


def _order(hyp):
    # Best first: higher penalized score, finished before unfinished, then the smaller token tuple.
    return (-hyp["score"], not hyp["finished"], hyp["tokens"])


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(prompts, beam_width, max_new_tokens, eos_token_id, alpha):
    if not isinstance(prompts, list | tuple) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of prompts")
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, list | tuple) or len(prompt) == 0:
            raise ValueError(f"prompt {i} must be a non-empty list of token ids")
    if not _is_count(beam_width) or beam_width < 1:
        raise ValueError(f"beam_width must be an int >= 1, got {beam_width!r}")
    if not _is_count(max_new_tokens) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if not _is_count(eos_token_id) or eos_token_id < 0:
        raise ValueError(f"eos_token_id must be a non-negative int, got {eos_token_id!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number, got {alpha!r}")


def _log_probs(model, seqs, eos_token_id):
    logits = np.asarray(model(seqs), dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != len(seqs):
        raise ValueError(f"model returned logits of shape {logits.shape}, expected ({len(seqs)}, vocab)")
    if eos_token_id >= logits.shape[1]:
        raise ValueError(f"eos_token_id {eos_token_id} is outside the vocabulary of size {logits.shape[1]}")
    if np.isnan(logits).any() or not np.isfinite(logits.max(axis=1)).all():
        raise ValueError("model logits must be finite (no NaN, no +inf, not all -inf)")
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    _validate(prompts, beam_width, max_new_tokens, eos_token_id, alpha)
    beams = [[{"tokens": (), "logprob": 0.0, "score": 0.0, "finished": False}] for _ in prompts]
    for _ in range(max_new_tokens):
        live = [(p, hyp) for p in range(len(prompts)) for hyp in beams[p] if not hyp["finished"]]
        if not live:
            break
        rows = _log_probs(model, [list(prompts[p]) + list(hyp["tokens"]) for p, hyp in live], eos_token_id)
        pools = [[hyp for hyp in beams[p] if hyp["finished"]] for p in range(len(prompts))]
        for (p, hyp), row in zip(live, rows, strict=True):
            children = []
            for token, logprob in enumerate(row):
                tokens = hyp["tokens"] + (token,)
                total = hyp["logprob"] + float(logprob)
                children.append({"tokens": tokens, "logprob": total, "score": _score(total, len(tokens), alpha),
                                 "finished": token == eos_token_id})
            pools[p] += sorted(children, key=_order)[: 2 * beam_width]
        ranked = sorted(((hyp, p) for p, pool in enumerate(pools) for hyp in pool), key=lambda item: _order(item[0]))
        chosen = ranked[: beam_width * len(prompts)]
        beams = [[hyp for hyp, q in chosen if q == p] for p in range(len(prompts))]
    return beams
