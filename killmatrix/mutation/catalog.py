"""The named-mutant catalog: `mutation_config/named_*.toml`, one real bug class per entry.

An entry (see mutation_config/README.md for the format) names the exact text edits that turn the
reference into the buggy variant. Edits are applied to text only: to a copy of the tree for a run,
or in memory to build the mutant as a module for an equivalence demonstration.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from killmatrix.algorithms import ALGORITHM_NAMES
from killmatrix.layout import SUITE_ROOT

ROOT = SUITE_ROOT
CATALOG_DIR = ROOT / "mutation_config"
# A bug changes what comes out; a cost mutant returns the same output (within the oracle's tolerance)
# slower or larger, and is killed by a cost property (tiles visited, state dtype, allocations, model rows).
KINDS = ("bug", "cost")


@dataclass(frozen=True)
class Edit:
    find: str
    replace: str


@dataclass(frozen=True)
class NamedMutant:
    id: str
    algorithm: str
    file: str
    bug: str
    edits: tuple[Edit, ...]
    killed_by: tuple[str, ...] = ()
    reference: str = ""
    equivalent: bool = False
    reason: str = ""
    demonstrated_by: tuple[str, ...] = field(default=())
    kind: str = "bug"  # bug: wrong results; cost: the same results at a higher price (KINDS)

    def apply_to_text(self, source: str) -> str:
        """The mutated source; ValueError if an edit's text is not found exactly once."""
        for edit in self.edits:
            count = source.count(edit.find)
            if count != 1:
                raise ValueError(
                    f"mutant {self.id}: edit text {edit.find!r} occurs {count} times in {self.file}, expected once"
                )
            source = source.replace(edit.find, edit.replace)
        return source

    def apply_to_tree(self, root: Path) -> None:
        """Apply the edits to `root/file` (a copy of the tree, never the working tree)."""
        path = Path(root) / self.file
        path.write_text(self.apply_to_text(path.read_text()))

    def load_module(self, root: Path = ROOT) -> ModuleType:
        """The mutated file as a fresh module object, without touching any file."""
        source = self.apply_to_text((Path(root) / self.file).read_text())
        name = f"killmatrix_mutant_{self.id.replace('-', '_')}"
        spec = importlib.util.spec_from_loader(name, loader=None)
        module = importlib.util.module_from_spec(spec)
        module.__file__ = str(Path(root) / self.file)
        sys.modules[name] = module
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        return module


def _parse(entry: dict, origin: Path) -> NamedMutant:
    required = ("id", "algorithm", "file", "bug", "edit")
    missing = [k for k in required if k not in entry]
    if missing:
        raise ValueError(f"{origin.name}: entry {entry.get('id', '?')!r} lacks {', '.join(missing)}")
    if entry["algorithm"] not in ALGORITHM_NAMES:
        raise ValueError(f"{origin.name}: {entry['id']}: algorithm must be one of {ALGORITHM_NAMES}")
    if entry.get("equivalent") and not (entry.get("reason") and entry.get("demonstrated_by")):
        raise ValueError(f"{origin.name}: {entry['id']} is marked equivalent without reason and demonstrated_by")
    if entry.get("kind", "bug") not in KINDS:
        raise ValueError(f"{origin.name}: {entry['id']}: kind must be one of {KINDS}, got {entry['kind']!r}")
    if not entry.get("equivalent") and not entry.get("killed_by"):
        raise ValueError(f"{origin.name}: {entry['id']} names no test in killed_by")
    return NamedMutant(
        id=entry["id"],
        algorithm=entry["algorithm"],
        file=entry["file"],
        bug=entry["bug"],
        edits=tuple(Edit(e["find"], e["replace"]) for e in entry["edit"]),
        killed_by=tuple(entry.get("killed_by", ())),
        reference=entry.get("reference", ""),
        equivalent=bool(entry.get("equivalent", False)),
        reason=entry.get("reason", ""),
        kind=entry.get("kind", "bug"),
        demonstrated_by=tuple(entry.get("demonstrated_by", ())),
    )


def load_catalog(directory: Path = CATALOG_DIR) -> list[NamedMutant]:
    """Every named mutant, in file then entry order; ValueError on a malformed or duplicate entry."""
    mutants: list[NamedMutant] = []
    for path in sorted(Path(directory).glob("named_*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        mutants.extend(_parse(entry, path) for entry in data.get("mutant", []))
    ids = [m.id for m in mutants]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate mutant ids in the catalog: {', '.join(duplicates)}")
    return mutants


def get_mutant(mutant_id: str, directory: Path = CATALOG_DIR) -> NamedMutant:
    for mutant in load_catalog(directory):
        if mutant.id == mutant_id:
            return mutant
    raise ValueError(f"no named mutant {mutant_id!r} in the catalog")
