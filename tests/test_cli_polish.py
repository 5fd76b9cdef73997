"""The command line as a newcomer meets it (issue 16): piped progress, width, markup, `-` for stdout, one
spelling per algorithm, one-line errors. The real entry point (`killmatrix.cli.main`) runs with stdout and
stderr that are not terminals, as in a CI log; the report test runs it as a subprocess on real pipes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from killmatrix.algorithms import parse_algorithm
from killmatrix.cli import main
from killmatrix.commands.list import listing
from killmatrix.mutation.named_runner import MutantResult
from killmatrix.rendering.progress import PlainProgress
from killmatrix.rendering.report_tables import killers_table
from killmatrix.rendering.suite_inventory import discover, first_sentence
from killmatrix.rendering.terminal import audit_table

BAD_ALGORITHM = "killmatrix check: unknown algorithm 'nope' (choose flash, flash-bwd, beam, dflash)"
TERMINAL_ENV = ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """`killmatrix ARGS` in this process, in tmp_path, stdout and stderr captured (not terminals)."""
    monkeypatch.chdir(tmp_path)
    for name in TERMINAL_ENV:
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, columns: int | None = None) -> Run:
        if columns is not None:
            monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setattr(sys, "argv", ["killmatrix", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        return Run(exited.value.code, out, err)

    return run


def subprocess_cli(*args: str, cwd: Path, progress_every_s: float) -> subprocess.CompletedProcess:
    """`killmatrix ARGS` on real pipes, with a short progress interval (waiting 15 s for a line is no test)."""
    env = {k: v for k, v in os.environ.items() if k not in TERMINAL_ENV}
    code = (f"import killmatrix.rendering.progress as p; p.INTERVAL_S = {progress_every_s}\n"
            "from killmatrix.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


# progress when piped ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_piped_progress_prints_a_line_at_least_every_interval_even_without_updates():
    """Catches the silent pipe: Rich's live bar prints nothing there, so a phase that reports nothing for
    minutes (the unmutated suite, mutmut's own run) showed nothing at all."""
    console, clock = Console(record=True, width=100, file=open(os.devnull, "w")), FakeClock()  # noqa: SIM115
    progress = PlainProgress("named mutants", 38, console, interval_s=15, clock=clock)
    progress.update(advance=1, detail="flash-stale-max killed [int32]")
    for _ in range(4):  # a minute with no update
        clock.now += 15
        progress.tick()
    clock.now += 5
    progress.tick()  # 5 s after a line: nothing new
    progress.finish()
    lines = console.export_text().splitlines()
    assert lines[:2] == ["named mutants: 1/38, 0 s elapsed (flash-stale-max killed [int32])",
                         "named mutants: 1/38, 15 s elapsed (flash-stale-max killed [int32])"]
    assert len(lines) == 1 + 4 + 1
    assert lines[-1] == "named mutants: 1/38 in 65 s"


@pytest.mark.slow
def test_piped_report_only_prints_progress_pure_json_and_no_slowest_tests(fake_tree, tmp_path):
    """`report --only ID --json -` on a pipe. Catches: no progress lines while the unmutated suite runs (the
    ticker thread), a file named '-' instead of stdout, tables mixed into the JSON on stdout, and the
    "slowest tests" table (about a full run) printed for an --only run."""
    run = subprocess_cli("report", "--root", str(fake_tree), "--only", "flash-triple", "--no-mutmut", "--no-cache",
                         "--json", "-", cwd=tmp_path, progress_every_s=0.2)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["mutants"][0]["id"] == "flash-triple"
    assert not (tmp_path / "-").exists()
    # The phase takes well over a second (pytest in a copied tree), so the ticker must have printed twice.
    assert len(re.findall(r"^unmutated suite: 0/1, \d+ s elapsed", run.stderr, re.M)) >= 2, run.stderr
    assert "named mutants: 1/1" in run.stderr
    assert "what kills each named mutant" in run.stderr  # the tables moved to stderr, not lost
    assert "slowest tests" not in run.stderr


# width ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [100, None], ids=["COLUMNS=100", "piped-without-COLUMNS"])
def test_list_fits_the_width_and_never_splits_a_test_name(cli, columns):
    """Catches the fixed 200-column pipe (lines past 100) and name columns that fold ("test_matches_float6" /
    "4_oracle"): every test's name must stand whole on some line."""
    run = cli("list", columns=columns)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 100
    names = {t.test_id.split("::", 1)[1] for t in discover()}
    words = {word for line in lines for word in line.split()}
    assert names - words == set()


# markup -----------------------------------------------------------------------------------------------


def _rendered(table) -> str:
    console = Console(record=True, width=100, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_case_ids_in_brackets_survive_the_tables():
    """Catches text from tests reaching Rich as markup: `[int32]` vanished from `first [int32]: Failed`."""
    survived = MutantResult("flash-x", "flash", "error", detail="4 of 4 cases, first [int32]: Failed [bold]")
    assert "first [int32]: Failed [bold]" in _rendered(killers_table([survived], {}))
    record = {"id": "flash-x", "algorithm": "flash", "status": "error", "killed_by": [], "bug": "b",
              "detail": "first [int32]: Failed"}
    assert "first [int32]: Failed" in _rendered(audit_table([record]))


# list's why -------------------------------------------------------------------------------------------


def test_why_is_the_tests_own_first_sentence_else_the_modules(tmp_path):
    """Catches the module docstring cut at its first newline ("...under a change that must") standing in for
    a test's own docstring."""
    (tmp_path / "properties").mkdir()
    (tmp_path / "mutation_config").mkdir()
    (tmp_path / "properties" / "test_mine.py").write_text(textwrap.dedent('''
        """Module: each test compares flash with itself under a change that must
        not matter. Second sentence."""


        def test_documented(flash_impl):
            """Its own reason, e.g. a tile of 1e-4
            wide, told over two lines. Not this one."""


        def test_undocumented(flash_impl):
            pass
        '''))
    why = {t["id"].split("::")[1]: t["why"] for t in listing(tmp_path, None)["tests"]}
    assert why == {
        "test_documented": "Its own reason, e.g. a tile of 1e-4 wide, told over two lines.",
        "test_undocumented": "Module: each test compares flash with itself under a change that must not matter.",
    }
    assert first_sentence("(Kills a kernel: N*N*4 B.) More.") == "(Kills a kernel: N*N*4 B.)"


# one spelling, --json - ------------------------------------------------------------------------------


def test_both_spellings_of_flash_bwd_are_one_algorithm_and_json_dash_is_stdout(cli, tmp_path):
    """Catches `list --algorithm flash-bwd` refused (or `check flash_bwd`, below), and `--json -` writing a
    file named '-' or mixing the table into stdout."""
    assert parse_algorithm("flash-bwd") == parse_algorithm("flash_bwd") == "flash_bwd"
    hyphen = cli("list", "--algorithm", "flash-bwd", "--json", "-")
    underscore = cli("list", "--algorithm", "flash_bwd", "--json", "-")
    assert hyphen.returncode == underscore.returncode == 0, hyphen.stderr + underscore.stderr
    assert json.loads(hyphen.stdout) == json.loads(underscore.stdout)
    assert {t["algorithm"] for t in json.loads(hyphen.stdout)["tests"]} == {"flash_bwd"}
    assert "flash-bwd: properties and adversarial tests" in hyphen.stderr  # printed with the one spelling
    assert not (tmp_path / "-").exists()


# one-line errors --------------------------------------------------------------------------------------


def _one_line_error(run: Run) -> str:
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_an_unknown_algorithm_is_one_line_for_every_command(cli):
    """Catches Typer's multi-line error box (check's enum argument) and each command's own wording."""
    assert _one_line_error(cli("check", "nope", "x.py")) == BAD_ALGORITHM
    for command in (["list"], ["report"], ["audit", "x.py"]):
        line = _one_line_error(cli(*command[:1], "--algorithm", "nope", *command[1:]))
        assert line == BAD_ALGORITHM.replace("check", command[0])


def test_a_directory_target_says_it_is_a_directory(cli, tmp_path):
    """Catches `target file '.../mine' does not exist` for a folder that exists (and check refusing the
    flash_bwd spelling)."""
    (tmp_path / "mine").mkdir()
    line = _one_line_error(cli("check", "flash_bwd", "mine"))
    assert "flash-bwd target mine" in line and "'mine' is a directory" in line
    assert "does not exist" not in line


def test_a_file_without_the_function_lists_the_callables_it_has(cli, tmp_path):
    """Catches a bare "no callable named" that leaves the user guessing; imports are not the file's own."""
    (tmp_path / "mine.py").write_text("from math import sqrt\n\n\ndef my_flash(q, k, v):\n    return q\n\n\n"
                                      "class Helper:\n    pass\n\n\nLIMIT = 3\n")
    line = _one_line_error(cli("check", "flash", "mine.py"))
    assert "no callable named 'flash_attention_fwd'" in line
    assert "callables in it: Helper, my_flash;" in line


def test_audit_of_a_test_file_with_a_syntax_error_names_the_users_file_and_line(cli, tmp_path):
    """Catches the staged copy's collection error reported as "the unmutated beam suite is not green", with a
    traceback through /tmp/killmatrix-audit-*."""
    (tmp_path / "test_mine.py").write_text("from impl.beam_search import beam_search\n\n\ndef test_x(:\n    pass\n")
    line = _one_line_error(cli("audit", "test_mine.py"))
    assert line == "killmatrix audit: test_mine.py:4: invalid syntax: no test was run"
