"""Messages: ``Message`` to send, ``MessageView`` for one received."""

from __future__ import annotations

import errno
import struct
import threading
from collections.abc import Sequence
from typing import Any

from nlfast import attrs as _attrs
from nlfast._shim import ffi, lib
from nlfast.attrs import Attr, AttrSet
from nlfast.errors import DecodeError, MessageTooLargeError, NetlinkError

_HDR = struct.Struct("<IHHII")
_scratch = threading.local()  # a framing arena per thread, for encode()
NLMSG_ERROR: int = lib.NLMSG_ERROR
NLMSG_DONE: int = lib.NLMSG_DONE
NLM_F_REQUEST: int = lib.NLM_F_REQUEST


class Message:
    """A message to send: type, flags, a family header and attributes.

    The sequence number is assigned when the message is framed; the port id
    is 0 unless given (the kernel fills in the sender's).

    :raises TypeError: ``header`` is not bytes-like or ``attrs`` holds
        something that is not an :class:`Attr`.
    :raises ValueError: ``type`` or ``flags`` do not fit 16 bits.
    """

    __slots__ = ("_tmpl", "_tmpl_as", "attrs", "flags", "header", "portid", "type")
    _tmpl: tuple[Any, int, bytes] | None
    _tmpl_as: tuple[int, tuple[Any, int, Any]] | None

    def __init__(
        self,
        type: int,
        flags: int = NLM_F_REQUEST,
        header: bytes = b"",
        attrs: Sequence[Attr] = (),
        portid: int = 0,
    ) -> None:
        for name, v, hi in (("type", type, 0xFFFF), ("flags", flags, 0xFFFF),
                            ("portid", portid, 0xFFFFFFFF)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"message {name} must be an int, not {v!r}")
            if not 0 <= v <= hi:
                raise ValueError(f"message {name} {v} is out of range 0..{hi}")
        if not isinstance(header, (bytes, bytearray, memoryview)):
            raise TypeError(f"message header must be bytes, not {header.__class__.__name__}")
        for a in attrs:
            if not isinstance(a, Attr):
                raise TypeError(f"message attrs holds Attr objects, not {a!r}")
        self.type = type
        self.flags = flags
        self.header = bytes(header)
        self.attrs: tuple[Attr, ...] = tuple(attrs)
        self.portid = portid

    def __setattr__(self, name: str, value: Any) -> None:
        # the framed bytes are cached: any change of a field drops them
        object.__setattr__(self, name, value)
        if name not in ("_tmpl", "_tmpl_as"):
            object.__setattr__(self, "_tmpl", None)
            object.__setattr__(self, "_tmpl_as", None)

    def __repr__(self) -> str:
        return (
            f"Message(type={self.type}, flags={self.flags:#x}, "
            f"header={self.header!r}, attrs={self.attrs!r})"
        )

    def frame(self, tx: Any) -> int:
        """Frames the message into a shim tx: its bytes are built once and
        then copied in C with the next sequence number.  Returns the seq, or
        -1 (errno ENOSPC) when the tx is full.

        :raises MessageTooLargeError: an attribute is over 64 KiB.
        """
        t = self._template()
        seq = tx.seq
        if lib.nlf_tx_put_repeat(tx, t[0], t[1], 1) != 1:
            return -1
        return int(seq)

    def _template(self) -> tuple[Any, int, bytes]:
        """The framed bytes (seq 0), built once: (pointer, length, bytes)."""
        t: tuple[Any, int, bytes] | None = self._tmpl
        if t is None:
            raw = self.encode()
            t = (ffi.from_buffer(raw), len(raw), raw)
            object.__setattr__(self, "_tmpl", t)
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
        object.__setattr__(self, "_tmpl_as", (flags, t))
        return t

    def _frame_fields(self, tx: Any) -> int:
        """Frames the fields one by one (begin, attributes, end)."""
        seq = lib.nlf_tx_msg_begin(
            tx, self.type, self.flags, self.portid, ffi.from_buffer(self.header), len(self.header)
        )
        if seq < 0:
            return -1
        for a in self.attrs:
            if _attrs.put(tx, a) < 0:
                err = ffi.errno
                lib.nlf_tx_msg_cancel(tx)
                if err == errno.EMSGSIZE:
                    raise MessageTooLargeError(f"attribute {a.type} is larger than 64 KiB")
                return -1
        if lib.nlf_tx_msg_end(tx) < 0:
            lib.nlf_tx_msg_cancel(tx)
            return -1
        return int(seq)

    def encode(self, seq: int = 0) -> bytes:
        """The framed bytes of this message with the given sequence number.

        :raises MessageTooLargeError: an attribute is over 64 KiB, or the
            message over 16 MiB.
        """
        scratch = _scratch.__dict__
        size = scratch.get("size", 1 << 16)
        while size <= 1 << 24:
            tx = scratch.get("tx")
            if tx is None or scratch["size"] != size:
                tx = ffi.gc(lib.nlf_tx_new(size, size), lib.nlf_tx_free)
                scratch.update(tx=tx, size=size)
            lib.nlf_tx_reset(tx)
            tx.seq = seq & 0xFFFFFFFF
            if self._frame_fields(tx) >= 0:
                return bytes(ffi.buffer(tx.arena, tx.pos))
            size <<= 2
        raise MessageTooLargeError("message larger than 16 MiB")

    def with_flags(self, flags: int) -> Message:
        """A copy with other flags, its framed bytes patched rather than rebuilt."""
        m = _new(Message)
        for name in ("type", "header", "attrs", "portid"):
            object.__setattr__(m, name, getattr(self, name))
        object.__setattr__(m, "flags", flags)
        object.__setattr__(m, "_tmpl_as", None)
        t = self._tmpl
        if t is None:
            object.__setattr__(m, "_tmpl", None)
            return m
        raw = bytearray(t[2])
        _U16.pack_into(raw, 6, flags)
        object.__setattr__(m, "_tmpl", (ffi.from_buffer(raw), t[1], raw))
        return m


