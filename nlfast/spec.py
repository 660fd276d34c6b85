"""Families by name: netlink YAML specs compiled into encode/decode plans.

A spec (the format of the kernel's Documentation/netlink/specs, described in
Documentation/userspace-api/netlink/specs.rst) names a family's messages,
attributes, fixed headers, enums and multicast groups.  :func:`load` reads
one and compiles it once into a :class:`Spec`: lookup tables from names and
numbers to small plan objects, so decoding a message is a walk over its
attributes with one table lookup each.

    >>> import nlfast
    >>> from nlfast import spec
    >>> rt = spec.load("rt-link")                     # shipped with nlfast
    >>> with spec.open(rt) as fam:
    ...     links = fam.dump("getlink")
    >>> any(link["ifname"] == "lo" for link in links)
    True

PyYAML is imported only when a YAML file is loaded (``pip install
nlfast[spec]``); ``import nlfast`` does not import it.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import struct
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from nlfast._shim import address, ffi, lib
from nlfast._transport import timeout_ms
from nlfast.constants import (
    NETLINK_GENERIC,
    NLA_F_NESTED,
    NLA_TYPE_MASK,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REQUEST,
)
from nlfast.errors import DecodeError, NlfastError
from nlfast.message import Message, MessageView

if TYPE_CHECKING:
    from nlfast.genl import Family as GenlFamily
    from nlfast.socket import Batch, Socket

SPEC_DIR = Path(__file__).resolve().parent / "specs"
PROTOCOLS = ("genetlink", "genetlink-c", "genetlink-legacy", "netlink-raw")
_GENL_HDR = struct.Struct("=BBH")
_NLA = struct.Struct("=HH")
_NLMSG_LT = struct.Struct("=IH")  # nlmsg_len, nlmsg_type


class SpecError(NlfastError, ValueError):
    """A spec that cannot be loaded: the message names the place in it."""


class EncodeError(NlfastError, ValueError):
    """A value that does not fit the spec: the message names the attribute."""


# -- compiled plan --------------------------------------------------------

# attribute kinds, small ints so the decode loop compares ints
K_INT, K_UINT, K_SINT, K_FLAG, K_STRING, K_BINARY, K_BITFIELD32 = range(7)
K_NEST, K_INDEXED, K_NTV, K_SUBMSG, K_PAD, K_UNUSED = range(7, 13)
_KIND = {
    "u8": K_INT, "u16": K_INT, "u32": K_INT, "u64": K_INT,
    "s8": K_INT, "s16": K_INT, "s32": K_INT, "s64": K_INT,
    "uint": K_UINT, "sint": K_SINT, "flag": K_FLAG, "string": K_STRING,
    "binary": K_BINARY, "bitfield32": K_BITFIELD32, "nest": K_NEST,
    "indexed-array": K_INDEXED, "array-nest": K_INDEXED, "nest-type-value": K_NTV,
    "sub-message": K_SUBMSG, "pad": K_PAD, "unused": K_UNUSED,
}
_INT_FMT = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q",
            "s8": "b", "s16": "h", "s32": "i", "s64": "q"}
_HINTS = ("hex", "mac", "fddi", "ipv4", "ipv6", "ipv4-or-v6", "uuid")


@dataclass
class Enum:
    """An ``enum`` or ``flags`` definition: names and values both ways.

    A ``flags`` entry's number is its mask (the spec gives bit positions);
    an ``enum`` read as flags (``enum-as-flags``) takes its values as bit
    positions, as the kernel's specs mean it.
    """

    name: str
    is_flags: bool
    by_name: dict[str, int]
    by_value: dict[int, str]
    bits: dict[int, str] = field(default_factory=dict)  # mask -> name, as flags

    def __post_init__(self) -> None:
        self.bits = dict(self.by_value) if self.is_flags else {
            1 << v: k for v, k in self.by_value.items() if 0 <= v < 64}
        self._bit_of = {k: m for m, k in self.bits.items()}

    def decode(self, v: int, as_flags: bool = False) -> Any:
        if self.is_flags or as_flags:
            bits = self.bits
            names: list[Any] = []
            while v > 0:
                low = v & -v
                names.append(bits.get(low, low))
                v ^= low
            return names
        return self.by_value.get(v, v)

    def encode(self, v: Any, as_flags: bool, where: str) -> int:
        if self.is_flags or as_flags:
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            out = 0
            for item in v if isinstance(v, (list, tuple, set, frozenset)) else (v,):
                if isinstance(item, int) and not isinstance(item, bool):
                    out |= item
                    continue
                try:
                    out |= self._bit_of[item]
                except (KeyError, TypeError):
                    raise EncodeError(
                        f"{where}: {item!r} is not a name of {self.name} "
                        f"({', '.join(self._bit_of)})") from None
            return out
        return self._one(v, where)

    def _one(self, v: Any, where: str) -> int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        try:
            return self.by_name[v]
        except (KeyError, TypeError):
            raise EncodeError(
                f"{where}: {v!r} is not a name of {self.name} "
                f"({', '.join(self.by_name)})") from None


@dataclass
class Scalar:
    """How one integer, string or binary value is laid out and shown."""

    fmt: struct.Struct | None  # fixed-size ints
    enum: Enum | None = None
    as_flags: bool = False
    hint: str | None = None
    struct: Struct | None = None  # binary holding a struct

    def decode_int(self, v: int) -> Any:
        if self.enum is not None:
            return self.enum.decode(v, self.as_flags)
        if self.hint == "ipv4":
            return str(ipaddress.IPv4Address(v if self._big() else _bswap32(v)))
        return v

    def _big(self) -> bool:
        return self.fmt is None or self.fmt.format[0] == ">"

    def encode_int(self, v: Any, where: str) -> int:
        if self.enum is not None:
            return self.enum.encode(v, self.as_flags, where)
        if self.hint == "ipv4" and isinstance(v, str):
            try:
                n = int(ipaddress.IPv4Address(v))
            except ValueError as e:
                raise EncodeError(f"{where}: {v!r} is not an ipv4 address ({e})") from None
            return n if self._big() else _bswap32(n)
        if not isinstance(v, int) or isinstance(v, bool):
            raise EncodeError(f"{where} needs an int, not {v!r}")
        return v


def _bswap32(v: int) -> int:
    return int.from_bytes(v.to_bytes(4, "little"), "big")


def _hint_decode(hint: str | None, b: bytes) -> Any:
    if hint is None or hint == "hex":
        return b
    if hint in ("mac", "fddi"):
        return b.hex(":")
    if hint in ("ipv4", "ipv6", "ipv4-or-v6") and len(b) in (4, 16):
        # an address attribute holds either family: shown by its length
        return str(ipaddress.ip_address(b))
    if hint == "uuid" and len(b) == 16:
        return str(uuid.UUID(bytes=b))
    return b


def _hint_encode(hint: str | None, v: Any, where: str) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if not isinstance(v, str):
        raise EncodeError(f"{where} needs bytes, not {v!r}")
    try:
        if hint in ("mac", "fddi"):
            return bytes.fromhex(v.replace(":", ""))
        if hint in ("ipv4", "ipv6", "ipv4-or-v6"):
            return ipaddress.ip_address(v).packed
        if hint == "uuid":
            return uuid.UUID(v).bytes
    except ValueError as e:
        raise EncodeError(f"{where}: {v!r} is not a {hint} ({e})") from None
    raise EncodeError(f"{where} needs bytes, not a str")


@dataclass
class Member:
    name: str
    kind: str  # "int", "string", "binary", "pad", "struct"
    size: int
    scalar: Scalar


@dataclass
class Struct:
    """A ``struct`` definition: packed members (pads are explicit in specs)."""

    name: str
    members: list[Member]
    size: int

    def _compile(self) -> tuple[struct.Struct, list[tuple[str, Any]]]:
        """One struct.Struct for all members, and (name, convert or None)."""
        fmt = ["="]
        post: list[tuple[str, Any]] = []
        for m in self.members:
            sc = m.scalar
            if m.kind == "pad":
                fmt.append(f"{m.size}x")
                continue
            if m.kind == "int":
                assert sc.fmt is not None
                f = sc.fmt.format
                plain = sc.enum is None and sc.hint is None
                if f[0] == ">":
                    fmt.append(f"{m.size}s")
                    signed = f[-1] in "bhiq"
                    post.append((m.name, (lambda b, sc=sc, s=signed: sc.decode_int(
                        int.from_bytes(b, "big", signed=s)))))
                else:
                    fmt.append(f[-1])
                    post.append((m.name, None if plain else sc.decode_int))
                continue
            fmt.append(f"{m.size}s")
            if m.kind == "string":
                post.append((m.name, lambda b: b.split(b"\0", 1)[0].decode(errors="replace")))
            elif sc.struct is not None:
                post.append((m.name, lambda b, s=sc.struct: s.decode(b, 0)))
            else:
                post.append((m.name, lambda b, h=sc.hint: _hint_decode(h, b)))
        return struct.Struct("".join(fmt)), post

    def decode(self, buf: bytes | memoryview, off: int = 0) -> dict[str, Any]:
        c = self.__dict__.get("_c")
        if c is None:
            c = self.__dict__["_c"] = self._compile()
        vals = c[0].unpack_from(buf, off)
        return {name: v if f is None else f(v) for (name, f), v in zip(c[1], vals)}

    def encode(self, values: Mapping[str, Any], where: str, strict: bool = True) -> bytes:
        """The struct's bytes from ``values`` (missing members are 0).

        With ``strict``, a key that is no member raises."""
        if strict:
            extra = set(values) - {m.name for m in self.members}
            if extra:
                raise EncodeError(f"{where}: struct {self.name} has no member "
                                  f"{', '.join(sorted(extra))}")
        out = bytearray()
        for m in self.members:
            v = values.get(m.name)
            at = f"{where}.{m.name}"
            sc = m.scalar
            if m.kind == "int":
                assert sc.fmt is not None
                try:
                    out += sc.fmt.pack(0 if v is None else sc.encode_int(v, at))
                except struct.error as e:
                    raise EncodeError(f"{at}: {v!r} does not fit ({e})") from None
            elif m.kind == "pad":
                out += bytes(m.size)
            elif m.kind == "string":
                b = (v or "").encode()
                if len(b) >= m.size:
                    raise EncodeError(f"{at}: {v!r} is longer than {m.size - 1} bytes")
                out += b.ljust(m.size, b"\0")
            elif m.kind == "binary":
                if sc.struct is not None:
                    out += sc.struct.encode(v or {}, at)
                else:
                    b = b"" if v is None else _hint_encode(sc.hint, v, at)
                    if len(b) > m.size:
                        raise EncodeError(f"{at}: {len(b)} bytes, the member holds {m.size}")
                    out += b.ljust(m.size, b"\0")
        return bytes(out)


@dataclass
class Attr:
    """One attribute of a set, compiled."""

    name: str
    value: int
    type: str
    kind: int
    scalar: Scalar
    multi: bool = False
    nest: AttrSet | None = None
    sub_type: str | None = None
    sub_kind: int = -1
    type_value: tuple[str, ...] = ()
    submsg: SubMessage | None = None
    selector: str | None = None


@dataclass
class AttrSet:
    name: str
    by_name: dict[str, Attr] = field(default_factory=dict)
    by_value: dict[int, Attr] = field(default_factory=dict)
    pad: int | None = None


@dataclass
class Format:
    value: str
    fixed_header: Struct | None
    attrs: AttrSet | None


@dataclass
class SubMessage:
    name: str
    formats: dict[str, Format]


@dataclass
class Op:
    """An operation: its message ids both ways, header, set and modes."""

    name: str
    req_value: int | None
    rsp_value: int | None
    attrs: AttrSet | None
    fixed_header: Struct | None
    do: dict[str, Any] | None = None
    dump: dict[str, Any] | None = None
    notify: str | None = None
    event: dict[str, Any] | None = None
    mcgrp: str | None = None
    flags: tuple[str, ...] = ()


@dataclass
class Spec:
    """A compiled spec: look-ups by name and by number, and the codecs."""

    name: str
    protocol: str
    protonum: int
    version: int
    definitions: dict[str, Any]
    enums: dict[str, Enum]
    structs: dict[str, Struct]
    attr_sets: dict[str, AttrSet]
    sub_messages: dict[str, SubMessage]
    ops: dict[str, Op]
    replies: dict[int, Op]  # message id (raw) or cmd (genl) from the kernel
    requests: dict[int, Op]
    mcast_groups: dict[str, int | None]
    fixed_header: Struct | None
    origin: str = ""
    _cplan: _CPlan | None = field(default=None, repr=False, compare=False)
    _dplan: _DictPlan | None = field(default=None, repr=False, compare=False)

    @property
    def genl(self) -> bool:
        """True for a generic netlink family (genetlink*), False for netlink-raw."""
        return self.protocol != "netlink-raw"

    def op(self, name: str) -> Op:
        """:raises KeyError: naming the operations the spec has."""
        try:
            return self.ops[name]
        except KeyError:
            raise KeyError(f"spec {self.name!r} has no operation {name!r} "
                           f"(it has: {', '.join(self.ops)})") from None

    # -- encode -----------------------------------------------------------

    def encode(self, op: str | Op, values: Mapping[str, Any] | None = None, *,
               reply: bool = False) -> bytes:
        """The payload of a message of ``op`` (fixed header fields and
        attributes by name, mixed in one dict): genlmsghdr for generic netlink,
        the fixed header, then the attributes.

        :raises EncodeError: a name the op's set does not have, or a bad value.
        """
        return self._encode(op, values, reply, True)

    def _encode(self, op: str | Op, values: Mapping[str, Any] | None, reply: bool,
                in_c: bool) -> bytes:
        o = op if isinstance(op, Op) else self.op(op)
        values = dict(values or {})
        out = bytearray()
        if self.genl:
            cmd = o.rsp_value if reply else o.req_value
            if cmd is None:
                raise EncodeError(f"operation {o.name!r} has no "
                                  f"{'reply' if reply else 'request'} message id")
            out += _GENL_HDR.pack(cmd, self.version, 0)
        if o.fixed_header is not None:
            hdr = {k: values.pop(k) for k in list(values)
                   if any(m.name == k for m in o.fixed_header.members)}
            out += o.fixed_header.encode(hdr, f"{o.name} header")
            out += bytes(-len(out) % 4)
        if values:
            if o.attrs is None:
                raise EncodeError(f"operation {o.name!r} carries no attributes, "
                                  f"got {', '.join(values)}")
            plan = self._dplan
            if plan is None:
                plan = self._dplan = _DictPlan(self)
            # C for the common cases; None: Python encodes (and names what is wrong)
            b = _specdict.encode(plan.cap, plan.index[id(o.attrs)], values) if in_c else None
            if b is None:
                _encode_set(out, o.attrs, values, o.name)
            else:
                out += b
        return bytes(out)

    def encode_py(self, op: str | Op, values: Mapping[str, Any] | None = None, *,
                  reply: bool = False) -> bytes:
        """:meth:`encode` attribute by attribute in Python (a reference for tests)."""
        return self._encode(op, values, reply, False)

    def message(self, op: str | Op, values: Mapping[str, Any] | None = None, *,
                flags: int = NLM_F_REQUEST, family_id: int | None = None) -> Message:
        """A request message of ``op``.  Generic netlink needs the family's
        id (``family_id``), resolved at run time."""
        o = op if isinstance(op, Op) else self.op(op)
        if self.genl:
            if family_id is None:
                raise ValueError(f"{self.name} is a generic netlink family: "
                                 "give its family_id (nlfast.genl.family)")
            mtype = family_id
        else:
            if o.req_value is None:
                raise EncodeError(f"operation {o.name!r} has no request message id")
            mtype = o.req_value
        return Message(mtype, flags, self.encode(o, values))

    # -- decode -----------------------------------------------------------

    def reply_op(self, msg_type: int, cmd: int | None = None) -> Op | None:
        """The operation a received message (its type, and genl command) answers, or None."""
        return self.replies.get(cmd if self.genl and cmd is not None else msg_type)

    def decode(self, msg_type: int, payload: bytes | memoryview, *,
               op: Op | None = None) -> dict[str, Any]:
        """The dict of one message's payload (fixed header fields and
        attributes by name; an attribute the spec does not know is kept
        under its number, as bytes).

        :raises DecodeError: the payload is malformed or its message id unknown.
        """
        o, off = self._payload_op(msg_type, payload, op)
        return self._decode_at(o, payload, None, 0, off, len(payload))

    def _payload_op(self, msg_type: int, payload: bytes | memoryview,
                    op: Op | None = None) -> tuple[Op, int]:
        """The op a payload answers (``op`` if given), and where its fixed
        header starts (after the genlmsghdr of generic netlink)."""
        off = 0
        cmd: int | None = None
        if self.genl:
            if len(payload) < 4:
                raise DecodeError("generic netlink payload shorter than its genlmsghdr")
            cmd = payload[0]
            off = 4
        o = op or self.reply_op(msg_type, cmd)
        if o is None:
            raise DecodeError(f"spec {self.name!r} has no message with id "
                              f"{cmd if self.genl else msg_type}")
        return o, off

    def _decode_at(self, o: Op, buf: bytes | memoryview, addr: Any, boff: int, off: int,
                   plen: int) -> dict[str, Any]:
        """The dict of a message of ``o`` whose payload is buf[boff, boff +
        plen), its header ``off`` bytes in.  ``addr``: buf's address as an
        int, or buf when it is bytes (None: found here)."""
        plan = self._dplan
        if plan is None:
            plan = self._dplan = _DictPlan(self)
        hdr, aset, _, _ = plan.op(o)
        out: dict[str, Any] = {}
        hoff = off
        fh = o.fixed_header
        if fh is not None:
            if plen - off < fh.size:
                raise DecodeError(f"{o.name}: {plen - off} bytes, its fixed header "
                                  f"{fh.name} needs {fh.size}")
            if hdr < 0:
                out.update(fh.decode(buf, boff + off))
            # attributes start at the aligned end of the header; a payload may
            # end unpadded right after it, with none
            off = min(off + ((fh.size + 3) & ~3), plen)
        if hdr >= 0 or aset >= 0:
            if addr is None:
                addr = buf if buf.__class__ is bytes else int(
                    ffi.cast("uintptr_t", address(buf)))
            _specdict.decode(plan.cap, hdr, aset, buf, addr, boff, hoff, off, plen - off, out)
        return out

    def _decode_view(self, o: Op, m: MessageView) -> dict[str, Any]:
        """:meth:`decode` of a received message as a message of ``o``,
        read in place."""
        buf = m._buf
        src = buf.obj
        if src.__class__ is bytes and buf.nbytes == len(src):
            addr: Any = src
        else:
            addr = int(ffi.cast("uintptr_t", m._ptr()))
        return self._decode_mem(o, buf, addr, m._off + 16, m._len - 16)

    def _decode_mem(self, o: Op, buf: Any, addr: Any, boff: int, plen: int) -> dict[str, Any]:
        """:meth:`decode` of the payload at buf[boff, boff + plen) as a
        message of ``o``, read in place (``addr``: where buf starts, an int,
        or buf when it is bytes)."""
        plan = self._dplan
        if plan is None:
            plan = self._dplan = _DictPlan(self)
        hit = plan.ops.get(id(o))
        if hit is None:
            hit = plan.op(o)
        hdr, aset, need, step = hit
        if self.protocol != "netlink-raw":  # self.genl, without a call
            if plen < 4:
                raise DecodeError("generic netlink payload shorter than its genlmsghdr")
            return self._decode_at(o, buf, addr, boff, 4, plen)
        if hdr < 0 and need:  # a header C leaves to Python
            return self._decode_at(o, buf, addr, boff, 0, plen)
        if plen < need:
            fh = o.fixed_header
            assert fh is not None
            raise DecodeError(f"{o.name}: {plen} bytes, its fixed header "
                              f"{fh.name} needs {fh.size}")
        off = step if step < plen else plen
        return _specdict.decode(plan.cap, hdr, aset, buf, addr, boff, 0, off,  # type: ignore[no-any-return]
                                plen - off, {})

    def decode_py(self, msg_type: int, payload: bytes | memoryview) -> dict[str, Any]:
        """:meth:`decode` attribute by attribute in Python, without the C
        plan (a reference for tests)."""
        out: dict[str, Any] = {}
        o, off = self._payload_op(msg_type, payload)
        fh = o.fixed_header
        if fh is not None:
            if len(payload) - off < fh.size:
                raise DecodeError(f"{o.name}: {len(payload) - off} bytes, its fixed header "
                                  f"{fh.name} needs {fh.size}")
            out.update(fh.decode(payload, off))
            off += (fh.size + 3) & ~3
        if o.attrs is not None:
            _decode_set(payload, off, len(payload), o.attrs, out)
        return out

    def to_dict(self, msg: MessageView | bytes) -> dict[str, Any]:
        """The dict of one received message (a view, or its bytes)."""
        if not isinstance(msg, MessageView):
            msg = MessageView.from_bytes(bytes(msg))
        return self.decode(msg.type, msg.payload)


# -- the C plan -------------------------------------------------------------


class _CPlan:
    """A spec's attribute sets as the C shim's tables (csrc/nlf_spec.h), for
    the columns :class:`_DictPlan` leaves to Python (nests, arrays, ...)."""

    def __init__(self, spec: Spec) -> None:
        sets = list(spec.attr_sets.values())
        self.index = {id(s): i for i, s in enumerate(sets)}
        self.keys: list[Attr] = []
        self.plain: list[bool] = []
        self._keep: list[Any] = []
        self.sets = ffi.new("struct nlf_spec_set[]", max(len(sets), 1))
        self.cattr: dict[int, Any] = {}
        self.nsets = len(sets)
        for i, s in enumerate(sets):
            n = max(s.by_value, default=-1) + 1
            arr = ffi.new("struct nlf_spec_attr[]", max(n, 1))
            for v, a in s.by_value.items():
                self._fill(arr[v], a)
                self.cattr[id(a)] = ffi.addressof(arr, v)
            self.sets[i].n = n
            self.sets[i].attrs = arr
            self._keep.append(arr)

    def _scalar_kind(self, kind: int, sc: Scalar) -> tuple[int, int, int]:
        """(C kind, size, flags) of a value of Python kind ``kind``."""
        if kind == K_INT:
            assert sc.fmt is not None
            fmt = sc.fmt.format
            signed = fmt[-1] in "bhiq"
            return ((lib.NLF_SK_SINT if signed else lib.NLF_SK_UINT), sc.fmt.size,
                    lib.NLF_SF_BE if fmt[0] == ">" else 0)
        if kind == K_UINT:
            return lib.NLF_SK_UINT, 0, 0
        if kind == K_SINT:
            return lib.NLF_SK_SINT, 0, 0
        if kind == K_STRING:
            return lib.NLF_SK_STRING, 0, 0
        if kind == K_FLAG:
            return lib.NLF_SK_FLAG, 0, 0
        if kind == K_BINARY and sc.struct is None:
            return lib.NLF_SK_BINARY, 0, 0
        if kind in (K_PAD, K_UNUSED):
            return lib.NLF_SK_SKIP, 0, 0
        return lib.NLF_SK_RAW, 0, 0

    def _fill(self, ca: Any, a: Attr) -> None:
        ca.key = len(self.keys)
        self.keys.append(a)
        self.plain.append(a.scalar.enum is None and a.scalar.hint is None)
        ca.nest = self.index[id(a.nest)] if a.nest is not None else -1
        if a.kind == K_NEST:
            ca.kind = lib.NLF_SK_NEST
        elif a.kind == K_INDEXED:
            ca.kind = lib.NLF_SK_ARRAY
            if a.sub_kind == K_NEST:
                ca.sub_kind = lib.NLF_SK_NEST
            else:
                ca.sub_kind, ca.size, ca.flags = self._scalar_kind(a.sub_kind, a.scalar)
        else:
            ca.kind, ca.size, ca.flags = self._scalar_kind(a.kind, a.scalar)


# -- the dict plan: C builds the dicts --------------------------------------

if lib.nlf_specdict_register() < 0:  # pragma: no cover - only out of memory
    raise ImportError("nlfast: the shim could not make nlfast._specdict")
_specdict: Any = sys.modules["nlfast._specdict"]
# kinds and conversions of csrc/nlf_specdict.c
_DK_STRUCT = 20
_CV_NONE, _CV_ENUM, _CV_CALL, _CV_MAC, _CV_FLAGS = range(5)
_MK_INT, _MK_STRING, _MK_BINARY, _MK_PAD = range(1, 5)
# the attribute kinds whose columns csrc/nlf_specdict.c decodes
_C_COLUMNS = frozenset((lib.NLF_SK_UINT, lib.NLF_SK_SINT, lib.NLF_SK_STRING, lib.NLF_SK_BINARY,
                        lib.NLF_SK_FLAG, _DK_STRUCT))
_COL_C = 1


def _raw(a: Attr, buf: bytes | memoryview, p: int, n: int, here: dict[str, Any] | None) -> Any:
    """What the C decoder leaves to Python: one value, as the Python decoder makes it."""
    if here is None:
        return _decode_elem(buf, p, n, a)
    return _decode_one(buf, p, n, a, here)


def _int_cv(sc: Scalar) -> tuple[int, Any, Any]:
    """(conversion, enum map, callable) of an integer decoded as ``sc`` says."""
    if sc.enum is None and sc.hint is None:
        return _CV_NONE, None, None
    if sc.enum is not None:
        if sc.enum.is_flags or sc.as_flags:
            return _CV_FLAGS, sc.enum.bits, None
        return _CV_ENUM, sc.enum.by_value, None
    return _CV_CALL, None, sc.decode_int


def _bin_cv(hint: str | None) -> tuple[int, Any]:
    """(conversion, callable) of a binary value shown as ``hint`` says."""
    if hint is None or hint == "hex":
        return _CV_NONE, None
    if hint in ("mac", "fddi"):
        return _CV_MAC, None
    return _CV_CALL, functools.partial(_hint_decode, hint)


class _DictPlan:
    """A spec's attribute sets and structs as the tables csrc/nlf_specdict.c
    walks: one C call decodes a message into its dict."""

    def __init__(self, spec: Spec) -> None:
        sets = list(spec.attr_sets.values())
        self.index = {id(s): i for i, s in enumerate(sets)}
        self.structs: list[tuple[int, list[tuple[Any, ...]]]] = []
        self.sindex: dict[int, int] = {}
        self.ops: dict[int, tuple[int, int, int, int]] = {}
        for st in spec.structs.values():
            self.struct(st)
        self.tables = [self._set(s) for s in sets]
        # names to types for encoding (a name whose number another attribute took: Python's)
        names = [{k: a.value for k, a in s.by_name.items() if s.by_value.get(a.value) is a}
                 for s in sets]
        self.cap = _specdict.compile(self.tables, self.structs, _raw, DecodeError, names)
        # (op, name) -> (how, set, type, skip) of columns, see Family.column
        self.cols: dict[tuple[int, str], tuple[int, int, int, int]] = {}

    def struct(self, st: Struct) -> int:
        """The index of ``st`` in the plan, -1 when C cannot decode it."""
        i = self.sindex.get(id(st))
        if i is not None:
            return i
        self.sindex[id(st)] = -1  # while its members are compiled
        members: list[tuple[Any, ...]] = []
        off = 0
        for m in st.members:
            sc = m.scalar
            if m.kind == "int":
                assert sc.fmt is not None
                f = sc.fmt.format
                cv, emap, conv = _int_cv(sc)
                members.append((m.name, off, _MK_INT, m.size, int(f[-1] in "bhiq"),
                                int(f[0] == ">"), cv, emap, conv))
            elif m.kind == "string":
                members.append((m.name, off, _MK_STRING, m.size, 0, 0, _CV_NONE, None, None))
            elif m.kind == "binary":
                if sc.struct is not None:
                    cv, conv = _CV_CALL, functools.partial(_struct_member, sc.struct)
                else:
                    cv, conv = _bin_cv(sc.hint)
                members.append((m.name, off, _MK_BINARY, m.size, 0, 0, cv, None, conv))
            off += m.size
        if off != st.size:
            return -1
        i = len(self.structs)
        self.structs.append((st.size, members))
        self.sindex[id(st)] = i
        return i

    def _scalar(self, kind: int, sc: Scalar) -> tuple[int, int, int, int, Any, Any, int]:
        """(C kind, size, big-endian, conversion, map, callable, struct) of a value."""
        if kind == K_INT:
            assert sc.fmt is not None
            f = sc.fmt.format
            cv, emap, conv = _int_cv(sc)
            return (lib.NLF_SK_SINT if f[-1] in "bhiq" else lib.NLF_SK_UINT, sc.fmt.size,
                    int(f[0] == ">"), cv, emap, conv, -1)
        if kind in (K_UINT, K_SINT):
            cv, emap, conv = _int_cv(sc)
            return (lib.NLF_SK_UINT if kind == K_UINT else lib.NLF_SK_SINT, 0, 0, cv, emap,
                    conv, -1)
        if kind == K_STRING:
            return lib.NLF_SK_STRING, 0, 0, _CV_NONE, None, None, -1
        if kind == K_FLAG:
            return lib.NLF_SK_FLAG, 0, 0, _CV_NONE, None, None, -1
        if kind == K_BINARY:
            cv, conv = _bin_cv(sc.hint)
            si = self.struct(sc.struct) if sc.struct is not None else -1
            if sc.struct is not None and si < 0:
                return lib.NLF_SK_RAW, 0, 0, _CV_NONE, None, None, -1
            return (_DK_STRUCT if si >= 0 else lib.NLF_SK_BINARY, 0, 0, cv, None, conv, si)
        if kind in (K_PAD, K_UNUSED):
            return lib.NLF_SK_SKIP, 0, 0, _CV_NONE, None, None, -1
        return lib.NLF_SK_RAW, 0, 0, _CV_NONE, None, None, -1

    def _set(self, s: AttrSet) -> list[tuple[Any, ...] | None]:
        n = max(s.by_value, default=-1) + 1
        table: list[tuple[Any, ...] | None] = [None] * n
        for v, a in s.by_value.items():
            nest = self.index[id(a.nest)] if a.nest is not None else -1
            sub_kind = sub_cv = 0
            if a.kind == K_NEST:
                kind, size, be, cv, emap, conv, si = (lib.NLF_SK_NEST, 0, 0, _CV_NONE, None,
                                                      None, -1)
            elif a.kind == K_INDEXED:
                kind, cv = lib.NLF_SK_ARRAY, _CV_NONE
                if a.sub_kind == K_NEST:
                    sub_kind, size, be, emap, conv, si = lib.NLF_SK_NEST, 0, 0, None, None, -1
                else:
                    sub_kind, size, be, sub_cv, emap, conv, si = self._scalar(a.sub_kind,
                                                                              a.scalar)
            else:
                kind, size, be, cv, emap, conv, si = self._scalar(a.kind, a.scalar)
            rmap = a.scalar.enum.by_name if cv == _CV_ENUM and a.scalar.enum else None
            table[v] = (v, kind, size, be, sub_kind, int(a.multi), cv, sub_cv, nest, si,
                        a.name, emap, conv, a, rmap)
        return table

    def op(self, o: Op) -> tuple[int, int, int, int]:
        """(header struct, attribute set, header size, aligned header size)
        of an op's messages (-1: none, or a header C leaves to Python; 0)."""
        hit = self.ops.get(id(o))
        if hit is None:
            fh = o.fixed_header
            hit = self.ops[id(o)] = (
                self.sindex.get(id(fh), -1) if fh is not None else -1,
                self.index[id(o.attrs)] if o.attrs is not None else -1,
                fh.size if fh is not None else 0,
                (fh.size + 3) & ~3 if fh is not None else 0)
        return hit


