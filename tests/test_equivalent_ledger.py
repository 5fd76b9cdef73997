"""The equivalent-mutant ledger: keyed by what a mutant changes, never by mutmut's renumbered name."""

from __future__ import annotations

import pytest

from killmatrix.mutation.kill_report import apply_ledger, mutmut_totals
from killmatrix.mutation.ledger import load_ledger, normalize_diff
from killmatrix.mutation.mutmut_runner import MutmutMutant, MutmutReport

MUTMUT_DIFF = """--- impl/attention.py
+++ impl/attention.py
@@ -1,4 +1,4 @@
 def clamp(x):
     y = x
-    return max(y,  0)
+    return max(y,  1)
     # trailing context"""


def test_normalized_diff_keeps_only_the_changed_lines():
    assert normalize_diff(MUTMUT_DIFF) == "-return max(y,  0)\n+return max(y,  1)"


def test_normalized_diff_ignores_line_numbers_and_context():
    moved = MUTMUT_DIFF.replace("@@ -1,4 +1,4 @@", "@@ -7,3 +7,3 @@").replace("     y = x\n", "")
    assert normalize_diff(moved) == normalize_diff(MUTMUT_DIFF)


def entry(**fields) -> str:
    body = {"file": "impl/attention.py", "function": "clamp", "diff": MUTMUT_DIFF, "reason": "r", **fields}
    return "[[equivalent]]\n" + "".join(f"{k} = '''{v}'''\n" for k, v in body.items() if v is not None)


def test_load_keys_entries_by_file_function_and_diff(tmp_path):
    path = tmp_path / "equivalent.toml"
    path.write_text(entry())
    [(key, value)] = load_ledger(path).items()
    assert key == ("impl/attention.py", "clamp", normalize_diff(MUTMUT_DIFF)) and value.reason == "r"


def test_an_accepted_entry_is_not_counted_as_equivalent(tmp_path):
    """Catches a report that folds a contract-permitted difference into the equivalent mutants."""
    path = tmp_path / "equivalent.toml"
    path.write_text(entry(**{"class": "accepted", "decided_by": "bench/cost_mutants.py"}))
    [value] = load_ledger(path).values()
    assert (value.kind, value.decided_by) == ("accepted", "bench/cost_mutants.py")
    report = MutmutReport(mutants=(MutmutMutant("impl.attention.x_clamp__mutmut_1", "impl/attention.py", "clamp",
                                                "survived", "survived", MUTMUT_DIFF),), duration=0.0)
    applied, stale = apply_ledger(report, load_ledger(path))
    totals = mutmut_totals(applied)
    assert (totals["accepted"], totals["equivalent"], stale) == (1, 0, [])
    assert "decided by bench/cost_mutants.py" in applied.mutants[0].detail


def test_missing_ledger_is_empty(tmp_path):
    assert load_ledger(tmp_path / "absent.toml") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (entry(reason=None), "entry 1 lacks reason"),
        (entry(reason="  "), "entry 1 lacks reason"),
        (entry(diff=" def clamp(x):"), "no '-'/'[+]' line"),
        (entry() + entry(), "entry 2 repeats"),
        (entry(**{"class": "harmless"}), "class 'harmless'"),
        (entry(**{"class": "accepted"}), "accepted without decided_by"),
    ],
    ids=["no-reason", "blank-reason", "no-change", "duplicate", "unknown-class", "accepted-undecided"],
)
def test_malformed_ledger_is_refused(tmp_path, text, message):
    path = tmp_path / "equivalent.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_ledger(path)


def test_the_project_ledger_loads():
    load_ledger()
