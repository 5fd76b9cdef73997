"""`python -m killmatrix.outside.target_worker CONFIG`: the process in which outside code runs.

The test process (killmatrix/outside/remote_target.py) starts it with a minimal environment in a fresh scratch
folder, its own process group and its own rlimits, and speaks to it over stdin/stdout. Before the
outside module is imported, the worker confines itself (killmatrix/sandbox/confinement.py: writes only beneath
its scratch, no signals to anything outside, no network) and installs the write guard, then moves the
protocol off fds 0 and 1 so that whatever the outside code prints lands in a log file, not in a reply.

Whatever the outside code does here — patch the oracles, exit, raise SystemExit, print — touches only
this process: the tests, the oracles and the outcome records live in the test process. What it sends
back is plain data (killmatrix/outside/remote_wire.py), decoded there without unpickling.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from pathlib import Path

import numpy as np

from killmatrix.outside.remote_wire import Channel, Handle, PeerGone, ProtocolError, UnsendableValue

LOG_NAME = "output.log"
REFUSALS_NAME = "refusals.jsonl"
TRACEBACK_FRAMES = 4
TEXT_CHARS = 2000


class _CallbackAborted(BaseException):
    """The test process's callable raised: unwind the outside code (the test re-raises the original)."""


class _Callback:
    """Stands in for a callable of the test process (a beam model, an observer): each call goes back there."""

    def __init__(self, handle: int, channel: Channel):
        self._handle, self._channel = handle, channel

    def _ask(self, message: dict):
        self._channel.send_plain(message)
        reply = self._channel.receive(trusting=True)
        if reply["op"] == "abort":
            raise _CallbackAborted
        if reply["op"] == "no_attribute":
            raise AttributeError(reply["message"])
        return _with_callbacks(reply["value"], self._channel)

    def __call__(self, *args, **kwargs):
        return self._ask({"op": "callback", "handle": self._handle, "args": list(args), "kwargs": kwargs})

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._ask({"op": "getattr", "handle": self._handle, "name": name})


def _with_callbacks(value, channel: Channel):
    return _Callback(value.index, channel) if isinstance(value, Handle) else value


