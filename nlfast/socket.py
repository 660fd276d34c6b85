"""The netlink socket: requests, dumps, events, batched send and receive.

Three layers: the transport (nlfast._transport: the file descriptor and the
shim's syscalls), the engine (nlfast._engine: which call each received
message belongs to) and batches (nlfast.batch: columns and views over
receive memory that Python owns).
"""

from __future__ import annotations

import errno
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from nlfast._engine import NLM_F_ECHO, Engine, Waiter, echoes
from nlfast._shim import ffi, lib, oserror
from nlfast._transport import SOL_NETLINK, SOL_SOCKET, Transport, timeout_ms
from nlfast.batch import Batch, split
from nlfast.errors import (
    ClosedError,
    ConcurrentUseError,
    DumpInterruptedError,
    NetlinkError,
    NlfastError,
    TruncatedError,
)
from nlfast.message import Message, MessageView, extack_error

NLMSG_ERROR: int = lib.NLMSG_ERROR
NLMSG_DONE: int = lib.NLMSG_DONE
NLM_F_REQUEST: int = lib.NLM_F_REQUEST
NLM_F_ACK: int = lib.NLM_F_ACK
NLM_F_DUMP: int = lib.NLM_F_DUMP
REQ_ACK: int = lib.NLF_REQ_ACK
REQ_DUMP: int = lib.NLF_REQ_DUMP

_live: weakref.WeakSet[Socket] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for s in list(_live):
        s._forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _need_message(what: str, msg: object) -> Message:
    if not isinstance(msg, Message):
        hint = (" (build one with nlfast.Message(type, flags, header, attrs))"
                if isinstance(msg, (bytes, bytearray, memoryview)) else "")
        raise TypeError(f"{what} takes a Message, not {type(msg).__name__}{hint}")
    return msg


class Counters:
    """What a socket counted (shared by nlfast.Socket and nlfast.aio.Socket,
    which both have a transport ``_t`` and an engine ``_e``)."""

    _t: Transport
    _e: Engine

    @property
    def overruns(self) -> int:
        """ENOBUFS overruns seen so far."""
        return self._t.overruns

    @property
    def truncated(self) -> int:
        """Datagrams cut short so far (larger than rx_bufsize)."""
        return self._t.truncated

    @property
    def events_dropped(self) -> int:
        """Events dropped because the event queue (events_max) was full."""
        return self._e.events_dropped

    @property
    def stale_dropped(self) -> int:
        """Late replies of abandoned requests and dumps, dropped."""
        return self._e.stale_dropped

    @property
    def events_queued(self) -> int:
        """Events received while requests ran, waiting for recv()/events()."""
        return self._e.events_queued


