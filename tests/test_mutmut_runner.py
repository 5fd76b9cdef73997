"""mutmut on the fake tree: results read from its files, survivors re-judged on the whole suite, the cache."""

from __future__ import annotations

import pytest

from killmatrix.mutation import mutmut_runner
from killmatrix.mutation.kill_report import apply_ledger, mutmut_totals, unexplained
from killmatrix.mutation.ledger import load_ledger
from killmatrix.mutation.mutmut_runner import MutmutRunner, algorithm_of
from killmatrix.mutation.result_cache import ResultCache

from .conftest import write_tree

CLAMP_TO_ONE = "-    return max(x, 0)\n+    return max(x, 1)"
SPARE_LEDGER = """
[[equivalent]]
file = "impl/attention.py"
function = "spare"
diff = '''
--- impl/attention.py
+++ impl/attention.py
@@ -1,2 +1,2 @@
 def spare():
-    return 1
+    return 2
'''
reason = "spare's value is never read"
"""


@pytest.fixture(scope="module")
def mutmut_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("mutmut")
    root = write_tree(base / "tree")
    cache = ResultCache(base / "cache")
    return root, cache, MutmutRunner(root=root, jobs=2, cache=cache).run()


def by_diff(report, fragment):
    [mutant] = [m for m in report.mutants if fragment in m.diff]
    return mutant


def test_every_mutant_of_impl_is_read_back_with_its_diff(mutmut_run):
    _, _, report = mutmut_run
    assert {m.function for m in report.mutants} == {"flash_attention_fwd", "clamp", "spare"}
    assert all(m.diff.startswith("--- impl/attention.py") for m in report.mutants)


def test_survivor_of_mutmut_killed_by_a_test_it_did_not_map(mutmut_run):
    # mutmut credits clamp to the session fixture's first user only, which does not check the value.
    mutant = by_diff(mutmut_run[2], CLAMP_TO_ONE)
    assert (mutant.mutmut_status, mutant.status) == ("survived", "killed")
    assert mutant.killed_by == ("properties/test_fake.py::test_clamps_negative",)


def test_untested_function_stays_a_survivor(mutmut_run):
    mutant = by_diff(mutmut_run[2], "-    return 1")
    assert (mutant.mutmut_status, mutant.status, mutant.killed_by) == ("no tests", "survived", ())
    assert [m.name for m in unexplained(mutmut_run[2])] == [mutant.name]


def test_ledger_entry_makes_the_survivor_equivalent(mutmut_run, tmp_path):
    ledger_path = tmp_path / "equivalent.toml"
    ledger_path.write_text(SPARE_LEDGER)
    report, stale = apply_ledger(mutmut_run[2], load_ledger(ledger_path))
    assert stale == [] and unexplained(report) == []
    totals = mutmut_totals(report)
    assert (totals["equivalent"], totals["survived"], totals["total"]) == (1, 0, len(report.mutants))


def test_second_run_reads_the_cache_and_runs_nothing(mutmut_run, monkeypatch):
    root, cache, first = mutmut_run

    def no_run(*args, **kwargs):
        raise AssertionError("a cached mutmut run was run again")

    monkeypatch.setattr(mutmut_runner, "run_child", no_run)
    monkeypatch.setattr(mutmut_runner, "run_pytest", no_run)
    again = MutmutRunner(root=root, jobs=2, cache=cache).run()
    assert again.cached and again.mutants == first.mutants


def test_cache_misses_when_impl_changes(mutmut_run, tmp_path, monkeypatch):
    root, cache, _ = mutmut_run
    changed = write_tree(tmp_path / "tree")
    impl = changed / "impl" / "attention.py"
    impl.write_text(impl.read_text().replace("return 1", "return 3"))

    def stop(self, work):
        raise mutmut_runner.MutmutFailed("mutmut was started: the cache missed")

    monkeypatch.setattr(MutmutRunner, "_run_mutmut", stop)
    with pytest.raises(mutmut_runner.MutmutFailed, match="cache missed"):
        MutmutRunner(root=changed, jobs=2, cache=cache).run()


@pytest.mark.parametrize(
    ("file", "algorithm"),
    [("impl/attention.py", "flash"), ("impl/beam_search.py", "beam"), ("properties/beam_models.py", None)],
)
def test_algorithm_of_file(file, algorithm):
    assert algorithm_of(file) == algorithm
