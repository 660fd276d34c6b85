"""Netlink attributes: building them for a message, and reading them back.

Build::

    Message(RTM_GETLINK, header=ifinfomsg(index=1),
            attrs=[attrs.u32(IFLA_EXT_MASK, 1)])

Read: ``AttrSet.get(type)`` finds one attribute in C without walking the
rest in Python; typed getters decode it.
"""

from __future__ import annotations

import builtins
import struct
from collections.abc import Iterator, Sequence
from typing import Any, Union

from nlfast._shim import ffi, lib
from nlfast.errors import DecodeError

Value = Union[int, bytes, str, Sequence["Attr"], None]
_new = object.__new__

_KINDS = ("u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "str", "bytes", "nested", "flag")


class Attr:
    """One attribute to send: a type, a kind and a value."""

    __slots__ = ("kind", "type", "value")

    def __init__(self, type: int, kind: str, value: Value) -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown attribute kind {kind!r}; one of {', '.join(_KINDS)}")
        if not isinstance(type, int) or not 0 <= type <= 0xFFFF:
            raise ValueError(f"attribute type must be an int in 0..65535, not {type!r}")
        self.type = type
        self.kind = kind
        self.value = value

    def __repr__(self) -> str:
        return f"Attr({self.type}, {self.kind!r}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Attr)
            and (self.type, self.kind, self.value) == (other.type, other.kind, other.value)
        )

    __hash__ = None  # type: ignore[assignment]


def _int(type: int, kind: str, value: int, bits: int, signed: bool) -> Attr:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{kind} attribute {type} needs an int, not {value!r}")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise ValueError(f"{kind} attribute {type}: {value} is out of range {lo}..{hi}")
    return Attr(type, kind, value)


def u8(type: int, value: int) -> Attr:
    """An unsigned 8-bit attribute."""
    return _int(type, "u8", value, 8, False)


def u16(type: int, value: int) -> Attr:
    """An unsigned 16-bit attribute (host byte order)."""
    return _int(type, "u16", value, 16, False)


def u32(type: int, value: int) -> Attr:
    """An unsigned 32-bit attribute (host byte order)."""
    return _int(type, "u32", value, 32, False)


def u64(type: int, value: int) -> Attr:
    """An unsigned 64-bit attribute (host byte order)."""
    return _int(type, "u64", value, 64, False)


def s8(type: int, value: int) -> Attr:
    """A signed 8-bit attribute."""
    return _int(type, "s8", value, 8, True)


def s16(type: int, value: int) -> Attr:
    """A signed 16-bit attribute."""
    return _int(type, "s16", value, 16, True)


def s32(type: int, value: int) -> Attr:
    """A signed 32-bit attribute."""
    return _int(type, "s32", value, 32, True)


def s64(type: int, value: int) -> Attr:
    """A signed 64-bit attribute."""
    return _int(type, "s64", value, 64, True)


def string(type: int, value: str) -> Attr:
    """A NUL-terminated UTF-8 string attribute."""
    if not isinstance(value, str):
        raise TypeError(f"string attribute {type} needs a str, not {value!r}")
    return Attr(type, "str", value)


def binary(type: int, value: bytes) -> Attr:
    """An attribute holding these bytes as they are."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"binary attribute {type} needs bytes, not {value!r}")
    return Attr(type, "bytes", bytes(value))


def flag(type: int) -> Attr:
    """An attribute with no payload (NLA_FLAG)."""
    return Attr(type, "flag", None)


def nested(type: int, children: Sequence[Attr]) -> Attr:
    """A nested attribute (NLA_F_NESTED set) holding the given attributes."""
    children = list(children)
    for c in children:
        if not isinstance(c, Attr):
            raise TypeError(f"nested attribute {type} holds Attr objects, not {c!r}")
    return Attr(type, "nested", children)


_SIGNED_FMT = {"s8": "<b", "s16": "<h", "s32": "<i", "s64": "<q"}
_STRUCTS = {f: struct.Struct(f) for f in ("<B", "<H", "<I", "<Q", "<b", "<h", "<i", "<q")}


def put(tx: Any, a: Attr) -> int:
    """Frames one attribute into a shim tx; returns the shim's result (0 or -1)."""
    k = a.kind
    if k == "u32":
        return int(lib.nlf_tx_attr_put_u32(tx, a.type, a.value))
    if k == "str":
        b = a.value.encode()  # type: ignore[union-attr]
        if b"\0" in b:
            raise ValueError(f"string attribute {a.type} contains a NUL byte")
        return int(lib.nlf_tx_attr_put_str(tx, a.type, b, len(b)))
    if k == "bytes":
        v = a.value
        return int(lib.nlf_tx_attr_put(tx, a.type, ffi.from_buffer(v), len(v)))  # type: ignore[arg-type]
    if k == "u8":
        return int(lib.nlf_tx_attr_put_u8(tx, a.type, a.value))
    if k == "u16":
        return int(lib.nlf_tx_attr_put_u16(tx, a.type, a.value))
    if k == "u64":
        return int(lib.nlf_tx_attr_put_u64(tx, a.type, a.value))
    if k in _SIGNED_FMT:
        b = struct.pack(_SIGNED_FMT[k], a.value)
        return int(lib.nlf_tx_attr_put(tx, a.type, ffi.from_buffer(b), len(b)))
    if k == "flag":
        return int(lib.nlf_tx_attr_put(tx, a.type, ffi.NULL, 0))
    # nested
    if lib.nlf_tx_nest_start(tx, a.type) < 0:
        return -1
    for child in a.value:  # type: ignore[union-attr]
        if put(tx, child) < 0:  # type: ignore[arg-type]
            return -1
    return int(lib.nlf_tx_nest_end(tx))


