"""Batched beam search where finished hypotheses keep competing for the K slots.

One model call per decoding step covers every unfinished beam of every prompt.
Hypotheses are plain dicts: {"tokens", "logprob", "score", "finished"}.
"""
import numpy as np


def _log_softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    peak = np.max(logits, axis=-1, keepdims=True)
    # a fully banned row has peak -inf; shifting by it would produce NaN
    peak = np.where(np.isfinite(peak), peak, 0.0)
    shifted = logits - peak
    with np.errstate(divide="ignore", invalid="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _make_hyp(tokens, logprob, finished, alpha):
    # the length penalty only ranks; the stored logprob stays the plain sum
    score = logprob / (len(tokens) ** alpha)
    return {"tokens": tokens, "logprob": logprob, "score": score, "finished": finished}


def _rank_key(hyp):
    # exact ties: lexicographically smaller token list first
    return (-hyp["score"], hyp["tokens"])


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    if beam_width < 1:
        raise ValueError("beam_width must be >= 1")
    if max_new_tokens < 0:
        raise ValueError("max_new_tokens must be >= 0")
    prompts = [list(p) for p in prompts]
    if any(len(p) == 0 for p in prompts):
        raise ValueError("prompts must be non-empty")

    # every prompt starts from one empty, unfinished hypothesis
    beams = [[{"tokens": [], "logprob": 0.0, "finished": False}] for _ in prompts]

    for _ in range(max_new_tokens):
        live = [(i, b) for i, kept in enumerate(beams) for b in kept if not b["finished"]]
        if not live:
            break
        logprobs = _log_softmax(model([prompts[i] + b["tokens"] for i, b in live]))
        n_take = min(2 * beam_width, logprobs.shape[-1])

        # finished beams stay in the pool with their frozen logprob
        pools = [[b for b in kept if b["finished"]] for kept in beams]
        for (i, parent), row in zip(live, logprobs):
            for tok in np.argsort(-row, kind="stable")[:n_take]:
                if not np.isfinite(row[tok]):
                    break  # banned tokens (and fully banned rows) are never generated
                tokens = parent["tokens"] + [int(tok)]
                pools[i].append(_make_hyp(tokens, parent["logprob"] + float(row[tok]),
                                          int(tok) == eos_token_id, alpha))

        stepped = {i for i, _ in live}
        for i in stepped:
            beams[i] = sorted(pools[i], key=_rank_key)[:beam_width]

    return [sorted((b for b in kept if b["tokens"]), key=_rank_key) for kept in beams]
