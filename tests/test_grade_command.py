"""`killmatrix grade`: submissions found by convention or grade.toml, a load error kept as a row,
and the matrix written as Markdown and JSON."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from killmatrix.mutation.catalog import ROOT
from killmatrix.outside.submissions import discover
from killmatrix.outside.verdicts import PropertyVerdict
from killmatrix.rendering.terminal import family_cell
from tests.outward_cli import outward_app

EXAMPLES = ROOT / "examples" / "submissions"


def test_grade_matrix_in_terminal_markdown_and_json(tmp_path):
    (tmp_path / "good").mkdir()
    shutil.copy(EXAMPLES / "beam_correct" / "beam.py", tmp_path / "good" / "beam.py")
    (tmp_path / "renamed").mkdir()
    shutil.copy(EXAMPLES / "beam_drops_finished" / "beam.py", tmp_path / "renamed" / "decoder.py")
    (tmp_path / "renamed" / "grade.toml").write_text('[beam]\nfile = "decoder.py"\nfunction = "beam_search"\n')
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "beam.py").write_text("def beam_search(:\n")
    markdown, document = tmp_path / "grade.md", tmp_path / "grade.json"
    result = CliRunner().invoke(outward_app(), ["grade", str(tmp_path), "-k", "finished_beam_outranks",
                                                "--markdown", str(markdown), "--json", str(document)])
    assert result.exit_code == 1, result.output
    rows = {row["name"]: row for row in json.loads(document.read_text())["submissions"]}
    assert rows["good"]["verdict"] == "pass"
    assert rows["good"]["cells"] == {"eos_schedules": "1/1"}
    assert rows["renamed"]["cells"] == {"eos_schedules": "0/1"}
    assert "SyntaxError" in rows["broken"]["load_error"]
    assert rows["renamed"]["first_failure"]["name"].endswith("::test_finished_beam_outranks_longer_worse_beam")
    assert rows["good"]["correctness"] == {"passed": 1, "total": 1}
    table = markdown.read_text()
    assert "| good | pass | 1/1 |  | none | - |" in table
    assert "| renamed | fail | 0/1 | test_finished_beam_outranks_longer_worse_beam (failed) | none | - |" in table
    assert "| broken | error (load error) | load error |" in table


def test_discovery_rejects_a_bad_grade_toml(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "grade.toml").write_text('[flash]\nfunction = "f"\n')
    with pytest.raises(ValueError, match="needs file"):
        discover(tmp_path)


def test_discovery_of_an_empty_folder_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(outward_app(), ["grade", str(tmp_path)])
    assert result.exit_code == 2
    assert "no submissions" in result.output


@pytest.mark.parametrize(
    ("statuses", "cell"),
    [
        pytest.param(["passed", "failed", "skipped"], "1/2", id="skips-not-counted"),
        pytest.param(["failed", "failed"], "0/2", id="all-failed"),
        pytest.param(["skipped", "skipped"], "skipped", id="all-skipped"),
        pytest.param(["timeout", "timeout"], "timeout", id="all-timeout"),
        pytest.param(["passed", "timeout"], "1/2 (timeout)", id="partial-timeout"),
    ],
)
def test_family_cell(statuses, cell):
    assert family_cell([PropertyVerdict(f"m.py::t{i}", s) for i, s in enumerate(statuses)]) == cell
