"""Outside code runs in a worker process; the tests, the oracles and the outcome records stay here.

`RemoteFunction(spec)` is called like the outside function itself. The first call starts a worker
(`python -m killmatrix.outside.target_worker`, killmatrix/outside/target_worker.py) that confines itself and imports the
outside module; later calls reuse it. Arguments go there pickled; results come back as plain data
(killmatrix/outside/remote_wire.py) that cannot run code here. Callable arguments (a beam model, an observer)
stay here: the worker calls back, so a test still counts the model's calls and an observer's assertion
fails the test as it would in process.

What the worker does to itself — patch the oracle modules, exit, raise SystemExit, kill its own
process — cannot forge a pass: the process that records outcomes never ran its code. A worker that
ends during a call raises `TargetProcessDied`, one that does not answer in time `TargetTimeout`; both
derive from BaseException, so no `except Exception` (the outside code's, a test's `pytest.raises(Exception)`,
a feature probe's) takes them for an answer, and Hypothesis does not shrink by calling a dying process again.
Loaded as a pytest plugin (`-p killmatrix.outside.remote_target`, as `check` does) it also times each call to
end before the test's own watchdog (killmatrix/plugins/sandbox_plugin.py) would kill the whole test process.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import ctypes
import inspect
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import killmatrix
from killmatrix.outside.remote_wire import Channel, Handle, PeerGone, ProtocolError, wait_for
from killmatrix.outside.target_worker import LOG_NAME, REFUSALS_NAME
from killmatrix.plugins.sandbox_plugin import LOG_ENV, SLOW_TIMEOUT_ENV, TIMEOUT_ENV
from killmatrix.sandbox import write_guard
from killmatrix.sandbox.confinement import ASSUME_NO_LANDLOCK_ENV
from killmatrix.sandbox.limits import GiB, Limits, MiB, _limit_child

CALL_TIMEOUT_ENV = "KILLMATRIX_CALL_TIMEOUT"
ALLOW_UNCONFINED_ENV = "KILLMATRIX_ALLOW_NO_ISOLATION"
LOG_TAIL_CHARS = 300
_PR_SET_PDEATHSIG = 1
# Resolved at import, in the parent: looking a symbol up after fork could deadlock.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


class TargetProcessFailure(BaseException):
    """The implementation's process did not answer the call: never a result to judge."""


class TargetProcessDied(TargetProcessFailure):
    """The implementation's process ended (exited, crashed, was killed) during a call."""


class TargetTimeout(TargetProcessFailure):
    """No answer within the call's deadline; the worker was killed."""


class TargetProtocolError(TargetProcessFailure):
    """The implementation's process sent something the protocol does not allow (a forged or garbled reply)."""


class TargetLoadError(TargetProcessFailure):
    """The implementation could not be loaded (or confined) in its process."""


class OutsideError(Exception):
    """An exception of the outside code whose type is not a builtin one: `OutsideError("TypeName: message")`."""


@dataclass(frozen=True)
class CallMemory:
    """Memory of one call, measured in the process that ran it."""

    tracer: str  # memray | tracemalloc
    peak: int  # bytes
    largest_allocation: int | None  # bytes; None under tracemalloc, which does not record it
    allocations: int | None = None  # number of allocations made during the call (memray only)
    allocated_bytes: int | None = None  # their total size, freed or not (memray only)


# ---- the call deadline: before the test's own watchdog fires ----

_test_end: float | None = None  # monotonic time a little before the running test's watchdog fires


def _timeout_env(name: str) -> float:
    try:
        return float(os.environ.get(name, "0") or 0)
    except ValueError:
        return 0.0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """(As a plugin.) The running test's time limit, as the watchdog of killmatrix/plugins/sandbox_plugin.py sets it."""
    global _test_end
    limit = _timeout_env(TIMEOUT_ENV)
    if item.get_closest_marker("slow"):
        limit = _timeout_env(SLOW_TIMEOUT_ENV) or limit
    # A margin so the call is cut (TargetTimeout, the test process goes on) before the watchdog fires
    # (the whole test process exits and the rest of the suite restarts in a new one).
    _test_end = time.monotonic() + limit - min(2.0, 0.2 * limit) if limit > 0 else None


