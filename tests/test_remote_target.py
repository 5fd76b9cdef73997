"""Outside code in its own process (killmatrix/outside/remote_target.py): what comes back, what goes wrong.

Each test starts a real worker on a small outside module written to a temp folder; what it checks is
named in its docstring, with the bug in remote_target, target_worker or remote_wire it catches.
"""

from __future__ import annotations

import inspect
import os
import pickle
import textwrap
import time

import numpy as np
import pytest

from killmatrix.outside import remote_wire
from killmatrix.outside.adapters import parse_spec
from killmatrix.outside.remote_target import (
    OutsideError,
    RemoteFunction,
    TargetLoadError,
    TargetProcessDied,
    TargetProtocolError,
    TargetTimeout,
    profiled_calls,
)
from killmatrix.outside.remote_wire import PICKLE, PLAIN, Channel, ProtocolError

OUTSIDE = '''
    import dataclasses
    import fcntl
    import os
    import pickle
    import time

    import numpy as np


    class Hypothesis:
        __slots__ = ("tokens", "_logprob")

        def __init__(self, tokens, logprob):
            self.tokens, self._logprob = tokens, logprob

        @property
        def logprob(self):
            return self._logprob

        score = property(lambda self: self._logprob / 2)
        finished = property(lambda self: True)


    def plain(Q, K, V, tile_size, causal=True, *, observer=None):
        return {"array": np.arange(6, dtype=np.float32).reshape(2, 3), "scalar": np.float32(1.5),
                "nested": (1, [2.5, None, "x"], {"k": True}), "hyp": Hypothesis((3, 4), -1.0)}


    @dataclasses.dataclass
    class TileUpdate:
        q_range: tuple
        m: np.ndarray


    def calls_back(model, observer):
        logits = [model([[1, 2]]), model([[1, 2, 3], [4]])]
        observer(TileUpdate((0, 2), np.zeros(3)))
        return [np.asarray(x).shape for x in logits], model.vocab_size


    def draws(rng, n):
        if not (callable(getattr(rng, "random", None)) and callable(getattr(rng, "choice", None))):
            raise TypeError(f"rng must have random() and choice(), got {type(rng).__name__}")
        drawn = [float(rng.random()) for _ in range(n)] + [int(rng.choice(3, p=np.array([0.0, 1.0, 0.0])))]
        return drawn, isinstance(rng, np.random.Generator)


    def swallows_callback_errors(observer):
        try:
            observer(1)
        except BaseException:
            pass
        return "went on"


    class Odd(Exception):
        pass


    def raises(kind):
        if kind == "value":
            raise ValueError("tile_size must be positive")
        if kind == "zero":
            return 1 / 0
        if kind == "os":
            raise OSError(27, "File too large")
        if kind == "odd":
            raise Odd("strange")
        if kind == "exit":
            raise SystemExit(0)
        raise KeyboardInterrupt


    def pid_or_exit(exit_now):
        if exit_now:
            os._exit(0)
        return os.getpid()


    def hangs(really=True):
        while really:
            time.sleep(0.01)
        return os.getpid()


    def environment():
        return dict(os.environ), os.getcwd()


    def signals_parent():
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.kill(os.getppid(), signal.SIGURG)  # harmless if it ever got through
        return result, ctypes.get_errno()


    def allocates(n_bytes):
        return int(np.ones(n_bytes, np.uint8).sum())


    class Exploit:
        """Unpickling this runs a command: what a hostile reply carries."""

        def __init__(self, marker):
            self.marker = marker

        def __reduce__(self):
            return os.system, (f"touch {self.marker}",)


    def forges_a_pickle_reply(marker):
        # Find the protocol pipe this process writes to and put a pickle there, ahead of the real reply.
        payload = {"op": "result", "value": Exploit(marker)}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                is_pipe = os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
                writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
            except OSError:
                continue
            if is_pipe and writable:
                body = pickle.dumps(payload)
                os.write(fd, b"P" + len(body).to_bytes(8, "little") + body)
        return 0
'''


