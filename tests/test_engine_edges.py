"""The engine's edges against real peers: the event queue's room and
counters, the abandoned-request memory, dump ends, errors and late rows,
draining an abandoned dump under a deadline, and NLM_F_ECHO seen in the
framed request.

The peer is a stdlib AF_NETLINK USERSOCK socket (an independent
implementation), or rtnetlink in a private namespace.  Answers are mostly
sent before the request that they answer (its sequence number is known:
``next_seq``), so one receive brings them all in a known order.  Each test
here kills mutants of nlfast/_engine.py that the rest of the host tests let
live (tests/mutation/SURVIVORS.md, "_engine, _transport").
"""

from __future__ import annotations

import errno
import socket as pysocket
import struct
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

import nlfast
from nlfast import Message, attrs, rtnl
from nlfast._engine import STALE_MAX, _ms
from nlfast._transport import timeout_ms
from nlfast.constants import NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NLM_F_MULTI

from .conftest import Netns

USERSOCK = nlfast.NETLINK_USERSOCK
T_EVENT, T_REQ, T_ROW = 0x70, 0x71, 0x72
NLMSG_ERROR, NLMSG_DONE = 2, 3


def msg(typ: int, flags: int, seq: int, body: bytes = b"") -> bytes:
    """One message, padded to 4 bytes (so messages can be concatenated)."""
    pad = b"\0" * (-len(body) % 4)
    return struct.pack("=IHHII", 16 + len(body), typ, flags, seq, 0) + body + pad


def ev(i: int) -> bytes:
    return msg(T_EVENT, 0, 0, struct.pack("=I", i))


def row(seq: int, i: int) -> bytes:
    return msg(T_ROW, NLM_F_MULTI, seq, struct.pack("=I", i))


def done(seq: int) -> bytes:
    return msg(NLMSG_DONE, NLM_F_MULTI, seq, struct.pack("=i", 0))


def reply(seq: int) -> bytes:
    return msg(T_REQ, 0, seq, b"reply")


def numbers(b: Any) -> list[int]:
    return [struct.unpack("=I", bytes(m.payload))[0] for m in b]


@pytest.fixture
def peer() -> Iterator[pysocket.socket]:
    p = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
    p.bind((0, 0))
    yield p
    p.close()


def port(p: pysocket.socket) -> int:
    return int(p.getsockname()[0])


# -- the event queue: room, counters, overflow ---------------------------------------------


def test_event_queue_room_is_shared_by_every_run_of_a_receive(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK, events_max=3) as s:
        seq = s.next_seq
        # one datagram: three runs of events around the reply and a late copy of it
        peer.sendto(ev(0) + ev(1) + reply(seq) + ev(2) + ev(3) + reply(seq)
                    + ev(4) + ev(5) + ev(6), (s.portid, 0))
        (r,) = s.request(Message(T_REQ), dest=port(peer), ack=False)
        assert bytes(r.payload) == b"reply"
        # 2 kept, then 1 of 2 (the room left), then none of 3
        assert (s.events_queued, s.events_dropped, s.stale_dropped) == (3, 4, 1)
        with pytest.raises(nlfast.EventOverflowError) as over:
            s.recv(timeout=1)
        assert (over.value.dropped, over.value.total) == (4, 4)
        assert "4 events dropped" in str(over.value)
        b = s.recv(timeout=1)
        assert numbers(b) == [0, 1, 2]
        assert s.events_queued == 0
        with pytest.raises(TimeoutError):
            s.recv(timeout=0)


def test_event_queue_counts_across_receives(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK, events_max=2, overrun="count") as s:
        answers: list[Callable[[int], bytes]] = [
            lambda q: ev(0) + reply(q),          # 1 queued
            lambda q: reply(q) + ev(1) + ev(2),  # 1 more fits, 1 dropped
            lambda q: reply(q) + ev(3),          # full: dropped
        ]
        for answer in answers:
            peer.sendto(answer(s.next_seq), (s.portid, 0))
            (r,) = s.request(Message(T_REQ), dest=port(peer), ack=False)
            assert bytes(r.payload) == b"reply"
        assert (s.events_queued, s.events_dropped) == (2, 2)
        assert numbers(s.recv(timeout=0)) == [0]
        assert s.events_queued == 1
        assert numbers(s.recv(timeout=0)) == [1]
        assert s.events_queued == 0
        with pytest.raises(TimeoutError):  # nothing else queued, not even an empty batch
            s.recv(timeout=0)


