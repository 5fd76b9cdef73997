"""Blockwise attention forward pass with online softmax.

    out, lse = flash_attention_forward(q, k, v, block_size=64, causal=True)

q is (B, H, Nq, D); k and v are (B, H, Nk, D) and Nk may differ from Nq. The
causal mask is aligned to the top-left corner: query i sees keys j <= i, so
every query sees at least key 0 and no row is ever empty. Returns the output
and the per-row log-sum-exp of the scaled scores.
"""
import numpy as np


def flash_attention_forward(q, k, v, block_size=64, causal=True):
    B, H, Nq, D = q.shape
    Nk = k.shape[2]
    scale = 1.0 / np.sqrt(D)
    qf = q.reshape(B * H, Nq, D)
    kf = k.reshape(B * H, Nk, D)
    vf = v.reshape(B * H, Nk, D)
    out = np.empty((B * H, Nq, D), dtype=q.dtype)
    lse = np.empty((B * H, Nq))

    for i0 in range(0, Nq, block_size):
        i1 = min(i0 + block_size, Nq)
        qi = qf[:, i0:i1]
        run_max = np.full((B * H, i1 - i0), -np.inf)
        run_sum = np.zeros((B * H, i1 - i0))
        run_out = np.zeros((B * H, i1 - i0, D))
        last_key = min(Nk, i1) if causal else Nk      # keys past i1 - 1 are never visible
        for j0 in range(0, last_key, block_size):
            j1 = min(j0 + block_size, Nk)
            s = np.einsum('bid,bjd->bij', qi, kf[:, j0:j1]) * scale
            if causal:
                visible = np.arange(j0, j1)[None, :] <= np.arange(i0, i1)[:, None]
                s = np.where(visible, s, -np.inf)
            new_max = np.maximum(run_max, s.max(axis=-1))
            w = np.exp(s - new_max[..., None])
            decay = np.exp(run_max - new_max)
            run_sum = run_sum * decay + w.sum(axis=-1)
            run_out = run_out * decay[..., None] + np.einsum('bij,bjd->bid', w, vf[:, j0:j1])
            run_max = new_max
        out[:, i0:i1] = run_out / run_sum[..., None]
        lse[:, i0:i1] = run_max + np.log(run_sum)

    return out.reshape(B, H, Nq, D), lse.reshape(B, H, Nq)
