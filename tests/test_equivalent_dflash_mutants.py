"""Demonstration for the equivalent DFlash mutant of mutation_config/named_dflash.toml: it is built in
memory and compared with the reference on the same seeded draws (no `dflash_impl`: two fixed codes)."""

from __future__ import annotations

import numpy as np

from impl.speculative import verify_tree
from killmatrix.mutation.catalog import get_mutant


def test_accept_without_min_decides_the_same():
    """`u < min(1, r)` and `u < r` agree for every u in [0, 1): identical outputs on 300 seeded trees."""
    mutant = get_mutant("dflash-accept-without-min").load_module().verify_tree
    cases = np.random.default_rng(0)
    for _ in range(300):
        count = int(cases.integers(1, 6))
        parents = [int(cases.integers(-1, node)) for node in range(count)]
        logits = 2 * cases.standard_normal((2 + count, 4))
        q = cases.dirichlet(np.ones(4), size=count)
        tokens = [int(cases.choice(4, p=row)) for row in q]
        seed = int(cases.integers(1 << 30))
        reference = verify_tree([0, 1], tokens, parents, logits, 1.0, draft_probs=q, rng=np.random.default_rng(seed))
        mutated = mutant([0, 1], tokens, parents, logits, 1.0, draft_probs=q, rng=np.random.default_rng(seed))
        assert mutated == reference, f"parents {parents} tokens {tokens}: mutant {mutated}, reference {reference}"