class Exploit:
    """Unpickling this runs a command: what a hostile reply carries."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    path = tmp_path_factory.mktemp("outside") / "outside.py"
    path.write_text(textwrap.dedent(OUTSIDE))
    made = []

    def remote(func):
        function = RemoteFunction(parse_spec(f"{path}:{func}", "flash"))
        made.append(function)
        return function

    yield remote
    for function in made:
        function.close()


def test_results_come_back_as_plain_data(outside):
    """Arrays (writable), NumPy scalars, tuples, lists, dicts, and an object with slots and properties
    turned into a dict (catches a worker that sends objects, or a decoder that loses a type)."""
    got = outside("plain")(1, 2, 3, 4)
    assert got["array"].dtype == np.float32 and got["array"].shape == (2, 3) and got["array"].flags.writeable
    assert got["scalar"] == np.float32(1.5) and isinstance(got["scalar"], np.float32)
    assert got["nested"] == (1, [2.5, None, "x"], {"k": True})
    assert got["hyp"] == {"tokens": (3, 4), "logprob": -1.0, "score": -0.5, "finished": True}


def test_signature_is_reported_for_feature_detection(outside):
    """The worker reports the parameters, defaults included (catches a `causal` default lost on the way:
    the causal-default test reads it)."""
    signature = inspect.signature(outside("plain"))
    assert list(signature.parameters) == ["Q", "K", "V", "tile_size", "causal", "observer"]
    assert signature.parameters["causal"].default is True
    assert signature.parameters["observer"].kind is inspect.Parameter.KEYWORD_ONLY


def test_callables_run_here_and_see_read_only_arrays(outside):
    """A model and an observer stay in this process: calls are counted here, attributes are read here,
    and the observer's arrays cannot be written (catches callables pickled into the worker)."""

    class Model:
        vocab_size = 7

        def __init__(self):
            self.calls = []

        def __call__(self, seqs):
            self.calls.append(seqs)
            return np.zeros((len(seqs), self.vocab_size))

    updates = []

    def observer(update):
        with pytest.raises(ValueError, match="read-only"):
            update.m[...] = 1.0
        updates.append(update.q_range)

    model = Model()
    shapes, vocab = outside("calls_back")(model, observer)
    assert model.calls == [[[1, 2]], [[1, 2, 3], [4]]]
    assert shapes == [(1, 7), (2, 7)] and vocab == 7
    assert updates == [(0, 2)]


def test_a_random_generator_draws_as_if_here(outside):
    """A NumPy Generator reaches the outside code as a Generator (it may check the type or hand it to NumPy)
    and the caller's moves by exactly the draws made there: a second call goes on from where the first
    left it. A scripted source of uniforms stays here and is called back. Catches a generator pickled into
    the worker and left there, whose copy replays the same draws on every call (DFlash's sampling judged on
    repeated draws, the reference's goodness of fit failed), and a scripted rng copied away unseen."""
    rng, same = np.random.default_rng(7), np.random.default_rng(7)
    remote = outside("draws")
    first, second = remote(rng, 2), remote(rng=rng, n=2)
    expected = [[float(same.random()) for _ in range(2)] + [int(same.choice(3, p=[0.0, 1.0, 0.0]))] for _ in "ab"]
    assert [first, second] == [(expected[0], True), (expected[1], True)] and expected[0] != expected[1]
    assert rng.random() == same.random()

    class Scripted:
        def __init__(self):
            self.calls = []

        def random(self):
            self.calls.append("random")
            return 0.25

        def choice(self, n, p=None):
            self.calls.append("choice")
            return 2

    scripted = Scripted()
    assert remote(scripted, 1) == ([0.25, 2], False) and scripted.calls == ["random", "choice"]


def test_an_exception_in_a_callable_is_re_raised_as_the_original(outside):
    """Even when the outside code swallows it and answers (catches an assertion of an observer lost
    in the worker: the test would pass)."""

    class ObserverSaysNo(AssertionError):
        pass

    raised = ObserverSaysNo("l > n")

    def observer(update):
        raise raised

    with pytest.raises(ObserverSaysNo) as info:
        outside("swallows_callback_errors")(observer)
    assert info.value is raised


