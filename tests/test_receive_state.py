"""A stateful property test of the receive path against a real peer.

A scripted server (a stdlib AF_NETLINK USERSOCK socket in a thread: an
independent implementation, not nlfast) answers what the client asks in the
request payload: N replies, a dump of N rows over several datagrams, an
error, N events, or nothing until later.  Hypothesis interleaves requests,
request_many, dumps started and advanced in any order or left early,
events, views kept across everything, garbage collection and churn, and
checks every result against a model.  tests/test_asan.py runs it again under
an AddressSanitizer build with PYTHONMALLOC=malloc, where a view reading
freed or reused memory would abort the run.
"""

from __future__ import annotations

import errno
import gc
import os
import socket as pysocket
import struct
import threading
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import nlfast
from nlfast import Message

USERSOCK = nlfast.NETLINK_USERSOCK
REQ, DUMP, ERR, EVENTS, LATE = 1, 2, 3, 4, 5
T_REQ, T_REPLY, T_ROW, T_EVENT = 0x100, 0x101, 0x102, 0x104
HDR = struct.Struct("=IHHII")
OP = struct.Struct("=BxHI")  # op, n, tag
ITEM = struct.Struct("=II")  # tag, index


def _msg(typ: int, flags: int, seq: int, body: bytes) -> bytes:
    pad = b"\0" * (-len(body) % 4)
    return HDR.pack(16 + len(body), typ, flags, seq, 0) + body + pad


