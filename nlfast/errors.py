"""The exceptions nlfast raises.

``NlfastError`` is the base.  Kernel-reported errors are ``NetlinkError``;
bytes that do not decode are ``DecodeError``; lost data is never silent:
``OverrunError`` (ENOBUFS: the socket's receive queue overflowed),
``TruncatedError`` (a datagram larger than the receive buffer) and
``DumpInterruptedError`` (the dumped state changed under the dump).
"""

from __future__ import annotations

import os
from typing import Any


class NlfastError(Exception):
    """Base of every nlfast exception: ``except NlfastError`` catches them all.

    Misuse of the API (bad arguments, a closed socket) also derives from
    ``ValueError`` or ``TypeError`` where Python's own would; OS failures
    (``socket()``, ``bind()``, ``sendmmsg()``) stay ``OSError``.
    """


class ClosedError(NlfastError, ValueError):
    """The socket is closed: raised by every :class:`~nlfast.socket.Socket`
    method that would touch it after ``close()`` (or the ``with`` block)."""


class DecodeError(NlfastError, ValueError):
    """Bytes from the wire (or handed in) are not well-formed netlink.

    Raised by :meth:`~nlfast.message.MessageView.from_bytes`, attribute
    accessors of :class:`~nlfast.attrs.AttrSet` (an attribute of the wrong
    size, a malformed stream) and error decoding; the message says which
    bytes and why.
    """


class MessageTooLargeError(NlfastError, ValueError):
    """One message does not fit: an attribute over 64 KiB, a message over
    16 MiB, or a message larger than the socket's send arena (``tx_size``).

    Raised when the message is framed or sent, before anything is sent.
    """


class NetlinkError(NlfastError):
    """The kernel (or a peer) answered a request with NLMSG_ERROR.

    Raised by ``Socket.request()``, ``dump()`` and ``dump_messages()``;
    ``request_many()`` returns it in place of the reply (in request order)
    rather than raising.  ``str()`` gives the errno's text and the extended
    ack: ``[Errno 19] No such device``.

    :ivar code: the positive errno.
    :ivar msg: the extended-ack message text, or ``""``.
    :ivar offset: the extended-ack offset of the offending bytes in the
        request, or ``None``.
    :ivar miss_type: the type of a missing required attribute, or ``None``.
    :ivar miss_nest: the offset of the nest it was missing from, or ``None``.
    :ivar seq: the sequence number of the request.
    """

    def __init__(
        self,
        code: int,
        msg: str = "",
        *,
        offset: int | None = None,
        miss_type: int | None = None,
        miss_nest: int | None = None,
        seq: int = 0,
    ) -> None:
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"NetlinkError code must be an int errno, not {code!r}")
        self.code = code
        self.msg = msg
        self.offset = offset
        self.miss_type = miss_type
        self.miss_nest = miss_nest
        self.seq = seq
        super().__init__(code, msg)

    @property
    def errno(self) -> int:
        """The positive errno, as on OSError."""
        return self.code

    def __str__(self) -> str:
        try:
            reason = os.strerror(self.code)
        except (OverflowError, ValueError):
            reason = "Unknown error"
        text = f"[Errno {self.code}] {reason}"
        if self.msg:
            text += f": {self.msg}"
        if self.miss_type is not None:
            text += f" (missing attribute {self.miss_type})"
        if self.offset is not None:
            text += f" (at offset {self.offset})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        kw = {
            "offset": self.offset,
            "miss_type": self.miss_type,
            "miss_nest": self.miss_nest,
            "seq": self.seq,
        }
        return (_rebuild_netlink_error, (self.code, self.msg, kw))


def _rebuild_netlink_error(code: int, msg: str, kw: dict[str, Any]) -> NetlinkError:
    return NetlinkError(code, msg, **kw)


class OverrunError(NlfastError):
    """The receive queue overflowed (ENOBUFS): messages were lost.

    Raised by ``Socket.recv()`` (and what receives through it) on a socket
    opened with ``overrun="raise"``, the default; with ``overrun="count"``
    the socket counts overruns and carries on.  The socket stays usable.

    :ivar drops: datagrams the kernel dropped on this socket so far
        (``SO_MEMINFO``: it counts datagrams, not the messages in them).
    :ivar overruns: ENOBUFS events this socket has seen so far.
    """

    def __init__(self, drops: int, overruns: int) -> None:
        self.drops = drops
        self.overruns = overruns
        super().__init__(
            f"receive queue overrun (ENOBUFS): messages lost; "
            f"{drops} dropped so far, {overruns} overruns"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.drops, self.overruns))


class TruncatedError(NlfastError):
    """A datagram was larger than the receive buffer and was cut short.

    Raised by ``Socket.recv()``; open the socket with a larger
    ``rx_bufsize``.  The batch attached, like any batch, stays valid for as
    long as it is held.

    :ivar batch: the batch received, the cut datagram's whole messages in it.
    """

    def __init__(self, batch: Any, count: int) -> None:
        self.batch = batch
        self.count = count
        super().__init__(
            f"{count} datagram(s) larger than the receive buffer were truncated; "
            "raise rx_bufsize"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # the batch is a view of one socket's buffers: it stays behind
        return (type(self), (None, self.count))


class DumpInterruptedError(NlfastError):
    """The dumped state changed during the dump (NLM_F_DUMP_INTR): retry it.

    Raised by ``Socket.dump()`` and ``dump_messages()`` once the dump has
    been read to its end, so the socket is ready for the retry (unless
    ``allow_interrupted=True`` asks to take the dump as it came).
    """


class EventOverflowError(OverrunError):
    """Events arrived faster than they were read while requests or dumps
    were receiving, and the event queue (``events_max``) was full: the
    newest were dropped.

    :ivar dropped: events dropped since the last report.
    """

    def __init__(self, dropped: int, total: int) -> None:
        self.dropped = dropped
        self.total = total
        self.drops = total
        self.overruns = 0
        NlfastError.__init__(
            self,
            f"event queue overflow: {dropped} events dropped while requests were "
            f"receiving ({total} in all); read events() more often or raise events_max",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.dropped, self.total))


class ConcurrentUseError(NlfastError, RuntimeError):
    """Two threads used one Socket at the same time.

    A Socket is used by one thread at a time (``close()`` excepted: it may
    come from any thread and wakes a blocked receive).  Give each thread its
    own Socket, or serialise the calls with a lock.
    """
