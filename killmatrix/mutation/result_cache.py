"""A content-addressed store of test-run results under `.killmatrix-cache/`.

A result is keyed on a hash of everything that can change it: the implementation, the suite and the
machinery that runs it, the mutant's edits, the Hypothesis profile and the tool versions. Runs are
derandomized (the `kill` profile: no example database, no shrinking), so equal inputs give equal results and
a hit can stand in for a run.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

CACHE_DIR_NAME = ".killmatrix-cache"
# What a run reads besides the tests it is given: the code under test, the suites (their helpers
# and oracles), the registry, the adapters the fixtures build, and the packages that run the suites
# and classify their outcomes (mutation, plugins, sandbox). A suite that starts importing another
# killmatrix module must add it here. The commands and renderers are left out on purpose: editing
# a table must not throw away an hour of mutant runs.
RUN_INPUTS = (
    "impl", "properties", "adversarial", "conftest.py", "pyproject.toml", "killmatrix/algorithms.py",
    "killmatrix/outside/adapters.py", "killmatrix/outside/speculative_adapter.py",
    "killmatrix/mutation", "killmatrix/plugins", "killmatrix/sandbox",
)
_TOOLS = ("numpy", "hypothesis", "pytest", "mutmut")


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.relative_to(path).parts
        )
    return []


def tool_versions() -> str:
    return ";".join([f"python={platform.python_version()}", *(f"{t}={version(t)}" for t in _TOOLS)])


def inputs_digest(root: Path, paths: Iterable[str | Path], *extra: str) -> str:
    """Hash the files under `paths` (relative ones against `root`), the `extra` strings and the tool versions."""
    digest = hashlib.sha256()
    root = Path(root)
    for entry in sorted({str(p) for p in paths}):
        base = root / entry
        digest.update(f"\0path {entry}\0".encode())
        for file in _files(base):
            digest.update(f"\0file {file.relative_to(base) if file != base else ''}\0".encode())
            digest.update(file.read_bytes())
    for item in (*extra, tool_versions()):
        digest.update(f"\0extra {item}\0".encode())
    return digest.hexdigest()


class ResultCache:
    """JSON records by (kind, key); `directory=None` disables caching (`--no-cache`)."""

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) if directory is not None else None

    def _path(self, kind: str, key: str) -> Path:
        return self.directory / kind / f"{key}.json"

    def get(self, kind: str, key: str) -> dict | None:
        if self.directory is None:
            return None
        try:
            return json.loads(self._path(kind, key).read_text())
        except (OSError, json.JSONDecodeError):
            return None  # absent, or cut short by an interrupted run: run it again

    def put(self, kind: str, key: str, record: dict) -> None:
        if self.directory is None:
            return
        path = self._path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
        tmp.replace(path)
