"""A failure's detail is words a person can read: the assertion's message, `ExceptionType: message` for
an exception the code raised, the expected pattern and the actual message for a `pytest.raises(match=)`
mismatch, then the smallest failing input, never a stray traceback fragment (`^^^^^^^^^`,
`'return_lse'),`) as `check` used to show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from killmatrix.outside.check_run import RunSettings, run_suite_against
from killmatrix.outside.verdicts import _assertion_message, property_verdicts
from killmatrix.plugins.outcomes_plugin import OUTCOMES_ENV
from tests.test_sandbox_verdicts import FAST, _write

FAILING_TESTS = '''
    import pytest
    from hypothesis import given, settings, strategies as st


    def code_under_test(options):
        return options["return_lse"]


    def test_regex_mismatch():
        with pytest.raises(ValueError, match="tile_size"):
            raise ValueError("bad size 0")


    def test_exception_from_code():
        code_under_test({})


    def test_assertion_with_message():
        assert [1, 2] == [1, 3], "outputs differ at index 1"


    def test_did_not_raise():
        with pytest.raises(ValueError):
            pass


    @settings(database=None, derandomize=True, max_examples=50)
    @given(st.integers(0, 10))
    def test_two_distinct_bugs(n):
        if n == 3:
            code_under_test({})
        assert n < 5, f"n = {n} is too big"
'''


@pytest.fixture(scope="module")
def details(tmp_path_factory) -> dict[str, str]:
    """Each test's detail as the outcomes plugin records it (one pytest run for all)."""
    root = tmp_path_factory.mktemp("readable")
    (root / "test_failing.py").write_text(textwrap.dedent(FAILING_TESTS))
    outcomes = root / "outcomes.jsonl"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "killmatrix.plugins.outcomes_plugin",
                    "-p", "no:cacheprovider", "-p", "no:xdist", "--tb=short", "test_failing.py"],
                   cwd=root, capture_output=True, timeout=120,
                   env={**os.environ, OUTCOMES_ENV: str(outcomes)})
    records = [json.loads(line) for line in outcomes.read_text().splitlines()]
    return {r["nodeid"].split("::")[1]: r["detail"] for r in records if r["event"] == "result"}


def test_regex_mismatch_shows_the_pattern_and_the_message_raised(details):
    detail = details["test_regex_mismatch"]
    assert "'tile_size'" in detail and "ValueError" in detail and "'bad size 0'" in detail, detail


def test_exception_from_the_code_is_type_and_message(details):
    assert details["test_exception_from_code"] == "KeyError: 'return_lse'"


def test_assertion_shows_its_message_not_pytest_s_explanation(details):
    assert details["test_assertion_with_message"] == "outputs differ at index 1"


def test_did_not_raise_says_so(details):
    assert details["test_did_not_raise"] == "DID NOT RAISE ValueError"


def test_several_bugs_found_at_once_show_the_first_not_the_exception_group(details):
    detail = details["test_two_distinct_bugs"]
    assert detail in ("KeyError: 'return_lse'", "n = 5 is too big"), detail


def test_no_detail_is_a_traceback_fragment(details):
    for name, detail in details.items():
        first = detail.splitlines()[0]
        assert first.strip(" ^~") and not first.startswith(("File ", "Traceback", "|", "+")), (name, detail)


@pytest.mark.parametrize("detail", [
    "    ^^^^^^^^^^^^^^^^^^^\nKeyError: 'return_lse'",
    "'return_lse'),\nKeyError: 'return_lse'",
    "  | Traceback (most recent call last):\nKeyError: 'return_lse'",
])
def test_a_verdict_skips_fragments_to_the_message(detail):
    """(Details recorded by an older plugin, or an error outside the test call, still read well.)"""
    assert _assertion_message(detail) == "KeyError: 'return_lse'"


# Its own fixture and marker: the suite plugin (loaded by `check`) requires a tier for tests taking `flash_impl`.
SHRINK_SUITE = {
    "properties/conftest.py": """
        import pytest

        from killmatrix.outside.adapters import target_from_env


        @pytest.fixture(scope="session")
        def impl():
            return target_from_env("flash")


        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(pytest.mark.flash)
        """,
    "properties/test_rows.py": """
        import numpy as np
        from hypothesis import example, given, strategies as st


        @given(st.integers(1, 300))
        @example(256)
        def test_every_row_is_copied(impl, n):
            x = np.arange(n, dtype=float).reshape(1, 1, n, 1)
            out = np.asarray(impl(x, x, x, 1))
            assert np.array_equal(out, x), f"{np.count_nonzero(out != x)} of {n} rows differ"
        """,
}

# Wrong from N = 2 on: the last row is dropped.
TARGET = """
    import numpy as np


    def flash_attention_fwd(Q, K, V, tile_size, causal=True):
        out = Q.copy()
        if out.shape[2] > 1:
            out[:, :, -1] = 0
        return out
"""


@pytest.mark.slow
def test_an_explicit_example_failure_is_searched_for_a_smaller_input(tmp_path):
    """Hypothesis reports a failing @example as written (N = 256); check re-runs that test without its
    explicit examples and shows the shrunk N = 2 instead."""
    suite = _write(tmp_path / "suite", SHRINK_SUITE)
    target = _write(tmp_path / "user", {"flash.py": TARGET}) / "flash.py"
    settings = RunSettings(**{**FAST.__dict__, "per_test_timeout_s": 20, "slow_test_timeout_s": 20})
    run = run_suite_against("flash", str(target), settings, suite_root=suite)
    (verdict,) = property_verdicts(run.outcomes, run.write_attempts)
    assert verdict.status == "failed"
    # (The fixture is not `flash_impl`, so the shown input keeps it: `impl=..., n=2`.)
    assert "smallest failing input: " in verdict.detail and verdict.detail.endswith("n=2"), verdict.detail
    assert "1 of 2 rows differ" in verdict.detail, verdict.detail
