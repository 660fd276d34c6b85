"""asyncio on the same engine: many coroutines on one netlink socket.

``nlfast.aio.Socket`` opens the same socket as :class:`nlfast.Socket` (the
same options, the same transport and engine: nlfast._transport,
nlfast._engine) and makes its calls awaitable:

- The descriptor is read by the loop's reader callback with a non-blocking
  ``recvmmsg`` (each read brings every queued datagram up to ``rx_buffers``);
  the engine routes each message to the waiter of its sequence number and
  resolves that waiter's future.  No thread per socket.
- Requests made while others are in flight are framed into the send arena
  and sent together (one ``sendmmsg``) once the running coroutines yield; a
  request with nothing else in flight is sent and, when the reply is
  already there (a kernel family answers inside ``sendmsg``), received in
  one C call without a trip through the loop.
- A full peer (``EAGAIN`` on a non-blocking send) is tried again after a
  pause that grows from 0.5 to 20 ms (``send_waits`` counts them): netlink
  tells no sender when a peer's queue drains - the descriptor polls
  writable all along - so the loop's writer callback alone would spin.
- A cancelled or timed-out call leaves its sequence number to the engine's
  stale handling (late replies dropped, counted in ``stale_dropped``);
  ``close()`` wakes every waiter with ClosedError.

All calls must come from the thread running the event loop the socket was
created in.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

from nlfast._engine import Waiter, echoes
from nlfast._shim import ffi, lib, oserror
from nlfast._transport import repeat_failed, timeout_ms
from nlfast.batch import Batch
from nlfast.errors import (
    ClosedError,
    DumpInterruptedError,
    MessageTooLargeError,
    NetlinkError,
)
from nlfast.message import Message, MessageView
from nlfast.socket import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, Counters, _need_message
from nlfast.socket import Socket as _SyncSocket

DRAIN_MAX = 8  # receives per reader callback at most (then the loop's turn)
DUMP_AHEAD = 4  # batches a dump may have queued before reading pauses for it
FAIR_EVERY = 32  # requests answered without waiting before one yield to the loop
BACKOFF_MIN, BACKOFF_MAX = 0.0005, 0.02  # seconds between sends to a full peer


class _Group:
    """Future-like for the waiters of one request_many: collects the
    finished ones and wakes the caller."""

    __slots__ = ("exc", "fin", "fut")

    def __init__(self) -> None:
        self.fin: list[Waiter] = []
        self.fut: asyncio.Future[Any] | None = None
        self.exc: BaseException | None = None

    def done(self) -> bool:
        return False

    def set_result(self, w: Waiter) -> None:
        self.fin.append(w)
        f = self.fut
        if f is not None and not f.done():
            f.set_result(None)

    def set_exception(self, exc: BaseException) -> None:
        if self.exc is None:
            self.exc = exc
        f = self.fut
        if f is not None and not f.done():
            f.set_result(None)


def _expire(fut: Any) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError(errno.ETIMEDOUT, "no netlink reply in time"))


class Socket(Counters):
    """An asyncio netlink socket.  Takes the same arguments as
    :class:`nlfast.Socket`; create it inside a running event loop.
    ``send_waits`` counts the tries that found the peer's queue full.

    :raises RuntimeError: no running event loop.
    :raises ValueError, OSError: as nlfast.Socket.
    """

    def __init__(self, protocol: int, **options: Any) -> None:
        self._closed = True
        self._loop = asyncio.get_running_loop()  # RuntimeError outside a coroutine
        self._s = _SyncSocket(protocol, **options)
        self._t = self._s._t
        self._e = self._s._e
        self._fd = self._t.fd
        self._closed = False
        os.set_blocking(self._fd, False)  # sends: EAGAIN, not a blocked loop
        self.protocol = protocol
        self.portid = self._s.portid
        self._reading = False
        self._exc: BaseException | None = None  # for the next call: nobody was waiting
        self._evfuts: list[asyncio.Future[Any]] = []  # recv() callers waiting
        self._dump_me: Waiter | None = None
        self._dumps: set[Waiter] = set()  # dumps being iterated
        self._nfast = 0
        # frames waiting for one sendmmsg: (dest, groups), their waiters
        self._txn = 0
        self._txkey = (0, 0)
        self._txw: list[Waiter] = []
        self._tx_sched = False
        self._tx_delay = 0.0
        self._wfuts: list[asyncio.Future[Any]] = []
        self._writing = False
        # send_repeat frames in C into the same arena: others wait meanwhile
        self._repeating: asyncio.Future[Any] | None = None
        self.send_waits = 0  # tries that found the peer full and waited

    # -- plumbing -------------------------------------------------------------------

    async def __aenter__(self) -> Socket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd} portid={self.portid}"
        return f"<nlfast.aio.Socket protocol={self.protocol} {state}>"

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def fileno(self) -> int:
        """The descriptor (the loop polls it).  :raises ClosedError: closed."""
        return self._s.fileno()

    def subscribe(self, *groups: int) -> None:
        """As nlfast.Socket.subscribe."""
        self._s.subscribe(*groups)

    def unsubscribe(self, *groups: int) -> None:
        """As nlfast.Socket.unsubscribe."""
        self._s.unsubscribe(*groups)

    def setsockopt(self, level: int, opt: int, value: int) -> None:
        """As nlfast.Socket.setsockopt."""
        self._s.setsockopt(level, opt, value)

    def getsockopt(self, level: int, opt: int) -> int:
        """As nlfast.Socket.getsockopt."""
        return self._s.getsockopt(level, opt)

    def drops(self) -> int:
        """As nlfast.Socket.drops: datagrams the kernel dropped (SO_MEMINFO)."""
        return self._s.drops()

    @property
    def next_seq(self) -> int:
        """The sequence number the next framed message gets."""
        return self._s.next_seq

    @next_seq.setter
    def next_seq(self, value: int) -> None:
        self._s.next_seq = value

    def close(self) -> None:
        """Closes the socket: every waiting call raises ClosedError.  Batches
        and views already received stay valid.  A second close does nothing."""
        if self._closed:
            return
        self._closed = True
        loop = self._loop
        if self._reading:
            loop.remove_reader(self._fd)
            self._reading = False
        if self._writing:
            loop.remove_writer(self._fd)
            self._writing = False
        exc = ClosedError("the socket was closed while waiting")
        e = self._e
        for w in [*e.waiters.values(), *self._txw]:
            _fail(w, exc)
        for f in [*self._evfuts, *self._wfuts]:
            if not f.done():
                f.set_exception(exc)
        self._wfuts.clear()
        self._evfuts.clear()
        self._s.close()

    def _check(self) -> None:
        if self._closed:
            raise ClosedError("the socket is closed")
        e = self._e
        if e.abandoned:
            e.settle()
        if self._exc is not None:
            exc, self._exc = self._exc, None
            raise exc

    # -- receiving ------------------------------------------------------------------------

    def _want_read(self) -> None:
        if not self._reading and not self._closed:
            self._loop.add_reader(self._fd, self._on_readable)
            self._reading = True

    def _on_readable(self) -> None:
        """The loop's reader callback: receives what is queued (non-blocking)
        and routes it; the engine resolves the waiters' futures."""
        e = self._e
        if e.abandoned:
            e.settle()
        if self._dumps and self._dumps_ahead():
            # every caller is a dump with batches queued: the kernel waits
            # (memory stays bounded) until they are taken
            self._loop.remove_reader(self._fd)
            self._reading = False
            return
        try:
            for _ in range(DRAIN_MAX):
                me = self._dump_me
                if me is not None and (me.queue or me.done):
                    me = None
                take = bool(self._evfuts) and not e.events
                got = e.pump(0, me, take)
                if got is not None:
                    e.events.appendleft(got)  # before the later runs queued by route
                    e.events_queued += len(got)
                if me is not None and me.queue:
                    break  # its consumer's turn: the batch points into the slab
                if self._dumps and self._dumps_ahead():
                    break  # paused at the next call
        except TimeoutError:
            pass  # all read
        except ClosedError:
            return
        except Exception as exc:  # ENOBUFS, truncation, an error of the socket
            self._fail_all(exc)
            if self._reading:
                # libuv (uvloop) stops polling a descriptor once it reported
                # an error (ENOBUFS is one): poll it afresh
                self._loop.remove_reader(self._fd)
                self._loop.add_reader(self._fd, self._on_readable)
        self._wake_events()
        if not e.waiters and not e.stale and not self._evfuts and self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _dumps_ahead(self) -> bool:
        """True when only dumps wait, each with DUMP_AHEAD batches queued."""
        e = self._e
        if self._evfuts:
            return False
        live = [w for w in self._dumps if not w.done]
        if not live or len(e.waiters) != len(live):
            return False
        return all(len(w.queue) >= DUMP_AHEAD for w in live)

    def _wake_events(self) -> None:
        """Wakes the recv() callers when events are queued (or overflowed)."""
        e = self._e
        if self._evfuts and (e.events or e.events_overflowed):
            futs, self._evfuts = self._evfuts, []
            for f in futs:
                if not f.done():
                    f.set_result(None)

    def _fail_all(self, exc: BaseException) -> None:
        """Every waiting call gets exc; when none waits, the next call."""
        woke = False
        for w in list(self._e.waiters.values()):
            woke = _fail(w, exc) or woke
        futs, self._evfuts = self._evfuts, []
        for f in futs:
            if not f.done():
                f.set_exception(exc)
                woke = True
        if not woke:
            self._exc = exc

    async def recv(self, timeout: float | None = None) -> Batch:
        """As nlfast.Socket.recv: the next messages no call waits for."""
        ms = timeout_ms(timeout)
        e = self._e
        while True:
            self._check()
            e.report_overflow(self._t.overrun_raise)
            b = e.next_event()
            if b is not None:
                return b
            if not e.waiters and not e.stale:
                try:
                    return self._t.recv(0)
                except TimeoutError:
                    pass
            if ms == 0:
                raise TimeoutError(errno.ETIMEDOUT, "no netlink message in time")
            f = self._loop.create_future()
            self._evfuts.append(f)
            self._want_read()
            h = None if timeout is None else self._loop.call_later(timeout, _expire, f)
            try:
                await f
            except TimeoutError:
                raise TimeoutError(errno.ETIMEDOUT, "no netlink message in time") from None
            finally:
                if h is not None:
                    h.cancel()
                if f in self._evfuts:
                    self._evfuts.remove(f)

    async def events(self, timeout: float | None = None) -> AsyncIterator[MessageView]:
        """As nlfast.Socket.events: ``async for m in s.events()``."""
        while True:
            try:
                batch = await self.recv(timeout)
            except TimeoutError:
                return
            for m in batch:
                yield m

    # -- sending --------------------------------------------------------------------------

    def _put(self, tmpl: Any) -> int:
        """Frames one message into the send arena: its seq, or -1 when the
        arena is full (flush first).  :raises MessageTooLargeError:"""
        tx = self._t.tx
        seq = int(tx.seq)
        if lib.nlf_tx_put_repeat(tx, tmpl[0], tmpl[1], 1) == 1:
            self._txn += 1
            return seq
        if ffi.errno != errno.ENOSPC:
            raise oserror("framing")
        if tx.pos == 0:
            raise MessageTooLargeError("message larger than the send arena (tx_size)")
        return -1

    async def _frame(self, tmpl: Any, dest: int, groups: int) -> int:
        """Frames one message for the next flush; its seq."""
        key = (dest, groups)
        while self._repeating is not None:
            await asyncio.shield(self._repeating)
        while self._txn and self._txkey != key:
            await self._flush()
        self._txkey = key
        seq = self._put(tmpl)
        while seq < 0:
            await self._flush()
            self._txkey = key
            seq = self._put(tmpl)
        return seq

    def _schedule_flush(self) -> None:
        if not self._tx_sched:
            self._tx_sched = True
            self._loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._tx_sched = False
        if self._closed or not self._txn:
            return
        try:
            if not self._try_flush():
                # the peer is full; netlink says nothing when it drains: try
                # again after a pause that grows, never in a spin
                self.send_waits += 1
                self._tx_delay = min(max(self._tx_delay * 2, BACKOFF_MIN), BACKOFF_MAX)
                self._tx_sched = True
                self._loop.call_later(self._tx_delay, self._flush_soon)
                return
        except OSError:
            return  # the waiters got it
        self._tx_delay = 0.0
        self._on_readable()  # a kernel family has answered already

    def _try_flush(self) -> bool:
        """Sends what is framed: True when all went, False on EAGAIN (what
        is left stays framed).  :raises OSError: (the waiters of the frames
        get it too, and are dropped)."""
        if self._closed:
            raise ClosedError("the socket is closed")
        t = self._t
        dest, groups = self._txkey
        while lib.nlf_sock_flush(t.fd, t.tx, dest, groups) < 0:
            err = ffi.errno
            if err == errno.EAGAIN:
                return False
            if err != errno.EINTR:
                lib.nlf_tx_reset(t.tx)
                self._txn = 0
                exc = oserror("sendmmsg", err)
                ws, self._txw = self._txw, []
                for w in ws:
                    _fail(w, exc)
                raise exc
        self._txn = 0
        self._txw.clear()
        return True

    def _want_write(self) -> None:
        if not self._writing and not self._closed:
            self._loop.add_writer(self._fd, self._on_writable)
            self._writing = True

    def _on_writable(self) -> None:
        self._loop.remove_writer(self._fd)
        self._writing = False
        futs, self._wfuts = self._wfuts, []
        for f in futs:
            if not f.done():
                f.set_result(None)

    async def _flush(self) -> None:
        """Sends everything framed, waiting while the peer is full."""
        delay = 0.0
        while self._txn:
            if self._try_flush():
                return
            # netlink has no "peer drained" signal: writability, then a pause
            self.send_waits += 1
            f = self._loop.create_future()
            self._wfuts.append(f)
            self._want_write()
            await f
            if delay:
                await asyncio.sleep(delay)
            delay = min(max(delay * 2, BACKOFF_MIN), BACKOFF_MAX)

    async def send(self, msg: Message, *, dest: int = 0, groups: int = 0) -> int:
        """As nlfast.Socket.send; waits while the peer's queue is full."""
        t = _need_message("send", msg).framed()
        self._check()
        seq = await self._frame(t, dest, groups)
        await self._flush()
        return seq

    async def send_batch(self, msgs: Iterable[Message], *, dest: int = 0,
                         groups: int = 0) -> list[int]:
        """As nlfast.Socket.send_batch; waits while the peer's queue is full."""
        templates = [_need_message("send_batch", m).framed() for m in msgs]
        self._check()
        seqs = [await self._frame(t, dest, groups) for t in templates]
        await self._flush()
        return seqs

    async def send_repeat(self, msg: Message | bytes, count: int, *, dest: int = 0,
                          groups: int = 0) -> int:
        """As nlfast.Socket.send_repeat; waits while the peer's queue is full."""
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an int >= 0, not {count!r}")
        tmpl = msg.framed()[2] if isinstance(msg, Message) else bytes(msg)
        self._check()
        while self._repeating is not None:
            await asyncio.shield(self._repeating)
        await self._flush()
        self._repeating = self._loop.create_future()
        try:
            return await self._repeat(tmpl, count, dest, groups)
        finally:
            f, self._repeating = self._repeating, None
            f.set_result(None)

    async def _repeat(self, tmpl: bytes, count: int, dest: int, groups: int) -> int:
        t = self._t
        ptr = ffi.from_buffer(tmpl)
        done = 0
        delay = 0.0
        first = int(t.tx.seq)
        while done < count:
            self._check()
            r = lib.nlf_sock_send_repeat(t.fd, t.tx, ptr, len(tmpl), count - done, dest,
                                         groups, t.sent)
            done += int(t.sent[0])
            if r >= 0:
                break
            err = ffi.errno
            if err in (errno.EAGAIN, errno.EINTR):
                # the framed ones that did not go: numbered again when sent
                t.tx.seq = (first + done) & 0xFFFFFFFF
            if err == errno.EAGAIN:
                self.send_waits += 1
                f = self._loop.create_future()
                self._wfuts.append(f)
                self._want_write()
                await f
                if delay:
                    await asyncio.sleep(delay)
                delay = min(max(delay * 2, BACKOFF_MIN), BACKOFF_MAX)
                continue
            if err == errno.EINTR:
                continue
            repeat_failed(err, done)
        return done

    # -- requests ------------------------------------------------------------------------

    def _start_now(self, tmpl: Any, dest: int, ack: bool, dump: bool, fut: Any) -> Waiter | None:
        """_start without waiting: None when the arena is full, another
        destination's frames are pending or send_repeat runs."""
        if self._repeating is not None or (self._txn and self._txkey != (dest, 0)):
            return None
        self._txkey = (dest, 0)
        seq = self._put(tmpl)
        if seq < 0:
            return None
        return self._started(seq, dest, ack, dump, fut, tmpl)

    async def _start(self, tmpl: Any, dest: int, ack: bool, dump: bool, fut: Any) -> Waiter:
        """Frames a request for the next flush, its waiter added."""
        w = self._start_now(tmpl, dest, ack, dump, fut)
        if w is not None:
            return w
        seq = await self._frame(tmpl, dest, 0)
        return self._started(seq, dest, ack, dump, fut, tmpl)

    def _started(self, seq: int, dest: int, ack: bool, dump: bool, fut: Any,
                 tmpl: Any) -> Waiter:
        w = Waiter(seq, dest, ack=ack, dump=dump, echo=echoes(tmpl))
        w.fut = fut
        self._e.add(w)
        self._txw.append(w)
        self._schedule_flush()
        self._want_read()
        return w

    async def request(self, msg: Message, *, timeout: float | None = 5.0, ack: bool = True,
                      dest: int = 0) -> list[MessageView]:
        """As nlfast.Socket.request: its replies (copies).  Cancelling it, or
        its timeout, leaves its late replies to be dropped and counted.

        :raises NetlinkError, TimeoutError, ClosedError, OverrunError: as the
            sync request.
        """
        _need_message("request", msg)
        flags = msg.flags | NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
        t = msg.framed(flags)
        dump = (flags & NLM_F_DUMP) == NLM_F_DUMP
        ack = bool(flags & NLM_F_ACK)
        timeout_ms(timeout)
        self._check()
        e = self._e
        loop = self._loop
        if not e.waiters and not e.stale and not self._txn and self._repeating is None:
            try:
                r = self._s._request_start(t, dest, ack, dump, 0)
            except BlockingIOError:
                r = None  # the peer is full: nothing went
            if e.events or e.events_overflowed:
                self._wake_events()  # events came with the replies
            if isinstance(r, list):
                self._nfast += 1
                if not self._nfast % FAIR_EVERY:
                    await asyncio.sleep(0)
                return r
            if r is None:
                fut = loop.create_future()
                w = (self._start_now(t, dest, ack, dump, fut)
                     or await self._start(t, dest, ack, dump, fut))
            else:
                w = r
                fut = w.fut = loop.create_future()
                self._want_read()
                if w.done:
                    fut.set_result(w)
        else:
            fut = loop.create_future()
            w = (self._start_now(t, dest, ack, dump, fut)
                 or await self._start(t, dest, ack, dump, fut))
        h = None if timeout is None else loop.call_later(timeout, _expire, fut)
        try:
            await fut
        except BaseException:
            if not w.done:
                self._drop(w)
            raise
        finally:
            if h is not None:
                h.cancel()
            w.fut = None
        if w.error is not None:
            raise w.error
        return w.replies

    def _drop(self, w: Waiter) -> None:
        w.fut = None
        if w in self._txw:
            self._txw.remove(w)
        self._e.drop(w)

    async def request_many(self, msgs: Iterable[Message], *, timeout: float | None = 5.0,
                           window: int = 64, ack: bool = True, dest: int = 0,
                           ) -> list[list[MessageView] | NetlinkError]:
        """As nlfast.Socket.request_many: ``window`` in flight, results in
        request order (replies or the NetlinkError)."""
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int >= 1, not {window!r}")
        plain = [_need_message("request_many", m) for m in msgs]
        templates = [m.framed(m.flags | NLM_F_REQUEST | (NLM_F_ACK if ack else 0)) for m in plain]
        timeout_ms(timeout)
        self._check()
        n = len(templates)
        results: list[Any] = [None] * n
        g = _Group()
        index: dict[Waiter, int] = {}
        i = 0
        loop = self._loop
        try:
            while i < n or index:
                while i < n and len(index) < window:
                    flags = plain[i].flags | NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
                    a, d = bool(flags & NLM_F_ACK), (flags & NLM_F_DUMP) == NLM_F_DUMP
                    w = self._start_now(templates[i], dest, a, d, g)
                    if w is None:
                        w = await self._start(templates[i], dest, a, d, g)
                    index[w] = i
                    i += 1
                if not g.fin and g.exc is None:
                    g.fut = fut = loop.create_future()
                    h = None if timeout is None else loop.call_later(timeout, _expire, fut)
                    try:
                        await fut
                    finally:
                        g.fut = None
                        if h is not None:
                            h.cancel()
                if g.exc is not None:
                    raise g.exc
                for w in g.fin:
                    k = index.pop(w, None)
                    if k is not None:
                        results[k] = w.error if w.error is not None else w.replies
                g.fin.clear()
        except BaseException:
            for w in index:
                if not w.done:
                    self._drop(w)
            raise
        return results

    async def dump(self, msg: Message, *, timeout: float | None = 5.0,
                   allow_interrupted: bool = False, dest: int = 0) -> AsyncIterator[Batch]:
        """As nlfast.Socket.dump: ``async for batch in s.dump(msg)``.  Leaving
        the loop early is fine (the rest is dropped before the next dump)."""
        _need_message("dump", msg)
        t = msg.framed(msg.flags | NLM_F_DUMP | NLM_F_REQUEST)
        timeout_ms(timeout)
        self._check()
        e = self._e
        loop = self._loop
        if e.stale_dumps():
            await self._drain_dumps(timeout)
        w = await self._start(t, dest, False, True, loop.create_future())
        w.stream = True  # before any receive: none runs until this coroutine yields
        if self._tx_sched and not self._writing:
            # sent now, not after a trip through the loop: the kernel has
            # built the first part already, read into the dump's own batch
            self._dump_me = w
            self._flush_soon()
        self._dumps.add(w)
        try:
            q = w.queue
            while True:
                if not q and not w.done:
                    self._check()
                    fut = w.fut
                    if fut is None or (fut.done() and fut.exception() is None):
                        fut = w.fut = loop.create_future()
                    self._dump_me = w
                    self._want_read()
                    h = None if timeout is None else loop.call_later(timeout, _expire, fut)
                    try:
                        await fut
                    finally:
                        if self._dump_me is w:
                            self._dump_me = None
                        if h is not None:
                            h.cancel()
                if q:
                    b = q.popleft()
                    if not self._reading and not w.done:
                        self._want_read()  # paused for this dump: room again
                    yield b
                elif w.done:
                    break
        finally:
            self._dumps.discard(w)
            if not w.done:
                w.fut = None
                e.abandon(w)  # may run in a finaliser: the engine takes it in later
                if self._dump_me is w:
                    self._dump_me = None
        if w.error is not None:
            raise w.error
        if w.interrupted and not allow_interrupted:
            raise DumpInterruptedError("NLM_F_DUMP_INTR: the state changed during the dump")

    async def _drain_dumps(self, timeout: float | None) -> None:
        """Waits for abandoned dumps to end, so the kernel takes a new one."""
        e = self._e
        loop = self._loop
        while e.stale_dumps():
            fut = loop.create_future()
            for w in e.stale.values():
                if w.dump:
                    w.fut = fut
            self._want_read()
            h = None if timeout is None else loop.call_later(timeout, _expire, fut)
            try:
                await fut
            except TimeoutError:
                # it will not end: forget it (a new dump then gets EBUSY)
                for seq in [s for s, w in e.stale.items() if w.dump]:
                    del e.stale[seq]
                e._dirty = True
            finally:
                if h is not None:
                    h.cancel()

    async def dump_messages(self, msg: Message, **kw: Any) -> AsyncIterator[MessageView]:
        """Like :meth:`dump`, one MessageView at a time."""
        async for batch in self.dump(msg, **kw):
            for m in batch:
                yield m


def _fail(w: Waiter, exc: BaseException) -> bool:
    """Wakes w's caller with exc; True when it will see it."""
    f = w.fut
    if f is not None and not f.done():
        f.set_exception(exc)
        return True
    if w.dump and not w.done and isinstance(f, asyncio.Future):
        # a dump between batches: it sees exc when its queue runs dry
        w.fut = f.get_loop().create_future()
        w.fut.set_exception(exc)
        return True
    return False


__all__ = ["Socket"]