def _struct_member(st: Struct, b: bytes) -> dict[str, Any]:
    return st.decode(b, 0)


# -- the codecs -------------------------------------------------------------

_u16 = struct.Struct("=H")
_u32 = struct.Struct("=I")
_u64 = struct.Struct("=Q")
_s32 = struct.Struct("=i")
_s64 = struct.Struct("=q")


def _nla_walk(buf: bytes | memoryview, off: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type without flags, payload offset, payload length) of each attribute."""
    unpack = _NLA.unpack_from
    while end - off >= 4:
        alen, atype = unpack(buf, off)
        if alen < 4 or alen > end - off:
            raise DecodeError(f"malformed attribute at offset {off}: length {alen}")
        yield atype & NLA_TYPE_MASK, off + 4, alen - 4
        off += (alen + 3) & ~3


def _decode_set(buf: bytes | memoryview, off: int, end: int, aset: AttrSet,
                out: dict[str, Any]) -> dict[str, Any]:
    by_value = aset.by_value
    for t, p, n in _nla_walk(buf, off, end):
        a = by_value.get(t)
        if a is None:
            out[t] = bytes(buf[p : p + n])  # type: ignore[index]
            continue
        if a.kind == K_PAD or a.kind == K_UNUSED:
            continue
        v = _decode_one(buf, p, n, a, out)
        if a.multi:
            out.setdefault(a.name, []).append(v)
        else:
            out[a.name] = v
    return out


def _decode_one(buf: bytes | memoryview, p: int, n: int, a: Attr,
                here: dict[str, Any]) -> Any:
    k = a.kind
    sc = a.scalar
    if k == K_INT:
        fmt = sc.fmt
        assert fmt is not None
        if n < fmt.size:
            raise DecodeError(f"attribute {a.name}: {n} bytes, {a.type} needs {fmt.size}")
        return sc.decode_int(fmt.unpack_from(buf, p)[0])
    if k == K_STRING:
        b = bytes(buf[p : p + n])
        return b.split(b"\0", 1)[0].decode(errors="replace")
    if k == K_NEST:
        assert a.nest is not None
        return _decode_set(buf, p, p + n, a.nest, {})
    if k in (K_UINT, K_SINT):
        signed = k == K_SINT
        if n == 4:
            v = (_s32 if signed else _u32).unpack_from(buf, p)[0]
        elif n == 8:
            v = (_s64 if signed else _u64).unpack_from(buf, p)[0]
        else:
            raise DecodeError(f"attribute {a.name}: {n} bytes, {a.type} needs 4 or 8")
        return sc.decode_int(v)
    if k == K_FLAG:
        return True
    if k == K_BINARY:
        if sc.struct is not None and n >= sc.struct.size:
            return sc.struct.decode(buf, p)
        return _hint_decode(sc.hint, bytes(buf[p : p + n]))
    if k == K_BITFIELD32:
        if n < 8:
            raise DecodeError(f"attribute {a.name}: {n} bytes, bitfield32 needs 8")
        v, sel = struct.unpack_from("=II", buf, p)
        return {"value": sc.decode_int(v), "selector": sc.decode_int(sel)}
    if k == K_INDEXED:
        items: list[Any] = []
        for _i, ep, en in _nla_walk(buf, p, p + n):
            items.append(_decode_elem(buf, ep, en, a))
        return items
    if k == K_NTV:
        return _decode_ntv(buf, p, p + n, a, 0)
    if k == K_SUBMSG:
        return _decode_submsg(buf, p, n, a, here)
    raise DecodeError(f"attribute {a.name}: cannot decode {a.type}")


def _decode_elem(buf: bytes | memoryview, p: int, n: int, a: Attr) -> Any:
    """An element of an indexed array, by its sub-type."""
    sk = a.sub_kind
    if sk == K_NEST:
        assert a.nest is not None
        return _decode_set(buf, p, p + n, a.nest, {})
    elem = Attr(a.name, 0, a.sub_type or "binary", sk, a.scalar)
    return _decode_one(buf, p, n, elem, {})


def _decode_ntv(buf: bytes | memoryview, off: int, end: int, a: Attr, level: int) -> Any:
    out: dict[int, Any] = {}
    for t, p, n in _nla_walk(buf, off, end):
        if level + 1 < len(a.type_value):
            out[t] = _decode_ntv(buf, p, p + n, a, level + 1)
        else:
            assert a.nest is not None
            out[t] = _decode_set(buf, p, p + n, a.nest, {})
    return out


def _decode_submsg(buf: bytes | memoryview, p: int, n: int, a: Attr,
                   here: dict[str, Any]) -> Any:
    assert a.submsg is not None and a.selector is not None
    key = here.get(a.selector)
    fmt = a.submsg.formats.get(str(key)) if key is not None else None
    if fmt is None:
        # no selector before it in this nest, or a format the spec does not
        # describe: the payload as it is
        return bytes(buf[p : p + n])
    out: dict[str, Any] = {}
    off = p
    if fmt.fixed_header is not None:
        if n < fmt.fixed_header.size:
            raise DecodeError(f"attribute {a.name}: {n} bytes, header "
                              f"{fmt.fixed_header.name} needs {fmt.fixed_header.size}")
        out.update(fmt.fixed_header.decode(buf, p))
        off += (fmt.fixed_header.size + 3) & ~3
    if fmt.attrs is not None:
        _decode_set(buf, off, p + n, fmt.attrs, out)
    return out


def _put(out: bytearray, t: int, payload: bytes, where: str) -> None:
    if len(payload) + 4 > 0xFFFF:
        raise EncodeError(f"{where}: {len(payload)} bytes do not fit an attribute")
    out += _NLA.pack(len(payload) + 4, t)
    out += payload
    out += bytes(-len(payload) % 4)


def _nest(out: bytearray, t: int, where: str) -> int:
    start = len(out)
    out += _NLA.pack(0, t | NLA_F_NESTED)
    return start


def _end(out: bytearray, start: int, where: str) -> None:
    n = len(out) - start
    if n > 0xFFFF:
        raise EncodeError(f"{where}: nest of {n} bytes does not fit an attribute")
    _u16.pack_into(out, start, n)


def _encode_set(out: bytearray, aset: AttrSet, values: Mapping[str, Any], where: str) -> None:
    later: list[tuple[Attr, Any]] = []
    for name, v in values.items():
        a = aset.by_name.get(name)
        if a is None:
            raise EncodeError(f"{where}: attribute set {aset.name!r} has no attribute "
                              f"{name!r}")
        if a.kind == K_SUBMSG:
            later.append((a, v))  # after its selector, whatever the dict's order
        else:
            _encode_attr(out, a, v, f"{where}.{name}", values)
    for a, v in later:
        _encode_attr(out, a, v, f"{where}.{a.name}", values)


def _encode_attr(out: bytearray, a: Attr, v: Any, at: str, here: Mapping[str, Any]) -> None:
    if a.multi:
        if not isinstance(v, (list, tuple)):
            raise EncodeError(f"{at} is multi-attr: give a list, not {v!r}")
        for item in v:
            _encode_one(out, a, item, at, here)
    else:
        _encode_one(out, a, v, at, here)


def _int_payload(a: Attr, v: Any, where: str) -> bytes:
    sc = a.scalar
    n = sc.encode_int(v, where)
    k = a.kind
    try:
        if k == K_INT:
            assert sc.fmt is not None
            return sc.fmt.pack(n)
        if k == K_UINT:
            return _u32.pack(n) if 0 <= n <= 0xFFFFFFFF else _u64.pack(n)
        return _s32.pack(n) if -(1 << 31) <= n < 1 << 31 else _s64.pack(n)
    except struct.error as e:
        raise EncodeError(f"{where}: {v!r} does not fit {a.type} ({e})") from None


def _encode_one(out: bytearray, a: Attr, v: Any, where: str, here: Mapping[str, Any]) -> None:
    k = a.kind
    t = a.value
    if k in (K_INT, K_UINT, K_SINT):
        _put(out, t, _int_payload(a, v, where), where)
    elif k == K_STRING:
        if not isinstance(v, str):
            raise EncodeError(f"{where} needs a str, not {v!r}")
        b = v.encode()
        if b"\0" in b:
            raise EncodeError(f"{where}: the string holds a NUL byte")
        _put(out, t, b + b"\0", where)
    elif k == K_FLAG:
        if v is not True:
            if v is False or v is None:
                return
            raise EncodeError(f"{where} is a flag: give True, not {v!r}")
        _put(out, t, b"", where)
    elif k == K_BINARY:
        sc = a.scalar
        if sc.struct is not None and isinstance(v, Mapping):
            _put(out, t, sc.struct.encode(v, where), where)
        else:
            _put(out, t, _hint_encode(sc.hint, v, where), where)
    elif k == K_BITFIELD32:
        if not isinstance(v, Mapping) or set(v) != {"value", "selector"}:
            raise EncodeError(f"{where} is a bitfield32: give {{'value': .., 'selector': ..}}")
        sc = a.scalar
        try:
            payload = struct.pack("=II", sc.encode_int(v["value"], where),
                                  sc.encode_int(v["selector"], where))
        except struct.error as e:
            raise EncodeError(f"{where}: {v!r} does not fit ({e})") from None
        _put(out, t, payload, where)
    elif k == K_NEST:
        if not isinstance(v, Mapping):
            raise EncodeError(f"{where} is a nest: give a dict, not {v!r}")
        assert a.nest is not None
        s = _nest(out, t, where)
        _encode_set(out, a.nest, v, where)
        _end(out, s, where)
    elif k == K_INDEXED:
        if not isinstance(v, (list, tuple)):
            raise EncodeError(f"{where} is an indexed-array: give a list, not {v!r}")
        s = _nest(out, t, where)
        for i, item in enumerate(v):
            at = f"{where}[{i}]"
            if a.sub_kind == K_NEST:
                assert a.nest is not None
                if not isinstance(item, Mapping):
                    raise EncodeError(f"{at} needs a dict, not {item!r}")
                s2 = _nest(out, i, at)
                _encode_set(out, a.nest, item, at)
                _end(out, s2, at)
            else:
                elem = Attr(a.name, i, a.sub_type or "binary", a.sub_kind, a.scalar)
                _encode_one(out, elem, item, at, {})
        _end(out, s, where)
    elif k == K_NTV:
        s = _nest(out, t, where)
        _encode_ntv(out, a, v, where, 0)
        _end(out, s, where)
    elif k == K_SUBMSG:
        assert a.submsg is not None and a.selector is not None
        key = here.get(a.selector)
        fmt = a.submsg.formats.get(str(key)) if key is not None else None
        if fmt is None:
            if isinstance(v, (bytes, bytearray)):
                _put(out, t, bytes(v), where)
                return
            raise EncodeError(f"{where}: sub-message {a.submsg.name!r} has no format for "
                              f"{a.selector}={key!r}")
        if not isinstance(v, Mapping):
            raise EncodeError(f"{where} is a sub-message: give a dict, not {v!r}")
        rest = dict(v)
        s = _nest(out, t, where)
        if fmt.fixed_header is not None:
            hdr = {m.name: rest.pop(m.name) for m in fmt.fixed_header.members
                   if m.name in rest}
            out += fmt.fixed_header.encode(hdr, where)
            out += bytes(-len(out) % 4)
        if rest:
            if fmt.attrs is None:
                raise EncodeError(f"{where}: format {key!r} has no attributes")
            _encode_set(out, fmt.attrs, rest, where)
        _end(out, s, where)
    # pad / unused: nothing to send


def _encode_ntv(out: bytearray, a: Attr, v: Any, where: str, level: int) -> None:
    if not isinstance(v, Mapping):
        raise EncodeError(f"{where} is a nest-type-value: give a dict by type, not {v!r}")
    for t, inner in v.items():
        if not isinstance(t, int) or not 0 <= t <= NLA_TYPE_MASK:
            raise EncodeError(f"{where}: nest-type-value keys are attribute types, not {t!r}")
        at = f"{where}[{t}]"
        s = _nest(out, t, at)
        if level + 1 < len(a.type_value):
            _encode_ntv(out, a, inner, at, level + 1)
        else:
            assert a.nest is not None
            _encode_set(out, a.nest, inner, at)
        _end(out, s, at)


# -- compiling a spec ---------------------------------------------------------

Doc = Mapping[str, Any]


class _Compiler:
    def __init__(self, doc: Doc, origin: str) -> None:
        self.doc = doc
        self.origin = origin
        self.consts: dict[str, Any] = {}
        self.enums: dict[str, Enum] = {}
        self.structs: dict[str, Struct] = {}
        self.raw_structs: dict[str, tuple[str, Doc]] = {}
        self.sets: dict[str, AttrSet] = {}
        self.raw_sets: dict[str, tuple[str, Doc]] = {}
        self.submsgs: dict[str, SubMessage] = {}
        self.making: set[str] = set()  # structs whose members are being compiled

    def err(self, path: str, what: str) -> SpecError:
        return SpecError(f"{self.origin}: {path}: {what}")

    def need(self, d: Any, key: str, path: str) -> Any:
        if not isinstance(d, Mapping) or key not in d:
            raise self.err(path, f"'{key}' is missing")
        return d[key]

    def length(self, v: Any, path: str) -> int:
        if isinstance(v, int):
            return v
        if isinstance(v, str):
            m = re.fullmatch(r"\s*([\w-]+)\s*(?:-\s*(\d+))?\s*", v)
            if m and m[1] in self.consts and isinstance(self.consts[m[1]], int):
                return int(self.consts[m[1]]) - int(m[2] or 0)
            if m and m[1].isdigit():
                return int(m[1]) - int(m[2] or 0)
        raise self.err(path, f"length {v!r} is neither a number nor a const definition")

    def compile(self) -> Spec:
        doc = self.doc
        if not isinstance(doc, Mapping):
            raise self.err("/", "a spec is a YAML mapping")
        name = self.need(doc, "name", "/")
        protocol = doc.get("protocol", "genetlink")
        if protocol not in PROTOCOLS:
            raise self.err("/protocol", f"unsupported protocol {protocol!r} "
                           f"(supported: {', '.join(PROTOCOLS)})")
        if protocol == "netlink-raw" and "protonum" not in doc:
            raise self.err("/", "a netlink-raw spec needs 'protonum'")
        for i, d in enumerate(doc.get("definitions") or ()):
            self.definition(d, f"/definitions/{i}")
        for sname, (path, d) in self.raw_structs.items():
            self.make_struct(sname, path, d)
        sets = doc.get("attribute-sets") or ()
        for i, s in enumerate(sets):
            sname = self.need(s, "name", f"/attribute-sets/{i}")
            self.raw_sets[sname] = (f"/attribute-sets/{i}", s)
            self.sets[sname] = AttrSet(sname)
        for i, sm in enumerate(doc.get("sub-messages") or ()):
            smname = self.need(sm, "name", f"/sub-messages/{i}")
            self.submsgs[smname] = SubMessage(smname, {})
        for sname, (path, s) in self.raw_sets.items():
            if "subset-of" not in s:
                self.attr_set(sname, path, s)
        for sname, (path, s) in self.raw_sets.items():
            if "subset-of" in s:
                self.subset(sname, path, s)
        for i, sm in enumerate(doc.get("sub-messages") or ()):
            self.sub_message(sm, f"/sub-messages/{i}")
        ops, replies, requests, fixed = self.operations(protocol)
        groups: dict[str, int | None] = {}
        for i, g in enumerate((doc.get("mcast-groups") or {}).get("list") or ()):
            gname = self.need(g, "name", f"/mcast-groups/list/{i}")
            if protocol == "netlink-raw":
                # the value is optional in netlink-raw.yaml (nftables' mgmt has none)
                groups[gname] = int(g["value"]) if "value" in g else None
            else:
                groups[gname] = None  # resolved by name at run time
        return Spec(
            name=name, protocol=protocol, protonum=int(doc.get("protonum", NETLINK_GENERIC)),
            version=int(doc.get("version", 1)), definitions=self.consts, enums=self.enums,
            structs=self.structs, attr_sets=self.sets, sub_messages=self.submsgs, ops=ops,
            replies=replies, requests=requests, mcast_groups=groups, fixed_header=fixed,
            origin=self.origin,
        )

    def definition(self, d: Doc, path: str) -> None:
        name = self.need(d, "name", path)
        t = self.need(d, "type", path)
        if t == "const":
            self.consts[name] = self.need(d, "value", path)
        elif t in ("enum", "flags"):
            start = d.get("value-start", 0)
            if not isinstance(start, int):
                start = self.length(start, f"{path}/value-start")
            by_name: dict[str, int] = {}
            for j, e in enumerate(d.get("entries") or ()):
                ename = e if isinstance(e, str) else self.need(e, "name", f"{path}/entries/{j}")
                if isinstance(e, Mapping) and "value" in e:
                    start = int(e["value"])  # for flags, a bit position
                by_name[ename] = (1 << start) if t == "flags" else start
                start += 1
            self.enums[name] = Enum(name, t == "flags", by_name,
                                    {v: k for k, v in by_name.items()})
        elif t == "struct":
            self.raw_structs[name] = (path, d)
        else:
            raise self.err(f"{path}/type", f"unsupported definition type {t!r}")

    def make_struct(self, name: str, path: str, d: Doc) -> Struct:
        if name in self.structs:
            return self.structs[name]
        members: list[Member] = []
        size = 0
        s = Struct(name, members, 0)
        self.structs[name] = s
        self.making.add(name)
        for j, m in enumerate(self.need(d, "members", path)):
            mp = f"{path}/members/{j}"
            mname = self.need(m, "name", mp)
            mt = self.need(m, "type", mp)
            if mt in _INT_FMT:
                fmt = struct.Struct((">" if m.get("byte-order") == "big-endian" else "=")
                                    + _INT_FMT[mt])
                members.append(Member(mname, "int", fmt.size, self.scalar(m, mp, fmt)))
            elif mt in ("pad", "string"):
                n = self.length(self.need(m, "len", mp), f"{mp}/len")
                members.append(Member(mname, mt, n, Scalar(None)))
            elif mt == "binary":
                sc = self.scalar(m, mp, None)
                if "struct" in m:
                    n = sc.struct.size if sc.struct is not None else 0
                else:
                    n = self.length(self.need(m, "len", mp), f"{mp}/len")
                members.append(Member(mname, "binary", n, sc))
            else:
                raise self.err(f"{mp}/type", f"unsupported struct member type {mt!r}")
            size += members[-1].size
        s.size = size
        self.making.discard(name)
        return s

    def scalar(self, d: Doc, path: str, fmt: struct.Struct | None) -> Scalar:
        sc = Scalar(fmt)
        if "enum" in d:
            e = self.enums.get(d["enum"])
            if e is None:
                raise self.err(f"{path}/enum", f"no enum or flags definition {d['enum']!r}")
            sc.enum = e
            sc.as_flags = bool(d.get("enum-as-flags", False))
        hint = d.get("display-hint")
        if hint is not None:
            if hint not in _HINTS:
                raise self.err(f"{path}/display-hint", f"unsupported display hint {hint!r}")
            sc.hint = hint
        if "struct" in d:
            sname = d["struct"]
            if sname not in self.raw_structs:
                raise self.err(f"{path}/struct", f"no struct definition {sname!r}")
            if sname in self.making:
                raise self.err(f"{path}/struct", f"struct {sname!r} would contain itself")
            rp, rd = self.raw_structs[sname]
            sc.struct = self.make_struct(sname, rp, rd)
        return sc

    def attr_set(self, sname: str, path: str, s: Doc) -> None:
        aset = self.sets[sname]
        val = 1
        for j, a in enumerate(self.need(s, "attributes", path)):
            ap = f"{path}/attributes/{j}"
            if "value" in a:
                val = int(a["value"])
            attr = self.attr(a, ap, val)
            if attr.name in aset.by_name:
                raise self.err(ap, f"attribute {attr.name!r} appears twice in the set")
            aset.by_name[attr.name] = attr
            aset.by_value.setdefault(val, attr)
            if attr.kind == K_PAD:
                aset.pad = val
            val += 1

    def subset(self, sname: str, path: str, s: Doc) -> None:
        parent_name = s["subset-of"]
        parent = self.sets.get(parent_name)
        if parent is None or "subset-of" in self.raw_sets[parent_name][1]:
            raise self.err(f"{path}/subset-of", f"no main attribute set {parent_name!r}")
        aset = self.sets[sname]
        for j, a in enumerate(self.need(s, "attributes", path)):
            ap = f"{path}/attributes/{j}"
            aname = self.need(a, "name", ap)
            base = parent.by_name.get(aname)
            if base is None:
                raise self.err(ap, f"set {parent_name!r} has no attribute {aname!r}")
            merged = dict(self.raw_sets[parent_name][1]["attributes"][
                list(parent.by_name).index(aname)])
            merged.update(a)
            attr = self.attr(merged, ap, base.value)
            aset.by_name[aname] = attr
            aset.by_value[base.value] = attr

    def attr(self, a: Doc, path: str, val: int) -> Attr:
        name = self.need(a, "name", path)
        t = self.need(a, "type", path)
        kind = _KIND.get(t)
        if kind is None:
            raise self.err(f"{path}/type", f"unsupported attribute type {t!r}")
        if not 0 <= val <= NLA_TYPE_MASK:
            raise self.err(f"{path}/value", f"attribute value {val} is out of range")
        fmt = None
        if t in _INT_FMT:
            fmt = struct.Struct((">" if a.get("byte-order") == "big-endian" else "=")
                                + _INT_FMT[t])
        attr = Attr(name, val, t, kind, self.scalar(a, path, fmt),
                    multi=bool(a.get("multi-attr", False)))
        # an array-nest (the older name of indexed-array) holds nests
        st = a.get("sub-type", "nest" if t == "array-nest" else None)
        if kind in (K_NEST, K_NTV) or (kind == K_INDEXED and st == "nest"):
            nname = self.need(a, "nested-attributes", path)
            if nname not in self.sets:
                raise self.err(f"{path}/nested-attributes", f"no attribute set {nname!r}")
            attr.nest = self.sets[nname]
        if kind == K_INDEXED:
            sk = _KIND.get(st) if isinstance(st, str) else None
            if sk not in (K_NEST, K_INT, K_UINT, K_SINT, K_BINARY, K_STRING):
                raise self.err(f"{path}/sub-type",
                               f"unsupported indexed-array sub-type {st!r}")
            attr.sub_type, attr.sub_kind = st, sk
            if st in _INT_FMT:
                attr.scalar.fmt = struct.Struct(
                    (">" if a.get("byte-order") == "big-endian" else "=") + _INT_FMT[st])
        if kind == K_NTV:
            tv = a.get("type-value") or ()
            if not tv:
                raise self.err(path, "a nest-type-value needs 'type-value'")
            attr.type_value = tuple(tv)
        if kind == K_SUBMSG:
            smname = self.need(a, "sub-message", path)
            if smname not in self.submsgs:
                raise self.err(f"{path}/sub-message", f"no sub-message {smname!r}")
            attr.submsg = self.submsgs[smname]
            attr.selector = self.need(a, "selector", path)
        return attr

    def sub_message(self, sm: Doc, path: str) -> None:
        smp = self.submsgs[sm["name"]]
        for j, f in enumerate(self.need(sm, "formats", path)):
            fp = f"{path}/formats/{j}"
            value = str(self.need(f, "value", fp))
            fh = None
            if "fixed-header" in f:
                fh = self.struct_ref(f["fixed-header"], f"{fp}/fixed-header")
            aset = self.set_ref(f, fp)
            smp.formats[value] = Format(value, fh, aset)

    def set_ref(self, doc: Doc, path: str) -> AttrSet | None:
        """The attribute set ``doc`` names under "attribute-set", or None."""
        if "attribute-set" not in doc:
            return None
        aset = self.sets.get(doc["attribute-set"])
        if aset is None:
            raise self.err(f"{path}/attribute-set",
                           f"no attribute set {doc['attribute-set']!r}")
        return aset

    def struct_ref(self, name: Any, path: str) -> Struct:
        if name not in self.structs:
            raise self.err(path, f"no struct definition {name!r}")
        return self.structs[name]

    def operations(self, protocol: str
                   ) -> tuple[dict[str, Op], dict[int, Op], dict[int, Op], Struct | None]:
        opsdoc = self.doc.get("operations") or {}
        model = opsdoc.get("enum-model", "unified")
        if model not in ("unified", "directional"):
            raise self.err("/operations/enum-model", f"unsupported enum-model {model!r}")
        fixed = None
        if "fixed-header" in opsdoc:
            fixed = self.struct_ref(opsdoc["fixed-header"], "/operations/fixed-header")
        ops: dict[str, Op] = {}
        replies: dict[int, Op] = {}
        requests: dict[int, Op] = {}
        req_val = rsp_val = 1
        for i, o in enumerate(opsdoc.get("list") or ()):
            path = f"/operations/list/{i}"
            name = self.need(o, "name", path)
            fh = fixed
            if "fixed-header" in o:
                fh = self.struct_ref(o["fixed-header"], f"{path}/fixed-header")
            aset = self.set_ref(o, path)
            do, dump, event = o.get("do"), o.get("dump"), o.get("event")
            notify = o.get("notify")
            req: int | None
            rsp: int | None
            if model == "unified":
                if "value" in o:
                    req_val = int(o["value"])
                req = rsp = req_val
                req_val += 1
            else:
                req = rsp = None
                has_req = any(m and "request" in m for m in (do, dump))
                has_rsp = any(m and "reply" in m for m in (do, dump)) or bool(
                    notify or event)
                for mode in (do, dump):
                    if mode and "request" in mode and "value" in (mode["request"] or {}):
                        req = req_val = int(mode["request"]["value"])
                    if mode and "reply" in mode and "value" in (mode["reply"] or {}):
                        rsp = rsp_val = int(mode["reply"]["value"])
                if "value" in o:
                    if notify or event:
                        rsp = rsp_val = int(o["value"])
                    else:
                        req = rsp = req_val = rsp_val = int(o["value"])
                if has_req and req is None:
                    req = req_val
                if has_rsp and rsp is None:
                    rsp = rsp_val
                if req is not None:
                    req_val = req + 1
                if rsp is not None:
                    rsp_val = rsp + 1
            flags = tuple(o.get("flags") or ())
            op = Op(name, req, rsp, aset, fh, do=do, dump=dump, notify=notify,
                    event=event, mcgrp=o.get("mcgrp"), flags=flags)
            ops[name] = op
            if req is not None and (do or dump):
                requests.setdefault(req, op)
            if rsp is not None:
                replies.setdefault(rsp, op)
        for op in ops.values():  # a notification decodes like the op it names
            if op.notify and op.attrs is None:
                base = ops.get(op.notify)
                if base is None:
                    raise self.err("/operations", f"{op.name}: notify names no operation "
                                   f"{op.notify!r}")
                op.attrs = base.attrs
                if op.fixed_header is None:
                    op.fixed_header = base.fixed_header
        return ops, replies, requests, fixed


def compile_spec(doc: Doc, origin: str = "<spec>") -> Spec:
    """A spec from its parsed YAML (a dict), compiled.

    :raises SpecError: naming, by path in the spec, what cannot be loaded.
    """
    return _Compiler(doc, origin).compile()


_loaded: dict[tuple[str, float], Spec] = {}


def find(name: str, search: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The file of a spec: a path, or a name looked up in ``search``, then in
    $NLFAST_SPEC_PATH (":"-separated), then in the specs nlfast ships.

    :raises FileNotFoundError: naming where it looked.
    """
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or os.sep in name:
        if p.is_file():
            return p
        raise FileNotFoundError(f"no spec file {name}")
    env = [d for d in os.environ.get("NLFAST_SPEC_PATH", "").split(":") if d]
    dirs = [Path(d) for d in (*search, *env)] + [SPEC_DIR]
    for d in dirs:
        for cand in (d / f"{name}.yaml", d / f"{name.replace('-', '_')}.yaml"):
            if cand.is_file():
                return cand
    raise FileNotFoundError(f"no spec {name!r} in {', '.join(str(d) for d in dirs)}")


