"""The wire between the test process and the worker process that runs outside code.

A frame is one kind byte and its body:

- `P`, a pickle: written only by the test process (the worker trusts us); the test process refuses it.
- `J`, plain data: a JSON tree and the raw bytes of the arrays it names. This is all the worker may
  send back. Decoding it builds nothing but None, bool, int, float, str, lists, tuples, dicts and
  NumPy arrays and scalars of plain dtypes, so a hostile worker cannot get code run in the test
  process (a pickle could: its GLOBAL and REDUCE opcodes import and call whatever it names).

In a `J` tree a JSON scalar is itself; everything else is a pair `[tag, payload]`: `l`/`t` a list or
tuple of trees, `d` a dict as `[[key, value], ...]`, `o` an object sent as `[type name, [[attribute,
value], ...]]`, `a`/`s` an array or NumPy scalar by its index in the buffer list.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import pickle
import select
import struct
from collections.abc import Callable

import numpy as np

PICKLE, PLAIN = b"P", b"J"
_LENGTH = struct.Struct("<Q")
_BUFFER_KINDS = frozenset("biufcUSMm")  # bool, ints, floats, complex, strings, datetimes: no objects, no records
MAX_DEPTH = 64
_SMALL_FRAME = 1 << 20  # buffers up to this many bytes go out in the same write as the header
MAX_HEADER_BYTES = 256 * 2**20
MAX_BUFFER_BYTES = 2 * 2**30
_JSON_SCALARS = frozenset({type(None), bool, int, float, str})
# Attributes a beam hypothesis object is read by, even when they are properties (not in vars()).
KNOWN_ATTRIBUTES = ("tokens", "logprob", "score", "finished")


@dataclasses.dataclass(frozen=True)
class Handle:
    """A callable of the test process (a beam model, an observer) by its index in the call's list:
    the worker gets a stand-in that calls back to run it there."""

    index: int


class ProtocolError(Exception):
    """A frame that is not what the protocol allows (malformed, refused kind, too large)."""


class UnsendableValue(TypeError):
    """A value of the outside code that has no plain-data form."""


class PeerGone(Exception):
    """The other end closed its pipe."""


# ---- plain data: encoding (worker side) ----

def _plain_buffer(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind not in _BUFFER_KINDS or array.dtype.fields is not None or array.dtype.subdtype is not None:
        raise UnsendableValue(f"cannot send back an array of dtype {array.dtype}")
    return array if array.flags.c_contiguous else array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)


def _attributes(value: object) -> list[str]:
    if dataclasses.is_dataclass(value):
        return [f.name for f in dataclasses.fields(value)]
    names = [n for n in getattr(value, "__dict__", {}) if not n.startswith("_")]
    for klass in type(value).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names += [n for n in ((slots,) if isinstance(slots, str) else slots) if not n.startswith("_")]
    names += [n for n in KNOWN_ATTRIBUTES if n not in names and hasattr(value, n)]
    return list(dict.fromkeys(names))


def encode(value: object, buffers: list[np.ndarray], depth: int = 0) -> object:
    """The JSON tree of `value`, appending its arrays to `buffers`; UnsendableValue when it has none."""
    if depth > MAX_DEPTH:
        raise UnsendableValue(f"cannot send back a value nested more than {MAX_DEPTH} deep")
    kind = type(value)
    if kind in _JSON_SCALARS:  # the common cases first, by exact type: this runs for every value sent
        return value
    if kind is np.ndarray and not value.dtype.hasobject:
        buffers.append(_plain_buffer(value))
        return ["a", len(buffers) - 1]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):  # before int/float: np.float64 is a float
        array = np.asarray(value)
        if array.dtype.hasobject:
            return encode(value.item(), buffers, depth + 1)
        buffers.append(_plain_buffer(array))
        return ["s", len(buffers) - 1]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, np.ndarray) or (hasattr(value, "__array__") and not isinstance(value, list | tuple | dict)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            return ["l", [encode(item, buffers, depth + 1) for item in array.tolist()]]
        buffers.append(_plain_buffer(array))
        return ["a", len(buffers) - 1]
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):  # a namedtuple: its fields by name
        pairs = [[name, encode(item, buffers, depth + 1)] for name, item in zip(value._fields, value, strict=True)]
        return ["o", [type(value).__name__, pairs]]
    if isinstance(value, list | tuple):
        return ["l" if isinstance(value, list) else "t", [encode(item, buffers, depth + 1) for item in value]]
    if isinstance(value, dict):
        return ["d", [[encode(k, buffers, depth + 1), encode(v, buffers, depth + 1)] for k, v in value.items()]]
    names = _attributes(value)
    if not names or callable(value):
        raise UnsendableValue(f"cannot send back a value of type {type(value).__name__}")
    return ["o", [type(value).__name__, [[n, encode(getattr(value, n), buffers, depth + 1)] for n in names]]]


# ---- plain data: decoding (test-process side: everything here is hostile until checked) ----

def _dtype(text: object) -> np.dtype:
    if not isinstance(text, str) or len(text) > 16:
        raise ProtocolError(f"bad dtype {text!r}")
    return _checked_dtype(text)


@functools.lru_cache(maxsize=64)
def _checked_dtype(text: str) -> np.dtype:
    dtype = np.dtype(text)  # parsing a dtype string never unpickles
    if dtype.kind not in _BUFFER_KINDS or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(f"refused dtype {text!r}")
    return dtype


def _buffer_specs(specs: object) -> list[tuple[np.dtype, tuple[int, ...]]]:
    if not isinstance(specs, list):
        raise ProtocolError("the buffer list is not a list")
    out, total = [], 0
    for spec in specs:
        if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[1], list) and len(spec[1]) <= 32):
            raise ProtocolError(f"bad buffer spec {str(spec)[:80]}")
        dtype = _dtype(spec[0])
        shape = tuple(spec[1])
        if not all(type(n) is int and 0 <= n <= MAX_BUFFER_BYTES for n in shape):
            raise ProtocolError(f"bad shape {shape!r}")
        total += math.prod(shape) * dtype.itemsize
        if total > MAX_BUFFER_BYTES:
            raise ProtocolError(f"arrays larger than {MAX_BUFFER_BYTES} bytes")
        out.append((dtype, shape))
    return out


class RemoteObject:
    """An object the worker sent by its attributes (an observer's tile update, say); read-only."""

    def __init__(self, type_name: str, attributes: dict[str, object]):
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_attributes", attributes)

    def __getattr__(self, name: str):
        try:
            return self._attributes[name]
        except KeyError:
            raise AttributeError(f"{self._type_name} from the implementation has no attribute {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError(f"{self._type_name} from the implementation is read-only")

    def __repr__(self) -> str:
        return f"{self._type_name}({', '.join(self._attributes)})"


def decode(tree: object, arrays: list[np.ndarray], *, objects_as: str = "dict", depth: int = 0) -> object:
    """The value of a JSON tree; `objects_as` "dict" (results) or "object" (RemoteObject, callback arguments)."""
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if tree is None or isinstance(tree, bool | int | float | str):
        return tree
    if not (isinstance(tree, list) and len(tree) == 2 and isinstance(tree[0], str)):
        raise ProtocolError(f"bad value {str(tree)[:80]}")
    tag, payload = tree

    def sub(node):
        return decode(node, arrays, objects_as=objects_as, depth=depth + 1)

    if tag in ("a", "s"):
        if type(payload) is not int or not 0 <= payload < len(arrays):
            raise ProtocolError(f"bad array index {payload!r}")
        return arrays[payload] if tag == "a" else arrays[payload][()]
    if not isinstance(payload, list):
        raise ProtocolError(f"bad payload for {tag!r}")
    if tag == "l":
        return [sub(item) for item in payload]
    if tag == "t":
        return tuple(sub(item) for item in payload)
    if tag == "d":
        try:
            return {sub(k): sub(v) for k, v in payload}
        except (TypeError, ValueError) as exc:  # an unhashable key, a pair that is not a pair
            raise ProtocolError(f"bad dict: {exc}") from None
    if tag == "o":
        if len(payload) != 2 or not isinstance(payload[0], str) or not isinstance(payload[1], list):
            raise ProtocolError("bad object")
        attributes = {}
        for pair in payload[1]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ProtocolError("bad object attribute")
            attributes[pair[0]] = sub(pair[1])
        return attributes if objects_as == "dict" else RemoteObject(payload[0][:100], attributes)
    raise ProtocolError(f"unknown tag {tag!r}")


# ---- frames over pipes ----

class Channel:
    """Frames over a pair of pipe descriptors.

    `wait(fd, for_writing)` is called before every read and write; the test process passes one that
    enforces its deadline and notices a dead worker, the worker none (it just blocks).
    """

    def __init__(self, read_fd: int, write_fd: int, wait: Callable[[int, bool], None] | None = None):
        self.read_fd, self.write_fd, self.wait = read_fd, write_fd, wait
        if wait is not None:
            os.set_blocking(write_fd, False)  # a worker that stops reading must not block us forever

    def _write(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            if self.wait is not None:
                self.wait(self.write_fd, True)
            try:
                written = os.write(self.write_fd, view[: 1 << 20])
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise PeerGone from None
            view = view[written:]

    def _read_into(self, view: memoryview) -> None:
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        while view:
            if self.wait is not None:
                self.wait(self.read_fd, False)
            got = os.readv(self.read_fd, [view])
            if got == 0:
                raise PeerGone
            view = view[got:]

    def _read(self, n: int) -> bytearray:
        data = bytearray(n)
        self._read_into(memoryview(data))
        return data

    def send_pickle(self, message: object) -> None:
        """Test process -> worker. Arrays go out of band (pickle protocol 5), written from their own
        memory: no copy of a large input into the pickle."""
        buffers: list[pickle.PickleBuffer] = []
        body = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        views = [b.raw() for b in buffers]
        sizes = b"".join(_LENGTH.pack(v.nbytes) for v in views)
        head = PICKLE + _LENGTH.pack(len(body)) + _LENGTH.pack(len(views)) + sizes + body
        small = sum(v.nbytes for v in views) <= _SMALL_FRAME
        self._write(b"".join([head, *views]) if small else head)  # one write for a small call
        for view in [] if small else views:
            self._write(view)

    def send_plain(self, message: object) -> None:
        """Worker -> test process: UnsendableValue when `message` holds something not plain."""
        buffers: list[np.ndarray] = []
        tree = encode(message, buffers)
        header = json.dumps({"tree": tree, "buffers": [[b.dtype.str, list(b.shape)] for b in buffers]},
                            separators=(",", ":")).encode()
        self._write(PLAIN + _LENGTH.pack(len(header)) + header)
        for buffer in buffers:
            if buffer.nbytes:
                self._write(buffer.reshape(-1).view(np.uint8))

    def receive(self, *, trusting: bool) -> object:
        """The next message. `trusting` (the worker) accepts pickles; the test process accepts plain data only."""
        start = self._read(1 + _LENGTH.size)
        kind, (length,) = bytes(start[:1]), _LENGTH.unpack(start[1:])
        if kind == PICKLE and trusting:
            (count,) = _LENGTH.unpack(self._read(_LENGTH.size))
            sizes = struct.unpack(f"<{count}Q", self._read(count * _LENGTH.size))
            body = self._read(length)
            return pickle.loads(body, buffers=[self._read(size) for size in sizes])
        if kind != PLAIN:
            raise ProtocolError(f"refused a frame of kind {kind!r}")
        if length > MAX_HEADER_BYTES:
            raise ProtocolError(f"a header of {length} bytes")
        try:
            header = json.loads(self._read(length))
            specs = _buffer_specs(header["buffers"])
            tree = header["tree"]
        except (ValueError, RecursionError, TypeError, KeyError) as exc:
            raise ProtocolError(f"malformed header: {type(exc).__name__}: {str(exc)[:100]}") from None
        arrays = []
        for dtype, shape in specs:
            array = np.empty(shape, dtype)
            if array.nbytes:
                self._read_into(memoryview(array.reshape(-1).view(np.uint8)))
            arrays.append(array)
        try:
            return decode_message(tree, arrays)
        except RecursionError:
            raise ProtocolError("value nested too deeply") from None


def decode_message(tree: object, arrays: list[np.ndarray]) -> dict[str, object]:
    """A plain message: a dict with str keys and an "op". The arguments of a callback come as read-only
    arrays and attribute objects (what the trusted callable expects); anything else as dicts."""
    if not (isinstance(tree, list) and len(tree) == 2 and tree[0] == "d" and isinstance(tree[1], list)):
        raise ProtocolError("a message is not a dict")
    fields = {}
    for pair in tree[1]:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ProtocolError("a message key is not a str")
        fields[pair[0]] = pair[1]
    op = fields.get("op")
    if not isinstance(op, str):
        raise ProtocolError("a message without an op")
    objects_as = "object" if op == "callback" else "dict"
    if op == "callback":
        for array in arrays:
            array.flags.writeable = False
    return {key: decode(value, arrays, objects_as=objects_as) for key, value in fields.items()}


def wait_for(fd: int, for_writing: bool, timeout: float | None) -> bool:
    """True when `fd` is ready within `timeout` seconds (None: no limit)."""
    r, w = ([], [fd]) if for_writing else ([fd], [])
    ready = select.select(r, w, [], timeout)
    return bool(ready[0] or ready[1])
