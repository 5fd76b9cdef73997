"""Adapter: the implementation only exposes the penalised score, so the
accumulated logprob is recovered as score * len(tokens) ** alpha (exact up to
floating-point rounding, since len >= 1)."""
import importlib.util
import pathlib

_spec = importlib.util.spec_from_file_location(
    "score_pairs_beam", pathlib.Path(__file__).with_name("beam.py"))
_impl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_impl)


def beam_search(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha=0.6):
    out = _impl.beam_search_scores(model, prompts, beam_width, max_new_tokens, eos_token_id, alpha)
    return [[{"tokens": toks, "logprob": score * len(toks) ** alpha, "score": score,
              "finished": toks[-1] == eos_token_id} for toks, score in hyps] for hyps in out]