def load(source: str | os.PathLike[str] | Doc,
         search: Iterable[str | os.PathLike[str]] = ()) -> Spec:
    """A spec compiled from a file, a name (see :func:`find`), or a parsed dict.
    Files are compiled once per process (again if they change).

    :raises SpecError: the spec uses something not supported (named by path).
    :raises FileNotFoundError: no such spec.
    :raises ModuleNotFoundError: PyYAML is not installed (``nlfast[spec]``).
    """
    if isinstance(source, Mapping):
        return compile_spec(source)
    path = find(os.fspath(source), search)
    key = (str(path.resolve()), path.stat().st_mtime)
    s = _loaded.get(key)
    if s is None:
        try:
            import yaml
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError(
                "loading a netlink spec needs PyYAML: pip install 'nlfast[spec]'") from e
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        s = _loaded[key] = compile_spec(doc, str(path))
    return s


# -- a family over a socket ------------------------------------------------


Values = Union[Mapping[str, Any], None]
_TIMEOUT = 5.0  # do()'s default (seconds), and in milliseconds:
_TIMEOUT_MS = timeout_ms(_TIMEOUT)


class _DoPlan(NamedTuple):
    """What Family.do() needs per (operation, flags): nothing a value changes."""

    op: Op
    c: bool  # C may frame it (_specdict.frame); else spec.message()
    type: Any  # nlmsg_type (None: message() raises why)
    flags: int  # nlmsg_flags
    pre: bytes  # the genlmsghdr, or nothing
    hdr: int  # the fixed header's struct in the dict plan (-1: none)
    aset: int  # the attribute set in the dict plan (-1: none)
    dump: bool