def _call_deadline(now: float) -> float | None:
    """When a call starting now must have answered: KILLMATRIX_CALL_TIMEOUT from now, and before the
    test's watchdog; without the plugin, KILLMATRIX_TEST_TIMEOUT from now; else never."""
    explicit = _timeout_env(CALL_TIMEOUT_ENV)
    candidates = [now + explicit] if explicit > 0 else []
    if _test_end is not None:
        candidates.append(max(_test_end, now + 0.5))
    elif not candidates and _timeout_env(TIMEOUT_ENV) > 0:
        candidates.append(now + _timeout_env(TIMEOUT_ENV))
    return min(candidates, default=None)


# ---- memory profiling of remote calls ----

class _Measured(list):
    """The CallMemory of each remote call made in a `profiled_calls` block."""

    def __init__(self, tracer: str):
        super().__init__()
        self.tracer = tracer


_profilers: list[_Measured] = []


def pytest_configure(config):
    """(As a plugin.) The suite's memory properties measure outside calls through `profiled_calls`: the
    calls run in the worker's process, where the suite's own tracer cannot see them."""
    try:
        from adversarial import attention_memory
    except ImportError:  # a suite without memory properties
        return
    if profiled_calls not in attention_memory.OUT_OF_PROCESS_PROFILERS:
        attention_memory.OUT_OF_PROCESS_PROFILERS.append(profiled_calls)


@contextlib.contextmanager
def profiled_calls(tracer: str) -> Iterator[list[CallMemory]]:
    """Every remote call made inside the block is measured in its own process with `tracer`
    ("memray" or "tracemalloc"); the list fills with one CallMemory per call."""
    if tracer not in ("memray", "tracemalloc"):
        raise ValueError(f"tracer must be 'memray' or 'tracemalloc', got {tracer!r}")
    measured = _Measured(tracer)
    _profilers.append(measured)
    try:
        yield measured
    finally:
        _profilers.remove(measured)


# ---- the worker ----

def _describe_end(returncode: int | None) -> str:
    if returncode is None:
        return "closed its pipe"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit {returncode}"


class _Expired(Exception):
    pass


def _soft_limit(which: int, default: int) -> int:
    soft, _ = resource.getrlimit(which)
    return default if soft == resource.RLIM_INFINITY else soft


def _prepare_child():
    """The worker's rlimits, those of this process (address space, file size; no core), and its death
    with this process, whoever kills it. (Confinement is the worker's first act: a refusal is then
    reported as a load error instead of a failed start.)"""
    limit = _limit_child(Limits(memory_bytes=_soft_limit(resource.RLIMIT_AS, 6 * GiB),
                                file_bytes=_soft_limit(resource.RLIMIT_FSIZE, 32 * MiB)))

    def apply() -> None:
        limit()
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return apply