_new = object.__new__
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


class MessageView:
    """One received message: a view into the receive memory.

    It keeps that memory alive (see :mod:`nlfast.batch`): valid for as long
    as it is held.  ``copy()`` makes one that owns just its own bytes, so the
    receive memory can be reused.  Nothing is decoded until asked for, so a
    view costs one small object.
    """

    __slots__ = ("_base", "_buf", "_keep", "_len", "_off")

    def __init__(self, mv: memoryview, base: Any = None, keep: Any = None) -> None:
        if len(mv) < 16:
            raise DecodeError(f"a netlink message needs 16 bytes, got {len(mv)}")
        self._buf = mv
        self._off = 0
        self._len = len(mv)
        self._base = base  # a pointer to mv[0], made when first needed
        self._keep = keep

    def _ptr(self) -> Any:
        b = self._base
        if b is None:
            b = self._base = ffi.from_buffer(self._buf)
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
    def from_bytes(cls, data: bytes) -> MessageView:
        """A view over one framed message.

        :raises DecodeError: the bytes are not one well-formed message.
        """
        mv = memoryview(bytes(data))
        if len(mv) < 16:
            raise DecodeError(f"a netlink message needs 16 bytes, got {len(mv)}")
        (length,) = _U32.unpack_from(mv)
        if length < 16 or length > len(mv):
            raise DecodeError(f"nlmsg_len {length} does not fit the {len(mv)} bytes given")
        return cls(mv[:length])

    @property
    def type(self) -> int:
        return int(_U16.unpack_from(self._buf, self._off + 4)[0])

    @property
    def flags(self) -> int:
        return int(_U16.unpack_from(self._buf, self._off + 6)[0])

    @property
    def seq(self) -> int:
        return int(_U32.unpack_from(self._buf, self._off + 8)[0])

    @property
    def portid(self) -> int:
        """The nlmsg_pid field as the sender wrote it (``Batch.sender`` is
        who really sent it)."""
        return int(_U32.unpack_from(self._buf, self._off + 12)[0])

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
        return self._buf[self._off + 16 : self._off + self._len]

    def data(self) -> memoryview:
        """The whole message, header included."""
        return self._buf[self._off : self._off + self._len]

    def attrs(self, hdrlen: int = 0) -> AttrSet:
        """The attributes after ``hdrlen`` bytes of family header.

        :raises DecodeError: the message is shorter than the family header.
        """
        skip = 16 + ((hdrlen + 3) & ~3)
        if skip > self._len:
            raise DecodeError(
                f"message of {self._len} bytes has no room for a {hdrlen}-byte header"
            )
        return AttrSet._at(self._buf, self._ptr(), self._off + skip, self._len - skip, self)

    @property
    def error(self) -> int:
        """The positive errno of an NLMSG_ERROR / NLMSG_DONE, else 0."""
        if self.type not in (NLMSG_ERROR, NLMSG_DONE) or self._len < 20:
            return 0
        (e,) = _I32.unpack_from(self._buf, self._off + 16)
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
        """A view over a copy of the bytes, valid for ever."""
        return MessageView(memoryview(bytes(self.data())))

    def __repr__(self) -> str:
        n, t, f, s, p = self.header
        return f"<MessageView len={n} type={t} flags={f:#x} seq={s} portid={p}>"


def extack_error(mv: memoryview, ea: Any, seq: int) -> NetlinkError:
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
