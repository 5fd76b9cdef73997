"""Root conftest: the Hypothesis profile and the implementation-under-test fixtures.

A property is written once against `flash_impl` / `beam_impl` and runs unchanged against the
reference, against every mutant (a mutated copy of the tree) and against outside code (`check`).
Tests are marked `flash` or `beam` by the fixture they use, so `-m flash` selects one algorithm.
"""

import os

# One BLAS thread per process, set before NumPy loads OpenBLAS: the suite runs as 2 xdist workers on
# 2 cores, and oversubscribed OpenBLAS threads on tile-sized GEMMs turn a 1 s flash call into a minute.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

from killmatrix.profiles import load_profile
from killmatrix.targets import ENV, target_from_env

load_profile()


@pytest.fixture(scope="session")
def flash_impl():
    return target_from_env("flash")


@pytest.fixture(scope="session")
def flash_bwd_impl():
    return target_from_env("flash_bwd")


@pytest.fixture(scope="session")
def beam_impl():
    return target_from_env("beam")


def pytest_collection_modifyitems(items):
    for item in items:
        for algorithm in ENV:
            if f"{algorithm}_impl" in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, algorithm))
