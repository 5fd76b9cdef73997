"""Where the suite lives: beside the package in a checkout, inside it (`killmatrix/suite/`) in a wheel.

The suite (`impl/`, `properties/`, `adversarial/`, `mutation_config/`) is written with top-level imports
(`from impl.attention import ...`) and always runs in a child process whose root is a copy of it, so an
installed killmatrix puts no top-level `impl` or `properties` package into site-packages.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED_SUITE = PACKAGE_DIR / "suite"
SUITE_ROOT = _INSTALLED_SUITE if _INSTALLED_SUITE.is_dir() else PACKAGE_DIR.parent
