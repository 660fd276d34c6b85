"""The engine: every received message goes to the call that waits for it.

Routing rules (the README's "Who gets which message"):

- A message in a *unicast* datagram whose sequence number is that of a
  waiting request or dump, sent by the port the request went to (0: the
  kernel), belongs to that call.  The check runs in C over the whole
  receive (``nlf_batch_route``) and yields runs of rows per destination.
- Everything else - multicast notifications (whatever their seq), and
  unicast messages nobody waits for - is an *event*: handed to ``recv()`` /
  ``events()`` in arrival order.  Events that arrive while a request or dump
  is receiving are kept in a bounded queue (``events_max`` messages, copied
  out of the receive memory); what does not fit is dropped, counted, and
  reported to the next ``recv()``/``events()`` like ENOBUFS.
- A request or dump abandoned before its end (timeout, exception, a dump
  iterator closed or collected early) leaves its sequence number behind:
  its late replies are dropped and counted (``stale_dropped``), and the next
  dump first reads the abandoned one to its end so the kernel takes a new one.
- A dump ends at its own NLMSG_DONE or NLMSG_ERROR only.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from nlfast._shim import ffi, lib
from nlfast._transport import Transport
from nlfast.batch import Batch, pack
from nlfast.errors import EventOverflowError, NetlinkError
from nlfast.message import MessageView

NLMSG_ERROR: int = lib.NLMSG_ERROR
NLMSG_DONE: int = lib.NLMSG_DONE
NLM_F_MULTI: int = lib.NLM_F_MULTI
NLM_F_ECHO: int = lib.NLM_F_ECHO
STALE_MAX = 4096  # abandoned sequence numbers remembered


def echoes(tmpl: Any) -> bool:
    """Whether a framed request (pointer, length) asks for NLM_F_ECHO."""
    return bool(ffi.cast("uint16_t *", tmpl[0])[3] & NLM_F_ECHO)


class Waiter:
    """One request (its replies, copied) or one dump (its batches, queued)."""

    __slots__ = ("ack", "done", "dump", "echo", "error", "fut", "interrupted", "port", "queue",
                 "replies", "seq", "stream", "tag")

    def __init__(self, seq: int, port: int, *, ack: bool, dump: bool, tag: Any = None,
                 echo: bool = False, stream: bool = False) -> None:
        self.seq = seq
        self.port = port
        self.ack = ack
        self.dump = dump
        # a dump() call: its batches are queued for the iterator; otherwise
        # (a request, NLM_F_DUMP or not) its replies are copied to replies
        self.stream = stream
        # sent with NLM_F_ECHO: its answer may come marked with a group (row_key)
        self.echo = echo
        self.done = False
        self.error: NetlinkError | None = None
        self.interrupted = False
        self.replies: list[MessageView] = []  # copies: they own their bytes
        self.queue: collections.deque[Batch] = collections.deque()
        self.tag = tag  # what the caller keeps with it (request_many: the index)
        # nlfast.aio: a future-like object (done(), set_result(w)) the engine
        # resolves when w ends or a dump batch is queued for it.
        self.fut: Any = None


class Engine:
    """Waiters by sequence number, the event queue, abandoned requests."""

    def __init__(self, transport: Transport, events_max: int) -> None:
        self.t = transport
        self.waiters: dict[int, Waiter] = {}
        self.stale: dict[int, Waiter] = {}
        self.events: collections.deque[Batch] = collections.deque()
        self.events_queued = 0
        self.events_max = events_max
        self.events_dropped = 0
        self.events_overflowed = 0  # dropped since the last report
        self.stale_dropped = 0
        self.finished: list[Waiter] = []
        # Waiters abandoned from any thread (a generator collected anywhere):
        # appended without a lock, taken under the socket's busy lock.
        self.abandoned: collections.deque[Waiter] = collections.deque()
        self._keys: list[Waiter] = []
        self._nkeys = 0
        self._cap = 0
        self._seqs: Any = None
        self._ports: Any = None
        self._echo: Any = None
        rows = transport.arena_len // 16
        self._run_end = ffi.new("uint32_t[]", rows)
        self._run_dest = ffi.new("int32_t[]", rows)
        self._dirty = True

    # -- bookkeeping ----------------------------------------------------------

    def add(self, w: Waiter) -> None:
        old = self.waiters.get(w.seq)
        if old is not None:  # a wrapped or hand-set seq: the older call loses it
            self.drop(old)
        self.stale.pop(w.seq, None)
        self.waiters[w.seq] = w
        self._dirty = True

    def remove(self, w: Waiter) -> None:
        if self.waiters.get(w.seq) is w:
            del self.waiters[w.seq]
            self._dirty = True

    def abandon(self, w: Waiter) -> None:
        """From any thread: w's caller gave up; its late replies are dropped."""
        self.abandoned.append(w)

    def drop(self, w: Waiter) -> None:
        """Now, under the busy lock: w's caller gave up."""
        self.remove(w)
        if w.done:
            return
        w.replies.clear()
        w.queue.clear()
        self.stale[w.seq] = w
        while len(self.stale) > STALE_MAX:
            del self.stale[next(iter(self.stale))]
        self._dirty = True

    def settle(self) -> None:
        """Takes in the waiters abandoned since the last call."""
        ab = self.abandoned
        while ab:
            self.drop(ab.popleft())

    def stale_dumps(self) -> bool:
        return any(w.dump for w in self.stale.values())

    def _keytable(self) -> None:
        keys = [*self.waiters.values(), *self.stale.values()]
        n = len(keys)
        if n > self._cap:
            self._cap = max(n, 2 * self._cap, 16)
            self._seqs = ffi.new("uint32_t[]", self._cap)
            self._ports = ffi.new("uint32_t[]", self._cap)
            self._echo = ffi.new("uint32_t[]", self._cap)
        seqs, ports, echo = self._seqs, self._ports, self._echo
        me = self.t.port
        for i, w in enumerate(keys):
            seqs[i] = w.seq
            ports[i] = w.port
            echo[i] = me if w.echo else 0
        self._keys = keys
        self._nkeys = n
        self._dirty = False

    # -- routing ------------------------------------------------------------------

    def pump(self, ms: int, me: Waiter | None = None, take: bool = False) -> Batch | None:
        """One receive, routed.  Rows for ``me`` are delivered without a copy;
        rows for other waiters are copied to them; events are returned when
        ``take`` (the caller is recv()/events(): the first run, the rest
        queued) or queued otherwise.

        :raises TimeoutError, ClosedError, OverrunError, TruncatedError: as
            Transport.recv (a truncated receive is routed first).
        """
        try:
            batch = self.t.recv(ms)
        except Exception as exc:
            b = getattr(exc, "batch", None)
            if isinstance(b, Batch):
                self.route(b, me, False)
            raise
        return self.route(batch, me, take)

    def route(self, batch: Batch, me: Waiter | None, take: bool) -> Batch | None:
        if self._dirty:
            self._keytable()
        if not self._nkeys:
            if take:
                return batch
            self._queue_events([(batch, batch.start, batch.stop)])
            return None
        nruns = batch.route(self._seqs, self._ports, self._echo, self._nkeys, self._run_end,
                            self._run_dest)
        ends, dests, keys = self._run_end, self._run_dest, self._keys
        events: list[tuple[Batch, int, int]] = []
        start = batch.start
        for r in range(nruns):
            stop = ends[r]
            d = dests[r]
            if d < 0:
                events.append((batch, start, stop))
            else:
                w = keys[d]
                if w.stream:
                    self._deliver_dump(w, batch, start, stop, w is me)
                else:
                    self._deliver_request(w, batch, start, stop)
            start = stop
        if not events:
            return None
        if take:
            first = events.pop(0)
            if events:  # later runs of this receive: same slab, no copy
                for b, s, e in events:
                    self.events.append(b.sub(s, e))
                    self.events_queued += e - s
            return batch.sub(first[1], first[2])
        self._queue_events(events)
        return None

    def report_overflow(self, raise_it: bool) -> None:
        """Events dropped since the last report: raised as EventOverflowError
        when ``raise_it`` (overrun="raise"), else only counted."""
        if self.events_overflowed:
            n, self.events_overflowed = self.events_overflowed, 0
            if raise_it:
                raise EventOverflowError(n, self.events_dropped)

    def _queue_events(self, runs: list[tuple[Batch, int, int]]) -> None:
        room = self.events_max - self.events_queued
        kept: list[tuple[Batch, int, int]] = []
        for b, s, e in runs:
            n = e - s
            if n > room:
                self.events_dropped += n - max(room, 0)
                self.events_overflowed += n - max(room, 0)
                e = s + max(room, 0)
                n = e - s
            if n:
                kept.append((b, s, e))
                room -= n
        if kept:
            # copied out of the receive memory: a queue never pins a slab
            self.events.append(pack(kept))
            self.events_queued += sum(e - s for _, s, e in kept)

    def next_event(self) -> Batch | None:
        if not self.events:
            return None
        b = self.events.popleft()
        self.events_queued -= len(b)
        return b

    def _finish(self, w: Waiter) -> None:
        w.done = True
        if self.stale.get(w.seq) is w:
            del self.stale[w.seq]
            self._dirty = True
        else:
            self.remove(w)
            if w.tag is not None:
                self.finished.append(w)
        _wake(w)

    def _deliver_request(self, w: Waiter, batch: Batch, start: int, stop: int) -> None:
        stale = self.stale.get(w.seq) is w
        t = batch.table
        for i in range(start, stop):
            if w.done:  # after its end: nobody waits for it
                self.stale_dropped += 1
                continue
            typ = t.type[i]
            if typ in (NLMSG_ERROR, NLMSG_DONE):
                if t.error[i]:
                    if not stale:
                        w.error = batch.copy_row(i).to_error()
                    self._finish(w)
                elif typ == NLMSG_ERROR or not w.ack or w.dump:
                    self._finish(w)
                if stale:
                    self.stale_dropped += 1
                continue
            if stale:
                self.stale_dropped += 1
            else:
                w.replies.append(batch.copy_row(i))
            if not w.ack and not w.dump and not t.flags[i] & NLM_F_MULTI:
                self._finish(w)

    def _deliver_dump(self, w: Waiter, batch: Batch, start: int, stop: int, own: bool) -> None:
        stale = self.stale.get(w.seq) is w
        if w.done:  # after its end: nobody waits for it
            self.stale_dropped += stop - start
            return
        s = batch.sub(start, stop).scan()
        if s.n_intr:
            w.interrupted = True
        end = stop if s.term < 0 else s.term
        if stale:
            self.stale_dropped += stop - start
        elif end > start:
            w.queue.append(batch.sub(start, end) if own else pack([(batch, start, end)]))
            if s.term < 0:
                _wake(w)
        if s.term >= 0:
            i = s.term
            if batch.table.error[i] and not stale:
                w.error = batch.copy_row(i).to_error()
            if not stale:  # rows after its end: nobody waits for them
                self.stale_dropped += stop - i - 1
            self._finish(w)

    def wait(self, w: Waiter, timeout: float | None) -> None:
        """Receives until w is done; ``timeout`` bounds each wait for a
        receive (None: for ever)."""
        while not w.done:
            self.pump(_ms(timeout), w)

    def drain_dumps(self, timeout: float | None) -> None:
        """Reads abandoned dumps to their end, so the kernel takes a new one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.stale_dumps():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                self.pump(_ms(left))
            except TimeoutError:
                # it will not end: forget it (a new dump then gets EBUSY)
                for seq in [s for s, w in self.stale.items() if w.dump]:
                    del self.stale[seq]
                self._dirty = True


def _wake(w: Waiter) -> None:
    f = w.fut
    if f is not None and not f.done():
        f.set_result(w)


def _ms(timeout: float | None) -> int:
    if timeout is None:
        return -1
    return min(int(timeout * 1000 + 0.999), 2**31 - 1)
