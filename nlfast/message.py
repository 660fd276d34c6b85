"""Messages: ``Message`` to send, ``MessageView`` for one received."""

from __future__ import annotations

import errno
import os
import struct
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from nlfast import attrs as _attrs
from nlfast import rtnl as _rtnl
from nlfast._shim import address, ffi, lib
from nlfast.attrs import Attr, AttrSet
from nlfast.errors import DecodeError, MessageTooLargeError, NetlinkError

NLMSG_HDRLEN: int = lib.NLMSG_HDRLEN  # struct nlmsghdr
NLMSG_ERROR: int = lib.NLMSG_ERROR
NLMSG_DONE: int = lib.NLMSG_DONE
NLMSG_MIN_TYPE: int = lib.NLMSG_MIN_TYPE
NLM_F_REQUEST: int = lib.NLM_F_REQUEST
MAX_MESSAGE = 1 << 24  # encode() frames messages up to 16 MiB

# struct nlmsghdr, host order: nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq, nlmsg_pid
_HDR = struct.Struct("=IHHII")
_OFF_LEN, _OFF_TYPE, _OFF_FLAGS, _OFF_SEQ, _OFF_PID = 0, 4, 6, 8, 12
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_SCRATCH_SIZE = 1 << 16  # the framing arena each thread keeps for encode()
_scratch = threading.local()
_new = object.__new__
_set = object.__setattr__
_FIELDS = ("type", "flags", "header", "attrs", "portid")
_NETLINK_ROUTE: int = lib.NETLINK_ROUTE
_EXTACK_PTR = ffi.typeof("struct nlf_extack *")
_CONTROL = {lib.NLMSG_NOOP: "NLMSG_NOOP", NLMSG_ERROR: "NLMSG_ERROR",
            NLMSG_DONE: "NLMSG_DONE", lib.NLMSG_OVERRUN: "NLMSG_OVERRUN"}


def _check_uint(name: str, v: object, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"message {name} must be an int, not {v!r}")
    if not 0 <= v <= hi:
        raise ValueError(f"message {name} {v} is out of range 0..{hi}")
    return v


