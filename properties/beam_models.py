"""Models that follow the beam-search model protocol (CONTRACTS §3): `model(seqs) -> (len(seqs), vocab)` logits.

`TinyLM` is the seed's toy decoder with random weights; `ScriptedModel` plays a hand-written table of
logits, the tool for forced-EOS schedules whose answers can be derived by hand. A `ScriptedModel` may
return its logits in float32 or float16, as real models do: the search must still sum float64
log-probabilities of exactly those values (CONTRACTS §3), which only a narrow dtype can show.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from impl.attention import flash_attention_fwd


class ScriptedModel:
    """Logits looked up by the whole sequence the model is shown (prompt + generated so far).

    A sequence missing from `table` gets `default`, which is all zeros (every token equally likely)
    unless given. `batch_sizes` records how many sequences each call carried, so a test can check
    one call per step; `calls` is their number. `dtype` is the dtype of the returned logits (the
    table's float64 values rounded to it, the same values on every call).
    """

    def __init__(self, vocab_size: int, table: dict, default=None, dtype=np.float64):
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be an int >= 1, got {vocab_size!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a float dtype, got {self.dtype}")
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
        return np.array(rows, dtype=np.float64).reshape(len(seqs), self.vocab_size).astype(self.dtype)


class TinyLM:
    """One pre-norm transformer block over token + position embeddings, random weights from `seed`.

    A batch is left-padded to its longest sequence; a key padding mask hides the padding and
    positions count from each sequence's first real token, so every sequence gets the logits it
    would get alone. Only the last position's logits are read, and with a single block they depend
    on the other positions only through its keys and values, so only the last query is computed.

    Key/value cache: a position's key and value depend only on its token and its position, so the
    keys/values of a whole sequence are kept under the sequence's token tuple. A sequence whose
    prefix (all but its last token) is cached computes only its newest position, the one query
    attending over L keys. The cache is an LRU of at most `cache_size` sequences (0 turns it off):
    a count cap, not "the last call's entries only", because a caller that feeds one beam per call
    must find the other beams' prefixes still there; each entry holds at most `max_positions` rows.
    `positions_computed` counts the positions whose keys/values were computed, cached or not.
    """

    def __init__(self, seed: int = 0, vocab_size: int = 1000, d_model: int = 64, n_heads: int = 4,
                 max_positions: int = 256, cache_size: int = 256):
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be an int >= 0 (0 disables the cache), got {cache_size!r}")
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
        self.cache_size = cache_size
        self.cache: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()  # sequence -> (len, 2*d_model) keys|values
        self.positions_computed = 0
        self._no_rows = np.zeros((0, 2 * d_model))

    def __call__(self, seqs) -> np.ndarray:
        seqs = self._checked_lengths(seqs)
        kv, x_last, q = self._keys_values_and_last_query(seqs)
        k, v = np.split(_left_padded(kv), 2, axis=-1)
        lengths = np.array([len(seq) for seq in seqs])
        real = np.arange(k.shape[1]) >= (k.shape[1] - lengths)[:, None]
        attended = flash_attention_fwd(
            self._heads(q[:, None]), self._heads(k), self._heads(v), tile_size=64, causal=True, key_padding_mask=real
        )
        h = x_last + self._merge_heads(attended)[:, 0] @ self.w_out
        h = h + np.maximum(_layer_norm(h) @ self.w_up, 0.0) @ self.w_down
        return _layer_norm(h) @ self.w_head

    def _keys_values_and_last_query(self, seqs: list[tuple[int, ...]]):
        """Per sequence, its keys|values `(len, 2*d_model)` (cached rows first, then the computed ones,
        now cached too); and the input `x` and query of its last position, rows of `(len(seqs), d_model)`."""
        prefixes = [self._recall(seq[:-1]) for seq in seqs]
        # Positions still to compute: the newest alone when the prefix is cached, all of them otherwise.
        starts = [len(prefix) for prefix in prefixes]
        new_ids = self._checked_ids([t for seq, start in zip(seqs, starts, strict=True) for t in seq[start:]])
        new_positions = [p for seq, start in zip(seqs, starts, strict=True) for p in range(start, len(seq))]
        self.positions_computed += len(new_ids)
        x = self.token_embedding[new_ids] + self.position_embedding[new_positions]
        normed = _layer_norm(x)
        new_kv = normed @ self.w_kv
        ends = np.cumsum([len(seq) - start for seq, start in zip(seqs, starts, strict=True)]).tolist()
        kv = [np.concatenate([prefix, new_kv[begin:end]])  # a fresh array, so it can be cached as is
              for prefix, begin, end in zip(prefixes, [0, *ends[:-1]], ends, strict=True)]
        for seq, seq_kv in zip(seqs, kv, strict=True):
            self._remember(seq, seq_kv)
        last = np.array(ends) - 1
        return kv, x[last], normed[last] @ self.w_q

    def _recall(self, prefix: tuple[int, ...]) -> np.ndarray:
        """The cached keys|values of `prefix`, or none (zero rows) when it is not cached."""
        entry = self.cache.get(prefix)
        if entry is None:
            return self._no_rows
        self.cache.move_to_end(prefix)
        return entry

    def _remember(self, seq: tuple[int, ...], kv: np.ndarray) -> None:
        """Cache `kv` read-only (beams sharing a prefix share it) and evict the least recently used."""
        if self.cache_size == 0:
            return
        kv.flags.writeable = False
        self.cache[seq] = kv
        self.cache.move_to_end(seq)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    def _checked_lengths(self, seqs) -> list[tuple[int, ...]]:
        if not seqs or any(len(s) == 0 for s in seqs):
            raise ValueError("seqs must be a non-empty list of non-empty token-id lists")
        width = max(len(s) for s in seqs)
        if width > self.max_positions:
            raise ValueError(f"sequences must be at most max_positions={self.max_positions} long, got {width}")
        return [tuple(s) for s in seqs]

    def _checked_ids(self, ids: list) -> np.ndarray:
        """The token ids about to be embedded (a cached prefix's were checked when it was computed)."""
        ids = np.array(ids)
        if ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"token ids must be ints in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        return ids

    def _heads(self, x: np.ndarray) -> np.ndarray:
        B, N, _ = x.shape
        return x.reshape(B, N, self.n_heads, -1).transpose(0, 2, 1, 3)

    def _merge_heads(self, x: np.ndarray) -> np.ndarray:
        B, _, N, _ = x.shape
        return x.transpose(0, 2, 1, 3).reshape(B, N, self.d_model)


def _left_padded(rows: list[np.ndarray]) -> np.ndarray:
    """Stack arrays of different lengths into (len(rows), longest, ...), each at the end of its row."""
    width = max(len(r) for r in rows)
    padded = np.zeros((len(rows), width, *rows[0].shape[1:]))
    for i, r in enumerate(rows):
        padded[i, width - len(r):] = r
    return padded


def _layer_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    centered = x - x.mean(axis=-1, keepdims=True)
    return centered / np.sqrt((centered**2).mean(axis=-1, keepdims=True) + eps)
