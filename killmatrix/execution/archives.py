"""Content-addressed archives of a folder: what travels to a dask worker instead of a shared filesystem.

An archive is a gzip'd tar built the same way from the same files on any machine (entries sorted, times,
owners and modes normalized), so its sha256 names its content: a worker unpacks a given digest once and
reuses it, and dask's `pure` tasks and scattered data can be keyed on it. Only regular files travel;
what a test run never reads (environments, caches, earlier mutation runs) is left out as in a local copy.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from killmatrix.mutation.tree_copy import SKIPPED

# Where a worker keeps the trees it unpacked, one folder per digest, shared by the tasks it runs.
CACHE_ENV = "KILLMATRIX_ARCHIVE_CACHE"


def _skipped(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _members(root: Path, skip: Sequence[str], include: Sequence[str] | None) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        top = Path(dirpath) == root
        dirnames[:] = sorted(d for d in dirnames if not _skipped(d, skip) and (not top or include is None
                                                                                 or d in include))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not _skipped(name, skip) and path.is_file() and (not top or include is None or name in include):
                yield path


@dataclass(frozen=True)
class Archive:
    digest: str  # sha256 of `data`
    data: bytes  # a deterministic tar.gz of the folder

    def __repr__(self) -> str:  # the bytes would flood a traceback or a dask log line
        return f"Archive({self.digest[:12]}, {len(self.data)} bytes)"

    @classmethod
    def of_folder(cls, root: Path, skip: Sequence[str] = SKIPPED, include: Sequence[str] | None = None) -> Archive:
        """`root`'s files less those `skip` names; `include`: only these top-level entries."""
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"{root} is not a directory")
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in _members(root, skip, include):
                info = tarfile.TarInfo(path.relative_to(root).as_posix())
                data = path.read_bytes()
                info.size = len(data)
                # Executable bits matter (a script a test runs); times and owners would only change the digest.
                info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
                tar.addfile(info, io.BytesIO(data))
        data = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
        return cls(hashlib.sha256(data).hexdigest(), data)

    def verify(self) -> None:
        if hashlib.sha256(self.data).hexdigest() != self.digest:
            raise ValueError(f"archive {self.digest[:12]} arrived damaged")

    def extract_to(self, destination: Path) -> Path:
        """Unpack into `destination` (created; must not exist yet) and return it."""
        self.verify()
        destination = Path(destination)
        destination.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(self.data), mode="r:gz") as tar:
            # The "data" filter refuses absolute names, `..`, links out of the tree and device files.
            tar.extractall(destination, filter="data")
        return destination

    def cached(self, base: Path | None = None) -> Path:
        """This archive's tree on this machine, unpacked once per digest and shared after: read it, never write it.

        Idempotent and safe when several processes ask at once: each unpacks aside and renames into place."""
        base = Path(base or os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "killmatrix-archives")
        final = base / self.digest
        if final.is_dir():
            return final
        base.mkdir(parents=True, exist_ok=True)
        aside = self.extract_to(base / f".{self.digest}.{os.getpid()}.{uuid.uuid4().hex}")
        try:
            aside.rename(final)
        except OSError:  # another task or process got there first: its tree is the same bytes
            shutil.rmtree(aside, ignore_errors=True)
        return final

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Path]:
        """A private copy of the tree for one task (it may be written to), removed afterwards."""
        scratch = Path(tempfile.mkdtemp(prefix="killmatrix-unpacked-"))
        try:
            yield self.extract_to(scratch / "tree")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
