"""The report's documents from hand-made results: the JSON of CONTRACTS §4 and the Stryker file."""

from __future__ import annotations

import jsonschema
import pytest

from killmatrix.mutation.catalog import load_catalog
from killmatrix.mutation.kill_report import passes, report_json
from killmatrix.mutation.mutmut_runner import MutmutMutant, MutmutReport
from killmatrix.mutation.named_runner import MutantResult
from killmatrix.rendering.stryker import stryker_report, validate

KILLERS = ("properties/test_fake.py::test_doubles", "properties/test_fake.py::test_negative")
HEADER = "--- impl/attention.py\n+++ impl/attention.py\n@@ -1,2 +1,2 @@\n"
CLAMP_DIFF = HEADER + " def clamp(x):\n-    return max(x, 0)\n+    return max(x, 1)"
SPARE_DIFF = HEADER + " def spare():\n-    return 1\n+    return 2"


@pytest.fixture
def pieces(fake_tree):
    catalog = {m.id: m for m in load_catalog(fake_tree / "mutation_config")}
    named = [MutantResult("flash-triple", "flash", "killed", KILLERS, 1.5)]
    mutmut = MutmutReport((
        MutmutMutant("impl.attention.x_clamp__mutmut_5", "impl/attention.py", "clamp", "survived", "killed",
                     CLAMP_DIFF, ("properties/test_fake.py::test_clamps_negative",)),
        MutmutMutant("impl.attention.x_spare__mutmut_1", "impl/attention.py", "spare", "no tests", "survived",
                     SPARE_DIFF),
        MutmutMutant("impl.attention.x_spare__mutmut_2", "impl/attention.py", "spare", "no tests", "equivalent",
                     SPARE_DIFF.replace("return 2", "return 1.0"), detail="1 == 1.0 wherever it is read"),
        MutmutMutant("impl.attention.x_clamp__mutmut_1", "impl/attention.py", "clamp", "timeout", "timeout",
                     CLAMP_DIFF.replace("max(x, 1)", "max(x, 0) if x else clamp(x)")),
    ), duration=3.0)
    return fake_tree, catalog, named, mutmut


def test_json_follows_contracts_section_4(pieces):
    _, catalog, named, mutmut = pieces
    document = report_json(named, catalog, mutmut, {"named mutants": 1.0})
    [record] = document["mutants"]
    assert {"id", "algorithm", "status", "killed_by"} <= record.keys()
    assert (record["id"], record["algorithm"], record["status"], record["killed_by"]) == (
        "flash-triple", "flash", "killed", list(KILLERS))
    assert (document["killed"], document["total"]) == (1, 1)
    assert {k: document["mutmut"][k] for k in ("killed", "survived", "equivalent", "timeout", "total")} == {
        "killed": 1, "survived": 1, "equivalent": 1, "timeout": 1, "total": 4}
    [survivor] = document["survivors"]
    assert (survivor["name"], survivor["diff"]) == ("impl.attention.x_spare__mutmut_1", SPARE_DIFF)
    assert document["passed"] is False


def test_equivalent_named_mutants_count_in_neither_killed_nor_total(pieces):
    _, catalog, named, _ = pieces
    equivalent = MutantResult("flash-triple", "flash", "equivalent", detail="why")
    document = report_json([equivalent], catalog, None, {})
    assert (document["killed"], document["total"], document["mutmut"], document["survivors"]) == (0, 0, None, [])


@pytest.mark.parametrize(
    ("statuses", "mutmut_statuses", "expected"),
    [
        (["killed", "equivalent"], ["killed", "equivalent", "timeout"], True),
        (["killed", "survived"], ["killed"], False),
        (["killed", "timeout"], ["killed"], False),
        (["killed", "error"], ["killed"], False),
        (["killed"], ["killed", "survived"], False),
        (["killed"], ["killed", "error"], False),
    ],
)
def test_verdict(statuses, mutmut_statuses, expected):
    named = [MutantResult(f"m{i}", "flash", s) for i, s in enumerate(statuses)]
    mutmut = MutmutReport(tuple(MutmutMutant(f"n{i}", "f.py", "f", s, s, "") for i, s in enumerate(mutmut_statuses)),
                          duration=0.0)
    assert passes(named, mutmut) is expected


def test_stryker_report_validates_against_the_vendored_schema(pieces):
    root, catalog, named, mutmut = pieces
    document = stryker_report(named, catalog, mutmut, root)
    validate(document)
    mutants = {m["id"]: m for m in document["files"]["impl/attention.py"]["mutants"]}
    assert [m["status"] for m in mutants.values()] == ["Killed", "Killed", "Survived", "Ignored", "Timeout"]
    assert mutants["named:flash-triple"]["killedBy"] == list(KILLERS)
    tests = document["testFiles"]["properties/test_fake.py"]["tests"]
    assert {t["id"] for t in tests} == {*KILLERS, "properties/test_fake.py::test_clamps_negative"}


def test_stryker_locations_point_at_the_mutated_text(pieces):
    root, catalog, named, mutmut = pieces
    document = stryker_report(named, catalog, mutmut, root)
    source = document["files"]["impl/attention.py"]["source"].splitlines()
    for mutant in document["files"]["impl/attention.py"]["mutants"]:
        start = mutant["location"]["start"]
        line = source[start["line"] - 1][start["column"] - 1:]
        expected = {"named:flash-triple": "2 * x"}.get(mutant["id"], "return")
        assert line.startswith(expected), (mutant["id"], line)
    assert [m["location"]["start"]["line"] for m in document["files"]["impl/attention.py"]["mutants"]] == [
        2, 6, 10, 10, 6]


def test_schema_refuses_a_malformed_report(pieces):
    # The validation is not vacuous: a status outside the schema's enum is refused.
    root, catalog, named, mutmut = pieces
    document = stryker_report(named, catalog, mutmut, root)
    document["files"]["impl/attention.py"]["mutants"][0]["status"] = "Dead"
    with pytest.raises(jsonschema.ValidationError):
        validate(document)
