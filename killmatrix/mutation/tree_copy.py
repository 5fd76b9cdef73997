"""Copy the project tree into a scratch directory, leaving out what a test run never reads.

Mutants are applied to such a copy, never to the working tree. `shutil.copytree` rather than rsync,
which a fresh machine may not have.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Environments, VCS data, caches and earlier mutation runs: large, and irrelevant to a test run.
SKIPPED = (
    ".venv", "venv", ".git", "mutants", ".killmatrix-cache", ".hypothesis", ".pytest_cache",
    ".ruff_cache", "__pycache__", "*.egg-info", "build", "dist", "*.pyc", "*.bin",
)


def copy_tree(root: Path, destination: Path) -> Path:
    """Copy `root` to `destination` (which must not exist yet) and return `destination`."""
    shutil.copytree(root, destination, ignore=shutil.ignore_patterns(*SKIPPED), symlinks=True)
    return destination
