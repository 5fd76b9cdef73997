"""Forced-EOS logit schedules for beam search: a scripted model plus the search arguments.

A schedule is a small prefix trie (vocab 3-6, up to 4 new tokens) whose rows are random logits of
three kinds: spread out, all equal (every sibling tied), or with duplicated entries (some siblings
tied). At chosen depths EOS is pushed up, to likely or to all but certain, so beams finish at
different lengths and finished beams must hold their place against longer unfinished ones.

Two things real models do are drawn too. Logits come in float64, float32 or float16: a search that
computes its log-softmax in the model's dtype (or in float32) instead of float64 moves every logprob
by ~1e-7 (float32) to ~1e-3 (float16), which the oracles' 1e-9 tolerance sees. And some rows ban a
token with a `-inf` logit (never all of a row's tokens: a row needs one finite entry, CONTRACTS §3),
so a banned child, with logprob `-inf`, sits in the pool and may be kept when K is wide.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from properties.beam_models import ScriptedModel

ALPHAS = st.sampled_from([0.0, 0.6, 1.0, 2.0]) | st.floats(0.0, 3.0)
EOS_PUSHES = (0.0, 2.0, 30.0)  # none, likely, forced
LOGIT_DTYPES = ("float64", "float32", "float16")
BAN_RATES = (0.0, 0.25)  # the chance that a row bans one token


@dataclass(frozen=True)
class BeamSchedule:
    vocab_size: int
    eos_token_id: int
    prompts: tuple[tuple[int, ...], ...]
    table: dict = dataclasses.field(hash=False)
    beam_width: int = 2
    max_new_tokens: int = 3
    alpha: float = 0.0
    logit_dtype: str = "float64"  # what the model returns

    def model(self) -> ScriptedModel:
        """A fresh model (with its own call log) playing this schedule."""
        return ScriptedModel(self.vocab_size, self.table, dtype=self.logit_dtype)

    def run(self, search, model=None, prompts=None):
        """`search` (the implementation under test, or an oracle) on this schedule."""
        prompts = self.prompts if prompts is None else prompts
        return search(self.model() if model is None else model, [list(p) for p in prompts], self.beam_width,
                      self.max_new_tokens, self.eos_token_id, alpha=self.alpha)

    def replace(self, **changes) -> BeamSchedule:
        return dataclasses.replace(self, **changes)


def logit_row(vocab_size: int, logprobs: dict[int, float]) -> np.ndarray:
    """Logits whose log-softmax gives `logprobs` to the listed tokens; the rest share what is left."""
    left = 1.0 - sum(math.exp(lp) for lp in logprobs.values())
    others = vocab_size - len(logprobs)
    if left <= 0 or others < 1:
        raise ValueError(f"logprobs {logprobs} leave no probability for the other {others} tokens")
    row = np.full(vocab_size, math.log(left / others))
    for token, lp in logprobs.items():
        row[token] = lp
    return row


def _random_row(rng: np.random.Generator, vocab_size: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        return np.zeros(vocab_size)
    row = rng.normal(0.0, 2.0, vocab_size)
    if kind == 1:
        row[rng.integers(vocab_size)] = row[rng.integers(vocab_size)]
    return row


def scripted_trie(rng, vocab_size, eos_token_id, prompts, max_new_tokens, eos_push, ban_rate=0.0) -> dict:
    """A row for every sequence the search can show the model: a prompt plus up to
    max_new_tokens - 1 generated tokens without EOS; `eos_push[d]` is added to EOS after d tokens;
    with chance `ban_rate` a row bans one token (EOS included) with a `-inf` logit."""
    table = {}
    for prompt in prompts:
        frontier = [tuple(prompt)]
        for depth in range(max_new_tokens):
            for seq in frontier:
                row = _random_row(rng, vocab_size)
                row[eos_token_id] += eos_push[depth]
                if rng.random() < ban_rate:
                    row[rng.integers(vocab_size)] = -np.inf  # vocab_size >= 2 leaves a finite entry
                table.setdefault(seq, row)
            frontier = [seq + (t,) for seq in frontier for t in range(vocab_size) if t != eos_token_id]
    return table


@st.composite
def beam_schedules(draw, max_vocab=6, max_new_tokens=4, max_prompts=3, max_beam_width=5) -> BeamSchedule:
    vocab_size = draw(st.integers(3, max_vocab))
    eos = draw(st.integers(0, vocab_size - 1))
    steps = draw(st.integers(1, max_new_tokens))
    token = st.integers(0, vocab_size - 1)
    prompts = draw(st.lists(st.lists(token, min_size=1, max_size=5).map(tuple), min_size=1, max_size=max_prompts))
    eos_push = draw(st.lists(st.sampled_from(EOS_PUSHES), min_size=steps, max_size=steps))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ban_rate = draw(st.sampled_from(BAN_RATES))
    return BeamSchedule(
        vocab_size=vocab_size,
        eos_token_id=eos,
        prompts=tuple(prompts),
        table=scripted_trie(rng, vocab_size, eos, prompts, steps, eos_push, ban_rate),
        beam_width=draw(st.integers(1, max_beam_width)),
        max_new_tokens=steps,
        alpha=draw(ALPHAS),
        logit_dtype=draw(st.sampled_from(LOGIT_DTYPES)),
    )
