"""Batched beam search on TinyLM against a one-call-per-beam baseline, measured side by side.

Batch of 3 prompts (lengths 3, 5, 9), K = 4, 32 new tokens. The baseline runs the same search but
its model wrapper feeds the sequences to TinyLM one at a time, as a decoder that loops over beams
would. Both use the same model class with its key/value cache (each step computes only the newest
position of each sequence), so batching saves per-call cost, not recomputation; the uncached pair
is printed for context. Every variant gets a fresh model per repeat (a cold cache), repeats are
interleaved so load on the shared machine hits all variants alike, and the best repeat counts.
Target: the cached batched search at least 5x faster than the cached per-beam baseline.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from impl.beam_search import beam_search
from killmatrix.rendering.generated_docs import bench_stamp, write_bench_json
from properties.beam_models import TinyLM

PROMPTS = [[11, 12, 13], [21, 22, 23, 24, 25], [31, 32, 33, 34, 35, 36, 37, 38, 39]]
BEAM_WIDTH, MAX_NEW_TOKENS, EOS, REPEATS = 4, 32, 0, 15
# TinyLM cache_size: this step's live beams and the next step's, all a search needs whether fed batched or
# beam by beam (properties/test_beam_models.py). A larger cache only keeps dead beams' arrays alive, and
# their fresh memory cost the batched search a fifth of its model time (0.018 s at 256 against 0.014 s).
CACHED, UNCACHED = 2 * len(PROMPTS) * BEAM_WIDTH, 0


class CountingModel:
    """Counts model calls, next-token distributions computed and time spent in the model;
    with `per_beam`, feeds the model one sequence per call."""

    def __init__(self, model: TinyLM, per_beam: bool):
        self.model, self.per_beam = model, per_beam
        self.calls = self.rows = 0
        self.seconds = 0.0

    def __call__(self, seqs):
        start = time.perf_counter()
        self.rows += len(seqs)
        if self.per_beam:
            self.calls += len(seqs)
            logits = np.concatenate([self.model([seq]) for seq in seqs])
        else:
            self.calls += 1
            logits = self.model(seqs)
        self.seconds += time.perf_counter() - start
        return logits


def run_once(cache_size: int, per_beam: bool) -> tuple[float, CountingModel, list]:
    counting = CountingModel(TinyLM(seed=0, cache_size=cache_size), per_beam)
    start = time.perf_counter()
    result = beam_search(counting, PROMPTS, BEAM_WIDTH, MAX_NEW_TOKENS, EOS)
    return time.perf_counter() - start, counting, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the table here, for `killmatrix docs --bench`")
    args = parser.parse_args()
    run = bench_stamp() if args.json else None
    variants = {(cache, per_beam): [] for cache in (CACHED, UNCACHED) for per_beam in (False, True)}
    for _ in range(REPEATS):
        for key, runs in variants.items():
            runs.append(run_once(*key))
    best = {key: min(runs, key=lambda run: run[0]) for key, runs in variants.items()}
    tokens = {key: [[h.tokens for h in hyps] for hyps in result] for key, (_, _, result) in best.items()}
    assert all(t == tokens[CACHED, False] for t in tokens.values()), "variants disagree on the hypotheses"

    steps = best[CACHED, False][1].calls
    print(f"TinyLM beam search: prompts of length 3, 5, 9; K={BEAM_WIDTH}; {MAX_NEW_TOKENS} new tokens; "
          f"{steps} steps; best of {REPEATS}")
    print(f"{'variant':<30}{'wall s':>8}{'in model s':>12}{'search s':>10}{'tokens/s':>10}"
          f"{'calls/step':>12}{'positions/step':>16}")
    for (cache, per_beam), (seconds, counting, _) in best.items():
        name = f"{'cached' if cache else 'uncached'} {'per-beam calls' if per_beam else 'batched (1 call/step)'}"
        print(f"{name:<30}{seconds:>8.3f}{counting.seconds:>12.3f}{seconds - counting.seconds:>10.3f}"
              f"{counting.rows / seconds:>10.0f}{counting.calls / steps:>12.1f}"
              f"{counting.model.positions_computed / steps:>16.1f}")
    for cache, label in ((CACHED, "cached  "), (UNCACHED, "uncached")):
        (batched_s, batched, _), (baseline_s, baseline, _) = best[cache, False], best[cache, True]
        target = " (target >= 5x)" if cache else ""
        print(f"{label} speedup: {baseline_s / batched_s:.1f}x wall{target}, "
              f"{baseline.seconds / batched.seconds:.1f}x inside the model")
        if cache:
            one_sequence_call = baseline.seconds / baseline.calls
            perfect = baseline_s / (steps * one_sequence_call + batched_s - batched.seconds)
            print(f"{label} bound: {perfect:.1f}x wall if each step's batched call cost no more than one "
                  f"single-sequence call ({one_sequence_call * 1e6:.0f} us); the search's own time stays")
    if args.json:
        rows = [[f"{'batched (one call per step)' if not per_beam else 'one call per beam'}, "
                 f"{'cached' if cache else 'uncached'}", f"{seconds:.3f}", f"{counting.seconds:.3f}",
                 f"{seconds - counting.seconds:.3f}", f"{counting.rows / seconds:.0f}", f"{counting.calls / steps:.1f}"]
                for (cache, per_beam), (seconds, counting, _) in best.items()]
        (batched_s, batched, _), (baseline_s, baseline, _) = best[CACHED, False], best[CACHED, True]
        write_bench_json(args.json, {
            "run": run, "script": "bench/beam_search.py", "title": "Batched beam search against one call per beam",
            "setup": f"TinyLM(seed=0) (vocab 1000, d_model 64, one block, a cache of {CACHED} sequences), prompts of "
                     f"length 3, 5 and 9, K = {BEAM_WIDTH}, {MAX_NEW_TOKENS} new tokens, best of {REPEATS}.",
            "columns": ["variant", "wall s", "in model s", "search s", "tokens/s", "model calls per step"],
            "rows": rows,
            "notes": [f"cached: batching is {baseline.seconds / batched.seconds:.1f}x faster inside the model and "
                      f"{baseline_s / batched_s:.1f}x in wall time (target >= 5x)."]})
    print(f"tokens/s counts next-token distributions computed ({best[CACHED, False][1].rows} per search); "
          f"positions/step counts key/value positions computed; search s = wall - in model")


if __name__ == "__main__":
    main()