@pytest.mark.parametrize(
    ("kind", "expected", "message"),
    [
        ("value", ValueError, "tile_size must be positive"),
        ("zero", ZeroDivisionError, "division by zero"),
        ("os", OSError, r"\[Errno 27\] File too large"),
        ("odd", OutsideError, "Odd: strange"),
        ("exit", OutsideError, "SystemExit: 0"),
        ("interrupt", OutsideError, "KeyboardInterrupt"),
    ],
)
def test_outside_exceptions_map_to_builtins_or_outside_error(outside, kind, expected, message):
    """A builtin exception comes back as itself (a bad-input test's pytest.raises(ValueError) still
    works); anything else, SystemExit and KeyboardInterrupt included, as OutsideError — never as an
    exit or an interrupt of the test process (catches SystemExit re-raised here)."""
    with pytest.raises(expected, match=message) as info:
        outside("raises")(kind)
    assert type(info.value) is expected


def test_a_worker_that_ends_mid_call_is_an_error_and_the_next_call_gets_a_new_one(outside):
    """os._exit(0) is no answer (catches the original bug: exit 0 during a call read as a pass)."""
    function = outside("pid_or_exit")
    first = function(False)
    with pytest.raises(TargetProcessDied, match=r"ended \(exit 0\) during the call"):
        function(True)
    assert function(False) != first


def test_a_hung_call_is_cut_at_its_deadline_and_its_process_killed(outside, monkeypatch):
    """(Catches a call that waits forever: the test process would hang until its watchdog.)"""
    function = outside("hangs")
    pid = function(False)  # started without a deadline: a worker's start-up counts in its first call's
    monkeypatch.setenv("KILLMATRIX_CALL_TIMEOUT", "1")
    start = time.monotonic()
    with pytest.raises(TargetTimeout, match="no answer from the implementation within"):
        function()
    assert time.monotonic() - start < 5
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_worker_sees_no_killmatrix_variable_and_runs_in_its_own_folder(outside, monkeypatch):
    """(Catches the outcome file's path leaking to the outside code through the environment.)"""
    monkeypatch.setenv("KILLMATRIX_OUTCOMES", "/tmp/outcomes.jsonl")
    function = outside("environment")
    environ, cwd = function()
    assert not [name for name in environ if name.startswith("KILLMATRIX")]
    assert os.path.basename(cwd).startswith("killmatrix-worker-")
    assert environ["TMPDIR"] == cwd


def test_the_worker_cannot_signal_the_test_process(outside):
    """Landlock's signal scope refuses a raw kill(2) to the parent (catches an unconfined worker)."""
    result, errno_ = outside("signals_parent")()
    assert (result, errno_) == (-1, 1)  # EPERM


def test_unconfinable_worker_is_a_load_error_unless_allowed(tmp_path, monkeypatch):
    """(Catches outside code run unconfined on a machine without Landlock, silently.)"""
    path = tmp_path / "f.py"
    path.write_text("def f():\n    return 1\n")
    monkeypatch.setenv("KILLMATRIX_ASSUME_NO_LANDLOCK", "1")
    refused = RemoteFunction(parse_spec(f"{path}:f", "flash"))
    with pytest.raises(TargetLoadError, match="cannot be confined"):
        refused()
    monkeypatch.setenv("KILLMATRIX_ALLOW_NO_ISOLATION", "1")
    allowed = RemoteFunction(parse_spec(f"{path}:f", "flash"))
    assert allowed() == 1
    allowed.close()


@pytest.mark.parametrize("tracer", ["memray", "tracemalloc"])
def test_memory_is_measured_in_the_worker(outside, tracer):
    """A 16 MiB buffer allocated there shows in the profile (catches a profile of this process, which
    allocates nothing of the sort)."""
    function = outside("allocates")
    with profiled_calls(tracer) as measured:
        assert function(16 * 2**20) == 16 * 2**20
    (memory,) = measured
    assert memory.peak >= 16 * 2**20
    if tracer == "memray":
        assert memory.largest_allocation >= 16 * 2**20


