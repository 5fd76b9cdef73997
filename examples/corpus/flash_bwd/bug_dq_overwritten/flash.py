"""Tiled attention as a small class, with the task's function API on top.

FlashAttention(tile_size, causal).forward(Q, K, V) -> (O, cache)
FlashAttention(tile_size, causal).backward(dO, cache) -> (dQ, dK, dV)
The cache holds only O, the row logsumexp L, and the inputs.
"""
import numpy as np


class FlashAttention:
    def __init__(self, tile_size, causal=True):
        if int(tile_size) != tile_size or tile_size < 1:
            raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
        self.tile = int(tile_size)
        self.causal = bool(causal)

    def _blocks(self, n):
        return [slice(a, min(a + self.tile, n)) for a in range(0, n, self.tile)]

    def _pairs(self, n):
        """(query block, key block) pairs that have at least one visible entry."""
        for qb in self._blocks(n):
            yield qb, [kb for kb in self._blocks(n) if not (self.causal and kb.start >= qb.stop)]

    def _logits(self, q, k, qb, kb):
        s = np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1])
        if self.causal and kb.stop - 1 > qb.start:
            hidden = np.arange(kb.start, kb.stop) > np.arange(qb.start, qb.stop)[:, None]
            s = np.where(hidden, -np.inf, s)
        return s

    @staticmethod
    def _check(*xs):
        if xs[0].ndim != 4 or any(x.shape != xs[0].shape for x in xs):
            raise ValueError("inputs must be (B, H, N, D) arrays of one shape")

    def forward(self, Q, K, V):
        self._check(Q, K, V)
        q, k, v = (x.astype(np.float64) for x in (Q, K, V))
        out = np.empty_like(q)
        lse = np.empty(q.shape[:3])
        for qb, kbs in self._pairs(q.shape[2]):
            run_max = np.full(q.shape[:2] + (qb.stop - qb.start, 1), -np.inf)
            run_sum = np.zeros_like(run_max)
            acc = np.zeros_like(q[:, :, qb])
            for kb in kbs:
                s = self._logits(q[:, :, qb], k[:, :, kb], qb, kb)
                new_max = np.maximum(run_max, s.max(-1, keepdims=True))
                e = np.exp(s - new_max)
                shrink = np.exp(run_max - new_max)
                run_sum = run_sum * shrink + e.sum(-1, keepdims=True)
                acc = acc * shrink + e @ v[:, :, kb]
                run_max = new_max
            out[:, :, qb] = acc / run_sum
            lse[:, :, qb] = (run_max + np.log(run_sum))[..., 0]
        O = out.astype(Q.dtype)
        return O, {"O": O, "L": lse, "Q": Q, "K": K, "V": V}

    def backward(self, dO, cache):
        Q, K, V, O = cache["Q"], cache["K"], cache["V"], cache["O"]
        self._check(Q, K, V, O, dO)
        L = np.asarray(cache["L"], dtype=np.float64)[..., None]
        scale = 1.0 / np.sqrt(Q.shape[-1])
        wide = lambda x, blk: x[:, :, blk].astype(np.float64)  # upcast per block only
        dq = np.zeros(Q.shape, dtype=Q.dtype)
        dk, dv = np.zeros(K.shape), np.zeros(V.shape)
        for qb, kbs in self._pairs(Q.shape[2]):
            q_i, g_i = wide(Q, qb), wide(dO, qb)
            # rowsum(P * dP) over the complete row, which no single key block sees.
            delta = np.sum(g_i * O[:, :, qb], axis=-1, keepdims=True)
            dq_i = np.zeros_like(q_i)
            for kb in kbs:
                k_j, v_j = wide(K, kb), wide(V, kb)
                p = np.exp(self._logits(q_i, k_j, qb, kb) - L[:, :, qb])
                dv[:, :, kb] += np.swapaxes(p, -1, -2) @ g_i
                ds = p * (g_i @ np.swapaxes(v_j, -1, -2) - delta)
                dq_i = ds @ k_j
                dk[:, :, kb] += np.swapaxes(ds, -1, -2) @ q_i * scale
            dq[:, :, qb] = dq_i * scale
        return dq, dk.astype(Q.dtype), dv.astype(Q.dtype)


def flash_attention_fwd(Q, K, V, tile_size, causal=True):
    return FlashAttention(tile_size, causal).forward(np.asarray(Q), np.asarray(K), np.asarray(V))


def flash_attention_bwd(dO, cache, tile_size, causal=True):
    return FlashAttention(tile_size, causal).backward(np.asarray(dO), cache)
