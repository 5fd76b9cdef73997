"""A property that cannot fail for a target is reported `not_applicable`, never `passed`.

A beam search may return `(tokens, logprob)` pairs (docs/CONTRACT.md); the checker then computes each
hypothesis's score and finished flag itself (killmatrix/outside/adapters.py), so "score is the
penalized logprob" and "finished exactly when EOS is last" hold by construction for it. The same
properties are judged as usual for a target that returns its own score and finished flag.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from killmatrix.mutation.catalog import ROOT
from killmatrix.outside.verdicts import PropertyVerdict, judge_verdicts
from tests.outward_cli import outward_app

CORPUS = ROOT / "examples" / "corpus" / "beam"
# The two properties about fields a pair does not carry, and one about what a pair does carry.
SELECTION = "score_is_the_penalized_logprob or finished_exactly_when_eos_is_last or logprob_is_the_model"
VACUOUS_FOR_PAIRS = {"test_score_is_the_penalized_logprob", "test_finished_exactly_when_eos_is_last"}


def _statuses(tmp_path, submission: str) -> tuple[dict[str, str], dict]:
    out = tmp_path / "check.json"
    result = CliRunner().invoke(outward_app(), ["check", "beam", str(CORPUS / submission), "-k", SELECTION,
                                                "--json", str(out)])
    assert result.exit_code in (0, 1), result.output
    document = json.loads(out.read_text())
    return {p["name"].split("::")[1]: p["status"] for p in document["properties"]}, document


@pytest.mark.parametrize(
    ("submission", "expected"),
    [
        # Correct code returning (tokens, logprob) tuples: what it returns is judged, the rest is not.
        pytest.param("tuple_pairs/beam.py", {"test_logprob_is_the_model_log_softmax_sum": "passed",
                                             **dict.fromkeys(VACUOUS_FOR_PAIRS, "not_applicable")}, id="pairs"),
        # Correct code returning dicts with its own score and finished flag: every property is judged.
        pytest.param("dict_batched/beam.py", {"test_logprob_is_the_model_log_softmax_sum": "passed",
                                              **dict.fromkeys(VACUOUS_FOR_PAIRS, "passed")}, id="dicts"),
    ],
)
def test_properties_of_fields_the_checker_supplies_are_not_applicable(tmp_path, submission, expected):
    statuses, document = _statuses(tmp_path, submission)
    assert statuses == expected
    assert document["verdict"] == "pass"
    # A property that could not fail counts neither as passed nor in the total.
    judged = sum(status == "passed" for status in expected.values())
    assert document["tiers"]["correctness"] == {"passed": judged, "total": judged}


def test_a_correctness_property_not_applicable_neither_passes_nor_fails_the_run():
    """Only not-applicable correctness properties: no correctness property ran to a result, so no pass."""
    alone = [PropertyVerdict("properties/test_beam_invariants.py::test_score_is_the_penalized_logprob",
                             "not_applicable", "pairs")]
    judgement = judge_verdicts(alone)
    assert (judgement.verdict, judgement.correctness) == ("fail", (0, 0))
    passed = PropertyVerdict("properties/test_beam_invariants.py::test_logprob_is_the_model_log_softmax_sum",
                             "passed")
    judgement = judge_verdicts([*alone, passed])
    assert (judgement.verdict, judgement.correctness) == ("pass", (1, 1))
