"""`killmatrix report` end to end on the fake tree: exit codes 0/1/2, the JSON and Stryker files."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from killmatrix.commands import report
from killmatrix.rendering.stryker import validate

app = typer.Typer()
report.register(app)


@app.callback()
def _group() -> None:
    """Keeps `report` a subcommand, as in the real app."""


def invoke(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def test_all_named_mutants_killed_exits_0_and_writes_every_file(fake_tree, tmp_path):
    out, stryker, markdown = tmp_path / "report.json", tmp_path / "stryker.json", tmp_path / "matrix.md"
    result = invoke("--root", str(fake_tree), "--no-mutmut", "--json", str(out), "--stryker", str(stryker),
                    "--markdown", str(markdown))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert (document["killed"], document["total"], document["mutants"][0]["status"]) == (1, 1, "killed")
    validate(json.loads(stryker.read_text()))
    assert "| `flash-triple` | Triples instead of doubling. | killed | `test_doubles`, `test_negative` |" in \
        markdown.read_text()


def test_deleting_the_killing_tests_exits_1(fake_tree):
    tests = fake_tree / "properties" / "test_fake.py"
    text = tests.read_text()
    for name in ("test_doubles", "test_negative"):
        text = text.replace(f"def {name}():", f"def helper_{name}():")
    tests.write_text(text)
    result = invoke("--root", str(fake_tree), "--no-mutmut")
    assert result.exit_code == 1, result.output
    assert "flash-triple" in result.output and "survived" in result.output


def test_unexplained_mutmut_survivor_exits_1_and_ledger_entry_exits_0(fake_tree, tmp_path):
    out = tmp_path / "report.json"
    result = invoke("--root", str(fake_tree), "--json", str(out))
    assert result.exit_code == 1, result.output
    [survivor] = json.loads(out.read_text())["survivors"]
    ledger = fake_tree / "mutation_config" / "equivalent.toml"
    ledger.write_text("[[equivalent]]\n" + "\n".join(
        f"{key} = {json.dumps(value)}" for key, value in
        {"file": survivor["file"], "function": survivor["function"], "diff": survivor["diff"],
         "reason": "spare's value is never read"}.items()))
    again = invoke("--root", str(fake_tree), "--json", str(out))  # mutmut's results come from the cache
    assert again.exit_code == 0, again.output
    assert json.loads(out.read_text())["mutmut"]["equivalent"] == 1


def test_usage_and_loading_errors_exit_2(fake_tree):
    assert invoke("--root", str(fake_tree), "--only", "no-such-mutant").exit_code == 2
    assert invoke("--root", str(fake_tree), "--algorithm", "sorting").exit_code == 2
    catalog = fake_tree / "mutation_config" / "named_flash.toml"
    catalog.write_text(catalog.read_text().replace('killed_by = ["properties/test_fake.py::test_doubles"]\n', ""))
    result = invoke("--root", str(fake_tree))
    assert result.exit_code == 2
    assert "names no test in killed_by" in result.output
