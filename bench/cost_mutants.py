"""The slowdown each cost mutant causes, measured against the reference side by side in one run.

Cost mutants return the reference's output at a higher price, so the suite kills them with counts
(properties/test_attention_cost.py, properties/test_beam_cost.py), never with a clock; this bench is
where the price is timed, for the README, together with the mutmut mutants the ledger keeps although
they do a little more work (their reasons cite these lines). Each mutant is built in memory from its catalog entry (or,
for the mutmut mutants that used to sit in the equivalent ledger, from the same one-line edit), the
reference and the mutants are called in turn, repeat after repeat (interleaved A/B, so load on a
shared machine hits them alike), and the best repeat of each counts, in CPU seconds of this process
(BLAS runs on this thread): on a shared machine the wall clock also counts other processes' turns.
Each output is checked against the reference's before any time is printed: a cost mutant that changed
the answer is a bug.

Flash: the seed's large causal float32 shape (B=2, H=8, N=4096, D=64, tile 128), one BLAS thread.
Backward: B=1, H=8, N=2048, D=64, causal float32, tile 128 (the seed's large shape takes minutes here).
Beam: TinyLM at d_model 512, 8 heads (at the default 64 the model is so cheap that the search's own
Python work hides any model cost), a cache of 24 sequences, prompts of length 3, 5 and 9, K=4, 32 new
tokens; EOS is the token the search's sequences most often end with in its first steps (found by a
run without it), so beams finish early while others go on.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from impl.attention import flash_attention_fwd  # noqa: E402
from impl.attention_bwd import flash_attention_bwd  # noqa: E402
from impl.beam_search import beam_search  # noqa: E402
from killmatrix.mutation.catalog import Edit, NamedMutant, get_mutant  # noqa: E402
from properties.beam_models import TinyLM  # noqa: E402

B, H, N, D, TILE = 2, 8, 4096, 64, 128
FLASH_REPEATS, BEAM_REPEATS = 5, 15
PROMPTS = [[11, 12, 13], [21, 22, 23, 24, 25], [31, 32, 33, 34, 35, 36, 37, 38, 39]]
BEAM_WIDTH, MAX_NEW_TOKENS, CACHE, D_MODEL, HEADS = 4, 32, 24, 512, 8

# mutmut mutants the ledger accepts as "only time changes", as (label, find, replace): their extra work
# measured here (mutation_config/equivalent.toml names this bench as what decides them).
MUTMUT_FLASH = [
    ("ledger: mask one more tile per query tile", "if causal and k_end - 1 > q_start + diagonal:",
     "if causal and k_end + 1 > q_start + diagonal:"),
    ("ledger: lse computed, not returned", "acc_dtype) if return_lse else None",
     "acc_dtype) if (return_lse) or True else None"),
]


MUTMUT_FLASH_BWD = [
    ("killed: visits the query tiles above the boundary", "first_query = max(0, k_start - diagonal) if causal else 0",
     "first_query = 0"),
]
MUTMUT_BEAM = [
    ("ledger: 3K children per beam", "logprobs, 2 * beam_width, eos_token_id",
     "logprobs, 3 * beam_width, eos_token_id"),
    ("ledger: one more child per beam", "if len(children[r]) < width:", "if len(children[r]) <= width:"),
]


def _adhoc(label: str, find: str, replace: str, file: str = "impl/attention.py") -> NamedMutant:
    return NamedMutant(label.replace(" ", "-").replace(":", ""), "flash", file, label, (Edit(find, replace),))


def best_times(calls: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, float], dict[str, object]]:
    """Best wall time and last result of each call, the calls interleaved repeat after repeat."""
    best, results = dict.fromkeys(calls, float("inf")), {}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.process_time()
            results[name] = call()
            best[name] = min(best[name], time.process_time() - start)
    return best, results


def _print(title: str, best: dict[str, float], extra: dict[str, str]) -> None:
    print(title)
    reference = best["reference"]
    for name, seconds in best.items():
        ratio = "" if name == "reference" else f"{seconds / reference:6.2f}x"
        print(f"  {name:<48}{seconds:8.3f} s CPU {ratio:>8}  {extra.get(name, '')}")


def flash() -> None:
    rng = np.random.default_rng(0)
    Q, K, V = (rng.standard_normal((B, H, N, D), dtype=np.float32) for _ in range(3))
    variants = {"reference": flash_attention_fwd}
    for mutant in (get_mutant("flash-cost-no-causal-skip"), get_mutant("flash-cost-float64-running-state"),
                   get_mutant("flash-cost-scores-reallocated-per-tile"),
                   *(_adhoc(*entry) for entry in MUTMUT_FLASH)):
        variants[mutant.id if mutant.id.startswith("flash-") else mutant.bug] = mutant.load_module().flash_attention_fwd
    calls = {name: (lambda fn=fn: fn(Q, K, V, TILE, causal=True)) for name, fn in variants.items()}
    best, results = best_times(calls, FLASH_REPEATS)
    for name, out in results.items():
        np.testing.assert_allclose(out, results["reference"], rtol=1e-5, atol=1e-6, err_msg=name)
    _print(f"flash forward, B={B} H={H} N={N} D={D} causal float32 tile {TILE}, best of {FLASH_REPEATS}:", best, {})


def flash_bwd() -> None:
    rng = np.random.default_rng(0)
    Q, K, V, dO = (rng.standard_normal((1, 8, 2048, D), dtype=np.float32) for _ in range(4))
    O, lse = flash_attention_fwd(Q, K, V, TILE, causal=True, return_lse=True)  # noqa: E741
    variants = {"reference": flash_attention_bwd}
    for entry in MUTMUT_FLASH_BWD:
        variants[entry[0]] = _adhoc(*entry, file="impl/attention_bwd.py").load_module().flash_attention_bwd
    calls = {name: (lambda fn=fn: fn(Q, K, V, O, dO, lse, TILE, causal=True)) for name, fn in variants.items()}
    best, results = best_times(calls, FLASH_REPEATS)
    for name, grads in results.items():
        for got, want in zip(grads, results["reference"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)
    _print(f"flash backward, B=1 H=8 N=2048 D={D} causal float32 tile {TILE}, best of {FLASH_REPEATS}:", best, {})


class _RowCounter:
    """Counts the rows and positions a search asks of a fresh TinyLM."""

    def __init__(self, model_class):
        self.model, self.rows = model_class(seed=0, cache_size=CACHE, d_model=D_MODEL, n_heads=HEADS), 0
        self.last_tokens: list[int] = []

    def __call__(self, seqs):
        self.rows += len(seqs)
        self.last_tokens += [seq[-1] for seq in seqs]
        return self.model(seqs)


def early_eos() -> int:
    """The token the reference's sequences most often end with in steps 2 to 4, with a never-chosen EOS."""
    probe = _RowCounter(TinyLM)
    beam_search(probe, PROMPTS, BEAM_WIDTH, 4, probe.model.vocab_size - 1)
    first_step = len(PROMPTS)
    tokens, counts = np.unique(probe.last_tokens[first_step:], return_counts=True)
    return int(tokens[np.argmax(counts)])


