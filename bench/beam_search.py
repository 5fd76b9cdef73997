"""Batched beam search on TinyLM against a one-call-per-beam baseline, measured side by side.

Batch of 3 prompts (lengths 3, 5, 9), K = 4, 32 new tokens. The baseline runs the same search but
its model wrapper feeds the sequences to TinyLM one at a time, as a decoder that loops over beams
would. Target: the batched search at least 5x faster.
"""

from __future__ import annotations

import time

import numpy as np

from impl.beam_search import beam_search
from impl.models import TinyLM

PROMPTS = [[11, 12, 13], [21, 22, 23, 24, 25], [31, 32, 33, 34, 35, 36, 37, 38, 39]]
BEAM_WIDTH, MAX_NEW_TOKENS, EOS, REPEATS = 4, 32, 0, 3


class CountingModel:
    """Counts model calls, next-token distributions computed and time spent in the model;
    with `per_beam`, feeds the model one sequence per call."""

    def __init__(self, model, per_beam: bool):
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


def measure(model, per_beam: bool) -> tuple[float, CountingModel, list]:
    runs = []
    for _ in range(REPEATS):
        counting = CountingModel(model, per_beam)
        start = time.perf_counter()
        result = beam_search(counting, PROMPTS, BEAM_WIDTH, MAX_NEW_TOKENS, EOS)
        runs.append((time.perf_counter() - start, counting))
    seconds, counting = min(runs, key=lambda run: run[0])
    return seconds, counting, result


def main() -> None:
    model = TinyLM(seed=0)
    batched_time, batched, batched_result = measure(model, per_beam=False)
    baseline_time, baseline, baseline_result = measure(model, per_beam=True)
    steps = batched.calls
    assert [[h.tokens for h in r] for r in batched_result] == [[h.tokens for h in r] for r in baseline_result]
    print(f"TinyLM beam search: prompts of length 3, 5, 9; K={BEAM_WIDTH}; {MAX_NEW_TOKENS} new tokens; "
          f"{steps} steps; best of {REPEATS}")
    print(f"{'variant':<22}{'wall s':>9}{'in model s':>12}{'tokens/s':>11}{'calls/step':>12}")
    for name, seconds, counting in (("batched (1 call/step)", batched_time, batched),
                                    ("per-beam calls", baseline_time, baseline)):
        print(f"{name:<22}{seconds:>9.3f}{counting.seconds:>12.3f}{counting.rows / seconds:>11.0f}"
              f"{counting.calls / steps:>12.1f}")
    print(f"speedup: {baseline_time / batched_time:.1f}x wall (target >= 5x), "
          f"{baseline.seconds / batched.seconds:.1f}x inside the model; tokens/s counts next-token "
          f"distributions computed ({batched.rows} per search)")


if __name__ == "__main__":
    main()
