"""`killmatrix check` on the example submissions, narrowed with -k to a few properties for speed."""

from __future__ import annotations

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from killmatrix.mutation.catalog import ROOT
from tests.outward_cli import CHECK_SCHEMA, outward_app

SUBMISSIONS = ROOT / "examples" / "submissions"


@pytest.mark.parametrize(
    ("algorithm", "submission", "keyword", "verdict", "failing"),
    [
        pytest.param("flash", "flash_correct/flash.py", "seed_small_shape or overflow", "pass", set(),
                     id="flash-correct"),
        pytest.param("flash", "flash_inverted_rescale/flash.py", "seed_small_shape or overflow", "fail",
                     {"test_seed_small_shape_matches_naive_within_1e_4",
                      "test_overflow_scale_logits_rising_across_tiles_stay_finite_and_exact"}, id="flash-inverted"),
        pytest.param("beam", "beam_drops_finished/beam.py", "finished_beam_outranks", "fail",
                     {"test_finished_beam_outranks_longer_worse_beam"}, id="beam-drops-finished"),
    ],
)
def test_check_gives_the_right_verdict_and_contract_json(tmp_path, algorithm, submission, keyword, verdict, failing):
    out = tmp_path / "check.json"
    result = CliRunner().invoke(
        outward_app(), ["check", algorithm, str(SUBMISSIONS / submission), "-k", keyword, "--json", str(out)]
    )
    assert result.exit_code == (0 if verdict == "pass" else 1), result.output
    document = json.loads(out.read_text())
    jsonschema.validate(document, CHECK_SCHEMA)
    assert document["verdict"] == verdict
    assert {p["name"].split("::")[1] for p in document["properties"] if p["status"] == "failed"} == failing


def test_a_failure_names_the_smallest_failing_input(tmp_path):
    out = tmp_path / "check.json"
    CliRunner().invoke(outward_app(), ["check", "beam", str(SUBMISSIONS / "beam_prompt_in_length/beam.py"),
                                       "-k", "test_beam_width_one_is_greedy_tinylm", "--json", str(out)])
    (prop,) = json.loads(out.read_text())["properties"]
    assert prop["status"] == "failed"
    assert "smallest failing input: prompts=" in prop["detail"]
    assert "beam_impl" not in prop["detail"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("no/such/file.py", "does not exist", id="missing-file"),
        pytest.param(str(SUBMISSIONS / "flash_correct/flash.py:no_such_function"), "no callable", id="no-function"),
    ],
)
def test_a_target_that_does_not_load_exits_2_with_one_line(target, message):
    result = CliRunner().invoke(outward_app(), ["check", "flash", target])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
