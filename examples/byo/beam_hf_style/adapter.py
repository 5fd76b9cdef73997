"""Between the contract's beam search (CONTRACTS §3) and beam_search.generate_beams (see ../README.md).

to_user(reference_fn): the contract's `beam_search(model, prompts, beam_width, max_new_tokens,
eos_token_id, alpha)` (or a named mutant of it) with generate_beams' API, so the tests in
test_beam_search.py can run against it. to_contract(user_fn): generate_beams with the contract's API.
"""


def _field(hyp, name):
    return hyp[name] if isinstance(hyp, dict) else getattr(hyp, name)


def to_user(reference_fn):
    def generate_beams(model, input_ids, num_beams, max_new_tokens, eos_token_id, length_penalty=0.6):
        hyps = reference_fn(model, input_ids, num_beams, max_new_tokens, eos_token_id, alpha=length_penalty)
        return [
            [
                {
                    "sequence": list(_field(h, "tokens")),
                    "score": _field(h, "score"),
                    "logprob": _field(h, "logprob"),
                    "finished": _field(h, "finished"),
                }
                for h in per_prompt
            ]
            for per_prompt in hyps
        ]

    return generate_beams


def to_contract(user_fn):
    def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
        results = user_fn(model, prompts, beam_width, max_new_tokens, eos_token_id, length_penalty=alpha)
        return [
            [
                {"tokens": h["sequence"], "logprob": h["logprob"], "score": h["score"], "finished": h["finished"]}
                for h in per_prompt
            ]
            for per_prompt in results
        ]

    return beam_search
