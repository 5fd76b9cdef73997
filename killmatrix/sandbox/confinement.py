"""Confine the current process with the kernel: writes only beneath given folders, no network, no signals out.

`confine(writable)` is meant for a child right after fork (`subprocess.Popen(preexec_fn=...)`) or at
the very start of a child; everything the process starts afterwards inherits the confinement, and
nothing can undo it. It does, in order:

1. `unshare(CLONE_NEWUSER | CLONE_NEWNET)` (the id maps keep the same ids): an empty network
   namespace, so no UDP, no raw sockets, nothing reachable on the host's loopback; inside a user
   namespace the process holds no capability over the host (no reboot, module loading, network
   configuration). Best effort: when the kernel refuses, Landlock below still blocks TCP and
   `network_namespace` records why.
2. Drops every capability (bounding, inheritable, ambient, effective, permitted) and sets
   PR_SET_NO_NEW_PRIVS, so neither root nor a set-uid program gets anything back across exec.
3. A Landlock ruleset (Linux security module, unprivileged, ABI >= 6, i.e. Linux >= 6.12) that
   handles every filesystem write right (write, truncate, create, remove, rename/link across folders,
   device ioctls) and grants them only beneath `writable` and a few harmless device files; handles
   TCP bind and connect with no rule (none allowed); scopes signals and abstract UNIX sockets to the
   process's own domain (it cannot signal or connect to anything started outside it, the parent
   included). Reading and executing stay allowed everywhere unless `readable_only_elsewhere=False`.

Calling it again in a confined process nests a second Landlock domain, which can only narrow the first.
Landlock does not cover metadata (chmod, chown, utime, xattr) nor connecting to a UNIX socket that has a
path: see docs/SANDBOX.md.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

# Test hook: makes unavailable_reason() report Landlock as missing, so the refusal path and
# `--no-isolation` can be tested on a machine that has it.
ASSUME_NO_LANDLOCK_ENV = "KILLMATRIX_ASSUME_NO_LANDLOCK"
MIN_ABI = 6  # signal and abstract-socket scoping (Linux 6.12)

# The Landlock syscalls have the same numbers on every architecture but alpha (added after the unification).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_REMOVE_DIR, _FS_REMOVE_FILE, _FS_MAKE_CHAR, _FS_MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
_FS_MAKE_REG, _FS_MAKE_SOCK, _FS_MAKE_FIFO, _FS_MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
_FS_MAKE_SYM, _FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_FS_WRITE = (_FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE_CHAR | _FS_MAKE_DIR | _FS_MAKE_REG
             | _FS_MAKE_SOCK | _FS_MAKE_FIFO | _FS_MAKE_BLOCK | _FS_MAKE_SYM | _FS_REFER | _FS_TRUNCATE
             | _FS_IOCTL_DEV)
_FS_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
# Rights that make sense on a file (not a folder): the kernel rejects a rule on a file with any other.
_FS_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
# Device nodes never need to be created in scratch (and cannot be without CAP_MKNOD).
_FS_WRITABLE_GRANT = _FS_WRITE & ~(_FS_MAKE_CHAR | _FS_MAKE_BLOCK)
# Devices that hold no data: libraries open them for writing (/dev/null above all).
_DATA_FREE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# With readable_only_elsewhere=False: what a Python process needs to read besides its own folders.
_SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev")

_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_READ, _PR_CAPBSET_DROP = 38, 23, 24
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SIOCGIFFLAGS, _IFF_UP = 0x8913, 0x1


class ConfinementError(RuntimeError):
    """Landlock could not be applied: the process must not go on to run outside code."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


# Resolved once at import, in the parent: a symbol lookup after fork in a threaded parent (grade's and
# audit's thread pools start children) could deadlock on the loader's lock.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_FUNCTIONS = {name: getattr(_libc, name) for name in ("syscall", "prctl", "unshare")} if _libc is not None else {}

# What the last confine() in this process did about the network namespace ("" when it got one).
network_namespace = ""


