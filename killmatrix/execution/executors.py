"""One way to fan work out, whatever runs it: threads here (`--executor local`) or a dask cluster (`--executor dask`).

Every fan-out of killmatrix (named mutants, mutmut's survivors, `grade` submissions, `audit` mutants) is a
list of items and a module-level task function, and each task starts a sandboxed child process
(killmatrix/sandbox/limits.py run_child) wherever it runs. `Executor.map(fn, items, shared=folders)` calls
`fn(item, *folders_there)` for every item and returns the results in the items' order, reporting each as
it arrives. The local executor runs the calls in `jobs` threads of this process, on the folders themselves,
as killmatrix always has. The dask executor hands them to dask.distributed, which does the scheduling,
the queueing, the transport and the rerun of tasks whose worker died: nothing of that is built here.
Its workers share no filesystem with this machine: each shared folder travels once as a content-addressed
archive (killmatrix/execution/archives.py), scattered to the workers, and is unpacked once per worker.
Tasks are pure (their inputs name everything they read; they write only to their own scratch folders), so
a task dask runs twice after a worker died gives the same result, and it is collected once.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from killmatrix.execution.archives import Archive
from killmatrix.layout import PACKAGE_DIR

EXECUTORS = ("local", "dask")
LOCAL_SCHEDULER = "local"  # `--scheduler local`: a dask LocalCluster on this machine, to try it out
CONNECT_TIMEOUT_S = 10.0
# What a submission or a staged test folder never needs on a worker.
SMALL_SKIP = ("__pycache__", "*.pyc", ".git", ".pytest_cache", ".hypothesis", ".killmatrix-cache")


@functools.cache
def code_digest() -> str:
    """A hash of this killmatrix's own code: a worker running other code would run the tasks differently."""
    digest = hashlib.sha256()
    for file in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = file.relative_to(PACKAGE_DIR)
        if relative.parts[0] != "suite" and "__pycache__" not in relative.parts:
            digest.update(f"\0{relative.as_posix()}\0".encode() + file.read_bytes())
    return digest.hexdigest()


def without_times(document):
    """The JSON with wall-clock figures blanked: what two executors must agree on
    (the only thing two runs of the same grade may differ in)."""
    if isinstance(document, dict):
        return {k: without_times(v) for k, v in document.items() if k not in ("duration", "duration_s")}
    if isinstance(document, list):
        return [without_times(v) for v in document]
    if isinstance(document, str):
        return re.sub(r"\d+(\.\d+)? s\b", "<t> s", document)
    return document


class WorkerMismatch(RuntimeError):
    """A dask worker runs another killmatrix than the one that submitted the task."""


class ExecutorError(RuntimeError):
    """The executor cannot start: dask is not installed, the scheduler cannot be reached, a bad option."""


def relocate(value: Any, moves: dict[str, str]) -> Any:
    """`value` with every path prefix `here -> there` of `moves` rewritten in its strings (dicts, lists,
    tuples and dataclasses walked): a result computed on a worker names the folders as this machine knows them."""
    if not moves:
        return value
    if isinstance(value, str):
        for here, there in moves.items():
            value = value.replace(here, there)
        return value
    if isinstance(value, dict):
        return {relocate(k, moves): relocate(v, moves) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(relocate(v, moves) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: relocate(getattr(value, f.name), moves)
                                             for f in dataclasses.fields(value) if f.init})
    return value


@dataclass(frozen=True)
class Tree:
    """A folder every task of a map reads (the project, the suite): only its `include` top-level entries if given."""

    path: Path
    include: tuple[str, ...] | None = None

    def archive(self) -> Archive:
        return Archive.of_folder(self.path, include=self.include)


def _tree(entry: Path | Tree) -> Tree:
    return entry if isinstance(entry, Tree) else Tree(Path(entry))


@dataclass(frozen=True)
class Folder:
    """A folder one task needs (a submission): the folder itself here, or its archive on a machine without it."""

    origin: str  # the folder on the machine that submitted the task
    archive: Archive | None = None

    @contextmanager
    def opened(self) -> Iterator[Path]:
        """The folder where the task runs: the origin, or a private unpacked copy removed afterwards."""
        if self.archive is None:
            yield Path(self.origin)
        else:
            with self.archive.fresh() as here:
                yield here


