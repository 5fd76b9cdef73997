"""The mutation report as data: named-mutant results and mutmut results, the ledger applied, the verdict.

`report --json` writes `report_json(...)` (CONTRACTS §4); the terminal tables and the Stryker file
are rendered from the same pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from killmatrix.mutation.catalog import NamedMutant
from killmatrix.mutation.ledger import EquivalentEntry, normalize_diff
from killmatrix.mutation.mutmut_runner import MutmutMutant, MutmutReport
from killmatrix.mutation.named_runner import MutantResult
from killmatrix.plugins.pytest_runner import without_parameters

MUTMUT_COUNTED = ("killed", "survived", "equivalent", "accepted", "timeout", "error")


def apply_ledger(
    report: MutmutReport, ledger: dict[tuple[str, str, str], EquivalentEntry]
) -> tuple[MutmutReport, list[EquivalentEntry]]:
    """Survivors found in the ledger take its class (`equivalent` or `accepted`); also returns the entries
    that matched nothing."""
    used: set[tuple[str, str, str]] = set()
    mutants = []
    for mutant in report.mutants:
        key = (mutant.file, mutant.function, normalize_diff(mutant.diff))
        if mutant.status == "survived" and key in ledger:
            used.add(key)
            entry = ledger[key]
            detail = f"{entry.reason} (decided by {entry.decided_by})" if entry.decided_by else entry.reason
            mutant = replace(mutant, status=entry.kind, detail=detail)
        mutants.append(mutant)
    return report.with_mutants(mutants), [e for k, e in ledger.items() if k not in used]


def mutmut_totals(report: MutmutReport) -> dict[str, int]:
    totals = {status: sum(m.status == status for m in report.mutants) for status in MUTMUT_COUNTED}
    totals["total"] = len(report.mutants)
    return totals


def mutmut_score(report: MutmutReport) -> float:
    """Detected (killed or timed out) over the mutants the suite is asked to detect: equivalent ones
    (nothing to detect) and accepted ones (a difference the contract permits) are counted apart."""
    totals = mutmut_totals(report)
    judged = totals["total"] - totals["equivalent"] - totals["accepted"]
    return 100.0 * (totals["killed"] + totals["timeout"]) / judged if judged else 100.0


def unexplained(report: MutmutReport | None) -> list[MutmutMutant]:
    """mutmut mutants that fail the report: survivors not in the ledger, and mutants that could not be judged."""
    return [m for m in report.mutants if m.status in ("survived", "error")] if report else []


def unconfirmed_killers(result: MutantResult, mutant: NamedMutant) -> list[str]:
    """Tests the catalog names as killers of `mutant` that did not fail against it."""
    if result.status != "killed":
        return []
    return [t for t in mutant.killed_by if without_parameters(t) not in result.killed_by]


def passes(named: Sequence[MutantResult], mutmut: MutmutReport | None) -> bool:
    """Every non-equivalent named mutant killed, and no unexplained mutmut mutant."""
    return all(r.status in ("killed", "equivalent") for r in named) and not unexplained(mutmut)


def report_json(
    named: Sequence[MutantResult],
    catalog: dict[str, NamedMutant],
    mutmut: MutmutReport | None,
    phases: dict[str, float],
) -> dict:
    judged = [r for r in named if r.status != "equivalent"]
    return {
        "mutants": [
            {**r.to_json(), "unconfirmed_killers": unconfirmed_killers(r, catalog[r.id])} for r in named
        ],
        "killed": sum(r.status == "killed" for r in judged),
        "total": len(judged),
        "mutmut": {**mutmut_totals(mutmut), "score": round(mutmut_score(mutmut), 1)} if mutmut else None,
        "survivors": [
            {"name": m.name, "file": m.file, "function": m.function, "status": m.status,
             "mutmut_status": m.mutmut_status, "diff": m.diff, "detail": m.detail}
            for m in unexplained(mutmut)
        ],
        "equivalent_mutmut": [
            {"name": m.name, "file": m.file, "function": m.function, "diff": m.diff, "reason": m.detail}
            for m in (mutmut.mutants if mutmut else ()) if m.status == "equivalent"
        ],
        "accepted_mutmut": [
            {"name": m.name, "file": m.file, "function": m.function, "diff": m.diff, "reason": m.detail}
            for m in (mutmut.mutants if mutmut else ()) if m.status == "accepted"
        ],
        "phases": {name: round(seconds, 1) for name, seconds in phases.items()},
        "passed": passes(named, mutmut),
    }
