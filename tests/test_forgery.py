"""No forged pass: the forgeries of examples/forgeries/ against the real check machinery.

Each forgery is a correct tiled forward (examples/forgeries/honest.py) plus one trick that, while outside
code ran in the test process, could end the run with status 0 mid-test, stop or skip the tests, rewrite
the oracles, NumPy's comparisons or the outcome records, or kill the test process. Now the code runs in
its own confined worker (killmatrix/outside/remote_target.py) and none of it reaches the tests.

One sandboxed run (`run_suite_against` on a small suite of the real oracle modules, whose session
fixture is every forgery in turn) keeps this fast; two `check` runs on the real suite pin the exit codes. Each
assertion catches the forgery in its row succeeding: a `pass`, or a property that does not say what
happened.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from killmatrix.mutation.catalog import ROOT
from killmatrix.outside.check_run import RunSettings, run_suite_against
from killmatrix.outside.verdicts import overall, property_verdicts
from killmatrix.plugins.pytest_runner import TestOutcome
from killmatrix.sandbox.limits import MiB
from tests.outward_cli import outward_app

FORGERIES = ROOT / "examples" / "forgeries"
WRONG = "against the float64 oracle|differs from the naive attention"
# forgery id -> (target, the statuses its properties end with, a pattern every non-passing detail must match)
EXPECTED = {
    "exits-on-first-call": ("exits.py:on_first_call", {"error"}, r"ended \(exit 0\) during the call"),
    "exits-on-second-call": ("exits.py:on_second_call", {"error", "passed"}, r"ended \(exit 0\) during the call"),
    "raises-system-exit": ("raises.py:system_exit", {"failed"}, "OutsideError: SystemExit"),
    "raises-keyboard-interrupt": ("raises.py:keyboard_interrupt", {"failed"}, "OutsideError: KeyboardInterrupt"),
    "raises-pytest-skip": ("raises.py:pytest_skip", {"failed"}, "OutsideError: Skipped"),
    "patches-oracles": ("patches_oracles.py", {"failed"}, WRONG),
    "patches-numpy": ("patches_numpy.py", {"failed"}, WRONG),
    "forges-outcomes": ("forges_outcomes.py", {"error"}, r"outcomes\.jsonl.*refused"),
    "signals-parent-sigkill": ("signals_parent.py:with_sigkill", {"error"}, r"tried to signal process \d+.*refused"),
    "signals-parent-sigterm": ("signals_parent.py:with_sigterm", {"error"}, r"tried to signal process \d+.*refused"),
}

# The real oracle modules, and a suite that uses them the way the real properties do.
ORACLE_MODULES = ("__init__.py", "attention_oracle.py", "attention_assertions.py", "attention_strategies.py")
SUITE = {
    # Overrides the suite plugin's `flash_impl`: every forgery in turn, each in its own worker.
    "properties/conftest.py": f"""
        import pytest

        from killmatrix.algorithms import BY_NAME
        from killmatrix.outside.adapters import target_from_env

        FORGERIES = {json.dumps({k: str(FORGERIES / v[0]) for k, v in EXPECTED.items()})}


        @pytest.fixture(scope="session", params=sorted(FORGERIES))
        def flash_impl(request):
            target = target_from_env("flash", {{BY_NAME["flash"].env: FORGERIES[request.param]}})
            yield target
            target.fn.close()
        """,
    # Named as a correctness file of killmatrix/tiers.py, which the suite plugin requires of every test.
    "properties/test_attention_oracle.py": """
        import numpy as np
        from hypothesis import given, settings
        from hypothesis import strategies as st

        from properties.attention_assertions import assert_matches_oracle
        from properties.attention_oracle import naive_attention
        from properties.attention_strategies import make_case


        def test_matches_the_oracle(flash_impl):
            case = make_case(1, 2, 9, 9, 4, tile_size=4, seed=1)
            assert_matches_oracle(np.asarray(case.run(flash_impl)), case)


        def test_two_tilings_agree_with_numpy(flash_impl):
            Q, K, V = (np.random.default_rng(2).standard_normal((1, 1, 7, 3)) for _ in range(3))
            first, second = flash_impl(Q, K, V, tile_size=2), flash_impl(Q, K, V, tile_size=3)
            np.testing.assert_allclose(first, second, rtol=1e-9)
            assert np.allclose(second, naive_attention(Q, K, V)), "differs from the naive attention"
            assert np.abs(second - naive_attention(Q, K, V)).max() < 1e-9, "differs from the naive attention"


        @settings(max_examples=4)
        @given(seed=st.integers(0, 50), n=st.integers(1, 6))
        def test_matches_the_oracle_on_drawn_cases(flash_impl, seed, n):
            case = make_case(1, 1, n, n, 2, tile_size=2, seed=seed)
            assert_matches_oracle(np.asarray(case.run(flash_impl)), case)
        """,
}
SETTINGS = RunSettings(per_test_timeout_s=20, slow_test_timeout_s=20, budget_s=240, memory_bytes=2048 * MiB,
                       output_bytes=8 * MiB, load_timeout_s=30)


def _write_suite(root: Path) -> Path:
    for name, text in SUITE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    for module in ORACLE_MODULES:
        (root / "properties" / module).write_text((ROOT / "properties" / module).read_text())
    return root


@pytest.fixture(scope="module")
def verdicts_by_forgery(tmp_path_factory):
    suite = _write_suite(tmp_path_factory.mktemp("forged_suite"))
    run = run_suite_against("flash", str(FORGERIES / "honest.py"), SETTINGS, suite_root=suite)
    by_forgery: dict[str, dict[str, TestOutcome]] = {}
    for nodeid, outcome in run.outcomes.items():
        by_forgery.setdefault(_forgery_of(nodeid), {})[nodeid] = outcome
    return {name: property_verdicts(outcomes, [a for a in run.write_attempts if _forgery_of(a["nodeid"]) == name])
            for name, outcomes in by_forgery.items()}


def _forgery_of(nodeid: str) -> str:
    """The forgery a node id ran against: its last parametrization id that names one."""
    ids = nodeid.rsplit("[", 1)[-1].rstrip("]").split("-") if "[" in nodeid else []
    for size in range(len(ids), 0, -1):
        name = "-".join(ids[-size:])
        if name in EXPECTED:
            return name
    return "<run>"


def test_every_forgery_was_run_and_nothing_else_happened(verdicts_by_forgery):
    """(Catches a forgery that killed the test process: its tests, and the later ones, never report.)"""
    assert set(verdicts_by_forgery) == set(EXPECTED)
    assert all(len(verdicts) == 3 for verdicts in verdicts_by_forgery.values())


@pytest.mark.parametrize("forgery", sorted(EXPECTED))
def test_no_forgery_passes_and_each_property_says_what_happened(verdicts_by_forgery, forgery):
    _, statuses, named = EXPECTED[forgery]
    verdicts = verdicts_by_forgery[forgery]
    assert overall(verdicts) == "fail", [(v.name, v.status, v.detail) for v in verdicts]
    assert {v.status for v in verdicts} <= statuses, [(v.name, v.status, v.detail) for v in verdicts]
    broken = [v for v in verdicts if v.status != "passed"]
    assert broken and all(re.search(named, v.detail) for v in broken), [(v.name, v.detail) for v in broken]


@pytest.mark.parametrize(
    ("target", "keyword", "exit_code", "said"),
    [
        pytest.param("exits.py:on_first_call", "seed_small_shape", 1, "ended (exit 0)", id="exit-0-on-first-call"),
        pytest.param("exits_at_import.py", "seed_small_shape", 2, "SystemExit", id="exit-0-at-import"),
    ],
)
def test_check_exits_with_the_right_code(tmp_path, target, keyword, exit_code, said):
    """The real suite through the CLI: 1 for a wrong or dying implementation, 2 when it does not load
    (catches the original `verdict: pass` with exit 0)."""
    out = tmp_path / "check.json"
    result = CliRunner().invoke(outward_app(), ["check", "flash", str(FORGERIES / target), "-k", keyword,
                                                "--json", str(out)])
    assert result.exit_code == exit_code, result.output
    if exit_code == 2:
        assert said in result.output
        return
    document = json.loads(out.read_text())
    assert document["verdict"] == "fail"
    assert any(said in p["detail"] for p in document["properties"] if p["status"] != "passed"), document