class Message:
    """A message to send: type, flags, a family header and attributes.

    The sequence number is assigned when the message is framed; the port id
    is 0 unless given (the kernel fills in the sender's).

    Immutable, like its :class:`Attr` values: the framed bytes are cached,
    so a changed field could otherwise go unsent.  ``msg.replace(flags=...)``
    (any field) and ``msg.with_flags(...)`` give changed copies.

    :raises TypeError: ``header`` is not bytes-like or ``attrs`` holds
        something that is not an :class:`Attr`.
    :raises ValueError: ``type`` or ``flags`` do not fit 16 bits, ``portid``
        32 bits.
    """

    __slots__ = {
        "_tmpl": "The framed bytes, built once.",
        "_tmpl_as": "The framed bytes with other flags (the last such variant).",
        "attrs": "The attributes, a tuple of Attr.",
        "flags": "nlmsg_flags (NLM_F_*).",
        "header": "The family header's bytes (ifinfomsg, genlmsghdr, ...).",
        "portid": "nlmsg_pid as sent (0: the kernel fills in the sender's).",
        "type": "nlmsg_type.",
    }
    _tmpl: tuple[Any, int, bytes] | None
    _tmpl_as: tuple[int, tuple[Any, int, Any]] | None
    type: int
    flags: int
    header: bytes
    attrs: tuple[Attr, ...]
    portid: int

    def __init__(
        self,
        type: int,
        flags: int = NLM_F_REQUEST,
        header: bytes = b"",
        attrs: Sequence[Attr] = (),
        portid: int = 0,
    ) -> None:
        _check_uint("type", type, 0xFFFF)
        _check_uint("flags", flags, 0xFFFF)
        _check_uint("portid", portid, 0xFFFFFFFF)
        if not isinstance(header, (bytes, bytearray, memoryview)):
            raise TypeError(f"message header must be bytes, not {header.__class__.__name__}")
        if isinstance(attrs, (str, bytes, bytearray, memoryview, Attr)):
            raise TypeError(f"message attrs is a sequence of Attr objects, not {attrs!r}")
        attrs = tuple(attrs)
        for a in attrs:
            if not isinstance(a, Attr):
                raise TypeError(f"message attrs holds Attr objects, not {a!r}")
        _set(self, "type", type)
        _set(self, "flags", flags)
        _set(self, "header", bytes(header))
        _set(self, "attrs", attrs)
        _set(self, "portid", portid)
        _set(self, "_tmpl", None)
        _set(self, "_tmpl_as", None)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        hint = f"msg.replace({name}=...)" if name in _FIELDS else "msg.replace(...)"
        raise AttributeError(
            f"Message is immutable: cannot set {name!r}; derive a changed copy "
            f"with {hint}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Message is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.type, self.flags, self.header, self.attrs, self.portid))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and all(
            getattr(self, f) == getattr(other, f) for f in _FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in _FIELDS))

    def __repr__(self) -> str:
        return (
            f"Message(type={self.type}, flags={self.flags:#x}, "
            f"header={self.header!r}, attrs={self.attrs!r})"
        )

    def replace(self, **changes: Any) -> Message:
        """A copy with some fields changed (type, flags, header, attrs, portid).

        :raises TypeError: an unknown field, or a value of the wrong type.
        :raises ValueError: a value out of range.
        """
        unknown = sorted(set(changes) - set(_FIELDS))
        if unknown:
            raise TypeError(f"Message has no field {unknown[0]!r}; one of {', '.join(_FIELDS)}")
        if set(changes) <= {"flags"} and "flags" in changes:
            return self.with_flags(changes["flags"])
        kw = {f: changes.get(f, getattr(self, f)) for f in _FIELDS}
        return Message(**kw)

    def frame(self, tx: Any) -> int:
        """Frames the message into a shim tx: its bytes are built once and
        then copied in C with the next sequence number.  Returns the seq, or
        -1 (errno ENOSPC) when the tx is full.

        :raises MessageTooLargeError: an attribute is over 65535 bytes.
        :raises TypeError: tx is not a shim send arena.
        """
        _attrs.check_tx(tx, "frame")
        seq = tx.seq
        t = self._template()
        if lib.nlf_tx_put_repeat(tx, t[0], t[1], 1) != 1:
            return -1
        return int(seq)

    def _template(self) -> tuple[Any, int, bytes]:
        """The framed bytes (seq 0), built once: (pointer, length, bytes)."""
        t: tuple[Any, int, bytes] | None = self._tmpl
        if t is None:
            raw = self.encode()
            t = (ffi.from_buffer(raw), len(raw), raw)
            _set(self, "_tmpl", t)
        return t

    def framed(self, flags: int | None = None) -> tuple[Any, int, Any]:
        """The framed bytes (seq 0) as (C pointer, length, owner), built once;
        with ``flags``, those of a copy with other flags (the last such
        variant is cached too: a request adding NLM_F_ACK pays once)."""
        if flags is None or flags == self.flags:
            return self._template()
        v = self._tmpl_as
        if v is not None and v[0] == flags:
            return v[1]
        t = self.with_flags(flags)._template()
        _set(self, "_tmpl_as", (flags, t))
        return t

    def wire_size(self) -> int:
        """Bytes the framed message takes (header, family header, attributes)."""
        return NLMSG_HDRLEN + ((len(self.header) + 3) & ~3) + sum(
            a.wire_size() for a in self.attrs)

    def _frame_fields(self, tx: Any) -> bool:
        """Frames the fields one by one (begin, attributes, end): True, or
        False when the arena has no room (errno ENOSPC); nothing stays framed
        after a failure.

        :raises MessageTooLargeError: an attribute over 65535 bytes, or nested
            deeper than the shim frames.
        """
        seq = lib.nlf_tx_msg_begin(
            tx, self.type, self.flags, self.portid, ffi.from_buffer(self.header), len(self.header)
        )
        if seq < 0:
            return _framing_failed(tx, ffi.errno, "message header")
        for a in self.attrs:
            if _attrs._put(tx, a) < 0:  # tx is ours: checked once, not per attribute
                return _framing_failed(tx, ffi.errno, f"attribute {a.type}")
        if lib.nlf_tx_msg_end(tx) < 0:
            return _framing_failed(tx, ffi.errno, "message end")
        return True

    def encode(self, seq: int = 0) -> bytes:
        """The framed bytes of this message with the given sequence number.

        :raises TypeError: ``seq`` is not an int.
        :raises ValueError: ``seq`` is outside 0..2**32-1.
        :raises MessageTooLargeError: an attribute is over 65535 bytes, nested
            deeper than ``attrs.NEST_MAX`` ("nested too deep"), or the
            message over 16 MiB.
        """
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise TypeError(f"seq must be an int, not {seq!r}")
        if not 0 <= seq <= 0xFFFFFFFF:
            raise ValueError(f"seq {seq} is out of range 0..{0xFFFFFFFF}")
        scratch = _scratch.__dict__
        tx = scratch.get("tx")
        if tx is None:
            tx = ffi.gc(lib.nlf_tx_new(_SCRATCH_SIZE, _SCRATCH_SIZE), lib.nlf_tx_free)
            if tx == ffi.NULL:
                raise MemoryError("nlf_tx_new")
            scratch["tx"] = tx
        lib.nlf_tx_reset(tx)
        tx.seq = seq
        if self._frame_fields(tx):
            return bytes(ffi.buffer(tx.arena, tx.pos))
        # larger than the kept arena: one of the exact size, freed at once
        size = self.wire_size()
        if size > MAX_MESSAGE:
            raise MessageTooLargeError(
                f"message of {size} bytes is larger than {MAX_MESSAGE >> 20} MiB")
        big = lib.nlf_tx_new(size, size)
        if big == ffi.NULL:
            raise MemoryError(f"nlf_tx_new({size})")
        try:
            big.seq = seq
            if not self._frame_fields(big):
                raise MessageTooLargeError(f"message does not fit {size} bytes")
            return bytes(ffi.buffer(big.arena, big.pos))
        finally:
            lib.nlf_tx_free(big)

    def with_flags(self, flags: int) -> Message:
        """A copy with other flags, its framed bytes patched rather than rebuilt."""
        _check_uint("flags", flags, 0xFFFF)
        m = _new(Message)
        for name in ("type", "header", "attrs", "portid"):
            _set(m, name, getattr(self, name))
        _set(m, "flags", flags)
        _set(m, "_tmpl_as", None)
        t = self._tmpl
        if t is None:
            _set(m, "_tmpl", None)
            return m
        raw = bytearray(t[2])
        _U16.pack_into(raw, _OFF_FLAGS, flags)
        framed = bytes(raw)
        _set(m, "_tmpl", (ffi.from_buffer(framed), t[1], framed))
        return m


