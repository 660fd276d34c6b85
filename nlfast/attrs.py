"""Netlink attributes: building them for a message, and reading them back.

Build::

    Message(RTM_GETLINK, header=ifinfomsg(index=1),
            attrs=[attrs.u32(IFLA_EXT_MASK, 1)])

Read: ``AttrSet.get(type)`` finds one attribute in C without walking the
rest in Python; typed getters decode it.

Byte order: netlink headers and attributes are in the host's byte order,
and so are ``u16``/``u32``/``u64`` and the signed kinds here.  Values the
kernel keeps in network order (big-endian: ports, addresses, the ``be16``/
``be32`` fields of the YAML specs, attributes flagged NLA_F_NET_BYTEORDER)
have their own builders and getters: :func:`be16`, :func:`be32`,
:func:`be64` and ``AttrSet.be16()``/``be32()``/``be64()``.

An :class:`Attr` is immutable (a nest keeps its children as a tuple), so a
message framed once can never send stale bytes.
"""

from __future__ import annotations

import builtins
import struct
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn, Union

from nlfast._shim import address, ffi, lib
from nlfast.errors import DecodeError, MessageTooLargeError

Value = Union[int, bytes, str, Sequence["Attr"], None]
_new = object.__new__
_set = object.__setattr__

NLA_HDRLEN: int = lib.NLA_HDRLEN  # struct nlattr: nla_len (u16), nla_type (u16)
NLA_TYPE_MASK: int = lib.NLA_TYPE_MASK
NLA_F_NESTED: int = lib.NLA_F_NESTED
NLA_F_NET_BYTEORDER: int = lib.NLA_F_NET_BYTEORDER
NEST_MAX: int = lib.NLF_NEST_MAX  # nests open at once the shim frames
ATTR_MAX_PAYLOAD: int = 0xFFFF - NLA_HDRLEN  # nla_len is 16 bits, header included

# kind: (bits, signed, big-endian) of the integer kinds
_INT_KINDS: dict[builtins.str, tuple[int, bool, bool]] = {
    "u8": (8, False, False), "u16": (16, False, False),
    "u32": (32, False, False), "u64": (64, False, False),
    "s8": (8, True, False), "s16": (16, True, False),
    "s32": (32, True, False), "s64": (64, True, False),
    "be16": (16, False, True), "be32": (32, False, True), "be64": (64, False, True),
}
_KINDS = (*_INT_KINDS, "str", "bytes", "nested", "flag")

_NLA = struct.Struct("=HH")  # struct nlattr, host order


def _align(n: int) -> int:
    return (n + 3) & ~3


def _check_type(type: object, what: builtins.str = "attribute type") -> int:
    if not isinstance(type, int) or isinstance(type, bool):
        raise TypeError(f"{what} must be an int in 0..65535, not {type!r}")
    if not 0 <= type <= 0xFFFF:
        raise ValueError(f"{what} must be an int in 0..65535, not {type!r}")
    return type


def _check_value(type: int, kind: builtins.str, value: object) -> Value:
    """The value a kind holds, checked and made immutable."""
    spec = _INT_KINDS.get(kind)
    if spec is not None:
        bits, signed, _ = spec
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{kind} attribute {type} needs an int, not {value!r}")
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not lo <= value <= hi:
            raise ValueError(f"{kind} attribute {type}: {value} is out of range {lo}..{hi}")
        return value
    if kind == "str":
        if not isinstance(value, builtins.str):
            raise TypeError(f"string attribute {type} needs a str, not {value!r}")
        if "\0" in value:
            raise ValueError(f"string attribute {type} contains a NUL byte")
        n = len(value) if len(value) > ATTR_MAX_PAYLOAD else len(value.encode()) + 1
        if n > ATTR_MAX_PAYLOAD:
            raise MessageTooLargeError(
                f"string attribute {type} is too large for an attribute: {n} bytes with its "
                f"NUL, at most {ATTR_MAX_PAYLOAD} (nla_len is 16 bits: under 64 KiB)")
        return value
    if kind == "bytes":
        if not isinstance(value, (builtins.bytes, bytearray, memoryview)):
            raise TypeError(f"binary attribute {type} needs bytes, not {value!r}")
        b = builtins.bytes(value)
        if len(b) > ATTR_MAX_PAYLOAD:
            raise MessageTooLargeError(
                f"attribute {type} is too large for an attribute: {len(b)} bytes, at most "
                f"{ATTR_MAX_PAYLOAD} (nla_len is 16 bits: under 64 KiB)")
        return b
    if kind == "flag":
        if value is not None:
            raise TypeError(f"flag attribute {type} has no value, not {value!r}")
        return None
    # nested
    if isinstance(value, (builtins.str, builtins.bytes, bytearray, memoryview)) or \
            not isinstance(value, (Sequence, Iterator, tuple, list)):
        raise TypeError(f"nested attribute {type} holds a sequence of Attr, not {value!r}")
    children = tuple(value)
    for c in children:
        if not isinstance(c, Attr):
            raise TypeError(f"nested attribute {type} holds Attr objects, not {c!r}")
    return children