def _syscall(number: int, *args) -> int:
    result = _FUNCTIONS["syscall"](ctypes.c_long(number), *args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def unavailable_reason() -> str | None:
    """None when confine() can be applied here; otherwise why not, in one line."""
    if os.environ.get(ASSUME_NO_LANDLOCK_ENV):
        return f"Landlock is treated as missing ({ASSUME_NO_LANDLOCK_ENV} is set)"
    if _libc is None:
        return f"Landlock is a Linux feature and this is {sys.platform}"
    try:
        abi = _syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            return f"this kernel ({os.uname().release}) has no Landlock (needs Linux 6.12 or later)"
        if exc.errno == errno.EOPNOTSUPP:
            return "Landlock is disabled on this kernel (add landlock to the lsm= boot parameter)"
        return f"Landlock cannot be queried: {exc.strerror}"
    if abi < MIN_ABI:
        return (f"this kernel's Landlock ABI is {abi}; signal and socket scoping need ABI {MIN_ABI} "
                "(Linux 6.12 or later)")
    return None


def _write_id_map(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _network_already_cut() -> bool:
    """True in a network namespace whose only interface is a loopback that is down: nothing is
    reachable, as after an earlier confine() (which a nested call must not redo: the id maps of a
    new user namespace cannot be written from inside a Landlock domain)."""
    try:
        if [name for _, name in socket.if_nameindex()] != ["lo"]:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            request = struct.pack("16sH", b"lo", 0)
            flags = struct.unpack("16sH", fcntl.ioctl(probe.fileno(), _SIOCGIFFLAGS, request)[:18])[1]
    except OSError:
        return False  # cannot tell: try to make one
    return not flags & _IFF_UP


def _enter_network_namespace() -> str:
    """Private user and network namespaces; "" on success, else why not (the caller carries on)."""
    if _network_already_cut():
        return ""
    uid, gid = os.geteuid(), os.getegid()
    try:
        _libc_call("unshare", ctypes.c_int(_CLONE_NEWUSER | _CLONE_NEWNET))
    except OSError as exc:
        # As root, a network namespace alone still cuts the network (user namespaces may be disabled).
        try:
            _libc_call("unshare", ctypes.c_int(_CLONE_NEWNET))
            return ""
        except OSError:
            return f"no network namespace ({exc.strerror}); TCP is still blocked by Landlock, UDP is not"
    try:
        # Same ids inside as outside: file ownership and getuid() look as before.
        _write_id_map("/proc/self/setgroups", "deny")
        _write_id_map("/proc/self/uid_map", f"{uid} {uid} 1")
        _write_id_map("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as exc:
        return f"user namespace without an id map ({exc.strerror})"
    return ""


def _libc_call(name: str, *args) -> int:
    result = _FUNCTIONS[name](*args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _prctl(option: int, arg: int = 0) -> int:
    return _libc_call("prctl", ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                      ctypes.c_ulong(0))


def _drop_capabilities() -> None:
    """No capability survives, not even across exec of a set-uid program (no_new_privs follows)."""
    cap = 0
    while True:
        try:
            held = _prctl(_PR_CAPBSET_READ, cap)
        except OSError:
            break  # EINVAL: past the last capability this kernel knows
        if held:
            _prctl(_PR_CAPBSET_DROP, cap)
        cap += 1
    try:
        _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # kernels before 4.3 have no ambient set
    number = _SYS_CAPSET.get(os.uname().machine)
    if number is not None:
        header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
        _syscall(number, ctypes.byref(header), ctypes.byref(data))


def _add_rule(ruleset_fd: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to grant
    try:
        if not os.path.isdir(path):
            access &= _FS_FILE_RIGHTS
        rule = _PathBeneathAttr(access, fd)
        _syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset_fd), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                 ctypes.c_uint32(0))
    finally:
        os.close(fd)


def _readable_roots(writable: Sequence[str]) -> list[str]:
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return [*_SYSTEM_READABLE, *sorted(prefixes), *writable]


def confine(writable: Sequence[str | Path], *, readable_only_elsewhere: bool = True) -> None:
    """Confine this process and everything it starts; ConfinementError when Landlock cannot be applied.

    `writable`: the folders (or files) beneath which files may be created, changed and removed.
    `readable_only_elsewhere`: True, everything else stays readable and executable; False, reading
    and executing are allowed only beneath `writable`, the system folders and the Python installation.
    """
    global network_namespace
    if isinstance(writable, (str, Path)):
        raise ValueError("writable must be a sequence of paths, not a single path")
    roots = [os.path.realpath(os.fspath(p)) for p in writable]
    for root in roots:
        if not os.path.exists(root):
            raise ValueError(f"writable path {root!r} does not exist")
    reason = unavailable_reason()
    if reason is not None:
        raise ConfinementError(reason)
    if len(os.listdir("/proc/self/task")) > 1:
        # Landlock, capabilities and no_new_privs are per thread: the others would stay free.
        raise ConfinementError("confine() must run before the process starts any thread")
    network_namespace = _enter_network_namespace()
    try:
        _drop_capabilities()
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        handled_fs = _FS_WRITE if readable_only_elsewhere else _FS_WRITE | _FS_READ
        attr = _RulesetAttr(handled_fs, _NET_BIND_TCP | _NET_CONNECT_TCP, _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET)
        ruleset_fd = _syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                              ctypes.c_uint32(0))
        try:
            for root in roots:
                _add_rule(ruleset_fd, root, _FS_WRITABLE_GRANT | (0 if readable_only_elsewhere else _FS_READ))
            for device in _DATA_FREE_DEVICES:
                _add_rule(ruleset_fd, device, _FS_WRITE_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV)
            if not readable_only_elsewhere:
                for root in _readable_roots(roots):
                    _add_rule(ruleset_fd, root, _FS_READ)
            _syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0))
        finally:
            os.close(ruleset_fd)
    except OSError as exc:
        raise ConfinementError(f"Landlock could not be applied: {exc.strerror}") from None
