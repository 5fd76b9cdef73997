"""The named-mutant runner on the fake tree: kills, survivors, broken edits, the cache, the working tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from killmatrix.mutation import named_runner as runner_module
from killmatrix.mutation.catalog import Edit, NamedMutant
from killmatrix.mutation.named_runner import BaselineFailed, NamedMutantRunner, classify, run_named_mutants
from killmatrix.mutation.result_cache import ResultCache
from killmatrix.plugins import pytest_runner
from killmatrix.sandbox.limits import ChildResult

from .conftest import write_tree


def mutant(mutant_id: str, find: str, replace: str) -> NamedMutant:
    return NamedMutant(mutant_id, "flash", "impl/attention.py", f"bug {mutant_id}", (Edit(find, replace),),
                       killed_by=("properties/test_fake.py::test_doubles",))


MUTANTS = [
    mutant("flash-triple", "2 * x", "3 * x"),
    mutant("flash-add-self", "2 * x", "x + x"),  # the same function: no test can fail
    mutant("flash-stale-edit", "2 * y", "3 * y"),  # text that is not in the file any more
]
OUTSIDE_TEST = """
    import pytest

    from impl.attention import flash_attention_fwd

    pytestmark = pytest.mark.flash


    def test_sees_the_mutated_copy():
        assert flash_attention_fwd(1) == 2
    """


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("named")
    root = write_tree(base / "tree")
    outside = base / "elsewhere" / "test_outside.py"
    outside.parent.mkdir()
    outside.write_text(textwrap.dedent(OUTSIDE_TEST))
    before = snapshot(root)
    cache = ResultCache(base / "cache")
    args = ["properties", str(outside)]
    results = {r.id: r for r in run_named_mutants(MUTANTS, args, root=root, jobs=2, cache=cache)}
    return {"root": root, "before": before, "results": results, "cache": cache, "args": args, "outside": outside}


def test_blatant_mutant_is_killed_by_every_failing_test(run):
    result = run["results"]["flash-triple"]
    assert result.status == "killed"
    in_tree = [t for t in result.killed_by if t.startswith("properties/")]
    assert in_tree == ["properties/test_fake.py::test_doubles", "properties/test_fake.py::test_negative"]


def test_outside_test_file_imports_the_mutated_copy(run):
    # It can only fail if `impl` resolved to the mutated copy: PYTHONPATH is the copy's root.
    assert f"{run['outside'].resolve()}::test_sees_the_mutated_copy" in run["results"]["flash-triple"].killed_by


def test_survivor_stays_a_survivor(run):
    result = run["results"]["flash-add-self"]
    assert (result.status, result.killed_by) == ("survived", ())


def test_edit_that_no_longer_applies_is_an_error(run):
    result = run["results"]["flash-stale-edit"]
    assert result.status == "error"
    assert "no longer applies" in result.detail and "'2 * y' occurs 0 times" in result.detail


def test_working_tree_is_untouched(run):
    assert snapshot(run["root"]) == run["before"]


def test_second_run_reads_the_cache_and_runs_nothing(run, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("a cached result was run again")

    monkeypatch.setattr(runner_module, "run_pytest", no_run)
    again = run_named_mutants(MUTANTS[:2], run["args"], root=run["root"], cache=run["cache"])
    assert all(r.cached for r in again)
    assert [(r.status, r.killed_by) for r in again] == [
        (run["results"][m.id].status, run["results"][m.id].killed_by) for m in MUTANTS[:2]
    ]


def test_cache_key_changes_with_the_tests_and_the_edit(run, tmp_path):
    root = write_tree(tmp_path / "copy")
    key = NamedMutantRunner(run["args"], root=root)._mutant_key(MUTANTS[0])
    assert NamedMutantRunner(run["args"], root=root)._mutant_key(MUTANTS[1]) != key
    test_file = root / "properties" / "test_fake.py"
    test_file.write_text(test_file.read_text().replace("== 6", "== 2 * 3"))
    assert NamedMutantRunner(run["args"], root=root)._mutant_key(MUTANTS[0]) != key


def test_red_baseline_stops_before_any_mutant(tmp_path):
    root = write_tree(tmp_path / "tree")
    test_file = root / "properties" / "test_fake.py"
    test_file.write_text(test_file.read_text().replace("== 6", "== 7"))
    with pytest.raises(BaselineFailed, match="unmutated flash suite is not green.*test_doubles"):
        run_named_mutants(MUTANTS[:1], ["properties"], root=root)


def fake_run(outcomes: dict[str, str], status: str, returncode: int | None, unfinished: str | None = None):
    child = ChildResult(status=status, returncode=returncode, duration_s=1.0, stdout="", stderr="boom")
    return pytest_runner.PytestRun({k: pytest_runner.TestOutcome(k, v) for k, v in outcomes.items()}, child, unfinished)


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (fake_run({"a.py::t[1]": "failed", "a.py::t[2]": "failed", "a.py::u": "passed"}, "failed", 1),
         ("killed", ("a.py::t",))),
        (fake_run({"a.py::t": "passed"}, "crash", -9, unfinished="a.py::u[big]"), ("killed", ("a.py::u",))),
        (fake_run({"a.py::t": "passed"}, "timeout", None, unfinished="a.py::u"), ("timeout", ())),
        (fake_run({"a.py::t": "failed"}, "timeout", None, unfinished="a.py::u"), ("killed", ("a.py::t",))),
        (fake_run({"a.py": "error"}, "error", 2), ("error", ())),
        (fake_run({}, "error", 5), ("error", ())),
        (fake_run({"a.py::t": "passed"}, "ok", 0), ("survived", ())),
    ],
    ids=["failures", "crash-in-test", "hang", "failures-then-hang", "collection-error", "nothing-selected", "green"],
)
def test_classify(run, expected):
    assert classify(run)[:2] == expected
