"""The suite's pytest plugin: the Hypothesis profile, the implementation-under-test fixtures, markers and tiers.

A property is written once against `flash_impl` / `flash_bwd_impl` / `beam_impl` and runs unchanged
against the reference, against every mutant (a mutated copy of the tree) and against outside code
(`check`). It lives in the package, not in the repository's root conftest.py (which only loads it),
because an installed wheel carries no conftest.py and no pytest settings: `check` loads it with
`-p killmatrix.plugins.suite_plugin` wherever killmatrix is installed.
"""

import os

# One BLAS thread per process, set before NumPy loads OpenBLAS: the suite runs as 2 xdist workers on
# 2 cores, and oversubscribed OpenBLAS threads on tile-sized GEMMs turn a 1 s flash call into a minute.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

from killmatrix.algorithms import ALGORITHMS, IMPLEMENTATION_MARKER  # noqa: E402
from killmatrix.outside.adapters import target_from_env  # noqa: E402
from killmatrix.plugins.profiles import load_profile  # noqa: E402
from killmatrix.tiers import UntieredTest, tier_of  # noqa: E402

load_profile()


def _impl_fixture(algorithm: str, name: str):
    @pytest.fixture(scope="session", name=name)
    def implementation_under_test():
        return target_from_env(algorithm)

    implementation_under_test.__doc__ = f"The {algorithm} implementation under test (reference, mutant or outside)."
    return implementation_under_test


# One fixture per algorithm of the registry: a new algorithm gets its fixture and marker by being declared there.
for _algorithm in ALGORITHMS:
    globals()[_algorithm.fixture] = _impl_fixture(_algorithm.name, _algorithm.fixture)


def pytest_configure(config):
    for algorithm in ALGORITHMS:
        config.addinivalue_line("markers", f"{algorithm.name}: runs against the {algorithm.label} implementation")
    config.addinivalue_line("markers", f"{IMPLEMENTATION_MARKER}: runs against an implementation (any algorithm)")
    config.addinivalue_line("markers", "slow: large shapes (seconds each)")
    config.addinivalue_line("markers", "corpus: grades examples/corpus/ (minutes; `make corpus`, not `make test`)")
    config.addinivalue_line("markers", "tier(name, feature): the test's tier, from killmatrix/tiers.py")


def pytest_collection_modifyitems(items):
    untiered = []
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        algorithms = [algorithm.name for algorithm in ALGORITHMS if algorithm.fixture in fixtures]
        for algorithm in algorithms:
            item.add_marker(getattr(pytest.mark, algorithm))
        if not algorithms:
            continue
        item.add_marker(getattr(pytest.mark, IMPLEMENTATION_MARKER))
        try:
            tier = tier_of(item.nodeid)
        except UntieredTest as exc:
            untiered.append(str(exc))
            continue
        item.add_marker(pytest.mark.tier(tier.name, tier.feature))
    if untiered:
        # Loud on purpose: an untiered property would otherwise count in no verdict, or in the wrong one.
        raise pytest.UsageError("suite tests without a tier:\n  " + "\n  ".join(untiered))
