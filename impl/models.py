"""Models that follow the beam-search model protocol (CONTRACTS §3): `model(seqs) -> (len(seqs), vocab)` logits.

`TinyLM` is the seed's toy decoder with random weights; `ScriptedModel` plays a hand-written table of
logits, the tool for forced-EOS schedules whose answers can be derived by hand.
"""

from __future__ import annotations

import numpy as np

from impl.attention import flash_attention_fwd


class ScriptedModel:
    """Logits looked up by the whole sequence the model is shown (prompt + generated so far).

    A sequence missing from `table` gets `default`, which is all zeros (every token equally likely)
    unless given. `batch_sizes` records how many sequences each call carried, so a test can check
    one call per step; `calls` is their number.
    """

    def __init__(self, vocab_size: int, table: dict, default=None):
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be an int >= 1, got {vocab_size!r}")
        self.vocab_size = vocab_size
        self.table = {tuple(key): self._row(f"table[{tuple(key)}]", row) for key, row in table.items()}
        self.default = np.zeros(vocab_size) if default is None else self._row("default", default)
        self.batch_sizes: list[int] = []

    def _row(self, name: str, row) -> np.ndarray:
        row = np.asarray(row, dtype=np.float64)
        if row.shape != (self.vocab_size,):
            raise ValueError(f"{name} must hold {self.vocab_size} logits, got shape {row.shape}")
        return row

    @property
    def calls(self) -> int:
        return len(self.batch_sizes)

    def __call__(self, seqs) -> np.ndarray:
        self.batch_sizes.append(len(seqs))
        rows = [self.table.get(tuple(seq), self.default) for seq in seqs]
        return np.array(rows, dtype=np.float64).reshape(len(seqs), self.vocab_size)


class TinyLM:
    """One pre-norm transformer block over token + position embeddings, random weights from `seed`.

    A batch is left-padded to its longest sequence; a key padding mask hides the padding and
    positions count from each sequence's first real token, so every sequence gets the logits it
    would get alone. Only the last position's logits are read, and with a single block they depend
    on the other positions only through its keys and values, so only the last query is computed.
    """

    def __init__(self, seed: int = 0, vocab_size: int = 1000, d_model: int = 64, n_heads: int = 4,
                 max_positions: int = 256):
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        rng = np.random.default_rng(seed)

        def weight(*shape: int) -> np.ndarray:
            return rng.standard_normal(shape) / np.sqrt(shape[0])

        self.vocab_size, self.d_model, self.n_heads, self.max_positions = vocab_size, d_model, n_heads, max_positions
        self.token_embedding = rng.standard_normal((vocab_size, d_model))
        self.position_embedding = 0.5 * rng.standard_normal((max_positions, d_model))
        self.w_q = weight(d_model, d_model)
        self.w_kv = weight(d_model, 2 * d_model)
        self.w_out = weight(d_model, d_model)
        self.w_up = weight(d_model, 4 * d_model)
        self.w_down = weight(4 * d_model, d_model)
        # Scaled up so next-token distributions are peaked enough for beams to disagree.
        self.w_head = 3.0 * weight(d_model, vocab_size)

    def __call__(self, seqs) -> np.ndarray:
        ids, real = self._left_padded(seqs)
        positions = np.maximum(np.cumsum(real, axis=1) - 1, 0)
        x = self.token_embedding[ids] + self.position_embedding[positions]
        normed = _layer_norm(x)
        k, v = np.split(normed @ self.w_kv, 2, axis=-1)
        q = normed[:, -1:] @ self.w_q
        attended = flash_attention_fwd(
            self._heads(q), self._heads(k), self._heads(v), tile_size=64, causal=True, key_padding_mask=real
        )
        h = x[:, -1] + self._merge_heads(attended)[:, 0] @ self.w_out
        h = h + np.maximum(_layer_norm(h) @ self.w_up, 0.0) @ self.w_down
        return _layer_norm(h) @ self.w_head

    def _left_padded(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        if not seqs or any(len(s) == 0 for s in seqs):
            raise ValueError("seqs must be a non-empty list of non-empty token-id lists")
        width = max(len(s) for s in seqs)
        if width > self.max_positions:
            raise ValueError(f"sequences must be at most max_positions={self.max_positions} long, got {width}")
        ids = np.zeros((len(seqs), width), dtype=np.int64)
        real = np.zeros((len(seqs), width), dtype=bool)
        for i, s in enumerate(seqs):
            ids[i, width - len(s):] = s
            real[i, width - len(s):] = True
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        return ids, real

    def _heads(self, x: np.ndarray) -> np.ndarray:
        B, N, _ = x.shape
        return x.reshape(B, N, self.n_heads, -1).transpose(0, 2, 1, 3)

    def _merge_heads(self, x: np.ndarray) -> np.ndarray:
        B, _, N, _ = x.shape
        return x.transpose(0, 2, 1, 3).reshape(B, N, self.d_model)


def _layer_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    centered = x - x.mean(axis=-1, keepdims=True)
    return centered / np.sqrt((centered**2).mean(axis=-1, keepdims=True) + eps)
