"""Between the contract's beam search and search.py's API (see examples/byo/README.md).

to_user(reference_fn): the reference (or a named mutant of it) with search.py's API, so the author's
tests can run against it. to_contract(user_fn): search.py's function with the contract's API, so the
property suite can run against it (and against its mutants).
"""


def to_user(reference_fn):
    def search(model, prompts, *, width, max_len, eos, alpha=0.6):
        hyps = reference_fn(model, prompts, width, max_len, eos, alpha=alpha)
        return [[(list(h.tokens), h.logprob) for h in per_prompt] for per_prompt in hyps]

    return search


def to_contract(user_fn):
    def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
        return user_fn(model, prompts, width=beam_width, max_len=max_new_tokens, eos=eos_token_id, alpha=alpha)

    return beam_search
