"""Installed as `pip install` would, from outside the checkout, `check` must judge as it does here.

A wheel carries the packages but not the repository's root conftest.py or its pytest settings; a
`check` that relied on them collected no property and called the inverted-rescale example a pass.
This test builds the wheel, installs it into a fresh virtualenv and runs `check` from a directory
outside the repository on one correct and one buggy example.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from killmatrix.mutation.catalog import ROOT

SUBMISSIONS = ROOT / "examples" / "submissions"
# The cheapest correctness properties that the inverted rescale fails (by NaN at the first tile).
SELECTION = "seed_small_shape or overflow"


def _site_packages_of_this_venv() -> str:
    """Where this run's dependencies live: the fresh venv borrows them rather than download them again."""
    return next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())


@pytest.fixture(scope="module")
def installed_killmatrix(tmp_path_factory) -> Path:
    """The `killmatrix` script of a fresh venv holding only the wheel (its dependencies come from this venv)."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: a build writes build/ and *.egg-info beside the sources it builds.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "__pycache__", "reports", "mutants", "build",
                                                                   "*.egg-info"))
    wheelhouse = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheelhouse), str(source)],
                   check=True, cwd=work, capture_output=True)
    wheel = next(wheelhouse.glob("killmatrix-*.whl"))
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # Dependencies only: this venv's editable install of the checkout must not leak in, so its path
    # hooks (the __editable__ finders and .pth files of killmatrix) are not carried over.
    (site / "borrowed-dependencies.pth").write_text(_site_packages_of_this_venv() + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True)
    return env_dir / "bin" / "killmatrix"


def _check(killmatrix: Path, submission: str, cwd: Path) -> tuple[int, dict]:
    out = cwd / "check.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KILLMATRIX_"))}
    run = subprocess.run([str(killmatrix), "check", "flash", str(SUBMISSIONS / submission), "-k", SELECTION,
                          "--json", str(out)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.exists(), run.stdout + run.stderr
    return run.returncode, json.loads(out.read_text())


def test_installed_wheel_does_not_import_the_checkout(installed_killmatrix, tmp_path):
    """Catches a test that silently exercises the repository instead of the wheel."""
    python = installed_killmatrix.parent / "python"
    program = "from killmatrix.layout import PACKAGE_DIR, SUITE_ROOT; print(PACKAGE_DIR); print(SUITE_ROOT)"
    where = subprocess.run([str(python), "-c", program], cwd=tmp_path, capture_output=True, text=True, check=True)
    package, suite = where.stdout.split()
    assert str(ROOT) not in where.stdout, where.stdout
    assert suite == str(Path(package) / "suite"), where.stdout


@pytest.mark.parametrize("name", ["impl", "properties", "adversarial", "mutation_config"])
def test_installed_wheel_has_no_top_level_suite_package(installed_killmatrix, tmp_path, name):
    """Catches a wheel that installs `impl` (or another suite folder) as a top-level package of site-packages,
    where it would collide with any other project's `impl`."""
    python = installed_killmatrix.parent / "python"
    found = subprocess.run([str(python), "-c", f"import importlib.util; print(importlib.util.find_spec({name!r}))"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "None", found.stdout


@pytest.mark.parametrize(("submission", "exit_code", "verdict"), [
    ("flash_correct/flash.py", 0, "pass"),
    ("flash_inverted_rescale/flash.py", 1, "fail"),
])
def test_installed_check_judges_from_outside_the_repository(installed_killmatrix, tmp_path, submission, exit_code,
                                                            verdict):
    """Catches a wheel whose `check` collects no property (the inverted rescale reported as a pass)."""
    code, document = _check(installed_killmatrix, submission, tmp_path)
    assert (code, document["verdict"]) == (exit_code, verdict), document
    ran = [p for p in document["properties"] if p["status"] in ("passed", "failed")]
    assert ran, f"no property ran: {document}"


def test_every_package_folder_is_in_the_wheel():
    """Catches a new killmatrix/ subpackage missing from pyproject's explicit package list (the list is
    explicit because the suite folders are mapped into killmatrix/suite/): the wheel would lack it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "killmatrix").rglob("__init__.py")
               if "vendor" not in init.parts}
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"