def _framing_failed(tx: Any, err: int, what: str) -> bool:
    """Drops the open message; False for ENOSPC (no room), else raises."""
    lib.nlf_tx_msg_cancel(tx)
    if err == errno.ENOSPC:
        return False
    if err == errno.E2BIG:
        raise MessageTooLargeError(
            f"{what}: nested too deep (the shim frames at most {_attrs.NEST_MAX} levels)")
    if err == errno.EMSGSIZE:
        raise MessageTooLargeError(
            f"{what} is too large for an attribute: over 65535 bytes with its header "
            "(nla_len is 16 bits: under 64 KiB)")
    raise OSError(err, f"framing {what}: {os.strerror(err)}")


class Origin:
    """Where a view over its own bytes came from (its protocol): what a
    copied MessageView keeps, so ``attrs()`` knows the header length."""

    __slots__ = {"protocol": "The netlink protocol number (NETLINK_ROUTE, ...)."}

    def __init__(self, protocol: int) -> None:
        self.protocol = protocol


class MessageView:
    """One received message: a view into the receive memory.

    It keeps that memory alive (see :mod:`nlfast.batch`): valid for as long
    as it is held.  ``copy()`` makes one that owns just its own bytes, so the
    receive memory can be reused.  Nothing is decoded until asked for, so a
    view costs one small object.
    """

    __slots__ = ("_base", "_buf", "_keep", "_len", "_off")

    def __init__(self, mv: memoryview, base: Any = None, keep: Any = None) -> None:
        if len(mv) < NLMSG_HDRLEN:
            raise DecodeError(f"a netlink message needs {NLMSG_HDRLEN} bytes, got {len(mv)}")
        self._buf = mv
        self._off = 0
        self._len = len(mv)
        self._base = base  # a pointer to mv[0], made when first needed
        self._keep = keep

    def _ptr(self) -> Any:
        b = self._base
        if b is None:
            b = self._base = address(self._buf)
        return b

    @classmethod
    def _at(cls, buf: memoryview, base: Any, off: int, length: int, keep: Any) -> MessageView:
        """A view of buf[off:off+length]; base points at buf[0] (no copy, no check)."""
        v = _new(cls)
        v._buf = buf
        v._base = base
        v._off = off
        v._len = length
        v._keep = keep
        return v

    @classmethod
    def from_bytes(cls, data: bytes, protocol: int | None = None) -> MessageView:
        """A view over one framed message.  ``protocol`` (NETLINK_ROUTE, ...)
        lets :meth:`attrs` find the family header's length by itself.

        :raises DecodeError: the bytes are not one well-formed message.
        """
        mv = memoryview(bytes(data))
        if len(mv) < NLMSG_HDRLEN:
            raise DecodeError(f"a netlink message needs {NLMSG_HDRLEN} bytes, got {len(mv)}")
        (length,) = _U32.unpack_from(mv, _OFF_LEN)
        if length < NLMSG_HDRLEN or length > len(mv):
            raise DecodeError(f"nlmsg_len {length} does not fit the {len(mv)} bytes given")
        if protocol is None:
            return cls(mv[:length])
        if not isinstance(protocol, int) or isinstance(protocol, bool):
            raise TypeError(f"protocol must be an int, not {protocol!r}")
        return cls(mv[:length], keep=Origin(protocol))

    @property
    def protocol(self) -> int | None:
        """The netlink protocol it came in on, where known (a socket's view,
        its copies, or ``from_bytes(..., protocol=)``), else None."""
        # what keeps the bytes alive knows: the socket, or for a view over
        # its own bytes, an Origin
        p: int | None = getattr(self._keep, "protocol", None)
        return p

    @property
    def type(self) -> int:
        """nlmsg_type."""
        return int(_U16.unpack_from(self._buf, self._off + _OFF_TYPE)[0])

    @property
    def flags(self) -> int:
        """nlmsg_flags."""
        return int(_U16.unpack_from(self._buf, self._off + _OFF_FLAGS)[0])

    @property
    def seq(self) -> int:
        """nlmsg_seq."""
        return int(_U32.unpack_from(self._buf, self._off + _OFF_SEQ)[0])

    @property
    def portid(self) -> int:
        """The nlmsg_pid field as the sender wrote it (``Batch.sender`` is
        who really sent it)."""
        return int(_U32.unpack_from(self._buf, self._off + _OFF_PID)[0])

    @property
    def header(self) -> tuple[int, int, int, int, int]:
        """(len, type, flags, seq, portid)."""
        n, t, f, s, p = _HDR.unpack_from(self._buf, self._off)
        return int(n), int(t), int(f), int(s), int(p)

    def __len__(self) -> int:
        return self._len

    @property
    def payload(self) -> memoryview:
        """Everything after the 16-byte header."""
        return self._buf[self._off + NLMSG_HDRLEN : self._off + self._len]

    def data(self) -> memoryview:
        """The whole message, header included."""
        return self._buf[self._off : self._off + self._len]

    def hdrlen(self) -> int | None:
        """The length of this message's family header where it is known
        from its protocol and type (rtnetlink's RTM_* types: ifinfomsg,
        ifaddrmsg, rtmsg, ndmsg, ...), else None."""
        if self.protocol == _NETLINK_ROUTE:
            return _rtnl.header_len(self.type)
        return None

    def attrs(self, hdrlen: int | None = None) -> AttrSet:
        """The attributes after ``hdrlen`` bytes of family header.

        Without ``hdrlen``, the length comes from the message type where it
        is known (:meth:`hdrlen`: rtnetlink's RTM_* types on a NETLINK_ROUTE
        socket), else 0 (custom families and NETLINK_USERSOCK, whose
        payload starts with attributes).  A control message (NLMSG_ERROR,
        NLMSG_DONE, ...) has no attributes of its own: read it with
        ``error`` / ``to_error()``, or give ``hdrlen``.

        The bytes after the header are checked once: a wrong ``hdrlen``
        that leaves them a malformed attribute stream raises DecodeError
        here, rather than a lookup later answering None or KeyError.

        :raises DecodeError: a control message without ``hdrlen``; the
            message is shorter than the family header; or what follows it
            is not an attribute stream.
        :raises TypeError, ValueError: ``hdrlen`` is not an int >= 0.
        """
        if hdrlen is None:
            t = self.type
            if t < NLMSG_MIN_TYPE:
                name = _CONTROL.get(t, f"control type {t}")
                raise DecodeError(
                    f"{name} is a netlink control message without attributes of its own: "
                    "read .error / .to_error(), or pass hdrlen")
            known = self.hdrlen()
            hdrlen = 0 if known is None else known
        elif not isinstance(hdrlen, int) or isinstance(hdrlen, bool):
            raise TypeError(f"hdrlen must be an int, not {hdrlen!r}")
        elif hdrlen < 0:
            raise ValueError(f"hdrlen must be >= 0, not {hdrlen}")
        skip = NLMSG_HDRLEN + ((hdrlen + 3) & ~3)
        if skip > self._len:
            raise DecodeError(
                f"message of {self._len} bytes has no room for a {hdrlen}-byte header"
            )
        base = self._ptr()
        start = self._off + skip
        if not lib.nlf_attr_ok(base + start, self._len - skip):
            raise DecodeError(
                f"malformed attribute stream after a {hdrlen}-byte family header in a "
                f"message of type {self.type}: is hdrlen right?")
        return AttrSet._at(self._buf, base, start, self._len - skip, self)

    @property
    def error(self) -> int:
        """The positive errno of an NLMSG_ERROR / NLMSG_DONE, else 0."""
        if self.type not in (NLMSG_ERROR, NLMSG_DONE) or self._len < NLMSG_HDRLEN + 4:
            return 0
        (e,) = _I32.unpack_from(self._buf, self._off + NLMSG_HDRLEN)
        return -e if -4096 < e < 0 else 0

    def to_error(self) -> NetlinkError:
        """The NetlinkError an NLMSG_ERROR / NLMSG_DONE carries, extended ack decoded.

        :raises DecodeError: the message is too short to carry an error.
        """
        ea = ffi.new("struct nlf_extack *")
        if lib.nlf_extack_parse(self._ptr() + self._off, self._len, ea) < 0:
            raise DecodeError("error message too short to carry an error code")
        return extack_error(self.data(), ea, self.seq)

    def copy(self) -> MessageView:
        """A view over a copy of the bytes, valid for ever (it keeps the
        protocol, so ``attrs()`` still knows the header length)."""
        p = self.protocol
        return MessageView(memoryview(bytes(self.data())),
                           keep=None if p is None else Origin(p))

    def __repr__(self) -> str:
        n, t, f, s, p = self.header
        return f"<MessageView len={n} type={t} flags={f:#x} seq={s} portid={p}>"


