"""NumPy's float32 exp2 against exp on one flash score tile (16 x 128 x 128), by what the tile holds.

FlashAttention's kernels fold log2(e) into the softmax scale and call exp2. In NumPy exp2 is faster on
ordinary scores but slow on -inf (masked scores) and on results below 2^-126 (subnormals), which a causal
diagonal tile and widely spread scores are full of. Scores come from `np.random.default_rng(0)`, already
shifted so the row max is 0 (what flash exponentiates); each timing is the best of REPEATS calls, exp and exp2
interleaved. One thread, so other load on the machine shows as noise, not as a shift of one side.

    PYTHONPATH=. .venv/bin/python bench/exp2.py
"""

from __future__ import annotations

import time

import numpy as np

SHAPE, REPEATS = (16, 128, 128), 200


def tiles() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ordinary = rng.standard_normal(SHAPE).astype(np.float32)
    ordinary -= ordinary.max(axis=-1, keepdims=True)
    one_percent = ordinary.copy()
    one_percent[rng.random(SHAPE) < 0.01] = -np.inf
    diagonal = ordinary.copy()  # a causal diagonal tile: the upper triangle masked
    diagonal[:, np.triu_indices(SHAPE[1], 1)[0], np.triu_indices(SHAPE[1], 1)[1]] = -np.inf
    spread = (rng.random(SHAPE) * -200).astype(np.float32)  # scores down to 200 below the max
    return {"ordinary scores": ordinary, "1% masked (-inf)": one_percent, "half masked (causal diagonal)": diagonal,
            "spread down to 200 below the max": spread}


def best_us(fn, x: np.ndarray, out: np.ndarray) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(x, out=out)
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def main() -> None:
    log2e = np.float32(np.log2(np.e))
    print(f"tile {SHAPE}, float32, best of {REPEATS}")
    print(f"{'tile holds':<36}{'exp us':>10}{'exp2 us':>10}{'exp2/exp':>10}")
    for name, x in tiles().items():
        x2 = x * log2e  # exp2's argument: what a kernel with log2(e) folded into the scale computes
        out = np.empty_like(x)
        exp_us, exp2_us = best_us(np.exp, x, out), best_us(np.exp2, x2, out)
        for _ in range(2):  # interleave: a second round of each, the best kept
            exp_us, exp2_us = min(exp_us, best_us(np.exp, x, out)), min(exp2_us, best_us(np.exp2, x2, out))
        print(f"{name:<36}{exp_us:>10.0f}{exp2_us:>10.0f}{exp2_us / exp_us:>10.2f}")


if __name__ == "__main__":
    main()