class Family:
    """A spec bound to a socket: calls by operation name, replies as dicts.

    For generic netlink the family's id and groups are resolved by name
    through nlctrl when it is opened.
    """

    def __init__(self, spec: Spec, sock: Socket) -> None:
        self.spec = spec
        self.sock = sock
        self.genl: GenlFamily | None = None
        self._hdr = 0
        # (op, flags) -> what do() needs that no value changes, see _do_plan
        self._do: dict[tuple[str, int], _DoPlan] = {}
        if spec.genl:
            from nlfast import genl

            self.genl = genl.family(sock, spec.name)
            self._hdr = 4

    @property
    def id(self) -> int | None:
        """The generic netlink family id resolved on this socket (None: netlink-raw)."""
        return self.genl.id if self.genl is not None else None

    def message(self, op: str, values: Values = None, flags: int = NLM_F_REQUEST) -> Message:
        """The request message of ``op``."""
        return self.spec.message(op, values, flags=flags, family_id=self.id)

    def _decode(self, m: MessageView, o: Op) -> dict[str, Any]:
        spec = self.spec
        if spec.genl:
            p = m.payload
            ro = spec.reply_op(m.type, p[0] if len(p) else None) or o
        else:
            ro = spec.replies.get(m.type, o)
        return spec._decode_view(ro, m)

    def _do_plan(self, op: str, flags: int) -> _DoPlan:
        """What do(op, flags=flags) needs that no value changes."""
        spec = self.spec
        o = spec.op(op)
        if o.do is None:
            raise ValueError(f"operation {op!r} of {spec.name!r} has no 'do'")
        nlflags = NLM_F_REQUEST | NLM_F_ACK | flags
        plan = spec._dplan
        if plan is None:
            plan = spec._dplan = _DictPlan(spec)
        hdr, aset, _, _ = plan.op(o)
        fh = o.fixed_header
        # what C does not frame, spec.message() does (and raises what it raises)
        c = not (fh is not None and hdr < 0) and nlflags.__class__ is int and nlflags <= 0xFFFF
        pre = b""
        mtype = o.req_value if not spec.genl else self.id
        if spec.genl:
            if o.req_value is None:
                c = False
            else:
                pre = _GENL_HDR.pack(o.req_value, spec.version, 0)
        if mtype is None or not 0 <= mtype <= 0xFFFF:
            c = False
        hit = _DoPlan(o, c, mtype, nlflags, pre, hdr, aset, (nlflags & NLM_F_DUMP) == NLM_F_DUMP)
        if len(self._do) >= 256:
            self._do.clear()
        self._do[(op, flags)] = hit
        return hit

    def do(self, op: str, values: Values = None, *, flags: int = 0,
           timeout: float | None = _TIMEOUT) -> dict[str, Any] | None:
        """One request by operation name; its reply as a dict (None when the
        kernel only acks).  ``flags`` adds to NLM_F_REQUEST|NLM_F_ACK
        (e.g. ``NLM_F_CREATE | NLM_F_EXCL`` for new objects).

        :raises NetlinkError: the kernel refused (extended ack decoded).
        """
        hit = self._do.get((op, flags))
        if hit is None:
            hit = self._do_plan(op, flags)
        o, c, mtype, nlflags, pre, hdr, aset, dump = hit
        spec = self.spec
        # framed in C from the dict; None: by spec.message(), which raises
        # what is wrong
        raw = _specdict.frame(spec._dplan.cap, mtype, nlflags, pre, hdr,  # type: ignore[union-attr]
                              aset, values) if c else None
        if raw is None:
            raw = spec.message(o, values, flags=nlflags, family_id=self.id).encode()
        got = self.sock._request_first((ffi.from_buffer(raw), len(raw), raw), dump,
                                       _TIMEOUT_MS if timeout is _TIMEOUT else timeout_ms(timeout))
        if got is None:
            return None
        if got.__class__ is not tuple:
            return self._decode(got, o)
        buf, addr, off = got  # the receive memory: decoded now, nothing keeps it
        mlen, mtype = _NLMSG_LT.unpack_from(buf, off)
        if self._hdr:  # generic netlink
            ro = spec.reply_op(mtype, buf[off + 16][0] if mlen > 16 else None) or o
        else:
            ro = spec.replies.get(mtype, o)
        return spec._decode_mem(ro, buf, addr, off + 16, mlen - 16)

    def create(self, op: str, values: Values = None, *,
               timeout: float | None = 5.0) -> dict[str, Any] | None:
        """``do()`` with NLM_F_CREATE | NLM_F_EXCL: makes a new object (what
        ``ip link add`` asks), failing if it exists.  Returns what do()
        returns.

        :raises NetlinkError: the kernel refused (EEXIST when it exists).
        """
        return self.do(op, values, flags=NEW_FLAGS, timeout=timeout)

    def dump(self, op: str, values: Values = None, *,
             timeout: float | None = 5.0) -> list[dict[str, Any]]:
        """A dump by operation name: every object as a dict."""
        return list(self.dump_iter(op, values, timeout=timeout))

    def dump_iter(self, op: str, values: Values = None, *,
                  timeout: float | None = 5.0) -> Iterator[dict[str, Any]]:
        """Like :meth:`dump`, one decoded dict at a time (memory stays bounded).

        :raises KeyError: no such operation.  :raises NetlinkError: the kernel failed it.
        """
        o = self.spec.op(op)
        if o.dump is None:
            raise ValueError(f"operation {op!r} of {self.spec.name!r} has no 'dump'")
        for batch in self.sock.dump(self.message(op, values), timeout=timeout):
            for m in batch:
                yield self._decode(m, o)

    def batches(self, op: str, values: Values = None, *,
                timeout: float | None = 5.0) -> Iterator[Batch]:
        """A dump's raw batches, for :meth:`column`."""
        o = self.spec.op(op)
        if o.dump is None:
            raise ValueError(f"operation {op!r} of {self.spec.name!r} has no 'dump'")
        return self.sock.dump(self.message(op, values), timeout=timeout)

    def column(self, batch: Batch, name: str, op: str | None = None) -> list[Any]:
        """One top-level attribute (its first occurrence) or fixed-header
        field of every message of a batch, by name; None where absent.  The
        messages are read as replies of ``op`` (default: the reply the first
        message's type names).  Found in C in one call for the whole batch.

        :raises KeyError: the op's messages have no such attribute or field.
        """
        n = len(batch)
        if not n:
            return []
        spec = self.spec
        buf = batch.buffer
        offs, lens = batch.offsets, batch.lengths
        o: Op | None
        if op is not None:
            o = spec.op(op)
        else:
            o = spec.replies.get(batch.types[0]) if not spec.genl else spec.reply_op(
                batch.types[0], buf[offs[0] + 16])
            if o is None:
                raise DecodeError(f"spec {spec.name!r} has no message with id {batch.types[0]}")
        dplan = spec._dplan
        if dplan is None:
            dplan = spec._dplan = _DictPlan(spec)
        hit = dplan.cols.get((id(o), name))
        if hit is not None and hit[0] == _COL_C:
            slab: Any = batch._slab
            t, st = slab.b.tab, batch.start
            return _specdict.column(  # type: ignore[no-any-return]
                dplan.cap, hit[1], hit[2], batch._mv, int(ffi.cast("uintptr_t", slab.arena)),
                int(ffi.cast("uintptr_t", t.off + st)), int(ffi.cast("uintptr_t", t.len + st)),
                n, hit[3])
        skip = 16 + (4 if spec.genl else 0)
        fh = o.fixed_header
        if fh is not None:
            if any(m.name == name for m in fh.members):
                hdr_at = skip
                return [fh.decode(buf, off + hdr_at)[name] if ln >= hdr_at + fh.size else None
                        for off, ln in zip(offs, lens)]
            skip += (fh.size + 3) & ~3
        a = o.attrs.by_name.get(name) if o.attrs is not None else None
        if a is None:
            raise KeyError(f"{o.name} messages of {spec.name!r} have no attribute or field "
                           f"{name!r}")
        si = dplan.index[id(o.attrs)]
        if dplan.tables[si][a.value][1] in _C_COLUMNS:  # type: ignore[index]
            dplan.cols[(id(o), name)] = (_COL_C, si, a.value, skip)
            return self.column(batch, name, op)
        plan = spec._cplan
        if plan is None:
            plan = spec._cplan = _CPlan(spec)
        vals = ffi.new("uint64_t[]", n)
        poff = ffi.new("uint32_t[]", n)
        plen = ffi.new("uint32_t[]", n)
        lib.nlf_spec_column(address(buf), ffi.from_buffer("uint32_t[]", offs),
                            ffi.from_buffer("uint32_t[]", lens),
                            n, skip, a.value, plan.cattr[id(a)], vals, poff, plen)
        absent = lib.NLF_SPEC_ABSENT
        lv = memoryview(ffi.buffer(plen, 4 * n)).cast("I").tolist()
        kind = plan.cattr[id(a)].kind
        plain = a.scalar.enum is None and a.scalar.hint is None
        if kind in (lib.NLF_SK_UINT, lib.NLF_SK_SINT):
            vv = memoryview(ffi.buffer(vals, 8 * n)).cast(
                "q" if kind == lib.NLF_SK_SINT else "Q").tolist()
            if plain:
                return [v if ln != absent else None for v, ln in zip(vv, lv)]
            dec = a.scalar.decode_int
            return [dec(v) if ln != absent else None for v, ln in zip(vv, lv)]
        ov = memoryview(ffi.buffer(poff, 4 * n)).cast("I").tolist()
        if kind == lib.NLF_SK_STRING:
            return [str(buf[p : p + ln], "utf-8", "replace").split("\0", 1)[0]
                    if ln != absent else None for p, ln in zip(ov, lv)]
        if a.kind == K_SUBMSG:
            raise KeyError(f"{name!r} is a sub-message: read it with to_dict()")
        return [_decode_one(buf, p, ln, a, {}) if ln != absent else None
                for p, ln in zip(ov, lv)]

    def to_dict(self, m: MessageView) -> dict[str, Any]:
        """The dict of one received message of this family."""
        return self.spec._decode_view(_first_reply(self.spec, m), m)

    def group(self, name: str) -> int:
        """A multicast group's number, by its name in the spec.

        :raises KeyError: naming the groups the spec has.
        """
        groups = self.spec.mcast_groups
        if name not in groups:
            raise KeyError(f"spec {self.spec.name!r} has no multicast group {name!r} "
                           f"(it has: {', '.join(groups) or 'none'})")
        num = groups[name]
        if num is None:
            if self.genl is None:
                raise KeyError(f"spec {self.spec.name!r} gives no number for multicast "
                               f"group {name!r} (netlink-raw: give it as a number)")
            return self.genl.group(name)
        return num

    def subscribe(self, *names: str) -> None:
        """Joins multicast groups by their names in the spec."""
        self.sock.subscribe(*(self.group(n) for n in names))

    def events(self, timeout: float | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(operation name, dict) of what arrives on the groups joined; stops
        when nothing arrives for ``timeout`` seconds (None: never)."""
        while True:
            try:
                batch = self.sock.recv(timeout)
            except TimeoutError:
                return
            if not len(batch):
                return
            for m in batch:
                o = _first_reply(self.spec, m)
                yield o.name, self._decode(m, o)

    def __enter__(self) -> Family:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def _first_reply(spec: Spec, m: MessageView) -> Op:
    if not spec.genl:
        o = spec.replies.get(m.type)
        if o is None:
            raise DecodeError(f"spec {spec.name!r} has no message with id {m.type}")
        return o
    p = m.payload
    o = spec.reply_op(m.type, p[0] if len(p) else None)
    if o is None:
        raise DecodeError(f"spec {spec.name!r} has no message with id {m.type}")
    return o


def open(spec: Spec | str, *, netns: str | int | None = None, **kw: Any) -> Family:
    """A socket of the spec's protocol, bound to the spec: ``with
    spec.open("rt-link") as links: links.dump("getlink")``."""
    from nlfast.socket import Socket

    s = spec if isinstance(spec, Spec) else load(spec)
    sock = Socket(s.protonum, netns=netns, **kw)
    try:
        return Family(s, sock)
    except BaseException:
        sock.close()
        raise


NEW_FLAGS = NLM_F_CREATE | NLM_F_EXCL

__all__ = [
    "NEW_FLAGS",
    "PROTOCOLS",
    "EncodeError",
    "Family",
    "Spec",
    "SpecError",
    "compile_spec",
    "find",
    "load",
    "open",
]