class Attr:
    """One attribute to send: a type, a kind and a value.  Immutable.

    :raises ValueError: unknown kind, type outside 0..65535, or a value out
        of its kind's range.
    :raises TypeError: a value of the wrong type for its kind.
    :raises MessageTooLargeError: a payload larger than an attribute holds.
    """

    __slots__ = {
        "kind": "The kind: u8..s64, be16..be64, str, bytes, flag or nested.",
        "type": "The attribute type number (0..65535, flag bits included).",
        "value": "The value: an int, str, bytes, None (flag) or a tuple of Attr (nested).",
    }
    kind: builtins.str
    type: int
    value: Value

    def __init__(self, type: int, kind: builtins.str, value: Value) -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown attribute kind {kind!r}; one of {', '.join(_KINDS)}")
        _check_type(type)
        _set(self, "type", type)
        _set(self, "kind", kind)
        _set(self, "value", _check_value(type, kind, value))

    def __setattr__(self, name: builtins.str, value: object) -> NoReturn:
        raise AttributeError(
            f"Attr is immutable: cannot set {name!r}; build a new one "
            f"(e.g. attrs.{self.kind if self.kind in _INT_KINDS else 'u32'}(type, value))")

    def __delattr__(self, name: builtins.str) -> NoReturn:
        raise AttributeError(f"Attr is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Attr, (self.type, self.kind, self.value))

    def __repr__(self) -> builtins.str:
        return f"Attr({self.type}, {self.kind!r}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Attr)
            and (self.type, self.kind, self.value) == (other.type, other.kind, other.value)
        )

    def __hash__(self) -> int:
        return hash((self.type, self.kind, self.value))

    def wire_size(self) -> int:
        """Bytes this attribute takes in a message, padding included."""
        total, stack = 0, [self]
        while stack:
            a = stack.pop()
            k = a.kind
            if k == "nested":
                total += NLA_HDRLEN
                stack.extend(a.value)  # type: ignore[arg-type]
            elif k == "str":
                total += _align(NLA_HDRLEN + len(a.value.encode()) + 1)  # type: ignore[union-attr]
            elif k == "bytes":
                total += _align(NLA_HDRLEN + len(a.value))  # type: ignore[arg-type]
            elif k == "flag":
                total += NLA_HDRLEN
            else:
                total += _align(NLA_HDRLEN + _INT_KINDS[k][0] // 8)
        return total


def _int(type: int, kind: builtins.str, value: int) -> Attr:
    return Attr(type, kind, value)


def u8(type: int, value: int) -> Attr:
    """An unsigned 8-bit attribute."""
    return _int(type, "u8", value)


def u16(type: int, value: int) -> Attr:
    """An unsigned 16-bit attribute (host byte order)."""
    return _int(type, "u16", value)


def u32(type: int, value: int) -> Attr:
    """An unsigned 32-bit attribute (host byte order)."""
    return _int(type, "u32", value)


def u64(type: int, value: int) -> Attr:
    """An unsigned 64-bit attribute (host byte order)."""
    return _int(type, "u64", value)


def s8(type: int, value: int) -> Attr:
    """A signed 8-bit attribute."""
    return _int(type, "s8", value)


def s16(type: int, value: int) -> Attr:
    """A signed 16-bit attribute (host byte order)."""
    return _int(type, "s16", value)


def s32(type: int, value: int) -> Attr:
    """A signed 32-bit attribute (host byte order)."""
    return _int(type, "s32", value)


def s64(type: int, value: int) -> Attr:
    """A signed 64-bit attribute (host byte order)."""
    return _int(type, "s64", value)


def _be(type: int, kind: builtins.str, value: int, net_byteorder: bool) -> Attr:
    _check_type(type)
    if net_byteorder:
        if type & NLA_F_NESTED:
            raise ValueError(f"{kind} attribute {type:#x} cannot be both nested and a value")
        type |= NLA_F_NET_BYTEORDER
    return Attr(type, kind, value)


def be16(type: int, value: int, *, net_byteorder: bool = False) -> Attr:
    """An unsigned 16-bit attribute in network byte order (big-endian).

    ``net_byteorder=True`` also sets NLA_F_NET_BYTEORDER in its type, as
    some families (netfilter) expect; rtnetlink's be16 fields do not.
    """
    return _be(type, "be16", value, net_byteorder)


def be32(type: int, value: int, *, net_byteorder: bool = False) -> Attr:
    """An unsigned 32-bit attribute in network byte order (see :func:`be16`)."""
    return _be(type, "be32", value, net_byteorder)


def be64(type: int, value: int, *, net_byteorder: bool = False) -> Attr:
    """An unsigned 64-bit attribute in network byte order (see :func:`be16`)."""
    return _be(type, "be64", value, net_byteorder)


def string(type: int, value: str) -> Attr:
    """A NUL-terminated UTF-8 string attribute.

    :raises ValueError: the string holds a NUL.
    """
    return Attr(type, "str", value)


def binary(type: int, value: bytes) -> Attr:
    """An attribute holding these bytes as they are (copied)."""
    return Attr(type, "bytes", value)


def flag(type: int) -> Attr:
    """An attribute with no payload (NLA_FLAG)."""
    return Attr(type, "flag", None)


def nested(type: int, children: Sequence[Attr]) -> Attr:
    """A nested attribute (NLA_F_NESTED set) holding the given attributes
    (kept as a tuple).  At most ``NEST_MAX`` levels deep when framed."""
    return Attr(type, "nested", children)


_MASKS = {8: 0xFF, 16: 0xFFFF, 32: 0xFFFFFFFF, 64: 0xFFFFFFFFFFFFFFFF}
_PUT_UINT = {8: "nlf_tx_attr_put_u8", 16: "nlf_tx_attr_put_u16",
             32: "nlf_tx_attr_put_u32", 64: "nlf_tx_attr_put_u64"}


_TX_T = ffi.typeof("struct nlf_tx *")


def check_tx(tx: Any, what: str) -> None:
    """Refuses anything but a live shim send arena, before C sees it.

    :raises TypeError: tx is not a ``struct nlf_tx *`` from ``nlf_tx_new``
        (``what`` names the caller in the message).
    """
    if not isinstance(tx, ffi.CData) or ffi.typeof(tx) is not _TX_T or tx == ffi.NULL:
        raise TypeError(f"{what} needs a shim tx (struct nlf_tx *), not {tx!r}")


def put(tx: Any, a: Attr) -> int:
    """Frames one attribute into a shim tx; returns the shim's result (0 or
    -1 with errno: ENOSPC no room, EMSGSIZE over 65535 bytes, E2BIG nested deeper
    than ``NEST_MAX``).

    :raises TypeError: tx is not a shim send arena, or a not an Attr.
    """
    check_tx(tx, "put")
    return _put(tx, a)


def _put(tx: Any, a: Attr) -> int:
    if not isinstance(a, Attr):
        raise TypeError(f"put frames an Attr, not {a!r}")
    k = a.kind
    if k == "u32":
        return int(lib.nlf_tx_attr_put_u32(tx, a.type, a.value))
    if k == "str":
        b = a.value.encode()  # type: ignore[union-attr]
        return int(lib.nlf_tx_attr_put_str(tx, a.type, b, len(b)))
    if k == "bytes":
        data = a.value
        return int(lib.nlf_tx_attr_put(tx, a.type, ffi.from_buffer(data), len(data)))  # type: ignore[arg-type]
    if k == "flag":
        return int(lib.nlf_tx_attr_put(tx, a.type, ffi.NULL, 0))
    if k == "nested":
        if lib.nlf_tx_nest_start(tx, a.type) < 0:
            return -1
        for child in a.value:  # type: ignore[union-attr]
            if _put(tx, child) < 0:  # type: ignore[arg-type]
                return -1
        return int(lib.nlf_tx_nest_end(tx))
    bits, _, big = _INT_KINDS[k]
    v = int(a.value) & _MASKS[bits]  # type: ignore[arg-type]  # two's complement
    if big:
        b = v.to_bytes(bits // 8, "big")
        return int(lib.nlf_tx_attr_put(tx, a.type, b, len(b)))
    return int(getattr(lib, _PUT_UINT[bits])(tx, a.type, v))  # host order, in C


_STRUCTS = {f: struct.Struct(f) for f in
            ("=B", "=H", "=I", "=Q", "=b", "=h", "=i", "=q", ">H", ">I", ">Q")}


class AttrSet:
    """The attributes in a run of bytes, looked up by type in C.

    A view that keeps the bytes under it alive: valid for as long as it is
    held, like the MessageView it came from.
    Types are looked up without their flag bits (NLA_F_NESTED,
    NLA_F_NET_BYTEORDER).  Absent attributes raise KeyError from the typed
    getters (``get()`` returns None); present ones too short for their type
    raise DecodeError.
    """

    __slots__ = ("_base", "_buf", "_keep", "_len", "_start")

    def __init__(self, mv: memoryview, ptr: Any = None, keep: Any = None) -> None:
        self._buf = mv
        self._start = 0
        self._len = len(mv)
        self._base = address(mv) if ptr is None else ptr
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

    def _find(self, type: int) -> int:
        if not isinstance(type, int) or not 0 <= type <= 0xFFFF:
            _check_type(type)
        return int(lib.nlf_attr_find(self._base, self._start, self._len, type & NLA_TYPE_MASK))

    def get(self, type: int) -> memoryview | None:
        """The payload of the first attribute of this type, or None.

        :raises ValueError: ``type`` is not in 0..65535.
        """
        found = self._find(type)
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

    def _fixed(self, type: int, fmt: builtins.str, size: int) -> int:
        found = self._find(type)
        if not found:
            raise KeyError(type)
        if found >> 32 < size:
            raise DecodeError(f"attribute {type} has {found >> 32} bytes, needs {size}")
        return int(_STRUCTS[fmt].unpack_from(self._buf, found & 0xFFFFFFFF)[0])

    def u8(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=B", 1)

    def u16(self, type: int) -> int:
        """Host byte order.  :raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=H", 2)

    def u32(self, type: int) -> int:
        """Host byte order.  :raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=I", 4)

    def u64(self, type: int) -> int:
        """Host byte order.  :raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=Q", 8)

    def s8(self, type: int) -> int:
        """:raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=b", 1)

    def s16(self, type: int) -> int:
        """Host byte order.  :raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=h", 2)

    def s32(self, type: int) -> int:
        """Host byte order.  :raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=i", 4)

    def s64(self, type: int) -> int:
        """Host byte order.  :raises KeyError: absent.  :raises DecodeError: too short."""
        return self._fixed(type, "=q", 8)

    def be16(self, type: int) -> int:
        """Network byte order (big-endian).  :raises KeyError: absent.
        :raises DecodeError: too short."""
        return self._fixed(type, ">H", 2)

    def be32(self, type: int) -> int:
        """Network byte order (big-endian).  :raises KeyError: absent.
        :raises DecodeError: too short."""
        return self._fixed(type, ">I", 4)

    def be64(self, type: int) -> int:
        """Network byte order (big-endian).  :raises KeyError: absent.
        :raises DecodeError: too short."""
        return self._fixed(type, ">Q", 8)

    def str(self, type: int) -> builtins.str:
        """The string up to its NUL.  :raises KeyError: absent."""
        b = builtins.bytes(self._need(type))
        end = b.find(b"\0")
        return (b if end < 0 else b[:end]).decode(errors="replace")

    def bytes(self, type: int) -> builtins.bytes:
        """A copy of the payload.  :raises KeyError: absent."""
        return builtins.bytes(self._need(type))

    def flag(self, type: int) -> bool:
        """Whether the attribute is present."""
        return self.get(type) is not None

    def nested(self, type: int) -> AttrSet:
        """The attributes nested in this one.

        :raises KeyError: absent.
        :raises DecodeError: its payload is not an attribute stream.
        """
        found = self._find(type)
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
        unpack = _NLA.unpack_from
        while n - pos >= NLA_HDRLEN:
            alen, atype = unpack(mv, pos)
            if alen < NLA_HDRLEN or alen > n - pos:
                break
            yield atype & NLA_TYPE_MASK, mv[pos + NLA_HDRLEN : pos + alen]
            pos += _align(alen)
        if pos < n:
            raise DecodeError(f"malformed attribute at offset {pos}")

    def to_dict(self) -> dict[int, builtins.bytes]:
        """{type: payload bytes} of every attribute (the last of a type wins)."""
        return {t: builtins.bytes(v) for t, v in self}