def beam() -> None:
    rescoring = get_mutant("beam-cost-finished-beams-rescored").load_module().beam_search
    recomputing = get_mutant("beam-cost-prefix-recomputed").load_module().TinyLM
    variants = {"reference": (beam_search, TinyLM), "beam-cost-finished-beams-rescored": (rescoring, TinyLM),
                "beam-cost-prefix-recomputed": (beam_search, recomputing)}
    for entry in MUTMUT_BEAM:
        variants[entry[0]] = (_adhoc(*entry, file="impl/beam_search.py").load_module().beam_search, TinyLM)
    models: dict[str, _RowCounter] = {}
    eos = early_eos()

    def run(name: str):
        search, model_class = variants[name]
        models[name] = _RowCounter(model_class)
        return search(models[name], PROMPTS, BEAM_WIDTH, MAX_NEW_TOKENS, eos)

    best, results = best_times({name: (lambda name=name: run(name)) for name in variants}, BEAM_REPEATS)
    for name, hyps in results.items():
        assert [[h.tokens for h in hs] for hs in hyps] == [[h.tokens for h in hs] for hs in results["reference"]], name
    extra = {name: f"{m.rows} model rows, {m.model.positions_computed} positions" for name, m in models.items()}
    finished = sum(h.finished for hs in results["reference"] for h in hs)
    _print(f"beam search, TinyLM d_model {D_MODEL}, K={BEAM_WIDTH}, {MAX_NEW_TOKENS} new tokens, EOS={eos} "
           f"({finished} finished beams returned), best of {BEAM_REPEATS}:", best, extra)


if __name__ == "__main__":
    flash()
    flash_bwd()
    beam()
