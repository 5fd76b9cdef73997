"""Hand-built hostile attention inputs."""

from __future__ import annotations

import math

import numpy as np

from properties.attention_strategies import AttentionCase


def rising_logits_case(B, H, N, D, *, peak, tile_size, kv_tile_size=None, causal=True, dtype=np.float32,
                       seed=0) -> AttentionCase:
    """Scores that climb from -peak to +peak along the keys (so each KV tile raises the row max)
    for half the query rows, and fall for the other half.

    Query i is sqrt(D) * sign_i along the first axis and key j is ramp_j there, so the scaled score
    is sign_i * ramp_j: a kernel that never lowers its exp() reference point (no max subtraction,
    a max frozen after the first tile) meets exp(2 * peak).
    """
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((B, H, N, D)) * 0.01
    K = rng.standard_normal((B, H, N, D)) * 0.01
    sign = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    Q[..., 0] = math.sqrt(D) * sign
    K[..., 0] = np.linspace(-peak, peak, N) + rng.uniform(-0.5, 0.5, N)
    V = rng.standard_normal((B, H, N, D))
    return AttentionCase(Q.astype(dtype), K.astype(dtype), V.astype(dtype), tile_size,
                         kv_tile_size or tile_size, causal, None, seed)