class Socket(Counters):
    """A netlink socket of any protocol, batched in C.

    :param protocol: NETLINK_ROUTE, NETLINK_GENERIC, NETLINK_USERSOCK or any
        number below MAX_LINKS (such as the nlfast family's 30).
    :param groups: multicast groups to join, by number (1, 2, ...: the
        numbers ``NETLINK_ADD_MEMBERSHIP`` takes, such as RTNLGRP_LINK).
    :param portid: the port id to bind (0: the kernel picks one).
    :param netns: a network namespace to open the socket in: a name under
        /run/netns, a path, or an open fd.
    :param rcvbuf: receive buffer bytes (SO_RCVBUFFORCE when privileged,
        else SO_RCVBUF, which the kernel caps at net.core.rmem_max); None
        keeps the system default.  Pipelined requests and dumps need room
        for the replies in flight, hence 4 MiB.
    :param sndbuf: send buffer bytes (None: the system default).
    :param rx_buffers: datagrams one receive can bring (recvmmsg vlen).
    :param rx_bufsize: bytes per receive buffer; 32 KiB holds a dump skb.
    :param tx_size: bytes of the send arena: how much one flush sends.
    :param dgram_size: bytes per datagram before a new one is started.
    :param ext_ack: ask for extended acks (NETLINK_EXT_ACK).
    :param cap_ack: acks without the request's payload (NETLINK_CAP_ACK).
    :param strict_check: strict dump filtering (NETLINK_GET_STRICT_CHK).
    :param overrun: "raise" (default): ENOBUFS and event-queue overflow
        raise OverrunError / EventOverflowError; "count": they are only
        counted (``overruns``, ``drops()``, ``events_dropped``).
    :param events_max: events kept while requests or dumps receive (then
        dropped and counted).
    :raises ValueError: a bad argument.
    :raises OSError: the kernel refused (EPROTONOSUPPORT: unknown protocol).

    One thread at a time: a second thread that calls in while one is inside
    gets :class:`~nlfast.errors.ConcurrentUseError`; ``close()`` may come
    from any thread and wakes a blocked receive with ClosedError.  After
    ``fork()`` the child must open its own sockets.
    """

    def __init__(
        self,
        protocol: int,
        *,
        groups: Iterable[int] = (),
        portid: int = 0,
        netns: str | int | None = None,
        rcvbuf: int | None = 1 << 22,
        sndbuf: int | None = None,
        rx_buffers: int = 16,
        rx_bufsize: int = 32768,
        tx_size: int = 1 << 20,
        dgram_size: int = 32768,
        ext_ack: bool = True,
        cap_ack: bool = True,
        strict_check: bool = False,
        overrun: str = "raise",
        events_max: int = 65536,
    ) -> None:
        self._closed = True
        self._forked = False
        self._lock = threading.Lock()
        if not isinstance(protocol, int) or isinstance(protocol, bool):
            raise TypeError(f"protocol must be an int, not {protocol!r}")
        if not 0 <= protocol < lib.MAX_LINKS:
            raise ValueError(f"protocol {protocol} is out of range 0..{lib.MAX_LINKS - 1}")
        if overrun not in ("raise", "count"):
            raise ValueError(f"overrun must be 'raise' or 'count', not {overrun!r}")
        if not 1 <= rx_buffers <= 1024:
            raise ValueError(f"rx_buffers must be 1..1024, not {rx_buffers}")
        if rx_bufsize < 16 or rx_bufsize % 4 or rx_buffers * rx_bufsize > 1 << 30:
            raise ValueError(f"rx_bufsize must be a multiple of 4, >= 16, not {rx_bufsize}")
        if not 16 <= tx_size <= 1 << 30 or dgram_size < 16:
            raise ValueError("tx_size must be 16..1 GiB and dgram_size >= 16")
        if not isinstance(events_max, int) or events_max < 0:
            raise ValueError(f"events_max must be an int >= 0, not {events_max!r}")
        self.protocol = protocol
        self.portid = 0
        self._t = Transport(protocol, netns, rx_buffers, rx_bufsize, tx_size, dgram_size,
                            overrun == "raise")
        self._e = Engine(self._t, events_max)
        self._req = ffi.new("struct nlf_req *")
        self._closed = False
        try:
            self._setup(groups, portid, rcvbuf, sndbuf, ext_ack, cap_ack, strict_check)
        except BaseException:
            self.close()
            raise
        _live.add(self)

    def _setup(self, groups: Iterable[int], portid: int, rcvbuf: int | None,
               sndbuf: int | None, ext_ack: bool, cap_ack: bool, strict: bool) -> None:
        t = self._t
        if rcvbuf is not None:
            self._setbuf(lib.SO_RCVBUFFORCE, lib.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            self._setbuf(lib.SO_SNDBUFFORCE, lib.SO_SNDBUF, sndbuf)
        self.portid = t.bind(portid)
        for opt, on in ((lib.NETLINK_EXT_ACK, ext_ack), (lib.NETLINK_CAP_ACK, cap_ack),
                        (lib.NETLINK_GET_STRICT_CHK, strict)):
            if on:
                # Best effort: a protocol or kernel without it still works.
                t.setopt(SOL_NETLINK, opt, 1)
        self.subscribe(*groups)

    def _setbuf(self, force: int, plain: int, size: int) -> None:
        if self._t.setopt(SOL_SOCKET, force, size) == 0:
            return
        if self._t.setopt(SOL_SOCKET, plain, size) < 0:
            raise oserror("setsockopt(buffer size)")

    # -- one thread at a time -----------------------------------------------------

    def _enter(self) -> None:
        if not self._lock.acquire(False):
            raise ConcurrentUseError(
                "another thread is using this nlfast.Socket: use one Socket per thread, "
                "or serialise the calls with a lock")
        if self._closed or self._forked:
            self._lock.release()
            raise self._dead()
        if self._e.abandoned:
            self._e.settle()

    def _leave(self) -> None:
        e = self._e
        if e.abandoned:
            e.settle()
        self._lock.release()
        if self._closed:
            self._close_now()

    def _dead(self) -> NlfastError:
        if self._forked and not self._closed:
            return NlfastError("this socket was opened before fork(): "
                               "open a new nlfast.Socket in the child")
        return ClosedError("the socket is closed")

    def _close_now(self) -> None:
        if self._lock.acquire(False):
            try:
                self._t.close()
            finally:
                self._lock.release()

    # -- plumbing -----------------------------------------------------------------

    def fileno(self) -> int:
        """:raises ClosedError: closed."""
        if self._closed:
            raise ClosedError("the socket is closed")
        return self._t.fd

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def close(self) -> None:
        """Closes the socket; a second close does nothing.  From another
        thread, a receive blocked in this socket wakes with ClosedError and
        the descriptor is closed when that thread leaves.  Batches and views
        already received stay valid."""
        if getattr(self, "_t", None) is None:
            return
        self._closed = True
        _live.discard(self)
        if self._lock.acquire(False):
            try:
                self._t.close()
            finally:
                self._lock.release()
        else:
            self._t.interrupt()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_t", None) is not None:
            self._closed = True
            self._t.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._t.fd} portid={self.portid}"
        return f"<nlfast.Socket protocol={self.protocol} {state}>"

    def setsockopt(self, level: int, opt: int, value: int) -> None:
        """An int option at any level (SOL_NETLINK, SOL_SOCKET).

        :raises OSError: the kernel refused it.
        :raises ClosedError: closed.
        """
        self._enter()
        try:
            if self._t.setopt(level, opt, value) < 0:
                raise oserror(f"setsockopt({level}, {opt})")
        finally:
            self._leave()

    def getsockopt(self, level: int, opt: int) -> int:
        """An int option.  :raises OSError: refused.  :raises ClosedError: closed."""
        self._enter()
        try:
            return self._t.getopt(level, opt)
        finally:
            self._leave()

    def subscribe(self, *groups: int) -> None:
        """Joins multicast groups by number (NETLINK_ADD_MEMBERSHIP).

        :raises ValueError: not a group number (an int >= 1).
        :raises OSError: the kernel refused one; the message names it
            (EINVAL: the family has no such group; EPERM: not open to
            unprivileged receivers).
        """
        self._membership(groups, lib.NETLINK_ADD_MEMBERSHIP, "join")

    def unsubscribe(self, *groups: int) -> None:
        """Leaves multicast groups.  :raises OSError: the kernel refused."""
        self._membership(groups, lib.NETLINK_DROP_MEMBERSHIP, "leave")

    def _membership(self, groups: Iterable[int], opt: int, verb: str) -> None:
        for g in groups:
            if not isinstance(g, int) or isinstance(g, bool) or g <= 0:
                raise ValueError(f"multicast group must be an int >= 1, not {g!r}")
        self._enter()
        try:
            for g in groups:
                if self._t.setopt(SOL_NETLINK, opt, g) < 0:
                    e = oserror(f"cannot {verb} multicast group {g} of netlink "
                                f"protocol {self.protocol}")
                    raise e
        finally:
            self._leave()

    def drops(self) -> int:
        """Datagrams the kernel dropped for this socket so far (SO_MEMINFO's
        sk_drops: a datagram may hold many messages; the kernel does not
        count those)."""
        self._enter()
        try:
            return self._t.drops()
        finally:
            self._leave()

    # -- send -----------------------------------------------------------------------

    def send(self, msg: Message, *, dest: int = 0, groups: int = 0) -> int:
        """Sends one message to port id ``dest`` (0: the kernel) and group mask
        ``groups`` (a bit mask: 1 << (group - 1)).  Returns its sequence number.

        :raises ClosedError: closed.
        :raises TypeError: not a Message.
        :raises MessageTooLargeError: it does not fit the send arena.
        :raises OSError: the kernel refused it (ECONNREFUSED: nobody at dest).
        """
        t = _need_message("send", msg).framed()
        self._enter()
        try:
            return self._t.send_template(t, dest, groups)
        finally:
            self._leave()

    def send_batch(self, msgs: Iterable[Message], *, dest: int = 0,
                   groups: int = 0) -> list[int]:
        """Frames many messages back to back, many per datagram and many
        datagrams per sendmmsg, and sends them.  Returns their seqs in order.

        :raises ClosedError: closed.
        :raises TypeError: an item is not a Message (nothing is sent).
        :raises MessageTooLargeError: one message does not fit the send arena.
        :raises OSError: the kernel refused a datagram; the ones before it
            went, nothing after it is kept for a later send.
        """
        templates = [_need_message("send_batch", m).framed() for m in msgs]
        self._enter()
        try:
            return self._t.send_many(templates, dest, groups)
        finally:
            self._leave()

    def send_repeat(self, msg: Message | bytes, count: int, *, dest: int = 0,
                    groups: int = 0) -> int:
        """Sends one message ``count`` times, each with its own seq, framed and
        sent in C (load generation: no Python work per message).

        :returns: the number sent (``count``).
        :raises OSError: a send failed; ``.sent`` (an attribute of the
            exception) says how many went before it.
        """
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an int >= 0, not {count!r}")
        tmpl = msg.framed()[2] if isinstance(msg, Message) else bytes(msg)
        self._enter()
        try:
            return self._t.send_repeat(tmpl, count, dest, groups)
        finally:
            self._leave()

    @property
    def next_seq(self) -> int:
        """The sequence number the next framed message gets."""
        return int(self._t.tx.seq)

    @next_seq.setter
    def next_seq(self, value: int) -> None:
        self._t.tx.seq = value & 0xFFFFFFFF

    # -- receive ----------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Batch:
        """The next messages no request or dump waits for (events,
        notifications, messages from other ports), waiting up to
        ``timeout`` seconds for them (None: for ever; 0: not at all).  One
        recvmmsg brings every queued datagram (up to ``rx_buffers``), parsed
        in C; events kept while requests ran come first.

        :raises TimeoutError: nothing came in time.
        :raises OverrunError: ENOBUFS: the receive queue overflowed and
            messages were lost (with ``overrun="count"`` it is counted and an
            empty batch returned); EventOverflowError likewise for the event
            queue.
        :raises TruncatedError: a datagram was larger than ``rx_bufsize``.
        :raises ClosedError: closed (also from another thread meanwhile).
        """
        ms = timeout_ms(timeout)
        self._enter()
        try:
            e = self._e
            if not e.waiters and not e.stale and not e.events and not e.events_overflowed:
                return self._t.recv(ms)  # nothing else in flight: the receive as it is
            return self._recv_routed(ms)
        finally:
            self._leave()

    def _recv_routed(self, ms: int) -> Batch:
        e = self._e
        e.report_overflow(self._t.overrun_raise)
        b = e.next_event()
        if b is not None:
            return b
        # timeout 0: no waiting, but what is queued already is all read (pump(0)
        # raises TimeoutError once nothing is), also past late replies of
        # abandoned requests that came in receives of their own
        deadline = None if ms <= 0 else time.monotonic() + ms / 1000
        while True:
            got = e.pump(ms, None, True)
            if got is not None:
                return got
            if deadline is not None:
                ms = int(max(0.0, deadline - time.monotonic()) * 1000)
                if ms == 0:
                    raise TimeoutError(110, "no netlink message in time")

    def events(self, timeout: float | None = None) -> Iterator[MessageView]:
        """Iterates the messages no request or dump waits for (multicast
        notifications and unsolicited messages), as ``recv()`` would return
        them, one MessageView at a time (each valid for as long as it is
        held).  With a ``timeout``, the iteration ends after that many
        seconds without one; None waits for ever.

        Requests and dumps may be made on the same socket inside the loop:
        events that arrive meanwhile are kept and come next.

        :raises OverrunError, EventOverflowError: as recv().
        :raises ClosedError: closed.
        """
        while True:
            try:
                batch = self.recv(timeout)
            except TimeoutError:
                return
            yield from batch

    # -- requests --------------------------------------------------------------------------

    def request(self, msg: Message, *, timeout: float | None = 5.0, ack: bool = True,
                dest: int = 0) -> list[MessageView]:
        """Sends one request and returns its replies (copies, in order), matched
        by sequence number and port: done at the ACK, NLMSG_DONE or an error.
        NLM_F_REQUEST is always set (the kernel only acks a message without
        it), NLM_F_ACK when ``ack``; without it a request ends at its first
        reply that is not NLM_F_MULTI.  With NLM_F_ECHO the echoed
        notification is a reply, though the kernel marks it with its group.
        Events that arrive meanwhile are kept for recv()/events(); a dump in
        progress on this socket loses nothing.

        :raises NetlinkError: the kernel answered with an error (extended ack
            decoded).
        :raises TimeoutError: no answer for ``timeout`` seconds (late replies
            are then dropped and counted in ``stale_dropped``).
        :raises TypeError: msg is not a Message.
        :raises ClosedError: closed (also from another thread meanwhile).
        """
        _need_message("request", msg)
        flags = msg.flags | NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
        t = msg.framed(flags)
        dump = (flags & NLM_F_DUMP) == NLM_F_DUMP
        ack = bool(flags & NLM_F_ACK)
        ms = timeout_ms(timeout)
        self._enter()
        try:
            e = self._e
            if e.waiters or e.stale:
                seq = self._t.send_template(t, dest, 0)
                w = Waiter(seq, dest, ack=ack, dump=dump, echo=bool(flags & NLM_F_ECHO))
                e.add(w)
                return self._finish_request(w, ms)
            return self._request_alone(t, dest, ack, dump, ms)
        finally:
            self._leave()

    def _request_alone(self, tmpl: Any, dest: int, ack: bool, dump: bool,
                       ms: int) -> list[MessageView]:
        """The one request in flight: sent, received and checked in one C
        call; only a receive with other messages in it, or replies spread
        over receives, goes through the engine."""
        r = self._request_start(tmpl, dest, ack, dump, ms)
        return r if isinstance(r, list) else self._finish_request(r, ms)

    def _request_start(self, tmpl: Any, dest: int, ack: bool, dump: bool,
                       ms: int) -> list[MessageView] | Waiter:
        """The start of _request_alone: its replies, or the Waiter the engine
        now routes them to (with ``ms`` 0, also when none came yet)."""
        mode = (REQ_ACK if ack else 0) | (REQ_DUMP if dump else 0)
        r = self._req
        t = self._t
        slab = t.slab()
        while True:
            rc = lib.nlf_sock_request(t.fd, t.wake, t.tx, tmpl[0], tmpl[1], dest, t.rx,
                                      slab.b, ms, mode, r)
            if rc > 0:
                if r.error:
                    raw = ffi.buffer(slab.mem, r.term_off + r.term_len)[r.term_off :]
                    raise split(raw, 1, None)[0].to_error()
                n = r.nreplies
                return split(ffi.buffer(slab.mem, r.end)[r.off : r.end], n, t.origin) if n else []
            if rc < 0 and not r.sent:
                t.send_failed(ffi.errno)  # returns for EINTR: nothing went
                continue
            return self._request_routed(rc, slab, tmpl, dest, ack, dump, ms)

    def _request_first(self, tmpl: Any, dump: bool, ms: int) -> Any:
        """request() of a framed template, acked, to the kernel (for
        nlfast.spec.Family.do, which decodes the first reply at once): with
        nothing else in flight and the replies in one receive, the first
        one in place as (memory, address, offset), the memory a cffi buffer
        that keeps the slab alive (see nlfast.batch) and the address where
        it starts; None when there is no reply; else the first of request()'s
        copies (a MessageView), or None.

        :raises NetlinkError: the kernel answered with an error.
        """
        self._enter()
        try:
            e = self._e
            if e.waiters or e.stale:
                seq = self._t.send_template(tmpl, 0, 0)
                w = Waiter(seq, 0, ack=True, dump=dump, echo=echoes(tmpl))
                e.add(w)
                replies = self._finish_request(w, ms)
                return replies[0] if replies else None
            mode = REQ_ACK | (REQ_DUMP if dump else 0)
            r = self._req
            t = self._t
            slab = t.slab()
            while True:
                rc = lib.nlf_sock_request(t.fd, t.wake, t.tx, tmpl[0], tmpl[1], 0, t.rx,
                                          slab.b, ms, mode, r)
                if rc > 0:
                    if r.error:
                        raw = ffi.buffer(slab.mem, r.term_off + r.term_len)[r.term_off :]
                        raise split(raw, 1, None)[0].to_error()
                    if not r.nreplies:
                        return None
                    return ffi.buffer(slab.mem), slab.addr, r.off
                if rc < 0 and not r.sent:
                    t.send_failed(ffi.errno)  # returns for EINTR: nothing went
                    continue
                got = self._finish_request(
                    self._request_routed(rc, slab, tmpl, 0, True, dump, ms), ms)
                return got[0] if got else None
        finally:
            self._leave()

    def _request_routed(self, rc: int, slab: Any, tmpl: Any, dest: int, ack: bool, dump: bool,
                        ms: int) -> Waiter:
        """The rest of _request_start once nlf_sock_request sent the request
        (rc from it, errno still its): the Waiter the engine now routes the
        replies to."""
        err = ffi.errno
        r = self._req
        t = self._t
        e = self._e
        w = Waiter(int(r.seq), dest, ack=ack, dump=dump, echo=echoes(tmpl))
        e.add(w)
        if rc < 0:
            if ms == 0 and err == errno.EAGAIN:
                return w  # sent; nothing came yet
            try:
                t.recv_failed(err)
            except BaseException:
                e.drop(w)
                raise
        else:
            batch = Batch(slab, 0, slab.b.tab.count, slab.view())
            e.route(batch, w, False)
            if slab.b.tab.n_trunc:
                t.truncated += int(slab.b.tab.n_trunc)
                e.drop(w)
                raise TruncatedError(batch, int(slab.b.tab.n_trunc))
        return w

    def _finish_request(self, w: Waiter, ms: int) -> list[MessageView]:
        e = self._e
        try:
            while not w.done:
                e.pump(ms, w)
        except BaseException:
            e.drop(w)
            raise
        if w.error is not None:
            raise w.error
        return w.replies

    def request_many(self, msgs: Iterable[Message], *, timeout: float | None = 5.0,
                     window: int = 64, ack: bool = True, dest: int = 0,
                     ) -> list[list[MessageView] | NetlinkError]:
        """Pipelines requests (``window`` in flight) and returns, in request
        order, each one's replies (copies) or its NetlinkError.  With ``ack``
        (the default) NLM_F_ACK is added and a request is done at its ACK;
        without, at its first reply that is not NLM_F_MULTI, its NLMSG_DONE
        or its error.  Keep ``window`` times the reply size under the receive
        buffer, or the kernel drops replies (raised as OverrunError).

        :raises TimeoutError: answers stopped coming for ``timeout`` seconds.
        :raises ValueError: window < 1.
        :raises TypeError: an item is not a Message (nothing is sent).
        """
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int >= 1, not {window!r}")
        plain = [_need_message("request_many", m) for m in msgs]
        templates = [m.framed(m.flags | NLM_F_REQUEST | (NLM_F_ACK if ack else 0)) for m in plain]
        ms = timeout_ms(timeout)
        n = len(templates)
        results: list[Any] = [None] * n
        self._enter()
        try:
            e = self._e
            inflight: dict[int, Waiter] = {}
            i = 0
            try:
                while i < n or inflight:
                    if i < n and len(inflight) < window:
                        k = min(window - len(inflight), n - i)
                        seqs = self._t.send_many(templates[i : i + k], dest, 0)
                        for j, seq in enumerate(seqs):
                            m = plain[i + j]
                            f = m.flags | NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
                            w = Waiter(seq, dest, ack=bool(f & NLM_F_ACK),
                                       dump=(f & NLM_F_DUMP) == NLM_F_DUMP, tag=i + j,
                                       echo=bool(f & NLM_F_ECHO))
                            e.add(w)
                            inflight[seq] = w
                        i += k
                    e.pump(ms)
                    for w in e.finished:
                        inflight.pop(w.seq, None)
                        results[w.tag] = w.error if w.error is not None else w.replies
                    e.finished.clear()
            except BaseException:
                for w in inflight.values():
                    e.drop(w)
                e.finished.clear()
                raise
            return results
        finally:
            self._leave()

    def dump(self, msg: Message, *, timeout: float | None = 5.0,
             allow_interrupted: bool = False, dest: int = 0) -> Iterator[Batch]:
        """Streams a dump: sends ``msg`` with NLM_F_DUMP and yields its
        messages, one Batch per receive (NLMSG_DONE left out), until its own
        NLMSG_DONE.  Memory stays bounded by the receive buffers however
        large the dump is, as long as batches are not kept.  Requests may be
        made on the same socket inside the loop; leaving the loop early is
        fine (the rest is read and dropped before the next dump).

        :raises NetlinkError: the kernel failed the dump.
        :raises DumpInterruptedError: at the end, when a message carried
            NLM_F_DUMP_INTR (the state changed under the dump), unless
            ``allow_interrupted``.
        :raises TimeoutError: the dump stalled for ``timeout`` seconds.
        :raises ClosedError: the socket was closed.
        """
        _need_message("dump", msg)
        t = msg.framed(msg.flags | NLM_F_DUMP | NLM_F_REQUEST)
        ms = timeout_ms(timeout)
        return self._dump(t, ms, timeout, allow_interrupted, dest)

    def _dump(self, t: Any, ms: int, timeout: float | None, allow_interrupted: bool,
              dest: int) -> Iterator[Batch]:
        e = self._e
        self._enter()
        try:
            if e.stale_dumps():
                e.drain_dumps(timeout)
            seq = self._t.send_template(t, dest, 0)
            w = Waiter(seq, dest, ack=False, dump=True, stream=True)
            e.add(w)
        finally:
            self._leave()
        try:
            while True:
                self._enter()
                try:
                    q = w.queue
                    while not q and not w.done:
                        e.pump(ms, w)
                    b = q.popleft() if q else None
                finally:
                    self._leave()
                if b is None:
                    break
                yield b
        finally:
            if not w.done:
                e.abandon(w)
        if w.error is not None:
            raise w.error
        if w.interrupted and not allow_interrupted:
            raise DumpInterruptedError("NLM_F_DUMP_INTR: the state changed during the dump")

    def dump_messages(self, msg: Message, **kw: Any) -> Iterator[MessageView]:
        """Like :meth:`dump`, one MessageView at a time."""
        for batch in self.dump(msg, **kw):
            yield from batch


__all__ = ["Batch", "Socket", "extack_error"]