def _protocol_channel(scratch: Path) -> Channel:
    """Keep the protocol on private descriptors; fds 1 and 2 go to the log (capped by RLIMIT_FSIZE)."""
    read_fd, write_fd = os.dup(0), os.dup(1)
    log = os.open(scratch / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return Channel(read_fd, write_fd)


def _isolate(scratch: Path, allow_unconfined: bool, assume_no_landlock: bool) -> str | None:
    """Confine this process to its scratch folder; why not, when it cannot be and that is not allowed."""
    try:
        from killmatrix.sandbox import confinement
    except ImportError:
        reason = "killmatrix.sandbox.confinement is not available"
    else:
        if assume_no_landlock:  # confinement's test hook, passed on by the test process
            os.environ[confinement.ASSUME_NO_LANDLOCK_ENV] = "1"
        reason = confinement.unavailable_reason()
        if reason is None:
            try:
                confinement.confine([str(scratch)])
                return None
            except (confinement.ConfinementError, OSError, ValueError) as exc:
                reason = str(exc)
    if allow_unconfined:
        return None
    return (f"the implementation's process cannot be confined: {reason} "
            "(KILLMATRIX_ALLOW_NO_ISOLATION=1 runs it unconfined)")


def _one_line(exc: BaseException) -> str:
    try:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    except BaseException:  # noqa: BLE001 (an outside __str__ may raise anything)
        text = "<unprintable>"
    return f"{type(exc).__name__}: {text}"[:TEXT_CHARS] if text else type(exc).__name__


def _parameters(fn) -> list[dict] | None:
    """The function's parameters, for feature detection in the test process (its `__signature__`)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = []
    for p in signature.parameters.values():
        has_default = p.default is not inspect.Parameter.empty
        plain = p.default is None or isinstance(p.default, bool | int | float | str)
        params.append({"name": p.name, "kind": p.kind.name, "has_default": has_default,
                       "default": p.default if has_default and plain else None,
                       "default_repr": "" if not has_default or plain else repr(p.default)[:100]})
    return params


def _error_message(exc: BaseException) -> dict:
    """An exception of the outside code as plain data: type name, message, its args when plain, a short traceback."""
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001
        message = "<unprintable>"
    args = list(exc.args) if all(a is None or isinstance(a, bool | int | float | str) for a in exc.args) else None
    try:  # the outside code's frames only, without 3.11's caret lines
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
        trace = "".join(f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}\n'
                        for f in frames[-TRACEBACK_FRAMES:])[-TEXT_CHARS:]
    except BaseException:  # noqa: BLE001
        trace = ""
    return {"op": "error", "type": type(exc).__name__, "message": message[:TEXT_CHARS], "args": args,
            "traceback": trace}


def _warm_up_blas() -> None:
    # OpenBLAS maps its work buffer on its first matmul: the library's memory, not the call's.
    a = np.ones((256, 256), np.float32)
    a @ a


def _run(fn, args, kwargs, profile: dict | None, scratch: Path):
    """The call, measured when asked: memray writes its capture in scratch (the test process reads it
    itself); tracemalloc's peak is this process's word, which a hostile implementation could fake."""
    if profile is None:
        return fn(*args, **kwargs), None
    _warm_up_blas()
    if profile["tracer"] == "memray":
        import memray

        capture = scratch / profile["capture"]
        capture.unlink(missing_ok=True)
        with memray.Tracker(capture, native_traces=False):
            result = fn(*args, **kwargs)
        return result, {"tracer": "memray"}
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, {"tracer": "tracemalloc", "peak": peak}


def _serve_call(channel: Channel, fn, message: dict, scratch: Path) -> None:
    args = [_with_callbacks(a, channel) for a in message["args"]]
    kwargs = {k: _with_callbacks(v, channel) for k, v in message["kwargs"].items()}
    try:
        result, profile = _run(fn, args, kwargs, message.get("profile"), scratch)
        # The caller's Generators move as these copies did (killmatrix/outside/remote_target.py stays_here).
        generators = [[where, key, value.bit_generator.state]
                      for where, pairs in (("a", enumerate(args)), ("k", kwargs.items())) for key, value in pairs
                      if isinstance(value, np.random.Generator)]
        reply = {"op": "result", "value": result, "profile": profile, "generators": generators}
        del result, args, kwargs
        channel.send_plain(reply)  # encodes (may run outside properties) before writing a byte
    except PeerGone:
        raise
    except _CallbackAborted:
        channel.send_plain({"op": "aborted"})
    except UnsendableValue as exc:
        channel.send_plain(_error_message(TypeError(f"the implementation returned what cannot be checked: {exc}")))
    except BaseException as exc:  # noqa: BLE001 (SystemExit, KeyboardInterrupt: all are the call's errors)
        # The traceback holds the frames, which may hold all the memory a MemoryError ran out of.
        reply = _error_message(exc)
        traceback.clear_frames(exc.__traceback__)
        del exc
        channel.send_plain(reply)


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    scratch = Path(config["scratch"])
    channel = _protocol_channel(scratch)
    if os.getppid() != config["parent"]:
        return 0  # the test process ended before the death signal was armed
    problem = _isolate(scratch, config["allow_unconfined"], config["assume_no_landlock"])
    if problem is not None:
        channel.send_plain({"op": "load_error", "error": problem})
        return 0
    from killmatrix.sandbox import write_guard

    write_guard.install([str(scratch)], str(scratch / REFUSALS_NAME))
    write_guard.set_context("<loading the target>")
    try:
        from killmatrix.outside.adapters import TargetSpec, load_callable

        fn = load_callable(TargetSpec(config["location"], config["func"], config["is_file"]))
        params = _parameters(fn)
    except BaseException as exc:  # noqa: BLE001 (an import may raise anything, SystemExit included)
        channel.send_plain({"op": "load_error", "error": _one_line(exc)})
        return 0
    channel.send_plain({"op": "loaded", "params": params})
    write_guard.set_context("<call>")
    try:
        while True:
            try:
                message = channel.receive(trusting=True)
            except (PeerGone, ProtocolError):
                raise
            except Exception as exc:  # noqa: BLE001 (an argument whose class does not import here)
                channel.send_plain(_error_message(RuntimeError(
                    f"the arguments could not be passed to the implementation's process: {_one_line(exc)}")))
                continue
            if message["op"] == "call":
                _serve_call(channel, fn, message, scratch)
            elif message["op"] == "stop":
                return 0
    except (PeerGone, ProtocolError):
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
