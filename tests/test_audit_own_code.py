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
    return (p / p.sum(axis=-1, keepdims=True) @ V).astype(Q.dtype)


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
    and any scale gives convex combinations), a test failing on the unmutated code left out, and progress
    that loses or doubles mutants."""
    impl = write(tmp_path, "attn.py", TINY + "\ndef test_always_fails():\n    assert False\n")
    target = resolve_target(str(impl), None)
    staged = stage(target.path, find_tests(target.path), key="fork-test")
    mutants = make_mutants(staged.impl, target.func)
    scale = next(m for m in mutants if "* np.sqrt" in m.diff)
    mask = next(m for m in mutants if "+np.inf" in m.diff)
    told = []
    verdict = run_tests_on_mutants(staged, [scale, mask], jobs=1, isolation=ISOLATION, on_done=told.append)
    assert sum(told) == 2  # progress counts each mutant once
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


def test_a_package_file_no_test_imported_is_found_under_its_package_name(tmp_path, monkeypatch):
    """Catches the file of a package (the reference's impl/attention_bwd.py, which no suite module imports
    while collecting) imported a second time under its bare stem: the mutants installed there would reach no
    caller, and every one would survive."""
    import sys

    from killmatrix.plugins.transplant_plugin import user_module

    package = tmp_path / "km_probe_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "km_probe_module.py").write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = user_module(package / "km_probe_module.py")
        assert module.__name__ == "km_probe_package.km_probe_module"
        assert "km_probe_module" not in sys.modules
    finally:
        for name in ("km_probe_package", "km_probe_package.km_probe_module", "km_probe_module"):
            sys.modules.pop(name, None)


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


def test_only_runs_just_the_named_mutants_it_names(tmp_path):
    """Catches `audit --impl --only ID` running every named mutant anyway, and an id that is no named mutant of
    the algorithm (a typo, another algorithm's) running anything instead of a one-line exit 2."""
    from typer.testing import CliRunner

    from tests.outward_cli import outward_app

    write(tmp_path, "attn.py", TINY)
    only = "flash-causal-excludes-diagonal"  # the first row sees no key: its test of row 0 fails
    record = audit_own(str(tmp_path / "attn.py"), parts=("named",), jobs=1, isolation=ISOLATION, only=[only])
    assert [(m["id"], m["status"]) for m in record["named"]["mutants"]] == [(only, "killed")]
    for wrong in ("flash-no-such-bug", "beam-eos-dropped"):
        result = CliRunner().invoke(outward_app(), ["audit", "--impl", str(tmp_path / "attn.py"), "--only", wrong])
        assert result.exit_code == 2 and f"no named mutant {wrong} of flash" in result.output


def _hand_mutant(name: str, old: str, new: str):
    from killmatrix.audit.own_mutants import OwnMutant

    assert old in TINY
    return OwnMutant(name, "flash_attention_fwd", TINY.replace(old, new, 1), f"-{old}\n+{new}\n")


@pytest.mark.slow  # ~10 s idle: one suite child running the fast properties against both mutants
def test_triage_judges_every_miss_in_one_child_and_caches_the_verdicts(tmp_path, monkeypatch):
    """Catches a triage that mixes up mutants run in the same child (the unchanged copy must pass every fast
    property; the upper-triangular mask must fail the oracle at a causal input), and a cache that does not
    stand in for the run (the second call must start no child)."""
    from killmatrix.audit import own_mutants
    from killmatrix.mutation.result_cache import ResultCache

    impl = write(tmp_path, "attn.py", TINY)
    target = resolve_target(str(impl), None)
    staged = stage(target.path, find_tests(target.path), key="triage-test")
    # The unchanged copy first: a target left over from it would pass the mask mutant too.
    mutants = [_hand_mutant("unchanged", "np.sqrt", "np.sqrt"), _hand_mutant("mask", "np.tril(", "np.triu(")]
    cache = ResultCache(tmp_path / "cache")

    def judged():
        return own_mutants.triage(staged, mutants, "flash", target.func, None, set(), jobs=1, isolation=ISOLATION,
                                  cache=cache)

    real, both, left = judged()
    assert [m["id"] for m in real] == ["mask"] and [m["id"] for m in both] == ["unchanged"] and left == []
    assert "oracle" in real[0]["property"] and "causal=True" in real[0]["input"]

    def no_child(*args, **kwargs):
        raise AssertionError("a cached verdict ran the suite again")

    monkeypatch.setattr(own_mutants, "_triage_lane", no_child)
    assert judged() == (real, both, left)


def test_html_with_impl_writes_the_own_audit_page(tmp_path, monkeypatch):
    """Catches `audit --impl --html` writing nothing, and a page that leaves out the real bugs the tests miss
    (their diff, property and input) or the check verdict."""
    import typer

    from killmatrix.commands import audit_impl as command

    record = {"target": "attn.py:flash_attention_fwd", "algorithm": "flash", "tests": ["attn.py::test_a"],
              "excluded_tests": [{"name": "attn.py::test_b", "reason": "fails <on> the reference"}],
              "check": {"verdict": "pass", "properties": []},
              "named": {"mutants": [{"id": "flash-no-rescale", "status": "killed", "killed_by": ["attn.py::test_a"],
                                     "bug": "b"}], "killed": 1, "total": 1},
              "own": {"total": 3, "killed": 1, "survive_both": [{"id": "f__mutmut_2", "diff": "-a\n+b\n"}],
                      "missed_real": [{"id": "f__mutmut_1", "diff": "-x < y\n+x <= y\n", "property": "test_oracle",
                                       "input": "case=Case(N=2)"}]}}
    monkeypatch.setattr(command, "audit_own", lambda *args, **kwargs: record)
    page = tmp_path / "audit.html"
    with pytest.raises(typer.Exit) as ended:
        command.audit_impl("attn.py", [], algorithms=[], adapter=None, skip=[], jobs=1, no_cache=True,
                           isolated=False, json_path=None, markdown_path=None, html_path=page)
    assert ended.value.exit_code == 1  # a real bug missed
    text = page.read_text()
    assert 'id="verdict">check: pass' in text and "fails &lt;on&gt; the reference" in text
    real = text[text.index('id="missed_real"'):text.index('id="survive_both"')]
    assert "f__mutmut_1" in real and "x &lt;= y" in real and "test_oracle" in real and "case=Case(N=2)" in real
    assert "f__mutmut_2" not in real and "flash-no-rescale" in text


CONTRACT_KEYS = {"target", "algorithm", "tests", "excluded_tests", "named", "own", "check"}


@pytest.mark.slow  # ~2-3 min: the backward's check, 7 named mutants, ~120 own mutants and their triage
def test_backward_with_a_cache_api_audited_end_to_end():
    """The byo backward (its own (dO, cache) API through an adapter; finite-difference tests). Catches a
    broken adapter path (check and named go through to_contract/to_user), a run that writes into the user's
    folder, a record missing a CONTRACTS §4 field, and a triage that cannot see what finite differences
    cannot: the causal mask lives in `_scores`, shared by the forward their tests differentiate and the
    backward, so a mutant that drops it keeps forward and backward consistent and passes their tests,
    while the suite's float64 oracle (a masked reference) fails it."""
    folder = BYO / "bwd_cache_api"
    before = digest(folder)
    record = audit_own(f"{folder / 'attention_grad.py'}:attention_backward", algorithm="flash_bwd",
                       adapter=folder / "adapter.py", jobs=2, isolation=ISOLATION)
    assert digest(folder) == before
    assert CONTRACT_KEYS <= set(record) and {"missed_real", "survive_both"} <= set(record["own"])
    assert {"id", "status", "killed_by"} <= set(record["named"]["mutants"][0])
    assert record["check"]["verdict"] == "pass"
    # Their finite differences compare every gradient at atol 1e-5, in float64 only: a named bug class that
    # changes a gradient is killed; one that shows only in float16 arithmetic cannot be.
    survivors = [m for m in record["named"]["mutants"] if m["status"] == "survived"]
    assert record["named"]["killed"] > 0 and all("float16" in m["bug"] for m in survivors)
    assert not record["excluded_tests"] and not record["own"].get("untriaged")
    dropped_mask = [m for m in record["own"]["missed_real"] if "-        s = np.where(cols > rows" in m["diff"]]
    assert dropped_mask and "gradients" in dropped_mask[0]["property"]
    assert {"id", "diff", "property", "input"} <= set(dropped_mask[0])
