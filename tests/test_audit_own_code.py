"""`killmatrix audit --impl`: a user's own implementation audited with the user's own tests (issue 12).

Fast tests work on tiny synthetic implementations written to tmp_path; the user's folder is compared
byte for byte before and after every run that executes it.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from killmatrix.audit.own_audit import audit_own, reference_baseline, resolve_target
from killmatrix.audit.own_mutants import implementation_names, make_mutants, run_tests_on_mutants
from killmatrix.audit.own_tests import MAIN_TEST, find_tests, stage
from killmatrix.sandbox.limits import isolation_for

BYO = Path(__file__).resolve().parent.parent / "examples" / "byo"
ISOLATION = isolation_for(True)

# Naive attention (the contract's tile_size is accepted and unused) with a helper only the tests use.
TINY = '''
import numpy as np


def flash_attention_fwd(Q, K, V, tile_size, causal):
    s = Q @ K.swapaxes(-1, -2) / np.sqrt(Q.shape[-1])
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True) @ V


def make_inputs(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1, 2, 6, 4)) for _ in range(3)]


def test_causal_first_row_copies_v():
    Q, K, V = make_inputs(0)
    assert np.allclose(flash_attention_fwd(Q, K, V, 2, True)[..., 0, :], V[..., 0, :])


def test_rows_are_convex_combinations():
    Q, K, V = make_inputs(1)
    out = flash_attention_fwd(Q, K, V, 2, False)
    assert (out <= V.max(axis=2, keepdims=True) + 1e-12).all()
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_finds_tests_in_file_in_sibling_files_and_the_main_block(tmp_path):
    """Catches a discovery that misses one of the three shapes people write tests in."""
    main = '\nif __name__ == "__main__":\n    assert test_causal_first_row_copies_v() is None\n'
    impl = write(tmp_path, "attn.py", TINY + main)
    write(tmp_path, "test_attn.py", "from attn import flash_attention_fwd\n\n\ndef test_x():\n"
                                    "    assert flash_attention_fwd\n")
    found = find_tests(impl)
    assert found.in_file == ("test_causal_first_row_copies_v", "test_rows_are_convex_combinations")
    assert [f.name for f in found.files] == ["test_attn.py"]
    assert found.main_block and found.silent == ()


def test_a_main_block_that_only_prints_is_reported_as_asserting_nothing():
    """Catches a report that counts a print-only script as a test that can fail."""
    found = find_tests(BYO / "flash_print_only" / "attention.py")
    assert found.main_block and not found.in_file
    assert found.silent == ("attention.py::__main__",)


def test_target_is_resolved_from_text_without_running_it(tmp_path):
    """Catches a target parser that guesses the wrong algorithm or accepts a missing function."""
    impl = write(tmp_path, "attn.py", TINY + "\nraise SystemExit('importing me is a bug')\n")
    target = resolve_target(str(impl), None)
    assert (target.algorithm, target.func) == ("flash", "flash_attention_fwd")
    with pytest.raises(ValueError, match="no top-level function 'nope'"):
        resolve_target(f"{impl}:nope", "flash")
    with pytest.raises(ValueError, match="no such .py file"):
        resolve_target(str(tmp_path / "absent.py"), "flash")


def test_mutants_touch_only_the_implementation_never_tests_helpers_or_main(tmp_path):
    """Catches mutating test functions, test-only helpers or the __main__ block (a test bug is not an
    implementation bug), and a mutant that is not a whole, different file."""
    source = TINY + '\nif __name__ == "__main__":\n    print(flash_attention_fwd(*make_inputs(0), 2, True))\n'
    impl = write(tmp_path, "attn.py", source)
    assert implementation_names(source, "flash_attention_fwd") == {"flash_attention_fwd"}
    mutants = make_mutants(impl, "flash_attention_fwd")
    assert len(mutants) > 5
    assert {m.function for m in mutants} == {"flash_attention_fwd"}
    for m in mutants:
        assert m.source != source and m.diff.count("\n-") >= 1
        assert "__main__" not in "".join(line for line in m.diff.splitlines() if line.startswith(("-", "+")))


def test_the_reference_is_transplanted_into_the_users_tests(tmp_path):
    """Catches a transplant that leaves the user's function in place: their function here returns zeros, so
    their test passes only when the reference (a true attention) answers in its place; a test of their own
    API shape fails with the reference there and is the one reported."""
    write(tmp_path, "attn.py", '''
        import numpy as np

        def flash_attention_fwd(Q, K, V, tile_size=64, causal=True):
            return np.zeros_like(Q)
        ''')
    write(tmp_path, "test_attn.py", '''
        import numpy as np
        from attn import flash_attention_fwd as fa

        def test_rows_sum_like_v():
            rng = np.random.default_rng(0)
            Q, K, V = (rng.standard_normal((1, 1, 4, 2)) for _ in range(3))
            assert np.allclose(fa(Q, K, V, 2)[0, 0, 0], V[0, 0, 0])

        def test_returns_zeros():
            Q = np.ones((1, 1, 2, 2))
            assert not fa(Q, Q, Q, 2).any()
        ''')
    target = resolve_target(str(tmp_path / "attn.py"), "flash")
    staged = stage(target.path, find_tests(target.path), key="transplant-test")
    failing, tests = reference_baseline(staged, target, None, ISOLATION)
    assert sorted(t.split("::")[-1] for t in tests) == ["test_returns_zeros", "test_rows_sum_like_v"]
    assert [n.split("::")[-1] for n in failing] == ["test_returns_zeros"]


def test_their_tests_judge_each_mutant_in_a_fork(tmp_path):
    """Catches a fork runner that reports every mutant alike: a broken causal mask (NaN rows) is killed,
    an inverted 1/sqrt(D) scale survives (neither test looks at values a scale changes: row 0 sees one key,
    and any scale gives convex combinations), and a test failing on the unmutated code is left out."""
    impl = write(tmp_path, "attn.py", TINY + "\ndef test_always_fails():\n    assert False\n")
    target = resolve_target(str(impl), None)
    staged = stage(target.path, find_tests(target.path), key="fork-test")
    mutants = make_mutants(staged.impl, target.func)
    scale = next(m for m in mutants if "* np.sqrt" in m.diff)
    mask = next(m for m in mutants if "+np.inf" in m.diff)
    verdict = run_tests_on_mutants(staged, [scale, mask], jobs=1, isolation=ISOLATION)
    assert list(verdict.failing_on_own) == ["attn.py::test_always_fails"]
    assert verdict.results[mask.id]["status"] == "killed"
    assert verdict.results[mask.id]["killed_by"] == "attn.py::test_causal_first_row_copies_v"
    assert verdict.results[scale.id]["status"] == "survived"


@pytest.mark.slow  # ~8 s idle, ~20 s on a loaded machine: a fork per mutant of the file
def test_audit_own_leaves_the_users_files_byte_identical_and_reports_the_contract_shape(tmp_path):
    """Catches a run that writes into the user's folder (bytecode, caches, the staged pytest.ini) and a
    record missing a CONTRACTS §4 field."""
    write(tmp_path, "attn.py", TINY)
    before = digest(tmp_path)
    record = audit_own(str(tmp_path / "attn.py"), parts=("own",), jobs=1, isolation=ISOLATION)
    assert digest(tmp_path) == before
    assert {"target", "algorithm", "tests", "excluded_tests", "own"} <= set(record)
    assert set(record["own"]) == {"total", "killed", "untriaged"}  # the triage part is the suite's: not asked
    assert record["own"]["total"] > 0 and 0 < record["own"]["killed"] <= record["own"]["total"]


@pytest.mark.parametrize("bad", ["flash,nope", ""])
def test_an_unknown_part_is_a_value_error(tmp_path, bad):
    """Catches a silent no-op audit when the parts are misspelled."""
    write(tmp_path, "attn.py", TINY)
    with pytest.raises(ValueError, match="unknown part"):
        audit_own(str(tmp_path / "attn.py"), parts=[p for p in bad.split(",") if p])


def test_main_test_id_is_shown_as_the_users_file(tmp_path):
    """Catches a report naming the generated test file instead of the user's script."""
    impl = write(tmp_path, "attn.py", TINY + '\nif __name__ == "__main__":\n    pass\n')
    staged = stage(impl, find_tests(impl), key="main-name")
    assert staged.display_name(MAIN_TEST) == "attn.py::__main__"


def test_cli_usage_errors_exit_2_with_one_line():
    """Catches `audit` with neither TESTS nor --impl running nothing and exiting 0, and a bad --impl path
    turning into a traceback."""
    from typer.testing import CliRunner

    from tests.outward_cli import outward_app

    bare = CliRunner().invoke(outward_app(), ["audit"])
    assert bare.exit_code == 2 and "--impl" in bare.output
    missing = CliRunner().invoke(outward_app(), ["audit", "--impl", "nowhere/attn.py", "--no-isolation"])
    assert missing.exit_code == 2 and "no such .py file" in missing.output