class Server(threading.Thread):
    """Answers each request as its payload says; LATE ones just before the
    next request that is not LATE."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
        self.sock.bind((0, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[0]
        self.late: list[tuple[bytes, int, int]] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                data, (src, _) = self.sock.recvfrom(65536)
            except (TimeoutError, pysocket.timeout):
                continue
            except OSError:
                return
            off = 0
            while off + 16 <= len(data):
                ln = HDR.unpack_from(data, off)[0]
                self.answer(data[off : off + ln], src)
                off += (ln + 3) & ~3

    def send(self, to: int, chunks: list[bytes], per: int = 3) -> None:
        for i in range(0, len(chunks), per):
            self.sock.sendto(b"".join(chunks[i : i + per]), (to, 0))

    def answer(self, req: bytes, to: int) -> None:
        _, _, flags, seq, _ = HDR.unpack_from(req)
        op, n, tag = OP.unpack_from(req, 16)
        if op == LATE:
            self.late.append((req, n, to))
            return
        for late_req, ln, lto in self.late:
            self.reply(late_req, ln, lto)
        self.late.clear()
        if op == DUMP:
            rows = [_msg(T_ROW, nlfast.NLM_F_MULTI, seq, ITEM.pack(tag, i) + b"r" * (i % 7))
                    for i in range(n)]
            self.send(to, [*rows, _msg(nlfast.NLMSG_DONE, nlfast.NLM_F_MULTI, seq,
                                       struct.pack("=i", 0))])
        elif op == ERR:
            self.send(to, [_msg(nlfast.NLMSG_ERROR, 0, seq,
                                struct.pack("=i", -errno.ENOENT) + req[:16])])
        elif op == EVENTS:
            self.send(to, [_msg(T_EVENT, 0, 0, ITEM.pack(tag, i)) for i in range(n)], per=2)
            if flags & nlfast.NLM_F_ACK:
                self.ack(req, to)
        else:
            self.reply(req, n, to)

    def reply(self, req: bytes, n: int, to: int) -> None:
        _, _, flags, seq, _ = HDR.unpack_from(req)
        tag = OP.unpack_from(req, 16)[2]
        ack = bool(flags & nlfast.NLM_F_ACK)
        out = []
        for i in range(n):
            more = ack or i < n - 1
            out.append(_msg(T_REPLY, nlfast.NLM_F_MULTI if more else 0, seq,
                            ITEM.pack(tag, i) + b"x" * (i % 5)))
        self.send(to, out)
        if ack:
            self.ack(req, to)

    def ack(self, req: bytes, to: int) -> None:
        seq = HDR.unpack_from(req)[3]
        self.sock.sendto(_msg(nlfast.NLMSG_ERROR, 0, seq, struct.pack("=i", 0) + req[:16]),
                         (to, 0))


def request(op: int, n: int, tag: int) -> Message:
    return Message(T_REQ, attrs=[], header=OP.pack(op, n, tag))


def items(views: Any) -> list[tuple[int, int]]:
    return [ITEM.unpack_from(v.payload) for v in views]


class ReceivePath(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.server = Server()
        self.server.start()
        self.s = nlfast.Socket(USERSOCK, rx_buffers=4, rx_bufsize=4096)
        self.tag = 0
        self.events: list[tuple[int, int]] = []
        self.dumps: list[tuple[Any, int, int, list[tuple[int, int]]]] = []
        self.kept: list[tuple[Any, bytes]] = []
        self.late = 0  # late replies (and acks) that must be dropped as stale
        self.abandoned = 0  # at most this many more: rows of dumps left early

    def new_tag(self) -> int:
        self.tag += 1
        return self.tag

    def keep(self, views: Any) -> None:
        for v in list(views)[:3]:
            self.kept.append((v, bytes(v.data())))
            self.kept.append((v.payload, bytes(v.payload)))

    @rule(n=st.integers(0, 6), ack=st.booleans())
    def do_request(self, n: int, ack: bool) -> None:
        if not ack and n == 0:
            n = 1  # without an ack, a request ends at a reply
        tag = self.new_tag()
        got = self.s.request(request(REQ, n, tag), dest=self.server.port, ack=ack)
        assert items(got) == [(tag, i) for i in range(n)]
        self.keep(got)

    @rule()
    def do_error(self) -> None:
        try:
            self.s.request(request(ERR, 0, self.new_tag()), dest=self.server.port)
        except nlfast.NetlinkError as e:
            assert e.code == errno.ENOENT
        else:
            raise AssertionError("no error")

    @rule(n=st.integers(0, 3))
    def do_late(self, n: int) -> None:
        try:
            self.s.request(request(LATE, n, self.new_tag()), dest=self.server.port,
                           timeout=0.02)
        except TimeoutError:
            self.late += n + 1
        else:
            raise AssertionError("a LATE request was answered in time")

    @rule(k=st.integers(1, 8), n=st.integers(0, 3), window=st.integers(1, 4))
    def do_request_many(self, k: int, n: int, window: int) -> None:
        tags = [self.new_tag() for _ in range(k)]
        res = self.s.request_many([request(REQ, n, t) for t in tags], window=window,
                                  dest=self.server.port)
        for t, r in zip(tags, res):
            assert isinstance(r, list) and items(r) == [(t, i) for i in range(n)]

    @rule(n=st.integers(0, 20))
    def start_dump(self, n: int) -> None:
        tag = self.new_tag()
        it = self.s.dump(request(DUMP, n, tag), dest=self.server.port)
        self.dumps.append((it, tag, n, []))

    @precondition(lambda self: self.dumps)
    @rule(i=st.integers(0, 7), keep=st.booleans())
    def advance_dump(self, i: int, keep: bool) -> None:
        it, tag, n, seen = self.dumps[i % len(self.dumps)]
        if not seen:
            self.abandoned += n + 1  # if it is left from now on
        try:
            batch = next(it)
        except StopIteration:
            self.abandoned -= n + 1
            assert seen == [(tag, j) for j in range(n)]
            self.dumps.remove((it, tag, n, seen))
            return
        assert len(batch) > 0
        seen += items(batch)
        assert seen == [(tag, j) for j in range(len(seen))]
        if keep:
            self.keep(batch)
            self.kept.append((batch.types, bytes(batch.types)))

    @precondition(lambda self: self.dumps)
    @rule(i=st.integers(0, 7))
    def leave_dump(self, i: int) -> None:
        it = self.dumps.pop(i % len(self.dumps))[0]
        it.close()

    @rule(n=st.integers(1, 9))
    def emit_events(self, n: int) -> None:
        tag = self.new_tag()
        self.s.request(request(EVENTS, n, tag), dest=self.server.port)
        self.events += [(tag, i) for i in range(n)]

    @rule(n=st.integers(1, 9))
    def emit_events_unasked(self, n: int) -> None:
        """The server sends events on its own: they may come in the middle
        of any later call, or straight to recv() (without a copy)."""
        tag = self.new_tag()
        self.s.send(request(EVENTS, n, tag), dest=self.server.port)
        self.events += [(tag, i) for i in range(n)]

    @rule(keep=st.booleans())
    def read_events(self, keep: bool) -> None:
        got: list[Any] = []
        while len(got) < len(self.events):
            got += list(self.s.recv(timeout=2))
        got += self.s.events(timeout=0.02)
        assert items(got) == self.events
        self.events = []
        if keep:
            self.keep(got)

    @rule()
    def churn(self) -> None:
        gc.collect()
        junk = [os.urandom(4096) for _ in range(64)]
        del junk

    @rule()
    def forget_views(self) -> None:
        self.kept.clear()

    @invariant()
    def views_keep_their_bytes(self) -> None:
        for v, want in self.kept:
            assert bytes(v.data() if hasattr(v, "data") else v) == want

    @invariant()
    def late_replies_are_counted(self) -> None:
        # they arrive before the server's next answer, which every
        # completed call waits for
        assert self.s.stale_dropped <= self.late + self.abandoned

    def teardown(self) -> None:
        try:
            for it, *_ in self.dumps:
                it.close()
            self.s.request(request(REQ, 1, 0), dest=self.server.port)
            assert self.late <= self.s.stale_dropped <= self.late + self.abandoned
            got = items(self.s.events(timeout=0.2))
            assert got == self.events
        finally:
            self.s.close()
            self.server.running = False
            self.server.join()
            self.server.sock.close()
        gc.collect()
        for v, want in self.kept:  # after close and collection too
            assert bytes(v.data() if hasattr(v, "data") else v) == want


ReceivePath.TestCase.settings = settings(
    max_examples=int(os.environ.get("NLFAST_STATE_EXAMPLES", "30")),
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReceivePath = ReceivePath.TestCase