def test_a_worker_that_sends_a_pickle_is_cut_off_unread(outside, tmp_path):
    """Outside code writes a pickle that would run a command onto the protocol pipe: refused, the
    command never runs (catches a decoder that unpickles what the worker sends)."""
    marker = tmp_path / "exploited"
    with pytest.raises(TargetProtocolError, match="malformed reply"):
        outside("forges_a_pickle_reply")(str(marker))
    assert not marker.exists()


def _frame_channel(frame: bytes) -> Channel:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, frame)
    os.close(write_fd)
    return Channel(read_fd, os.open(os.devnull, os.O_WRONLY), wait=lambda fd, writing: None)


def _plain_frame(header: dict, body: bytes = b"") -> bytes:
    data = remote_wire.json.dumps(header).encode()
    return PLAIN + len(data).to_bytes(8, "little") + data + body


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(None, id="pickle-running-os.system"),
        pytest.param(_plain_frame({"tree": ["d", [["op", "result"], ["value", ["a", 0]]]],
                                   "buffers": [["|O", [1]]]}, b"\0" * 8), id="object-dtype"),
        pytest.param(_plain_frame({"tree": ["d", [["op", "result"], ["value", ["x", 0]]]], "buffers": []}),
                     id="unknown-tag"),
        pytest.param(_plain_frame({"tree": ["d", [["op", "result"], ["value", ["a", 3]]]], "buffers": []}),
                     id="array-index-out-of-range"),
        pytest.param(PLAIN + (9).to_bytes(8, "little") + b"{not json", id="not-json"),
        pytest.param(_plain_frame({"tree": ["d", [["op", "result"]]], "buffers": [["<f8", [4]]]}, b"\0" * 8),
                     id="cut-short"),
        pytest.param(PLAIN + (2**40).to_bytes(8, "little"), id="huge-header"),
    ],
)
def test_the_decoder_refuses_hostile_frames(tmp_path, frame):
    """Only plain data is decoded (catches pickle.loads on worker output: the first frame would run
    `touch` here)."""
    marker = tmp_path / "exploited"
    if frame is None:
        body = pickle.dumps({"op": "result", "value": Exploit(str(marker))})
        frame = PICKLE + len(body).to_bytes(8, "little") + body
    with pytest.raises((ProtocolError, remote_wire.PeerGone)):
        _frame_channel(frame).receive(trusting=False)
    assert not marker.exists()


def test_the_decoder_refuses_deep_nesting():
    """(Catches a RecursionError, or a crash, on a reply nested past any result's depth.)"""
    tree = "x"
    for _ in range(remote_wire.MAX_DEPTH + 5):
        tree = ["l", [tree]]
    with pytest.raises(ProtocolError, match="deep"):
        _frame_channel(_plain_frame({"tree": ["d", [["op", "result"], ["value", tree]]], "buffers": []})
                       ).receive(trusting=False)


def test_encoding_round_trips_what_results_hold():
    """(Catches a lost dtype, shape or container kind between the worker and this process.)"""
    value = {"a": np.arange(12, dtype=np.int16).reshape(3, 4), "b": [np.float64(2.5), (np.bool_(True), "s")],
             "c": np.array([["x", "yz"]]), 4: None}
    buffers: list = []
    tree = remote_wire.encode(value, buffers)
    back = remote_wire.decode(tree, [np.array(b) for b in buffers])
    assert back.keys() == value.keys()
    assert back["a"].dtype == np.int16 and np.array_equal(back["a"], value["a"])
    assert back["b"] == [2.5, (True, "s")] and isinstance(back["b"][0], np.float64)
    assert np.array_equal(back["c"], value["c"])


def test_unsendable_values_are_named():
    """(Catches a worker that would send a function or a generator as something else.)"""
    with pytest.raises(remote_wire.UnsendableValue, match="function"):
        remote_wire.encode(lambda: 1, [])
    with pytest.raises(remote_wire.UnsendableValue, match="dtype"):
        remote_wire.encode(np.zeros(2, dtype=[("a", "i4")]), [])
