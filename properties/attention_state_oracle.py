"""The exact running state of the online softmax, from float64 prefix sums, for the `observer` extension.

After the update that covers KV tile `k_range` for query tile `q_range`, the contract's state is a
function of the keys covered so far and nothing else:

    m = max_j s_j      l = sum_j exp(s_j - m)      O = sum_j exp(s_j - m) v_j      correction = exp(m_old - m)

over the covered keys `j` the row may see, with `s = q k / sqrt(D)`. Each is recomputed here in float64
from the full score matrix (cheap at test sizes) and compared within the rounding that the accumulation
dtype allows, which catches what the bounds of `BoundsChecker` cannot: a sum not rescaled (l stays
within [1, n] while being summed against a stale max), a correction of 1 where the max rose, scores
rounded to float16 before the max.

`l` and `O` are compared with the sums taken against the state's *own* `m` (l is defined relative to
it), so an error in `m` is reported once, as an error in `m`, and not again through every exp.
"""

from __future__ import annotations

import numpy as np

from properties.attention_oracle import visible_keys
from properties.attention_strategies import AttentionCase

# Safety factor over the first-order rounding bounds below.
ROUNDING_SAFETY = 2.0


class ExactStateChecker:
    """An observer asserting, at every update, the contract's m, l, O and correction within rounding."""

    def __init__(self, case: AttentionCase):
        Q, K, V = (np.asarray(x, np.float64) for x in (case.Q, case.K, case.V))
        B, _, Nq, D = Q.shape
        Nk = K.shape[2]
        scale = 1.0 / np.sqrt(D)
        self.visible = visible_keys(Nq, Nk, case.causal, case.key_padding_mask, B)
        self.scores = np.where(self.visible, Q @ K.swapaxes(-1, -2) * scale, -np.inf)
        # Rounding of a score in any summation order: (D + 2) eps of the |q| |k| product (the +2 for
        # the scale's multiply and the input's conversion).
        self.score_slack = (D + 2) * (np.abs(Q) @ np.abs(K).swapaxes(-1, -2)) * scale
        self.V, self.abs_V = V, np.abs(V)
        self.accumulation_eps = float(np.finfo(np.result_type(case.Q, case.K, case.V, np.float32)).eps)
        self.covered: dict[tuple[int, int], np.ndarray] = {}
        self.last_m: dict[tuple[int, int], np.ndarray] = {}
        self.updates = 0

    def __call__(self, update) -> None:
        q_range, (k_start, k_end) = tuple(update.q_range), tuple(update.k_range)
        state = [np.asarray(a) for a in (update.m, update.l, update.O, update.correction)]
        # A state kept in a wider dtype than the accumulator is judged by the accumulator's rounding;
        # one kept narrower (outside code computing float16 in float16) by its own.
        eps = max(self.accumulation_eps, *(float(np.finfo(a.dtype).eps) for a in state if a.dtype.kind == "f"))
        m, l_sum, O_acc, correction = (a.astype(np.float64) for a in state)
        q0, q1 = q_range
        covered = self.covered.setdefault(q_range, np.zeros(self.scores.shape[-1], bool))
        covered[k_start:k_end] = True
        seen = np.broadcast_to(self.visible[:, :, q0:q1] & covered, self.scores[:, :, q0:q1].shape)
        S = np.where(seen, self.scores[:, :, q0:q1], -np.inf)
        n = seen.sum(axis=-1)
        has_seen = n >= 1
        where = f"after query rows {q_range}, keys {k_start}..{k_end}"

        slack = np.where(seen, self.score_slack[:, :, q0:q1], 0.0).max(axis=-1, initial=0.0) * eps
        expected_m = S.max(axis=-1)
        m_error = np.abs(m[has_seen] - expected_m[has_seen])
        m_allowed = ROUNDING_SAFETY * slack[has_seen]
        assert (m_error <= m_allowed).all(), (
            f"m is up to {_worst(m_error, m_allowed)} from the max of the scores seen {where}")

        # Each term exp(s - m) carries the score's rounding and m's own; each rescale, each exp and each
        # addition one eps more (at most one per key seen).
        own_m = np.where(has_seen, m, 0.0)
        relative = ROUNDING_SAFETY * (slack + eps * np.abs(own_m) + (2 * n + 4) * eps)
        p = np.exp(S - own_m[..., None])
        expected_l = p.sum(axis=-1)
        l_error = np.abs(l_sum - expected_l)[has_seen]
        l_allowed = (expected_l * relative)[has_seen]
        assert (l_error <= l_allowed).all(), (
            f"l is up to {_worst(l_error, l_allowed)} from sum exp(s - m) over the keys seen {where}")
        O_error = np.abs(O_acc - p @ self.V)[has_seen]
        O_allowed = ((p @ self.abs_V) * relative[..., None])[has_seen]
        assert (O_error <= O_allowed).all(), (
            f"O is up to {_worst(O_error, O_allowed)} from sum exp(s - m) v over the keys seen {where}")

        previous = self.last_m.get(q_range)
        if previous is not None:
            had_seen = np.isfinite(previous) & has_seen
            step = np.where(had_seen, previous - own_m, 0.0)
            expected = np.exp(step)
            c_error = np.abs(correction - expected)[had_seen]
            c_allowed = (ROUNDING_SAFETY * 2 * eps * (1 + np.abs(previous) + np.abs(own_m)) * expected)[had_seen]
            c_allowed += np.finfo(np.float32).tiny
            assert (c_error <= c_allowed).all(), (
                f"correction is up to {_worst(c_error, c_allowed)} from exp(m_old - m_new) {where}")
        self.last_m[q_range] = m
        self.updates += 1


def _worst(error: np.ndarray, allowed: np.ndarray) -> str:
    """The largest error and its share of what was allowed there, e.g. '0.37 (allowed 1.2e-06)'."""
    i = int(np.argmax(error - allowed))
    return f"{error.flat[i]:.3g} (allowed {allowed.flat[i]:.3g})"
