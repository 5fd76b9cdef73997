"""An audit hook that keeps untrusted Python code from changing files outside its scratch directory.

We run as root, so file permissions protect nothing: `install` adds a `sys.addaudithook` hook that
refuses (PermissionError) every audited file change whose path lies outside the allowed roots —
open for writing, remove, rename, rmdir, mkdir, truncate, chmod/chown, links, rmtree, copies —
and every attempt to start another program or signal another process, which could do the same
out of the hook's sight. Each refusal is appended to a log so the run can turn it into a verdict.

What it does not stop: native code (a C extension, ctypes, cffi) calls the OS directly and never
raises an audit event. It is a guard against accidents and careless code, not a security boundary.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Event name -> positions of its path arguments and, for fd-relative calls, of the dir_fd argument.
_PATH_EVENTS: dict[str, tuple[tuple[int, ...], int | None]] = {
    "os.remove": ((0,), 1),
    "os.rmdir": ((0,), 1),
    "os.mkdir": ((0,), 2),
    "os.rename": ((0, 1), 2),
    "os.truncate": ((0,), None),
    "os.chmod": ((0,), 2),
    "os.chown": ((0,), 3),
    "os.link": ((1,), None),
    "os.symlink": ((1,), 2),
    "os.utime": ((0,), 4),
    "os.setxattr": ((0,), None),
    "os.removexattr": ((0,), None),
    "shutil.rmtree": ((0,), 1),
    "shutil.copyfile": ((1,), None),
    "shutil.copytree": ((1,), None),
    "shutil.move": ((0, 1), None),
    "shutil.chown": ((0,), None),
}
_SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"})
_SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg"})


class _Guard:
    def __init__(self, roots: Iterable[str], log_path: str):
        self.roots = tuple(os.path.realpath(r) for r in roots)
        # Opened before the hook exists; written with os.write, which raises no audit event.
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.context = "<import>"
        self.own_pid = os.getpid()

    def allowed(self, path, dir_fd: int | None) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: its opening was checked
        path = os.fsdecode(path)
        if dir_fd not in (None, -1) and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        real = os.path.realpath(path)
        return real == os.devnull or any(real == r or real.startswith(r + os.sep) for r in self.roots)

    def refuse(self, what: str) -> None:
        record = {"nodeid": self.context, "attempt": what}
        os.write(self.log_fd, (json.dumps(record) + "\n").encode())
        raise PermissionError(f"killmatrix sandbox refused {what}: only the scratch directory is writable")

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            if (flags or 0) & _WRITE_FLAGS and not self.allowed(path, None):
                self.refuse(f"open({os.fsdecode(path)!r}, {mode or 'os.open'!r})")
        elif event in _PATH_EVENTS:
            positions, fd_at = _PATH_EVENTS[event]
            dir_fd = args[fd_at] if fd_at is not None and fd_at < len(args) else None
            for i in positions:
                if not self.allowed(args[i], dir_fd if isinstance(dir_fd, int) else None):
                    self.refuse(f"{event}({os.fsdecode(args[i])!r})")
        elif event in _SPAWN_EVENTS:
            self.refuse(f"{event}({str(args[:2])[:200]})")
        elif event in _SIGNAL_EVENTS and args[0] not in (0, self.own_pid):
            self.refuse(f"{event}(pid {args[0]})")


_installed: _Guard | None = None


def install(roots: Iterable[str], log_path: str) -> None:
    """Install the hook for the rest of this process (audit hooks cannot be removed)."""
    global _installed
    if _installed is not None:
        raise RuntimeError("the write guard is already installed")
    _installed = _Guard(roots, log_path)
    sys.addaudithook(_installed)


def set_context(label: str) -> None:
    """Name what runs now (a test's node id) so a refusal is charged to it."""
    if _installed is not None:
        _installed.context = label


def read_attempts(log_path) -> list[dict]:
    """The refusals a guarded process logged, oldest first."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