def extack_error(mv: memoryview, ea: Any, seq: int) -> NetlinkError:
    """The NetlinkError of an error message ``mv`` whose extended ack the
    shim parsed into ``ea`` (a ``struct nlf_extack *``).

    :raises TypeError: ``ea`` is not a parsed extended ack.
    :raises DecodeError: its message text lies outside ``mv``.
    """
    if not isinstance(ea, ffi.CData) or ffi.typeof(ea) is not _EXTACK_PTR:
        raise TypeError(f"extack_error needs a struct nlf_extack *, not {ea!r}")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise TypeError(f"seq must be an int, not {seq!r}")
    if ea.has & lib.NLF_EXTACK_MSG and ea.msg_off + ea.msg_len > len(mv):
        raise DecodeError("extended-ack message text lies outside the message")
    msg = ""
    if ea.has & lib.NLF_EXTACK_MSG:
        msg = bytes(mv[ea.msg_off : ea.msg_off + ea.msg_len]).decode(errors="replace")
    return NetlinkError(
        ea.error,
        msg,
        offset=ea.offs if ea.has & lib.NLF_EXTACK_OFFS else None,
        miss_type=ea.miss_type if ea.has & lib.NLF_EXTACK_MISS_TYPE else None,
        miss_nest=ea.miss_nest if ea.has & lib.NLF_EXTACK_MISS_NEST else None,
        seq=seq,
    )