# -- requests routed by the engine: where each ends ------------------------------------------
# An event first in the datagram makes the receive foreign to nlf_sock_request's
# fast path: the engine routes it.


def ack(seq: int, err: int = 0) -> bytes:
    return msg(NLMSG_ERROR, 0, seq, struct.pack("=i", -err) + msg(T_REQ, 0, seq))


def test_a_request_without_ack_ends_at_its_done_not_at_a_multi_row(
        peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        peer.sendto(ev(1) + row(seq, 0) + row(seq, 1) + done(seq), (s.portid, 0))
        got = s.request(Message(T_REQ), dest=port(peer), ack=False, timeout=1)
        assert [numbers([m]) for m in got] == [[0], [1]]
        assert s.stale_dropped == 0


def test_an_acked_request_waits_past_its_done_for_the_ack(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        peer.sendto(ev(1) + row(seq, 0) + done(seq) + ack(seq, errno.EPERM), (s.portid, 0))
        with pytest.raises(nlfast.NetlinkError) as e:
            s.request(Message(T_REQ), dest=port(peer), timeout=1)
        assert e.value.errno == errno.EPERM
        assert s.stale_dropped == 0


def test_an_acked_request_waits_past_a_reply_without_multi(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        peer.sendto(ev(1) + reply(seq) + ack(seq, errno.ENOENT), (s.portid, 0))
        with pytest.raises(nlfast.NetlinkError) as e:
            s.request(Message(T_REQ), dest=port(peer), timeout=1)
        assert e.value.errno == errno.ENOENT
        seq = s.next_seq
        peer.sendto(ev(2) + reply(seq) + ack(seq), (s.portid, 0))
        (r,) = s.request(Message(T_REQ), dest=port(peer), timeout=1)
        assert bytes(r.payload) == b"reply"
        assert s.stale_dropped == 0
        assert [numbers(b) for b in (s.recv(timeout=0), s.recv(timeout=0))] == [[1], [2]]


def test_rows_after_a_request_end_in_the_same_run_are_counted(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        peer.sendto(ev(1) + reply(seq) + ack(seq) + reply(seq) + ack(seq), (s.portid, 0))
        (r,) = s.request(Message(T_REQ), dest=port(peer), timeout=1)
        assert bytes(r.payload) == b"reply"
        assert s.stale_dropped == 2


def test_every_late_reply_of_an_abandoned_request_is_counted(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        with pytest.raises(TimeoutError):
            s.request(Message(T_REQ), dest=port(peer), timeout=0.05)
        peer.sendto(reply(seq) + reply(seq) + ack(seq) + ev(1), (s.portid, 0))
        assert numbers(s.recv(timeout=1)) == [1]
        assert s.stale_dropped == 3


def test_a_truncated_receive_is_routed_before_it_is_raised(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK, rx_bufsize=4096) as s:
        peer.sendto(ev(0), (s.portid, 0))  # the request's first receive: not its reply

        def answer() -> None:
            peer.recv(4096)
            time.sleep(0.1)  # the request now waits in the engine's receive
            # one datagram cut at 4096 bytes: the event before the cut is whole
            peer.sendto(ev(1) + msg(T_EVENT, 0, 0, b"x" * 8000), (s.portid, 0))

        th = threading.Thread(target=answer)
        th.start()
        with pytest.raises(nlfast.TruncatedError):
            s.request(Message(T_REQ), dest=port(peer), timeout=2)
        th.join()
        assert numbers(s.recv(timeout=0)) == [0]
        assert numbers(s.recv(timeout=0)) == [1]  # routed to the events first


# -- abandoned requests ---------------------------------------------------------------------


def test_the_newest_abandoned_requests_are_remembered(peer: pysocket.socket) -> None:
    n = STALE_MAX + 1
    with nlfast.Socket(USERSOCK) as s:
        first = s.next_seq
        with pytest.raises(TimeoutError):
            s.request_many([Message(T_REQ)] * n, dest=port(peer), window=n, timeout=0.05)
        # the oldest was forgotten, the next one is still remembered
        peer.sendto(msg(T_REQ, 0, first, b"oldest") + msg(T_REQ, 0, first + 1, b"kept")
                    + msg(T_REQ, 0, first + n - 1, b"newest"), (s.portid, 0))
        b = s.recv(timeout=2)
        assert [bytes(m.payload) for m in b] == [b"oldest"]
        assert s.stale_dropped == 2


def test_abandoned_requests_that_end_late_stop_taking_rows(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        a = s.next_seq
        b = a + 1
        with pytest.raises(TimeoutError):  # three abandoned at once
            s.request_many([Message(T_REQ)] * 3, dest=port(peer), timeout=0.05)
        # a's and b's late answers end them; a + 2 stays abandoned (the engine
        # still routes); events before, between and after in one receive
        peer.sendto(ev(1) + reply(a) + ack(a) + ev(2) + ev(3) + reply(b) + ack(b),
                    (s.portid, 0))
        assert numbers(s.recv(timeout=1)) == [1]
        assert (s.events_queued, s.stale_dropped) == (2, 4)
        assert numbers(s.recv(timeout=1)) == [2, 3]
        assert s.events_queued == 0
        # anything b's seq brings now is nobody's: an event
        peer.sendto(msg(T_EVENT, 0, b, struct.pack("=I", 4)) + ev(5), (s.portid, 0))
        assert [(m.seq, *numbers([m])) for m in s.recv(timeout=1)] == [(b, 4), (0, 5)]
        assert s.stale_dropped == 4


def test_a_finished_request_stops_taking_rows(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        gone = s.next_seq
        with pytest.raises(TimeoutError):  # keeps the engine routing
            s.request(Message(T_REQ), dest=port(peer), timeout=0.05)
        seq = s.next_seq
        peer.sendto(reply(seq) + ack(seq), (s.portid, 0))
        (r,) = s.request(Message(T_REQ), dest=port(peer), timeout=1)
        assert bytes(r.payload) == b"reply"
        peer.sendto(msg(T_EVENT, 0, seq, struct.pack("=I", 6)), (s.portid, 0))
        assert [(m.seq, *numbers([m])) for m in s.recv(timeout=1)] == [(seq, 6)]
        assert s.stale_dropped == 0 and gone in s._e.stale


def test_a_request_that_reuses_an_abandoned_seq_takes_it_over(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        with pytest.raises(TimeoutError):  # two abandoned: seq and seq + 1
            s.request_many([Message(T_REQ)] * 2, dest=port(peer), timeout=0.05)
        s.next_seq = seq
        peer.sendto(reply(seq) + ack(seq), (s.portid, 0))
        (r,) = s.request(Message(T_REQ), dest=port(peer), timeout=1)
        assert bytes(r.payload) == b"reply"
        # seq is nobody's now (seq + 1 keeps the engine routing)
        peer.sendto(msg(T_EVENT, 0, seq, struct.pack("=I", 8)), (s.portid, 0))
        assert [(m.seq, *numbers([m])) for m in s.recv(timeout=1)] == [(seq, 8)]
        assert s.stale_dropped == 0


# -- dumps: their end, their error, rows after the end --------------------------------------


def test_a_dump_yields_no_empty_batch_and_counts_rows_after_its_end(
        peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        # runs: rows, event, DONE alone, event, a late row, event, a late row
        peer.sendto(row(seq, 0) + row(seq, 1) + ev(10) + done(seq) + ev(11) + row(seq, 2)
                    + ev(12) + row(seq, 3), (s.portid, 0))
        batches = list(s.dump(Message(T_ROW), dest=port(peer)))
        assert [numbers(b) for b in batches] == [[0, 1]]
        assert s.stale_dropped == 2
        assert numbers(s.recv(timeout=1)) == [10, 11, 12]


def test_rows_after_a_dump_end_in_the_same_run_are_counted(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        peer.sendto(row(seq, 0) + done(seq) + row(seq, 1) + row(seq, 2), (s.portid, 0))
        assert [numbers(b) for b in s.dump(Message(T_ROW), dest=port(peer))] == [[0]]
        assert s.stale_dropped == 2
        with pytest.raises(TimeoutError):
            s.recv(timeout=0)


def test_a_multicast_row_with_a_dumps_seq_and_our_port_is_an_event(
        peer: pysocket.socket) -> None:
    # only a request sent with NLM_F_ECHO takes a message marked with a group;
    # a dump is never sent with it (group 29: no other test of the suite uses it)
    with nlfast.Socket(USERSOCK, groups=[29]) as s:
        seq = s.next_seq
        for pid in (s.portid, 1):  # ours, and port 1 (init's, say)
            marked = struct.pack("=IHHII", 20, T_ROW, NLM_F_MULTI, seq, pid) + struct.pack(
                "=I", 99)
            with pytest.raises(ConnectionRefusedError):  # multicast went; no port 0 to unicast to
                peer.sendto(marked, (0, 1 << 28))
        peer.sendto(row(seq, 0) + done(seq), (s.portid, 0))
        assert [numbers(b) for b in s.dump(Message(T_ROW), dest=port(peer))] == [[0]]
        got = [(m.seq, m.portid, *numbers([m])) for m in s.events(timeout=0.2)]
        assert got == [(seq, s.portid, 99), (seq, 1, 99)]


def test_a_receive_of_one_row_runs_fills_the_run_table(peer: pysocket.socket) -> None:
    # the most runs a receive can hold: every 16-byte row alternating between
    # the dump and the events (4096 bytes: 254 rows and the DONE)
    with nlfast.Socket(USERSOCK, rx_buffers=1, rx_bufsize=4096) as s:
        seq = s.next_seq
        pairs = msg(T_EVENT, 0, 0) + msg(T_ROW, NLM_F_MULTI, seq)
        peer.sendto(pairs * 127 + done(seq), (s.portid, 0))
        batches = list(s.dump(Message(T_ROW), dest=port(peer)))
        assert [len(b) for b in batches] == [1] * 127
        assert len(s.recv(timeout=1)) == 127


def test_a_request_that_takes_a_dumps_seq_ends_the_dump(peer: pysocket.socket) -> None:
    # a hand-set next_seq: the older call loses the seq, and what it had queued
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        peer.sendto(row(seq, 0) + ev(1) + row(seq, 1), (s.portid, 0))  # two runs: two batches
        got = []
        it = s.dump(Message(T_ROW), dest=port(peer), timeout=0.2)
        got.append(numbers(next(it)))
        s.next_seq = seq
        peer.sendto(reply(seq), (s.portid, 0))
        (r,) = s.request(Message(T_REQ), dest=port(peer), ack=False)
        assert bytes(r.payload) == b"reply"
        with pytest.raises(TimeoutError):
            for b in it:
                got.append(numbers(b))
        assert got == [[0]]


def test_a_dump_failed_by_its_peer_raises_its_error(peer: pysocket.socket) -> None:
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        err = msg(NLMSG_ERROR, 0, seq, struct.pack("=i", -errno.EPERM) + msg(T_ROW, 0, seq))
        peer.sendto(row(seq, 0) + ev(1) + err, (s.portid, 0))
        got: list[list[int]] = []
        with pytest.raises(nlfast.NetlinkError) as e:
            for b in s.dump(Message(T_ROW), dest=port(peer)):
                got.append(numbers(b))
        assert e.value.errno == errno.EPERM
        assert got == [[0]]
        assert numbers(s.recv(timeout=1)) == [1]


# -- the next dump first drains an abandoned one ---------------------------------------------


class DumpPeer(threading.Thread):
    """Answers dumps: the first with ``first`` (a function of its seq) and,
    once the test says it abandoned it, with ``rest``: (seconds after that,
    datagram) pairs; every later dump with one row and its DONE."""

    def __init__(self, p: pysocket.socket, first: Callable[[int], bytes],
                 rest: list[tuple[float, Callable[[int], bytes]]]) -> None:
        super().__init__(daemon=True)
        self.p = p
        self.first = first
        self.rest = rest
        self.stop = threading.Event()
        self.abandoned = threading.Event()
        p.settimeout(0.02)

    def run(self) -> None:
        n = 0
        seq0 = src0 = 0
        t0 = None
        pending = list(self.rest)
        while not self.stop.is_set():
            if t0 is None and self.abandoned.is_set():
                t0 = time.monotonic()
            while t0 is not None and pending and time.monotonic() >= t0 + pending[0][0]:
                self.p.sendto(pending.pop(0)[1](seq0), (src0, 0))
            try:
                data, (src, _) = self.p.recvfrom(65536)
            except (TimeoutError, pysocket.timeout):
                continue
            seq = struct.unpack_from("=I", data, 8)[0]
            if n == 0:
                seq0, src0 = seq, src
                self.p.sendto(self.first(seq), (src, 0))
            else:
                self.p.sendto(row(seq, 100 + n) + done(seq), (src, 0))
            n += 1


def abandon_first_dump(s: nlfast.Socket, d: DumpPeer) -> None:
    it = s.dump(Message(T_ROW), dest=port(d.p), timeout=5)
    assert numbers(next(it)) == [0]
    assert isinstance(it, Generator)
    it.close()  # abandoned half-way: its seq is left behind
    d.abandoned.set()


@pytest.mark.parametrize("timeout", [None, 5.0, 1e9])
def test_the_next_dump_reads_an_abandoned_one_to_its_end(peer: pysocket.socket,
                                                         timeout: float | None) -> None:
    d = DumpPeer(peer, lambda q: row(q, 0),
                 [(0.2, lambda q: ev(7) + row(q, 1)),  # a stale run after an event
                  (0.2, lambda q: row(q, 2) + done(q))])
    try:
        with nlfast.Socket(USERSOCK) as s:
            seq = s.next_seq
            peer.sendto(reply(seq) + reply(seq), (s.portid, 0))  # one late copy
            s.request(Message(T_REQ), dest=port(peer), ack=False)
            assert s.stale_dropped == 1
            peer.recv(4096)  # the request
            d.start()
            abandon_first_dump(s, d)
            # drained within the deadline: the rest is dropped and counted
            batches = list(s.dump(Message(T_ROW), dest=port(peer), timeout=timeout))
            assert [numbers(b) for b in batches] == [[101]]
            assert s.stale_dropped == 1 + 3
            assert numbers(s.recv(timeout=1)) == [7]
    finally:
        d.stop.set()
        d.join()


def test_an_abandoned_dump_that_never_ends_is_forgotten_at_the_deadline(
        peer: pysocket.socket) -> None:
    # its rows keep coming (every 0.3 s): the drain gives up at its deadline
    d = DumpPeer(peer, lambda q: row(q, 0), [(0.3 * i, lambda q: row(q, 1)) for i in range(20)])
    d.start()
    try:
        with nlfast.Socket(USERSOCK) as s:
            watchdog = threading.Timer(5, s.close)  # a drain that never ends
            watchdog.start()
            try:
                abandon_first_dump(s, d)
                batches = list(s.dump(Message(T_ROW), dest=port(peer), timeout=0.1))
            finally:
                watchdog.cancel()
            assert [numbers(b) for b in batches] == [[101]]
    finally:
        d.stop.set()
        d.join()


def test_an_abandoned_dump_forgotten_at_the_deadline_sends_its_rows_to_recv(
        peer: pysocket.socket) -> None:
    # forgotten, its late rows are events, even when the next dump then
    # fails to go (nobody at its port) and a stale request keeps the engine
    # routing
    d = DumpPeer(peer, lambda q: row(q, 0), [(0.3 * i, lambda q: row(q, 1)) for i in range(20)])
    with nlfast.Socket(USERSOCK) as s, \
            pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK) as silent:
        silent.bind((0, 0))
        with pytest.raises(TimeoutError):  # a stale request, never answered
            s.request(Message(T_REQ), dest=port(silent), timeout=0.05)
        d.start()
        try:
            abandon_first_dump(s, d)
            with pytest.raises(ConnectionRefusedError):
                list(s.dump(Message(T_ROW), dest=0x7FFFFFF0, timeout=0.1))
            assert numbers(s.recv(timeout=2)) == [1]
        finally:
            d.stop.set()
            d.join()


def test_engine_deadline_milliseconds_are_the_socket_timeouts() -> None:
    # the drain's remaining time, rounded up to whole ms and capped at the
    # C int the shim takes, as every other timeout
    for t in (None, 0.0, 0.0001, 0.001, 0.0015, 0.25, 1.0, 2**31 / 1000 - 0.002,
              2**31 / 1000, 1e9):
        assert _ms(t) == timeout_ms(t), t
    assert (_ms(None), _ms(0.0), _ms(0.0001), _ms(1.0), _ms(1e9)) == (-1, 0, 1, 1000, 2**31 - 1)


# -- NLM_F_ECHO read from the framed request ---------------------------------------------------


def newaddr(ip: str, flags: int) -> Message:
    return Message(rtnl.RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | flags,
                   header=rtnl.ifaddrmsg(family=pysocket.AF_INET, prefixlen=32, index=1),
                   attrs=[attrs.binary(rtnl.IFA_LOCAL, pysocket.inet_aton(ip))])


def test_echo_is_read_from_the_flags_not_the_seq(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                       groups=[rtnl.RTNLGRP_IPV4_IFADDR]) as s:
        # echoed, with a seq whose low 16 bits lack NLM_F_ECHO's bit (8)
        s.next_seq = 0x10
        (got,) = s.request(newaddr("10.9.7.1", NLM_F_ECHO))
        assert (got.type, got.seq) == (rtnl.RTM_NEWADDR, 0x10)
        # not echoed, with a seq that has it: our own notification is an event
        s.next_seq = 0x18
        assert s.request(newaddr("10.9.7.2", 0)) == []
        evs = list(s.events(timeout=0.5))
        assert [(m.type, m.seq, m.portid) for m in evs] == [(rtnl.RTM_NEWADDR, 0x18, s.portid)]
