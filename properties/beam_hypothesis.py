"""One beam hypothesis in the form every beam property reads, whatever shape the target returned.

The suite's own type: killmatrix's adapter (killmatrix/outside/adapters.py) builds these from a target's
results, and the oracles build them for comparison.
"""

from __future__ import annotations

from typing import NamedTuple


class Hyp(NamedTuple):
    tokens: tuple[int, ...]
    logprob: float
    score: float
    finished: bool
