"""An audit hook that names, and refuses, what untrusted Python code tries outside its scratch directory.

The boundary is the kernel's (killmatrix/sandbox/confinement.py: Landlock and namespaces); this hook is the
second line, there to turn an attempt into a verdict that says what was tried. `install` adds a
`sys.addaudithook` hook that refuses (PermissionError) every audited file change whose path lies
outside the allowed roots — open for writing, remove, rename, rmdir, mkdir, truncate, chmod/chown,
links (either end), rmtree, copies — every attempt to start another program, signal another process
or open a network connection or a UNIX socket outside the roots. It also notes, without refusing, a
ctypes lookup of a libc function that changes files, starts programs, signals or opens sockets
(`ctypes.dlsym`): native code raises no audit event of its own, so this is the last thing the hook
sees before the kernel refuses the call itself. Every record is appended to a log, one JSON line
`{"nodeid", "attempt", "kind"}`, so the run can turn it into a verdict.

Native code that finds libc some other way (a compiled extension, cffi, a raw address) is seen by the
kernel only: the files stay untouched, but the verdict may not say what was tried.
"""

from __future__ import annotations

import contextlib
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
    "os.link": ((0, 1), None),  # a hard link to a file outside would make it writable from inside
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
# Events that act on a symlink itself, not on what it points to: a link in scratch may be removed.
_ON_THE_LINK_ITSELF = frozenset({"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.link", "os.symlink",
                                 "shutil.rmtree", "shutil.copytree", "shutil.move"})
_SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"})
_SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg"})
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.bind", "socket.sendto"})
# libc functions whose only use from an attention kernel would be to reach outside: by path, by
# starting a program, by a signal, a socket or a raw system call.
NATIVE_ESCAPES = frozenset({
    "open", "open64", "openat", "openat64", "creat", "creat64", "fopen", "fopen64", "freopen", "truncate",
    "truncate64", "unlink", "unlinkat", "remove", "rmdir", "rename", "renameat", "renameat2", "link", "linkat",
    "symlink", "symlinkat", "mkdir", "mkdirat", "mknod", "mknodat", "chmod", "fchmodat", "chown", "lchown",
    "fchownat", "utime", "utimes", "utimensat", "setxattr", "lsetxattr", "removexattr",
    "system", "popen", "fork", "vfork", "clone", "execv", "execve", "execvp", "execvpe", "execl", "execlp",
    "execle", "posix_spawn", "posix_spawnp", "kill", "killpg", "tgkill", "sigqueue", "ptrace",
    "socket", "connect", "bind", "sendto", "syscall", "unshare", "setns", "mount", "umount", "umount2",
})


class _Guard:
    def __init__(self, roots: Iterable[str], log_path: str):
        self.roots = tuple(os.path.realpath(r) for r in roots)
        # Opened before the hook exists; written with os.write, which raises no audit event.
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.context = "<import>"
        self.own_pid = os.getpid()
        self.trusted_process_control = False  # see trusted_process_control()

    @staticmethod
    def named(path, dir_fd: int | None) -> str:
        """The absolute path the call names (relative to `dir_fd` when given)."""
        path = os.fsdecode(path)
        if dir_fd not in (None, -1) and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        return os.path.abspath(path)

    @staticmethod
    def real(named: str, follow: bool) -> str:
        """Where the call lands: every symlink resolved, the last one only when the call follows it."""
        if follow:
            return os.path.realpath(named)
        head, tail = os.path.split(named)
        return os.path.join(os.path.realpath(head), tail)

    def allowed(self, path, dir_fd: int | None, follow: bool = True) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: its opening was checked
        real = self.real(self.named(path, dir_fd), follow)
        return real == os.devnull or any(real == r or real.startswith(r + os.sep) for r in self.roots)

    def log(self, kind: str, what: str) -> None:
        record = {"nodeid": self.context, "attempt": what, "kind": kind}
        os.write(self.log_fd, (json.dumps(record) + "\n").encode())

    def refuse(self, kind: str, what: str) -> None:
        self.log(kind, f"{what} (refused)")
        raise PermissionError(f"killmatrix sandbox refused: {what}")

    def refuse_write(self, path, dir_fd: int | None, follow: bool, how: str) -> None:
        named = self.named(path, dir_fd)
        real = self.real(named, follow)
        through = f" (through {named})" if real != named else ""
        self.refuse("write", f"tried to write outside its scratch directory: {real}{through}, by {how}")

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            if (flags or 0) & _WRITE_FLAGS and not self.allowed(path, None):
                self.refuse_write(path, None, True, f"open({mode or 'os.open'!r})")
        elif event in _PATH_EVENTS:
            positions, fd_at = _PATH_EVENTS[event]
            dir_fd = args[fd_at] if fd_at is not None and fd_at < len(args) else None
            dir_fd = dir_fd if isinstance(dir_fd, int) else None
            follow = event not in _ON_THE_LINK_ITSELF
            for i in positions:
                if not self.allowed(args[i], dir_fd, follow):
                    self.refuse_write(args[i], dir_fd, follow, event)
        elif event in _SPAWN_EVENTS and not self.trusted_process_control:
            self.refuse("spawn", f"tried to start another program: {event}{str(args[:2])[:200]}")
        elif event in _SIGNAL_EVENTS and args[0] not in (0, self.own_pid) and not self.trusted_process_control:
            self.refuse("signal", f"tried to signal process {args[0]} ({event})")
        elif event in _SOCKET_EVENTS:
            address = args[1]
            if isinstance(address, (str, bytes)):  # a UNIX socket: a path, or abstract (leading NUL)
                abstract = address[:1] in ("\0", b"\0", "", b"")
                if self.trusted_process_control or (not abstract and self.allowed(address, None)):
                    return
            self.refuse("network", f"tried to open a network connection to {address!r} ({event})")
        elif event == "ctypes.dlsym" and isinstance(args[1], str) and args[1] in NATIVE_ESCAPES:
            self.log("native", f"called native code via ctypes: {args[1]}() (out of this hook's sight; the "
                               f"kernel's confinement still holds)")


_installed: _Guard | None = None


def install(roots: Iterable[str], log_path: str) -> None:
    """Install the hook for the rest of this process (audit hooks cannot be removed)."""
    global _installed
    if _installed is not None:
        raise RuntimeError("the write guard is already installed")
    _installed = _Guard(roots, log_path)
    sys.addaudithook(_installed)


@contextlib.contextmanager
def trusted_process_control():
    """Let killmatrix's own code start and stop the worker that runs outside code in its own confined
    process (killmatrix/outside/remote_target.py); in a `check` run no outside code runs in this process."""
    if _installed is None:
        yield
        return
    _installed.trusted_process_control = True
    try:
        yield
    finally:
        _installed.trusted_process_control = False


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
