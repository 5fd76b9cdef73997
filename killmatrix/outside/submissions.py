"""Find the submissions in a grading folder: one subfolder each.

By convention a subfolder holds `flash.py` (with `flash_attention_fwd`), `flash_bwd.py` (with
`flash_attention_bwd`) and/or `beam.py` (with `beam_search`). A `grade.toml` in the subfolder overrides the convention:

    [flash]
    file = "attention.py"          # relative to the subfolder
    function = "tiled_attention"   # optional, default per docs/CONTRACT.md

    [beam]
    file = "decoder.py"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from killmatrix.algorithms import ALGORITHMS, BY_NAME

CONFIG_NAME = "grade.toml"


@dataclass(frozen=True)
class Submission:
    name: str  # the subfolder's name
    algorithm: str
    path: Path
    function: str

    @property
    def target(self) -> str:
        return f"{self.path}:{self.function}"


def _from_config(folder: Path) -> list[Submission]:
    config_path = folder / CONFIG_NAME
    try:
        config = tomllib.loads(config_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{config_path}: not valid TOML: {exc}") from None
    unknown = sorted(set(config) - set(BY_NAME))
    if unknown:
        raise ValueError(f"{config_path}: sections must be among {sorted(BY_NAME)}, got {unknown}")
    found = []
    for algorithm, section in config.items():
        if not isinstance(section, dict) or not isinstance(section.get("file"), str):
            raise ValueError(f"{config_path}: [{algorithm}] needs file = \"NAME.py\"")
        function = section.get("function", BY_NAME[algorithm].default_function)
        if not isinstance(function, str) or not function.isidentifier():
            raise ValueError(f"{config_path}: [{algorithm}] function must be a Python identifier, got {function!r}")
        found.append(Submission(folder.name, algorithm, (folder / section["file"]).resolve(), function))
    return found


def discover(directory: Path) -> list[Submission]:
    """Every submission under `directory`, by folder name then algorithm; ValueError if there is none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a directory")
    found: list[Submission] = []
    for folder in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if (folder / CONFIG_NAME).exists():
            found += _from_config(folder)
        else:
            found += [Submission(folder.name, a.name, (folder / a.submission_file).resolve(), a.default_function)
                      for a in ALGORITHMS if (folder / a.submission_file).is_file()]
    if not found:
        expected = ", ".join(a.submission_file for a in ALGORITHMS)
        raise ValueError(f"no submissions in {directory}: expected subfolders with one of {expected} or a grade.toml")
    return sorted(found, key=lambda s: (s.algorithm, s.name))