class AttrSet:
    """The attributes in a run of bytes, looked up by type in C.

    A view that keeps the bytes under it alive: valid for as long as it is
    held, like the MessageView it came from.
    """

    __slots__ = ("_base", "_buf", "_keep", "_len", "_start")

    def __init__(self, mv: memoryview, ptr: Any = None, keep: Any = None) -> None:
        self._buf = mv
        self._start = 0
        self._len = len(mv)
        self._base = ffi.from_buffer(mv) if ptr is None else ptr
        self._keep = keep

    @classmethod
    def _at(cls, buf: Any, base: Any, start: int, length: int, keep: Any) -> AttrSet:
        """The attributes in buf[start:start+length]; base points at buf[0]."""
        a = _new(cls)
        a._buf = buf
        a._base = base
        a._start = start
        a._len = length
        a._keep = keep
        return a

    @property
    def _mv(self) -> memoryview:
        return memoryview(self._buf)[self._start : self._start + self._len]

    def get(self, type: int) -> memoryview | None:
        """The payload of the first attribute of this type, or None."""
        found = lib.nlf_attr_find(self._base, self._start, self._len, type)
        if not found:
            return None
        off = found & 0xFFFFFFFF
        return memoryview(self._buf)[off : off + (found >> 32)]

    def __contains__(self, type: int) -> bool:
        return self.get(type) is not None

    def _need(self, type: int) -> memoryview:
        v = self.get(type)
        if v is None:
            raise KeyError(type)
        return v

    def _fixed(self, type: int, fmt: str, size: int) -> int:
        found = lib.nlf_attr_find(self._base, self._start, self._len, type)
        if not found:
            raise KeyError(type)
        if found >> 32 < size:
            raise DecodeError(f"attribute {type} has {found >> 32} bytes, needs {size}")
        return int(_STRUCTS[fmt].unpack_from(self._buf, found & 0xFFFFFFFF)[0])

    def u8(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<B", 1)

    def u16(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<H", 2)

    def u32(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<I", 4)

    def u64(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<Q", 8)

    def s8(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<b", 1)

    def s16(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<h", 2)

    def s32(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<i", 4)

    def s64(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "<q", 8)

    def str(self, type: int) -> builtins.str:
        """The string up to its NUL.  :raises KeyError: absent."""
        b = bytes(self._need(type))
        end = b.find(b"\0")
        return (b if end < 0 else b[:end]).decode(errors="replace")

    def bytes(self, type: int) -> builtins.bytes:
        """A copy of the payload.  :raises KeyError: absent."""
        return bytes(self._need(type))

    def flag(self, type: int) -> bool:
        """Whether the attribute is present."""
        return self.get(type) is not None

    def nested(self, type: int) -> AttrSet:
        """The attributes nested in this one.

        :raises KeyError: absent.
        :raises DecodeError: its payload is not an attribute stream.
        """
        found = lib.nlf_attr_find(self._base, self._start, self._len, type)
        if not found:
            raise KeyError(type)
        sub = AttrSet._at(self._buf, self._base, found & 0xFFFFFFFF, found >> 32, self)
        sub.check()
        return sub

    def check(self) -> None:
        """:raises DecodeError: the bytes are not a clean attribute stream."""
        if not lib.nlf_attr_ok(self._base + self._start, self._len):
            raise DecodeError("malformed attribute stream")

    def __iter__(self) -> Iterator[tuple[int, memoryview]]:
        """(type, payload) of every attribute, in order (type without flag bits).

        :raises DecodeError: at a malformed attribute.
        """
        mv, pos, n = self._mv, 0, self._len
        while n - pos >= 4:
            alen, atype = struct.unpack_from("<HH", mv, pos)
            if alen < 4 or alen > n - pos:
                break
            yield atype & lib.NLA_TYPE_MASK, mv[pos + 4 : pos + alen]
            pos += (alen + 3) & ~3
        if pos < n:
            raise DecodeError(f"malformed attribute at offset {pos}")

    def to_dict(self) -> dict[int, builtins.bytes]:
        """{type: payload bytes} of every attribute (the last of a type wins)."""
        return {t: builtins.bytes(v) for t, v in self}
