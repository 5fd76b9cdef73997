"""The sandbox turns every way outside code can misbehave into a verdict, and killmatrix goes on.

A tiny fake suite runs against one fake target whose behaviour each test picks through the value of
Q: it answers, hangs, segfaults, eats memory, floods its output, writes beside itself, exits the
process, or is wrong.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from killmatrix.outside.check_run import LoadError, RunSettings, run_suite_against
from killmatrix.outside.verdicts import property_verdicts
from killmatrix.sandbox.limits import MiB

TARGET = """
    import ctypes
    import os
    import pathlib
    import sys

    import numpy as np


    def flash_attention_fwd(Q, K, V, tile_size, causal=True):
        mode = int(Q.flat[0])
        if mode == 1:
            while True:
                pass
        if mode == 2:
            ctypes.string_at(0)
        if mode == 3:
            hoard = []
            while True:
                hoard.append(np.empty(256 * 1024 * 1024, np.uint8))
        if mode == 4:
            while True:
                sys.stdout.write("x" * 1024 * 1024)
        if mode == 5:
            (pathlib.Path(__file__).parent / "victim.txt").write_text("overwritten")
        if mode == 6:
            return Q + 1
        if mode == 7:
            os._exit(1)
        return Q
"""

# Only the suite's folders reach the scratch copy (target_run.SUITE_PARTS); the suite plugin marks and
# tiers `flash_impl` users, so this fake suite takes its own fixture and marks itself.
SUITE = {
    "properties/test_fake.py": """
        import numpy as np
        import pytest
        from hypothesis import given, strategies as st

        from killmatrix.outside.adapters import target_from_env

        pytestmark = pytest.mark.flash


        @pytest.fixture(scope="session")
        def impl():
            return target_from_env("flash")


        def call(impl, mode):
            q = np.full((1, 1, 1, 1), float(mode))
            return impl(q, q, q, 1)


        def test_answers(impl):
            assert call(impl, 0)[0, 0, 0, 0] == 0


        def test_hangs(impl):
            call(impl, 1)


        def test_segfaults(impl):
            call(impl, 2)


        def test_eats_memory(impl):
            call(impl, 3)


        def test_floods_output(impl):
            call(impl, 4)


        def test_writes_beside_itself(impl):
            call(impl, 5)


        def test_exits_the_process(impl):
            call(impl, 7)


        @given(st.integers(6, 6), st.integers(0, 100))
        def test_is_wrong(impl, mode, extra):
            assert call(impl, mode)[0, 0, 0, 0] == mode, "output differs from Q"
        """,
}

FAST = RunSettings(per_test_timeout_s=3, slow_test_timeout_s=3, budget_s=120, memory_bytes=1536 * MiB,
                   output_bytes=8 * MiB, load_timeout_s=20)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def test_every_misbehaviour_becomes_its_verdict_and_the_run_goes_on(tmp_path):
    # One run for all cases: under xdist a shared module fixture would be rebuilt on every worker.
    suite = _write(tmp_path / "suite", SUITE)
    target = _write(tmp_path / "user", {"flash.py": TARGET}) / "flash.py"
    run = run_suite_against("flash", str(target), FAST, suite_root=suite)
    verdicts = {v.name.split("::")[1]: v for v in property_verdicts(run.outcomes, run.write_attempts)}
    assert {name: v.status for name, v in verdicts.items()} == {
        "test_answers": "passed",
        "test_hangs": "timeout",
        "test_segfaults": "error",
        "test_eats_memory": "error",
        "test_floods_output": "error",
        "test_writes_beside_itself": "error",
        "test_exits_the_process": "error",
        "test_is_wrong": "failed",
    }
    assert "SIGSEGV" in verdicts["test_segfaults"].detail
    assert "memory" in verdicts["test_eats_memory"].detail
    assert "output" in verdicts["test_floods_output"].detail
    assert "refused" in verdicts["test_writes_beside_itself"].detail
    assert "victim.txt" in verdicts["test_writes_beside_itself"].detail
    assert not (target.parent / "victim.txt").exists()
    assert "output differs from Q" in verdicts["test_is_wrong"].detail
    # (The fixture here is not `flash_impl`, so the example keeps it; its removal is test_check_verdicts'.)
    assert "smallest failing input:" in verdicts["test_is_wrong"].detail
    assert verdicts["test_is_wrong"].detail.endswith("mode=6, extra=0")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        pytest.param("def flash_attention_fwd(:\n", "SyntaxError", id="syntax-error"),
        pytest.param("import no_such_module_anywhere\n", "ModuleNotFoundError", id="import-error"),
        pytest.param("def other(): pass\n", "no callable named 'flash_attention_fwd'", id="no-such-function"),
        pytest.param("open('/tmp/../etc/killmatrix-victim', 'w')\n", "PermissionError", id="writes-on-import"),
    ],
)
def test_a_target_that_does_not_load_is_a_load_error(tmp_path, source, reason):
    target = _write(tmp_path, {"flash.py": source}) / "flash.py"
    with pytest.raises(LoadError, match=reason):
        run_suite_against("flash", str(target), FAST, suite_root=tmp_path)
    assert not Path("/etc/killmatrix-victim").exists()
