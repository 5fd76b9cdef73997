"""The ledger of mutmut survivors that are not bugs: `mutation_config/equivalent.toml`.

mutmut renumbers its mutants whenever the code changes, so an entry is keyed by what the mutant
does: the file, the function and the changed lines of its diff (line numbers, context and
whitespace dropped). Every entry is one of two classes, and carries its argument:

- `equivalent`: no input can tell it from the reference: not the output, not the cost (tile pairs,
  allocations, model rows), not the precision. The reason says why.
- `accepted`: a real difference the contract permits (only time changes, below what a cost property
  resolves; a default the suite never relies on). The reason says what changes, and `decided_by`
  names the property or measurement that would decide it. The report counts these apart and never
  calls them equivalent.

```toml
[[equivalent]]
file = "impl/attention.py"
function = "flash_attention_fwd"
diff = '''
-    m = np.full(n, -np.inf)
+    m = np.full(n, -np.inf, dtype=None)
'''
class = "equivalent"                # or "accepted", with decided_by = "what would decide it"
reason = "why no input can tell the two apart"
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from killmatrix.mutation.catalog import CATALOG_DIR

LEDGER_PATH = CATALOG_DIR / "equivalent.toml"


def normalize_diff(diff: str) -> str:
    """The changed lines of a unified diff, one `-old` / `+new` per line, inner whitespace kept."""
    changed = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")) or not line.startswith(("-", "+")):
            continue
        changed.append(line[0] + line[1:].strip())
    return "\n".join(changed)


EQUIVALENT, ACCEPTED = "equivalent", "accepted"
CLASSES = (EQUIVALENT, ACCEPTED)


@dataclass(frozen=True)
class EquivalentEntry:
    file: str
    function: str
    diff: str  # normalized
    reason: str
    kind: str = EQUIVALENT  # the TOML's `class`: equivalent | accepted
    decided_by: str = ""  # for an accepted entry: the property or measurement that would decide it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.function, self.diff)


def load_ledger(path: Path = LEDGER_PATH) -> dict[tuple[str, str, str], EquivalentEntry]:
    """Entries by (file, function, normalized diff); ValueError naming a malformed or duplicate entry."""
    if not Path(path).exists():
        return {}
    with Path(path).open("rb") as fh:
        data = tomllib.load(fh)
    ledger: dict[tuple[str, str, str], EquivalentEntry] = {}
    for index, raw in enumerate(data.get("equivalent", []), start=1):
        missing = [k for k in ("file", "function", "diff", "reason") if not str(raw.get(k, "")).strip()]
        if missing:
            raise ValueError(f"{Path(path).name}: entry {index} lacks {', '.join(missing)}")
        kind = raw.get("class", EQUIVALENT)
        if kind not in CLASSES:
            raise ValueError(f"{Path(path).name}: entry {index} has class {kind!r}; must be one of {CLASSES}")
        decided_by = str(raw.get("decided_by", "")).strip()
        if kind == ACCEPTED and not decided_by:
            raise ValueError(f"{Path(path).name}: entry {index} is accepted without decided_by")
        entry = EquivalentEntry(raw["file"], raw["function"], normalize_diff(raw["diff"]), raw["reason"].strip(),
                                kind, decided_by)
        if not entry.diff:
            raise ValueError(f"{Path(path).name}: entry {index} has no '-'/'+' line in its diff")
        if entry.key in ledger:
            raise ValueError(f"{Path(path).name}: entry {index} repeats an earlier entry's file, function and diff")
        ledger[entry.key] = entry
    return ledger
