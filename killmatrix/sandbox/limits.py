"""Run a child process under a wall-clock limit, a memory limit, an output cap and, for outside code, confined.

Everything that runs code killmatrix did not write (outside implementations, outside tests, mutants)
goes through `run_child`: a hang, a crash, a memory bomb or a flood of output becomes a status,
never an exception in killmatrix. With `Limits.writable` set, the child is confined before it
executes anything (killmatrix/sandbox/confinement.py): files can change only beneath those folders, no
network, no signal to anything outside it; whatever it starts inherits that.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from killmatrix.sandbox import confinement

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 120.0
    # Address space, not resident memory: numpy, OpenBLAS threads and memray map more than they touch.
    memory_bytes: int = 6 * GiB
    file_bytes: int = 256 * MiB  # largest file the child may write, stdout and stderr included
    output_tail_bytes: int = 64 * 1024  # how much of stdout/stderr is kept for the report
    # None: not confined (killmatrix's own code, or the user passed --no-isolation); otherwise the
    # only folders whose files the child may change (its cwd is not added implicitly).
    writable: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_bytes", "file_bytes", "output_tail_bytes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
        if self.writable is not None:
            if isinstance(self.writable, (str, Path)):
                raise ValueError("Limits.writable must be a tuple of paths, not a single path")
            object.__setattr__(self, "writable", tuple(str(p) for p in self.writable))

    def also_writable(self, *paths: str | Path) -> Limits:
        """The same limits with more writable folders; unconfined limits stay unconfined."""
        if self.writable is None:
            return self
        return dataclasses.replace(self, writable=(*self.writable, *map(str, paths)))


@dataclass(frozen=True)
class ChildResult:
    # ok: exit 0; failed: exit 1; timeout; crash: killed by a signal; output: hit the file-size cap;
    # error: any other exit status.
    status: str
    returncode: int | None
    duration_s: float
    stdout: str
    stderr: str

    @property
    def describe(self) -> str:
        if self.status == "timeout":
            return f"timed out after {self.duration_s:.0f} s"
        if self.status == "output":
            return "flooded its output past the size limit"
        if self.status == "crash":
            try:
                name = signal.Signals(-self.returncode).name
            except (TypeError, ValueError):
                name = str(self.returncode)
            return f"crashed ({name})"
        return f"exit {self.returncode}"


def _limit_child(limits: Limits):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if limits.writable is not None:
            # After the rlimits: a confined process cannot raise them again (no capability left).
            confinement.confine(limits.writable)

    return apply


def _tail(path: Path, limit: int) -> str:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - limit))
        data = fh.read()
    prefix = f"[... {size - limit} bytes cut ...]\n" if size > limit else ""
    return prefix + data.decode("utf-8", "replace")


def _classify(returncode: int) -> str:
    if returncode == 0:
        return "ok"
    if returncode == 1:
        return "failed"
    if returncode == -signal.SIGXFSZ:
        return "output"
    if returncode < 0:
        return "crash"
    return "error"


DEFAULT_LIMITS = Limits()


def isolation_for(allow_unconfined: bool) -> bool:
    """Whether the children that run outside code will be confined: True when this machine can;
    False when it cannot and the user allowed that (`--no-isolation`); ConfinementError otherwise."""
    reason = confinement.unavailable_reason()
    if reason is None:
        return True
    if allow_unconfined:
        return False
    raise confinement.ConfinementError(f"cannot isolate outside code: {reason}; "
                                       "pass --no-isolation to run it unconfined")


def run_child(argv: list[str], *, cwd: Path, env: dict[str, str], limits: Limits = DEFAULT_LIMITS) -> ChildResult:
    """Run `argv` in its own session; kill the whole process group when the time is up."""
    with tempfile.TemporaryDirectory(prefix="killmatrix-io-") as io_dir:
        out_path, err_path = Path(io_dir, "stdout"), Path(io_dir, "stderr")
        start = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_limit_child(limits),
            )
            try:
                returncode = proc.wait(timeout=limits.timeout_s)
                status = _classify(returncode)
                # Python ignores SIGXFSZ, so a flood shows up as a write error and a plain failure.
                if max(out_path.stat().st_size, err_path.stat().st_size) >= limits.file_bytes:
                    status = "output"
            except subprocess.TimeoutExpired:
                status, returncode = "timeout", None
            finally:
                # The group may hold grandchildren (xdist workers, a forked mutant) even after a clean exit.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        duration = time.monotonic() - start
        return ChildResult(
            status=status,
            returncode=returncode,
            duration_s=duration,
            stdout=_tail(out_path, limits.output_tail_bytes),
            stderr=_tail(err_path, limits.output_tail_bytes),
        )
