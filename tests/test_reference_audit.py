"""`killmatrix audit --impl impl/<reference>.py`: the reference audited with its own suite misses nothing real.

The audit's triage calls a mutant its tests miss a real bug when the suite's properties fail on it; run on
the reference with the suite as its tests, a strong suite must leave no real bug missed, every named
mutant killed, and every mutant it lets through explained by the ledger (mutation_config/equivalent.toml,
the same argument `make report` prints for mutmut's survivors). A mutant the audit lets through that the
ledger does not name is a hole in the suite, or a difference between how the audit and the report run it.

Minutes per algorithm (a `check`, the named mutants, a fork per mutmut mutant running the algorithm's
suite until its first failure): `corpus` marker, run by `make corpus` and CI, not by `make test`.
"""

from __future__ import annotations

import pytest

from killmatrix.algorithms import ALGORITHMS, BY_NAME
from killmatrix.audit.own_audit import audit_own
from killmatrix.layout import SUITE_ROOT
from killmatrix.mutation.ledger import load_ledger, normalize_diff
from killmatrix.sandbox.limits import isolation_for

pytestmark = pytest.mark.corpus


def reference_file(algorithm: str) -> str:
    return f"{BY_NAME[algorithm].reference_module.replace('.', '/')}.py"


@pytest.mark.parametrize("algorithm", [a.name for a in ALGORITHMS])
def test_the_reference_audited_with_its_own_suite_misses_nothing_real(algorithm):
    record = audit_own(str(SUITE_ROOT / reference_file(algorithm)), jobs=2, isolation=isolation_for(True),
                       triage_budget_s=None)
    assert record["algorithm"] == algorithm and record["check"]["verdict"] == "pass", record["check"]
    assert record["excluded_tests"] == [] and len(record["tests"]) > 10
    named = record["named"]
    assert named["total"] > 0 and named["killed"] == named["total"], \
        [m for m in named["mutants"] if m["status"] not in ("killed", "equivalent")]
    own = record["own"]
    assert own["total"] > 50 and own["missed_real"] == [], own["missed_real"]
    assert "untriaged" not in own
    ledger = load_ledger()
    unexplained = [m["id"] for m in own["survive_both"]
                   if (reference_file(algorithm), m["id"].partition("__mutmut_")[0], normalize_diff(m["diff"]))
                   not in ledger]
    assert unexplained == [], [m["diff"] for m in own["survive_both"] if m["id"] in unexplained]