class Executor:
    """The interface every fan-out uses; see the module docstring."""

    name = "executor"
    ships = False  # True: folders travel as archives (the tasks run where this machine's files are not)
    workers = 1  # how many tasks run at once

    def folder(self, path: Path, skip: Sequence[str] = SMALL_SKIP) -> Folder:
        """`path` as a task item can carry it (as an archive when the executor ships folders)."""
        path = Path(path)
        return Folder(str(path), Archive.of_folder(path, skip) if self.ships else None)

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Path | Tree] = (),
            on_result: Callable[[Any], None] | None = None) -> list[Any]:
        """[fn(item, *shared_there) for item in items], run by the executor; `on_result` gets each result as it
        arrives. `fn` must be a module-level function and the items picklable (dask sends them away)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(Executor):
    """`jobs` threads of this process, each waiting on its task's child process: killmatrix's own pool."""

    name = "local"

    def __init__(self, jobs: int = 2):
        if jobs < 1:
            raise ValueError(f"jobs must be a positive int, got {jobs!r}")
        self.workers = jobs

    def map(self, fn, items, *, shared=(), on_result=None):
        items = list(items)
        folders = [_tree(p).path for p in shared]
        results: list[Any] = [None] * len(items)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(fn, item, *folders): index for index, item in enumerate(items)}
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                if on_result is not None:
                    on_result(result)
        return results


def _with_shared(code: str, fn: Callable[..., Any], item: Any, *archives: Archive) -> Any:
    """On the worker: the same killmatrix as the sender's, the shared folders unpacked (once per digest), the task."""
    if code != code_digest():
        raise WorkerMismatch("this dask worker runs another killmatrix than the command that sent the task "
                             "(install the same version on every worker: docs/DISTRIBUTED.md)")
    return fn(item, *(archive.cached() for archive in archives))


class DaskExecutor(Executor):
    """Tasks on a dask.distributed cluster: at `scheduler` (tcp://HOST:8786), or a LocalCluster of `jobs`
    single-threaded worker processes for `scheduler="local"`."""

    name = "dask"
    ships = True

    def __init__(self, scheduler: str, *, jobs: int = 2, connect_timeout_s: float = CONNECT_TIMEOUT_S):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ExecutorError(f"--executor dask needs dask.distributed: pip install 'dask[distributed]' ({exc})"
                                ) from None
        self.scheduler = scheduler
        self.cluster = None
        if scheduler == LOCAL_SCHEDULER:
            self.cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0",
                                        scheduler_port=0, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(scheduler, timeout=connect_timeout_s)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ExecutorError(f"cannot reach the dask scheduler at {scheduler}: {exc}".splitlines()[0]) \
                    from None
        self.workers = max(1, sum(self.client.nthreads().values()))

    def map(self, fn, items, *, shared=(), on_result=None):
        from dask.base import tokenize
        from distributed import as_completed as completed

        items = list(items)
        if not items:
            return []
        archives = [_tree(p).archive() for p in shared]
        # Every worker holds a copy, so a worker that dies takes no folder with it. Keys are this call's own
        # (hash=False, and `run` below): a key released by an earlier call and reused here before the scheduler
        # forgot it cancels the new futures ("already forgotten", seen when a map follows another on one client).
        scattered = [self.client.scatter(a, broadcast=True, hash=False) for a in archives]
        digests = [a.digest for a in archives]
        run = uuid.uuid4().hex[:12]
        futures = {}
        for index, item in enumerate(items):
            # The key names the task's inputs: the same task is the same key within the call, run (and
            # collected) once, rerun under that key when its worker dies.
            key = f"killmatrix-{fn.__name__}-{tokenize(fn.__module__, fn.__qualname__, item, digests)}-{run}"
            futures[self.client.submit(_with_shared, code_digest(), fn, item, *scattered, key=key, pure=True)] = index
        results: list[Any] = [None] * len(items)
        try:
            for future in completed(list(futures)):
                result = future.result()
                results[futures[future]] = result
                if on_result is not None:
                    on_result(result)
        finally:
            for future in futures:
                future.release()
            for future in scattered:
                future.release()
        return results

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(executor: str, scheduler: str | None, jobs: int,
                  connect_timeout_s: float = CONNECT_TIMEOUT_S) -> Executor:
    """The executor the options name; ExecutorError for options that do not fit together or a scheduler
    that cannot be reached."""
    if executor == "local":
        if scheduler is not None:
            raise ExecutorError("--scheduler goes with --executor dask")
        return LocalExecutor(jobs)
    if executor == "dask":
        if not scheduler:
            raise ExecutorError("--executor dask needs --scheduler ADDRESS (tcp://HOST:8786, or 'local')")
        return DaskExecutor(scheduler, jobs=jobs, connect_timeout_s=connect_timeout_s)
    raise ExecutorError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