class _Worker:
    """One worker process and its scratch folder."""

    def __init__(self, spec, deadline: float | None):
        self.deadline = deadline
        self.scratch = Path(tempfile.mkdtemp(prefix="killmatrix-worker-"))
        self.refusals_seen = 0
        self.log_start = 0
        config = {"location": spec.location, "func": spec.func, "is_file": spec.is_file,
                  "scratch": str(self.scratch), "parent": os.getpid(),
                  "allow_unconfined": os.environ.get(ALLOW_UNCONFINED_ENV) == "1",
                  "assume_no_landlock": bool(os.environ.get(ASSUME_NO_LANDLOCK_ENV))}
        paths = [str(Path(killmatrix.__file__).resolve().parent.parent)]
        if spec.is_file:
            paths.append(str(Path(spec.location).parent))
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.scratch), "TMPDIR": str(self.scratch),
               "PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        preexec = _prepare_child()
        with open(self.scratch / LOG_NAME, "ab") as log, write_guard.trusted_process_control():
            self.proc = subprocess.Popen(
                [sys.executable, "-s", "-m", "killmatrix.outside.target_worker", json.dumps(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=self.scratch, env=env,
                start_new_session=True, preexec_fn=preexec,
            )
        self.channel = Channel(self.proc.stdout.fileno(), self.proc.stdin.fileno(), wait=self._wait)

    def _wait(self, fd: int, for_writing: bool) -> None:
        while True:
            left = None if self.deadline is None else self.deadline - time.monotonic()
            if left is not None and left <= 0:
                raise _Expired
            if wait_for(fd, for_writing, 0.5 if left is None else min(0.5, left)):
                return
            # A grandchild may hold the pipe open after the worker itself ended.
            if self.proc.poll() is not None:
                raise PeerGone

    def mark_log(self) -> None:
        """Where the output of the call about to start begins."""
        with contextlib.suppress(OSError):
            self.log_start = (self.scratch / LOG_NAME).stat().st_size

    def log_tail(self) -> str:
        """The last lines the worker printed since `mark_log`."""
        try:
            with open(self.scratch / LOG_NAME, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(self.log_start, fh.tell() - 4 * LOG_TAIL_CHARS))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return " | ".join(lines)[-LOG_TAIL_CHARS:]

    def end(self) -> str:
        """Stop the worker's whole process group; how it ended."""
        with contextlib.suppress(ProcessLookupError), write_guard.trusted_process_control():
            os.killpg(self.proc.pid, signal.SIGKILL)
        try:
            returncode = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            returncode = None
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        return _describe_end(returncode)

    def how_it_ended(self) -> str:
        """After the pipe closed: the worker's exit status (it is gone, or about to be)."""
        try:
            returncode = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            returncode = None
        self.end()
        return _describe_end(returncode)

    def new_refusals(self) -> list[dict]:
        attempts = write_guard.read_attempts(self.scratch / REFUSALS_NAME)
        fresh, self.refusals_seen = attempts[self.refusals_seen:], len(attempts)
        return fresh

    def remove_scratch(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def _report_refusals(worker: _Worker) -> None:
    """What the worker's write guard refused counts against the running test, as if refused here."""
    log = os.environ.get(LOG_ENV)
    fresh = worker.new_refusals()
    if not log or not fresh:
        return
    nodeid = os.environ.get("PYTEST_CURRENT_TEST", "<outside any test>").rsplit(" (", 1)[0]
    with open(log, "a", encoding="utf-8") as fh:
        for record in fresh:
            # The worker wrote these: keep only short strings, and charge them to the test that ran.
            fields = {k: str(v)[:300] for k, v in record.items() if k != "nodeid" and isinstance(k, str)} \
                if isinstance(record, dict) else {"attempt": "?"}
            fh.write(json.dumps({**fields, "nodeid": nodeid}) + "\n")


def stays_here(value: object) -> bool:
    """Whether an argument stays in this process, the worker getting a stand-in that calls back: a callable (a
    model, an observer), and any other source of random numbers (anything with a callable `random`: a test's
    scripted uniforms). A copy would draw in the worker, leaving this one where it was: every call would
    replay the same draws, and a test scripting them would see none. A NumPy Generator travels as a copy
    instead (the outside code may check its type or hand it to NumPy) and its end state comes back
    (`_move_generators`)."""
    if isinstance(value, type | np.random.Generator):
        return False
    return callable(value) or callable(getattr(value, "random", None))


def _move_generators(args: tuple, kwargs: dict, states: object) -> None:
    """Set each NumPy Generator argument to the state its copy reached in the worker, as if it drew here."""
    if not isinstance(states, list):
        raise TargetProtocolError("the implementation's process sent a malformed generator state list")
    for entry in states:
        try:
            where, key, state = entry
            original = args[key] if where == "a" else kwargs[key]
            if not isinstance(original, np.random.Generator):
                raise TypeError(f"argument {key!r} is not a Generator")
            original.bit_generator.state = state
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise TargetProtocolError(f"the implementation's process sent a bad generator state: {exc}") from None


def _outside_exception(message: dict) -> BaseException:
    """The worker's report of an exception, as the builtin exception of that name when there is one."""
    name, text = str(message.get("type", "")), str(message.get("message", ""))
    args = message.get("args")
    cls = getattr(builtins, name, None) if name.isidentifier() else None
    exc: BaseException | None = None
    if isinstance(cls, type) and issubclass(cls, Exception):
        for attempt in ((args,) if isinstance(args, list) else ()) + ([text],):
            try:
                exc = cls(*attempt)
                break
            except Exception:  # noqa: BLE001 (a builtin whose constructor wants other arguments)
                continue
    if exc is None:
        exc = OutsideError(f"{name}: {text}" if text else name)
    trace = str(message.get("traceback", ""))
    if trace:
        exc.add_note(f"(raised in the implementation's process)\n{trace}")
    return exc


class RemoteFunction:
    """The outside function `spec` (with .location, .func, .is_file, .label), run in a worker process."""

    def __init__(self, spec):
        self.spec = spec
        self.__name__ = spec.func
        self._worker: _Worker | None = None
        self._params: list[dict] | None = None
        self._load_error: str | None = None
        _live.append(self)

    def __repr__(self) -> str:
        return f"<{self.spec.label} in its own process>"

    # -- the worker's life --

    def _ready_worker(self, deadline: float | None) -> _Worker:
        if self._load_error is not None:
            raise TargetLoadError(self._load_error)
        if self._worker is not None:
            self._worker.deadline = deadline
            return self._worker
        worker = _Worker(self.spec, deadline)
        message = self._receive(worker, "while loading")
        if message["op"] == "load_error":
            self._load_error = f"the implementation did not load in its process: {message.get('error', '')}"
            self._discard(worker)
            raise TargetLoadError(self._load_error)
        if message["op"] != "loaded":
            self._discard(worker)
            raise TargetProtocolError(f"the implementation's process sent {message['op']!r} instead of loading")
        self._params = message["params"] if isinstance(message["params"], list) else None
        self._worker = worker
        return worker

    def _discard(self, worker: _Worker) -> str:
        how = worker.end()
        worker.remove_scratch()
        if self._worker is worker:
            self._worker = None
        return how

    def _receive(self, worker: _Worker, when: str) -> dict:
        """The next message, or the worker's end turned into the exception that names it."""
        try:
            return worker.channel.receive(trusting=False)
        except PeerGone:
            how = worker.how_it_ended()
            tail = worker.log_tail()
            _report_refusals(worker)
            self._discard(worker)
            raise TargetProcessDied(f"the implementation's process ended ({how}) {when}"
                                    + (f"; its last output: {tail}" if tail else "")) from None
        except _Expired:
            seconds = time.monotonic() - self._call_started
            self._discard(worker)
            raise TargetTimeout(f"no answer from the implementation within {seconds:.1f} s "
                                "(the call hung or was too slow); its process was killed") from None
        except ProtocolError as exc:
            self._discard(worker)
            raise TargetProtocolError(f"the implementation's process sent a malformed reply ({exc}); "
                                      "its process was killed") from None

    def _send(self, worker: _Worker, message: dict, when: str) -> None:
        try:
            worker.channel.send_pickle(message)
        except (PeerGone, _Expired):
            # The reason (death or deadline) shows on the next read.
            self._receive(worker, when)
            raise TargetProtocolError("the implementation's process stopped reading") from None

    def close(self) -> None:
        if self._worker is not None:
            self._discard(self._worker)

    # -- what the tests see --

    @property
    def __signature__(self) -> inspect.Signature:
        self._call_started = time.monotonic()
        self._ready_worker(_call_deadline(self._call_started))
        if self._params is None:
            raise ValueError(f"{self.spec.label} has no signature")
        parameters = []
        for p in self._params:
            kind = getattr(inspect.Parameter, str(p.get("kind")), None)
            if not isinstance(kind, inspect._ParameterKind):
                raise ValueError(f"{self.spec.label}: parameter kind {p.get('kind')!r}")
            default = inspect.Parameter.empty
            if p.get("has_default"):
                default = p.get("default") if not p.get("default_repr") else _RemoteDefault(str(p["default_repr"]))
            parameters.append(inspect.Parameter(str(p.get("name")), kind, default=default))
        return inspect.Signature(parameters)

    def __call__(self, *args, **kwargs):
        measured = _profilers[-1] if _profilers else None
        result, memory = self._call(args, kwargs, measured)
        if measured is not None and memory is not None:
            measured.append(memory)
        return result

    def _call(self, args: tuple, kwargs: dict, measured: list | None):
        self._call_started = time.monotonic()
        worker = self._ready_worker(_call_deadline(self._call_started))
        callables: list = []

        def handle(value):
            if stays_here(value):
                callables.append(value)
                return Handle(len(callables) - 1)
            return value

        profile = None
        if measured is not None:
            profile = {"tracer": measured.tracer, "capture": f"profile-{time.monotonic_ns()}.bin"}
        message = {"op": "call", "args": [handle(a) for a in args],
                   "kwargs": {k: handle(v) for k, v in kwargs.items()}, "profile": profile}
        worker.mark_log()
        aborted: BaseException | None = None
        answered = False
        try:
            self._send(worker, message, "during the call")
            while True:
                reply = self._receive(worker, "during the call")
                if reply["op"] not in ("callback", "getattr"):
                    answered = reply["op"] in ("result", "error") or (reply["op"] == "aborted" and aborted is not None)
                    break
                aborted = self._serve_callback(worker, reply, callables, aborted)
        finally:
            if not answered and self._worker is worker:
                # Cut short (an interrupt here, a stray reply): the worker may still be mid-call.
                self._discard(worker)
        _report_refusals(worker)
        if not answered:
            raise TargetProtocolError(f"the implementation's process sent {reply['op']!r} in answer to a call")
        if aborted is not None:
            raise aborted
        if reply["op"] == "error":
            raise _outside_exception(reply)
        _move_generators(args, kwargs, reply.get("generators", []))
        return reply.get("value"), self._memory(worker, profile, reply.get("profile"))

    def _serve_callback(self, worker: _Worker, request: dict, callables: list, aborted: BaseException | None):
        """Run a callable of this process for the worker; once one has raised, refuse the rest.
        Returns the exception that aborts the call, if any."""
        index = request.get("handle")
        if aborted is not None or type(index) is not int or not 0 <= index < len(callables):
            self._send(worker, {"op": "abort"}, "during a callback")
            return aborted or TargetProtocolError("the implementation's process called back an unknown handle")
        target = callables[index]
        try:
            if request["op"] == "getattr":
                name = str(request.get("name", ""))
                if name.startswith("_") or not hasattr(target, name):
                    self._send(worker, {"op": "no_attribute",
                                        "message": f"{type(target).__name__!r} has no attribute {name!r}"},
                               "during a callback")
                    return None
                value = getattr(target, name)
                if stays_here(value):
                    callables.append(value)
                    value = Handle(len(callables) - 1)
            else:
                args, kwargs = request.get("args", []), request.get("kwargs", {})
                if not isinstance(args, list) or not isinstance(kwargs, dict):
                    raise TargetProtocolError("the implementation's process sent malformed callback arguments")
                value = target(*args, **{str(k): v for k, v in kwargs.items()})
            self._send(worker, {"op": "value", "value": value}, "during a callback")
        except TargetProcessFailure:
            raise
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test as the original, once the call unwinds)
            self._send(worker, {"op": "abort"}, "during a callback")
            return exc
        return None

    def _memory(self, worker: _Worker, requested: dict | None, reported) -> CallMemory | None:
        if requested is None:
            return None
        if requested["tracer"] == "tracemalloc":
            # The worker's own word: a hostile implementation could report any peak it likes.
            peak = reported.get("peak") if isinstance(reported, dict) else None
            if type(peak) is not int or peak < 0:
                raise TargetProtocolError("the implementation's process sent no tracemalloc peak")
            return CallMemory("tracemalloc", peak, None)
        import memray

        # The suite's reading of a capture: measured calls only happen inside its memory properties.
        from adversarial.attention_memory import allocation_sizes

        capture = worker.scratch / requested["capture"]
        if capture.is_symlink() or not capture.is_file():
            raise TargetProtocolError("the implementation's process left no memray capture")
        reader = memray.FileReader(capture)
        sizes = allocation_sizes(reader)
        peak = reader.metadata.peak_memory
        del reader
        capture.unlink(missing_ok=True)
        return CallMemory("memray", peak, max(sizes, default=0), len(sizes), sum(sizes))



class _RemoteDefault:
    """A default value of the outside function that is not plain data: shown by its repr."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


_live: list[RemoteFunction] = []


@atexit.register
def _close_all() -> None:
    for function in _live:
        with contextlib.suppress(Exception):
            function.close()
