"""nlfast.Socket at its edges: the flags a request goes out with and what
ends it, the engine's path next to the one-call path, request_many's window,
dumps that fail or are interrupted, and the socket's own arguments, options
and errors.

The peers are real: a second NETLINK_USERSOCK socket (a plain Python socket,
answering in a thread, so the replies can be shaped: spread over datagrams,
marked with a group, late), and rtnetlink in a private namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os
import re
import socket as pysocket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import nlfast
import nlfast.aio
from nlfast import Message, attrs, rtnl, spec
from nlfast._shim import lib
from nlfast.constants import NLM_F_ACK, NLM_F_DUMP, NLM_F_ECHO, NLM_F_MULTI, NLM_F_REQUEST

from .conftest import Netns

USERSOCK = nlfast.NETLINK_USERSOCK
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_CAPPED = 0x100
NLM_F_DUMP_INTR = 0x10
IGNORED = 0x7F  # a type the peer never answers: its request times out and goes stale


def msg(typ: int, flags: int, seq: int, body: bytes = b"", portid: int = 0) -> bytes:
    """One netlink message, padded to 4 bytes (so messages can be concatenated)."""
    pad = b"\0" * (-len(body) % 4)
    return struct.pack("=IHHII", 16 + len(body), typ, flags, seq, portid) + body + pad


def ack(seq: int, code: int = 0, typ: int = 0x60) -> bytes:
    """An NLMSG_ERROR (code 0: an ACK) for the request seq, its header capped."""
    return msg(NLMSG_ERROR, NLM_F_CAPPED, seq, struct.pack("=i", code) + msg(typ, 0, seq))


def done(seq: int, code: int = 0, flags: int = NLM_F_MULTI) -> bytes:
    return msg(NLMSG_DONE, flags, seq, struct.pack("=i", code))


# What a peer answers one request with: datagrams, each sent to the requester
# (pid) and group mask given, after a pause in seconds.
Answer = list[tuple[float, bytes, int]]


class Peer:
    """A USERSOCK socket answering requests in a thread: ``answer(type,
    flags, seq, pid)`` gives the datagrams for one request (none: it stays
    unanswered).  ``seen`` records (type, flags, seq) of every request."""

    def __init__(self, answer: Callable[[int, int, int, int], Answer],
                 netns: str | None = None) -> None:
        if netns is None:
            self.sock = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
            self.sock.bind((0, 0))
        else:  # a socket opened (and bound) in that namespace
            with nlfast.Socket(USERSOCK, netns=netns) as s:
                self.sock = pysocket.socket(fileno=os.dup(s.fileno()))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[0]
        self.answer = answer
        self.seen: list[tuple[int, int, int]] = []
        self.sent = 0  # datagrams sent
        self._stop = False
        self._th = threading.Thread(target=self._serve, daemon=True)
        self._th.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                data, (pid, _groups) = self.sock.recvfrom(65536)
            except (TimeoutError, pysocket.timeout):  # one type from 3.10 on
                continue
            pos = 0
            while pos + 16 <= len(data):
                ln, typ, flags, seq, _ = struct.unpack_from("=IHHII", data, pos)
                self.seen.append((typ, flags, seq))
                for pause, dgram, groups in self.answer(typ, flags, seq, pid):
                    if pause:
                        time.sleep(pause)
                    with contextlib.suppress(ConnectionRefusedError):  # the requester is gone
                        self.sock.sendto(dgram, (pid, groups))
                    self.sent += 1
                pos += (ln + 3) & ~3

    def close(self) -> None:
        self._stop = True
        self._th.join()
        self.sock.close()


def peer(answer: Callable[[int, int, int, int], Answer],
         netns: str | None = None) -> Iterator[Peer]:
    p = Peer(answer, netns)
    try:
        yield p
    finally:
        p.close()


ECHOED, MARKED = 0x63, 0x64  # a reply marked with a group, asked for with NLM_F_ECHO or not
LONG_THEN_ERROR = 0x65  # a 40-byte reply and EINVAL in one datagram
TOO_BIG = 0x66  # a reply larger than a 256-byte receive buffer
INTERRUPTED, FAILING, ENDLESS = 0x67, 0x68, 0x69  # dumps: DUMP_INTR, EINVAL at the end, no end
WITH_EVENTS = 0x6A  # three unsolicited messages before the reply
DELAYED = 0x6F  # the reply 30 ms late: the requester has found nothing yet
WITH_DONE = 0x75  # a reply and an NLMSG_DONE in one datagram, the ACK in the next
FLOOD = 0x6E  # 65537 unsolicited messages (32 datagrams of 2048 and one of 1) before the reply


def replies_then_ack(typ: int, flags: int, seq: int, pid: int) -> Answer:
    """One reply, then (in its own datagram, a moment later) the ACK when
    asked for one; a dump's replies over three datagrams; the special types
    above; nothing for IGNORED."""
    if typ == IGNORED:
        return []
    tail: Answer = [(0.03, ack(seq, typ=typ), 0)] if flags & NLM_F_ACK else []
    if typ in (ECHOED, MARKED):  # marked with group 30: a group no other test uses
        return [(0, msg(typ, 0, seq, b"echoed", portid=pid), 1 << 29), *tail]
    if typ == LONG_THEN_ERROR:
        return [(0, msg(typ, 0, seq, b"x" * 40) + ack(seq, -errno.EINVAL, typ), 0)]
    if typ == TOO_BIG:
        return [(0, msg(typ, 0, seq, b"y" * 1000), 0), *tail]
    if typ in (INTERRUPTED, FAILING, ENDLESS):
        first = NLM_F_MULTI | (NLM_F_DUMP_INTR if typ == INTERRUPTED else 0)
        out: Answer = [(0, msg(typ, first, seq, b"one"), 0)]
        if typ != ENDLESS:
            out.append((0.02, done(seq, -errno.EINVAL if typ == FAILING else 0), 0))
        return out
    if typ == FLOOD:
        full = msg(0x6B, 0, 0) * 2048
        return [*[(0, full, 0)] * 32, (0, msg(0x6B, 0, 0) + msg(typ, 0, seq, b"reply"), 0), *tail]
    if typ == WITH_DONE:
        return [(0, msg(typ, 0, seq, b"reply") + done(seq, flags=0), 0), *tail]
    if typ == DELAYED:
        return [(0.03, msg(typ, 0, seq, b"reply"), 0), *tail]
    if typ == WITH_EVENTS:
        events = b"".join(msg(0x6B, 0, 0, struct.pack("=I", i)) for i in range(3))
        return [(0, events + msg(typ, 0, seq, b"reply"), 0), *tail]
    out = [(0, msg(typ, 0, seq, b"reply"), 0)]
    if flags & NLM_F_DUMP == NLM_F_DUMP:
        out = [(0, msg(typ, NLM_F_MULTI, seq, b"one"), 0),
               (0.03, msg(typ, NLM_F_MULTI, seq, b"two"), 0),
               (0.03, done(seq), 0)]
    elif flags & NLM_F_ACK:
        out.append((0.03, ack(seq, typ=typ), 0))
    return out


@pytest.fixture
def answering() -> Iterator[Peer]:
    yield from peer(replies_then_ack)


def make_stale(s: nlfast.Socket, p: Peer) -> None:
    """A request the peer leaves unanswered: timed out, its seq is stale, and
    from now on the socket's requests go through the engine."""
    with pytest.raises(TimeoutError):
        s.request(Message(IGNORED), dest=p.port, timeout=0.02)
    assert s._e.stale


def nothing_left(s: nlfast.Socket) -> None:
    """No message was left behind for recv(): the request took its own."""
    with pytest.raises(TimeoutError):
        s.recv(timeout=0.1)


# -- request(): the flags that go out and what ends it ------------------------------------


@pytest.mark.parametrize("engine", [False, True], ids=["alone", "engine"])
def test_request_with_ack_ends_at_the_ack_in_a_later_datagram(answering: Peer,
                                                              engine: bool) -> None:
    with nlfast.Socket(USERSOCK) as s:
        if engine:
            make_stale(s, answering)
        (r,) = s.request(Message(0x60, flags=0), dest=answering.port, timeout=2)
        assert (r.type, bytes(r.payload)) == (0x60, b"reply")
        assert answering.seen[-1][:2] == (0x60, NLM_F_REQUEST | NLM_F_ACK)
        nothing_left(s)
        # an NLMSG_DONE does not end a request that waits for its ACK
        (r,) = s.request(Message(WITH_DONE), dest=answering.port, timeout=2)
        assert bytes(r.payload) == b"reply"
        nothing_left(s)
        assert s.stale_dropped == 0 and s.events_queued == 0


@pytest.mark.parametrize("engine", [False, True], ids=["alone", "engine"])
def test_request_without_ack_ends_at_its_first_reply(answering: Peer, engine: bool) -> None:
    with nlfast.Socket(USERSOCK) as s:
        if engine:
            make_stale(s, answering)
        (r,) = s.request(Message(0x61), dest=answering.port, ack=False, timeout=1)
        assert bytes(r.payload) == b"reply"
        assert answering.seen[-1][:2] == (0x61, NLM_F_REQUEST)
        nothing_left(s)


@pytest.mark.parametrize("engine", [False, True], ids=["alone", "engine"])
def test_request_of_a_dump_ends_at_its_done(answering: Peer, engine: bool) -> None:
    with nlfast.Socket(USERSOCK) as s:
        if engine:
            make_stale(s, answering)
        got = s.request(Message(0x62, flags=NLM_F_REQUEST | NLM_F_DUMP), dest=answering.port,
                        timeout=1)
        assert [bytes(m.payload) for m in got] == [b"one", b"two"]
        assert answering.seen[-1][:2] == (0x62, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
        nothing_left(s)


def test_request_and_request_many_of_a_dump_return_its_replies(netns: Netns) -> None:
    """An rtnetlink dump asked for with request(): every reply, also when they
    come over more than one receive (rx_buffers=1: one datagram each) and
    through request_many (whose replies the engine routes).  Both once
    returned [] there: the engine queued the rows as for dump()."""
    dump = Message(rtnl.RTM_GETLINK, flags=NLM_F_REQUEST | NLM_F_DUMP, header=rtnl.ifinfomsg())
    netns.ip("link", "add", "rd0", "type", "veth", "peer", "name", "rd1")
    want = {d["ifname"] for d in netns.ip_json("link", "show")}
    for rx_buffers in (1, 16):
        with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name, rx_buffers=rx_buffers) as s:
            got = s.request(dump)
            assert {m.attrs().str(rtnl.IFLA_IFNAME) for m in got} == want
            (many,) = s.request_many([dump])
            assert not isinstance(many, nlfast.NetlinkError)
            assert {m.attrs().str(rtnl.IFLA_IFNAME) for m in many} == want

    async def with_aio() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=netns.name, rx_buffers=1) as a:
            got = await a.request(dump)
            assert {m.attrs().str(rtnl.IFLA_IFNAME) for m in got} == want
            (many,) = await a.request_many([dump])
            assert not isinstance(many, nlfast.NetlinkError)
            assert {m.attrs().str(rtnl.IFLA_IFNAME) for m in many} == want
            streamed = [m async for m in a.dump_messages(dump)]
            assert {m.attrs().str(rtnl.IFLA_IFNAME) for m in streamed} == want

    asyncio.run(with_aio())


# -- NLM_F_ECHO: a reply marked with a group ----------------------------------------------


@pytest.mark.parametrize("engine", [False, True], ids=["alone", "engine"])
def test_echoed_reply_goes_to_the_request_that_asked(answering: Peer, engine: bool) -> None:
    with nlfast.Socket(USERSOCK) as s:
        if engine:
            make_stale(s, answering)
        (r,) = s.request(Message(ECHOED, flags=NLM_F_REQUEST | NLM_F_ECHO), dest=answering.port,
                         timeout=2)
        assert bytes(r.payload) == b"echoed"
        nothing_left(s)
        # without NLM_F_ECHO the same marked message is an event
        assert s.request(Message(MARKED), dest=answering.port, timeout=2) == []
        (ev,) = s.recv(timeout=2)
        assert (ev.type, bytes(ev.payload)) == (MARKED, b"echoed")


def test_request_many_echo_and_marked(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        got = s.request_many([Message(ECHOED, flags=NLM_F_REQUEST | NLM_F_ECHO),
                              Message(MARKED)], dest=answering.port, timeout=2)
        assert [[bytes(m.payload) for m in r] for r in got] == [[b"echoed"], []]  # type: ignore[union-attr]
        (ev,) = s.recv(timeout=2)
        assert ev.type == MARKED
        nothing_left(s)


# -- errors and truncation on the request path ------------------------------------------


def test_error_after_a_long_reply_in_the_same_datagram(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        with pytest.raises(nlfast.NetlinkError) as ei:
            s.request(Message(LONG_THEN_ERROR), dest=answering.port, timeout=2)
        assert ei.value.code == errno.EINVAL


def test_truncated_replies_are_counted_one_by_one(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK, rx_bufsize=256) as s:
        for n in (1, 2):
            with pytest.raises(nlfast.TruncatedError) as ei:
                s.request(Message(TOO_BIG), dest=answering.port, timeout=2)
            assert ei.value.count == 1
            assert s.truncated == n
            nothing_left(s)  # takes the late ACK: the next request is alone again
            assert not s._e.stale


# -- group masks: requests and dumps go to their destination only ----------------------------


def test_requests_and_dumps_reach_no_multicast_group(netns: Netns) -> None:
    """In a namespace of their own: USERSOCK's group 1 is the namespace's,
    and other tests (or runs) may use it."""
    for answering in peer(replies_then_ack, netns.name):
        with nlfast.Socket(USERSOCK, groups=[1], netns=netns.name) as listener, \
                nlfast.Socket(USERSOCK, netns=netns.name) as s:
            group_mask_unused(s, listener, answering)


def group_mask_unused(s: nlfast.Socket, listener: nlfast.Socket, answering: Peer) -> None:
    s.request(Message(0x60), dest=answering.port, timeout=2)
    make_stale(s, answering)
    s.request(Message(0x60), dest=answering.port, timeout=2)  # through the engine
    s.request_many([Message(0x60)], dest=answering.port, timeout=2)
    assert [bytes(m.payload) for m in s.dump_messages(Message(0x62), dest=answering.port,
                                                       timeout=2)] == [b"one", b"two"]
    assert s.send_repeat(Message(0x60, flags=0), 2, dest=answering.port) == 2
    assert len(s.send_batch([Message(0x60, flags=0)], dest=answering.port)) == 1
    with pytest.raises(TimeoutError):
        listener.recv(timeout=0.1)
    # the listener does hear group 1 (the mask 1 << 0) when it is asked for
    s.send(Message(0x6C, flags=0), dest=answering.port, groups=1)
    assert listener.recv(timeout=2).types.tolist() == [0x6C]


# -- request_many: flags, the window, the order ---------------------------------------------


def test_request_many_flags_and_results_in_order(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        got = s.request_many([Message(0x60, flags=0), Message(0x62, flags=NLM_F_REQUEST | NLM_F_DUMP),
                              Message(0x61)], dest=answering.port, timeout=2)
        assert [[bytes(m.payload) for m in r] for r in got] == [  # type: ignore[union-attr]
            [b"reply"], [b"one", b"two"], [b"reply"]]
        assert [f for _t, f, _s in answering.seen] == [
            NLM_F_REQUEST | NLM_F_ACK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
            NLM_F_REQUEST | NLM_F_ACK]
        nothing_left(s)
        answering.seen.clear()
        got = s.request_many([Message(0x61), Message(0x61),
                              Message(0x62, flags=NLM_F_REQUEST | NLM_F_DUMP)],
                             dest=answering.port, timeout=1, ack=False)
        assert [[bytes(m.payload) for m in r] for r in got] == [  # type: ignore[union-attr]
            [b"reply"], [b"reply"], [b"one", b"two"]]
        assert [f for _t, f, _s in answering.seen] == [
            NLM_F_REQUEST, NLM_F_REQUEST, NLM_F_REQUEST | NLM_F_DUMP]
        nothing_left(s)


def acks_only(typ: int, flags: int, seq: int, pid: int) -> Answer:
    return [] if typ == IGNORED else [(0, ack(seq, typ=typ), 0)]


@pytest.mark.parametrize("window", [None, 4])
def test_request_many_keeps_its_window(window: int | None) -> None:
    """Requests 10 and later go unanswered: once ``window`` of them are in
    flight (64 unless given) nothing more is sent, so the peer sees exactly
    the answered ten and a window's worth of the rest before the timeout."""
    n = 100
    reqs = [Message(0x60 if i < 10 else IGNORED, attrs=[attrs.u32(1, i)]) for i in range(n)]
    for p in peer(acks_only):
        with nlfast.Socket(USERSOCK) as s:
            kw = {} if window is None else {"window": window}
            with pytest.raises(TimeoutError):
                s.request_many(reqs, dest=p.port, timeout=0.2, **kw)
        assert len(p.seen) == 10 + (64 if window is None else window)


def test_request_many_window_and_count_checked() -> None:
    with nlfast.Socket(USERSOCK) as s:
        for bad in (0, -1, 1.5, "2"):
            with pytest.raises(ValueError, match=rf"^window must be an int >= 1, not {re.escape(repr(bad))}$"):
                s.request_many([], window=bad)  # type: ignore[arg-type]
        assert s.request_many([], window=1) == []
        for bad in (-1, 2.0, "3"):
            with pytest.raises(ValueError, match=rf"^count must be an int >= 0, not {re.escape(repr(bad))}$"):
                s.send_repeat(Message(0x60), bad, dest=s.portid)  # type: ignore[arg-type]


def test_request_many_that_times_out_leaves_its_requests_stale(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        with pytest.raises(TimeoutError):
            s.request_many([Message(0x60), Message(IGNORED)], dest=answering.port, timeout=0.1)
        assert len(s._e.stale) == 1 and not s._e.waiters
        (r,) = s.request(Message(0x61), dest=answering.port, timeout=2)
        assert bytes(r.payload) == b"reply"


# -- dumps: interrupted, failed, stalled, abandoned ------------------------------------------


def test_dump_interrupted_raises_unless_allowed(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        rows: list[bytes] = []
        with pytest.raises(nlfast.DumpInterruptedError,
                           match=r"^NLM_F_DUMP_INTR: the state changed during the dump$"):
            for b in s.dump(Message(INTERRUPTED), dest=answering.port, timeout=2):
                rows += [bytes(m.payload) for m in b]
        assert rows == [b"one"]
        got = [bytes(m.payload) for m in s.dump_messages(
            Message(INTERRUPTED), dest=answering.port, timeout=2, allow_interrupted=True)]
        assert got == [b"one"]


def test_dump_failing_at_its_end_raises(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        rows: list[bytes] = []
        with pytest.raises(nlfast.NetlinkError) as ei:
            for m in s.dump_messages(Message(FAILING), dest=answering.port, timeout=2):
                rows.append(bytes(m.payload))
        assert ei.value.code == errno.EINVAL and rows == [b"one"]


def test_stalled_dump_times_out_and_an_abandoned_one_is_given_up(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        with pytest.raises(TimeoutError):
            for _ in s.dump(Message(ENDLESS), dest=answering.port, timeout=0.1):
                pass
        for _ in s.dump(Message(ENDLESS), dest=answering.port, timeout=0.1):
            break  # abandoned: it never ends, so the next dump waits only its timeout for it
        got = [bytes(m.payload) for m in s.dump_messages(Message(0x62), dest=answering.port,
                                                          timeout=0.1)]
        assert got == [b"one", b"two"]


def test_recv_inside_a_dump_loop_leaves_the_dump_its_rows(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK) as s:
        rows: list[bytes] = []
        for b in s.dump(Message(0x62), dest=answering.port, timeout=2):
            rows += [bytes(m.payload) for m in b]
            if len(rows) == 1:
                with pytest.raises(TimeoutError):
                    s.recv(timeout=0.1)  # the dump's next datagrams come meanwhile
        assert rows == [b"one", b"two"]


# -- recv(): the routed path and its deadline ----------------------------------------------------


def test_events_dropped_with_an_empty_event_queue_are_reported() -> None:
    for p in peer(replies_then_ack):
        for overrun in ("raise", "count"):
            with nlfast.Socket(USERSOCK, events_max=0, overrun=overrun) as s:
                (r,) = s.request(Message(WITH_EVENTS), dest=p.port, timeout=2)
                assert bytes(r.payload) == b"reply"
                assert s.events_dropped == 3 and s.events_queued == 0
                if overrun == "raise":
                    with pytest.raises(nlfast.EventOverflowError):
                        s.recv(timeout=0.1)
                nothing_left(s)


def late_stream(typ: int, flags: int, seq: int, pid: int) -> Answer:
    """Nothing in time; then 15 late replies, 40 ms apart (0x70), or one late
    reply and then an unsolicited message (0x71)."""
    if typ == 0x70:
        return [(0.1 if i == 0 else 0.04, msg(typ, 0, seq, b"late"), 0) for i in range(15)]
    return [(0.1, msg(typ, 0, seq, b"late"), 0), (0.05, msg(0x72, 0, 0, b"event"), 0)]


def test_recv_deadline_holds_while_late_replies_keep_coming() -> None:
    for p in peer(late_stream):
        with nlfast.Socket(USERSOCK) as s:
            with pytest.raises(TimeoutError):
                s.request(Message(0x70), dest=p.port, timeout=0.05)
            with pytest.raises(TimeoutError) as ei:
                s.recv(timeout=0.25)
            assert (ei.value.errno, ei.value.strerror) == (110, "no netlink message in time")
            # the deadline ended the wait, not the end of the stream
            assert 0 < s.stale_dropped < 15


def test_recv_waits_past_a_late_reply_for_an_event() -> None:
    for p in peer(late_stream):
        for timeout in (2.0, None):
            with nlfast.Socket(USERSOCK) as s:
                with pytest.raises(TimeoutError):
                    s.request(Message(0x71), dest=p.port, timeout=0.05)
                (ev,) = s.recv(timeout=timeout)
                assert (ev.type, bytes(ev.payload)) == (0x72, b"event")
                assert s.stale_dropped == 1


# -- the socket's own calls: messages, descriptors, fork, buffers -----------------------------


@pytest.mark.parametrize("call", ["send", "send_batch", "request", "request_many", "dump"])
def test_a_non_message_is_named_by_the_call(call: str) -> None:
    with nlfast.Socket(USERSOCK) as s:
        fn = getattr(s, call)
        many = call in ("send_batch", "request_many")
        for bad, text in ((b"\0" * 16, "bytes (build one with nlfast.Message(type, flags, header, attrs))"),
                          (memoryview(b"x"), "memoryview (build one with nlfast.Message(type, flags, header, attrs))"),
                          (16, "int")):
            with pytest.raises(TypeError, match=f"^{re.escape(f'{call} takes a Message, not {text}')}$"):
                fn([bad] if many else bad)


def test_send_repeat_of_framed_bytes_and_of_nothing() -> None:
    with nlfast.Socket(USERSOCK) as rx, nlfast.Socket(USERSOCK) as tx:
        raw = Message(0x73, attrs=[attrs.u32(1, 5)]).encode()
        assert tx.send_repeat(raw, 3, dest=rx.portid) == 3
        b = rx.recv(timeout=2)
        assert b.types.tolist() == [0x73] * 3 and [m.attrs().u32(1) for m in b] == [5, 5, 5]
        assert len(set(b.seqs.tolist())) == 3
        assert tx.send_repeat(raw, 0, dest=rx.portid) == 0
        with pytest.raises(TimeoutError):
            rx.recv(timeout=0.05)


def test_descriptor_repr_and_close() -> None:
    s = nlfast.Socket(USERSOCK)
    fd = s.fileno()
    py = pysocket.socket(fileno=os.dup(fd))
    assert py.getsockname() == (s.portid, 0)
    py.close()
    assert repr(s) == f"<nlfast.Socket protocol={USERSOCK} fd={fd} portid={s.portid}>"
    assert s.closed is False
    s.close()
    assert s.closed and repr(s) == f"<nlfast.Socket protocol={USERSOCK} closed>"
    for call in (s.fileno, lambda: s.recv(0)):
        with pytest.raises(nlfast.ClosedError, match=r"^the socket is closed$"):
            call()


def same_socket(fd: int, ino: int) -> bool:
    try:
        return os.fstat(fd).st_ino == ino
    except OSError:
        return False


def test_a_dropped_socket_closes_its_descriptor() -> None:
    s = nlfast.Socket(USERSOCK)
    fd = s.fileno()
    ino = os.fstat(fd).st_ino
    del s
    gc.collect()
    assert not same_socket(fd, ino)


def test_close_from_another_thread_closes_the_descriptor_when_the_receive_ends() -> None:
    s = nlfast.Socket(USERSOCK)
    fd = s.fileno()
    ino = os.fstat(fd).st_ino
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            s.recv(timeout=10)
        except BaseException as e:
            errors.append(e)

    th = threading.Thread(target=blocked)
    th.start()
    time.sleep(0.1)
    text = ("another thread is using this nlfast.Socket: use one Socket per thread, "
            "or serialise the calls with a lock")
    with pytest.raises(nlfast.ConcurrentUseError, match=f"^{re.escape(text)}$"):
        s.send(Message(0x40), dest=s.portid)
    assert same_socket(fd, ino)
    s.close()
    th.join(5)
    assert [type(e) for e in errors] == [nlfast.ClosedError]
    assert not same_socket(fd, ino)


def test_a_failed_constructor_leaves_nothing_for_the_finaliser() -> None:
    """__del__ of a Socket whose __init__ raised before it had a transport
    finds nothing to close, and says nothing."""
    seen: list[object] = []
    old, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        for bad in (dict(protocol=32), dict(protocol=USERSOCK, rx_buffers=0)):
            with pytest.raises(ValueError):
                nlfast.Socket(**bad)  # type: ignore[arg-type]
            gc.collect()
    finally:
        sys.unraisablehook = old
    assert seen == []


def test_send_batch_goes_to_the_kernel_by_default() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        getlo = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1))
        (seq,) = s.send_batch([getlo])
        (m,) = s.recv(timeout=2)
        assert (m.type, m.seq) == (rtnl.RTM_NEWLINK, seq)


def test_after_fork_closed_and_open_sockets_say_different_things() -> None:
    closed = nlfast.Socket(USERSOCK)
    closed.close()
    with pytest.raises(nlfast.ClosedError, match=r"^the socket is closed$"):
        closed.recv(timeout=0)
    with nlfast.Socket(USERSOCK) as a, nlfast.Socket(USERSOCK) as b:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                out = []
                a.close()
                for sock in (a, b):
                    try:
                        sock.recv(timeout=0)
                        out.append("no error")
                    except nlfast.NlfastError as e:
                        out.append(f"{type(e).__name__}: {e}")
                os.write(w, "\n".join(out).encode())
            finally:
                os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        said = os.read(r, 4096).decode().split("\n")
        os.close(r)
        assert said == [
            "ClosedError: the socket is closed",
            "NlfastError: this socket was opened before fork(): open a new nlfast.Socket in the child"]


def test_buffer_sizes_forced_and_without_cap_net_admin() -> None:
    big = 16 << 20  # over net.core.rmem_max/wmem_max: only the FORCE options give it
    with nlfast.Socket(USERSOCK, rcvbuf=big, sndbuf=big) as s:
        assert s.getsockopt(lib.SOL_SOCKET, lib.SO_RCVBUF) == 2 * big
        assert s.getsockopt(lib.SOL_SOCKET, lib.SO_SNDBUF) == 2 * big
    # a process without CAP_NET_ADMIN: the FORCE options fail, the plain ones cap
    code = (
        "import nlfast, sys\n"
        "from nlfast._shim import lib\n"
        "s = nlfast.Socket(nlfast.NETLINK_USERSOCK, rcvbuf=1 << 18, sndbuf=1 << 18)\n"
        "print(s.getsockopt(lib.SOL_SOCKET, lib.SO_RCVBUF), s.getsockopt(lib.SOL_SOCKET, lib.SO_SNDBUF))\n")
    top = os.path.dirname(os.path.dirname(nlfast.__file__))
    env = dict(os.environ, PYTHONPATH=top)
    out = subprocess.run(["capsh", "--drop=cap_net_admin", "--", "-c",
                          f"exec {sys.executable} -c \"$0\"", code],
                         capture_output=True, text=True, env=env, cwd=top, check=True).stdout
    assert out.split() == [str(2 << 18), str(2 << 18)]


# -- the one-call paths of nlfast.spec's do() and of nlfast.aio ------------------------------


def test_spec_do_takes_its_ack_and_its_dump_end(netns: Netns) -> None:
    netns.ip("link", "add", "sd0", "type", "veth", "peer", "name", "sd1")
    with spec.open("rt-link", netns=netns.path, groups=[rtnl.RTNLGRP_LINK]) as fam:
        s = fam.sock
        got = fam.do("getlink", {"ifi-index": 1})
        assert got is not None and got["ifname"] == "lo"
        nothing_left(s)
        first = fam.do("getlink", flags=NLM_F_DUMP)  # a dump's first reply, up to its DONE
        assert first is not None and first["ifname"] == "lo"
        nothing_left(s)
        # events queued in the socket before the request come in its receive
        netns.ip("link", "set", "sd0", "up")
        time.sleep(0.05)
        got = fam.do("getlink", {"ifi-index": 1})
        assert got is not None and got["ifname"] == "lo"
        events = [m.attrs().str(rtnl.IFLA_IFNAME) for m in s.events(timeout=0.1)]
        assert "sd0" in events
    # one datagram a receive: the reply comes without its ACK, which do() still takes
    with spec.open("rt-link", netns=netns.path, rx_buffers=1) as fam:
        got = fam.do("getlink", {"ifi-index": 1})
        assert got is not None and got["ifname"] == "lo"
        nothing_left(fam.sock)


def test_aio_request_answered_later(answering: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as a:
            for typ in (0x60, DELAYED):
                (r,) = await a.request(Message(typ), dest=answering.port, timeout=2)
                assert bytes(r.payload) == b"reply"
            got = await a.request(Message(0x62, flags=NLM_F_REQUEST | NLM_F_DUMP),
                                  dest=answering.port, timeout=2)
            assert [bytes(m.payload) for m in got] == [b"one", b"two"]

    asyncio.run(main())


# -- the constructor: its defaults and its bounds ----------------------------------------------


def test_default_options_as_documented() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        opt = lib.SOL_NETLINK
        assert s.getsockopt(opt, lib.NETLINK_EXT_ACK) == 1
        assert s.getsockopt(opt, lib.NETLINK_CAP_ACK) == 1
        assert s.getsockopt(opt, lib.NETLINK_GET_STRICT_CHK) == 0
    with nlfast.Socket(nlfast.NETLINK_ROUTE, ext_ack=False, cap_ack=False,
                       strict_check=True) as s:
        assert [s.getsockopt(opt, o) for o in (lib.NETLINK_EXT_ACK, lib.NETLINK_CAP_ACK,
                                               lib.NETLINK_GET_STRICT_CHK)] == [0, 0, 1]


def test_one_receive_brings_up_to_16_datagrams_by_default() -> None:
    with nlfast.Socket(USERSOCK) as rx, nlfast.Socket(USERSOCK, dgram_size=16) as tx:
        tx.send_batch([Message(0x74)] * 20, dest=rx.portid)  # one message a datagram
        assert len(rx.recv(timeout=2)) == 16
        assert len(rx.recv(timeout=2)) == 4


def test_event_queue_holds_65536_by_default(answering: Peer) -> None:
    with nlfast.Socket(USERSOCK, rcvbuf=16 << 20) as s:
        (r,) = s.request(Message(FLOOD), dest=answering.port, timeout=5)
        assert bytes(r.payload) == b"reply"
        assert (s.events_queued, s.events_dropped) == (65536, 1)
        with pytest.raises(nlfast.EventOverflowError):
            s.recv(timeout=1)


@pytest.mark.parametrize("kw", [dict(rx_buffers=1), dict(rx_buffers=1024), dict(rx_bufsize=16),
                                dict(rx_buffers=1024, rx_bufsize=1 << 20), dict(tx_size=16),
                                dict(tx_size=1 << 30), dict(dgram_size=16), dict(events_max=0),
                                dict(overrun="count"), dict(protocol=0)])
def test_arguments_at_their_bounds_are_taken(kw: dict[str, object]) -> None:
    kw = dict(kw)  # the parameter's own dict stays as it is, for a second run
    proto = kw.pop("protocol", USERSOCK)
    with nlfast.Socket(proto, **kw) as s:  # type: ignore[arg-type]
        assert s.protocol == proto and not s.closed


@pytest.mark.parametrize("kw, text", [
    (dict(protocol=-1), "protocol -1 is out of range 0..31"),
    (dict(protocol=32), "protocol 32 is out of range 0..31"),
    (dict(rx_buffers=0), "rx_buffers must be 1..1024, not 0"),
    (dict(rx_buffers=1025), "rx_buffers must be 1..1024, not 1025"),
    (dict(rx_bufsize=12), "rx_bufsize must be a multiple of 4, >= 16, not 12"),
    (dict(rx_bufsize=18), "rx_bufsize must be a multiple of 4, >= 16, not 18"),
    (dict(rx_buffers=2, rx_bufsize=(1 << 29) + 4),
     f"rx_bufsize must be a multiple of 4, >= 16, not {(1 << 29) + 4}"),
    (dict(tx_size=15), "tx_size must be 16..1 GiB and dgram_size >= 16"),
    (dict(tx_size=(1 << 30) + 1), "tx_size must be 16..1 GiB and dgram_size >= 16"),
    (dict(dgram_size=15), "tx_size must be 16..1 GiB and dgram_size >= 16"),
    (dict(events_max=-1), "events_max must be an int >= 0, not -1"),
    (dict(events_max=1.0), "events_max must be an int >= 0, not 1.0"),
    (dict(overrun="drop"), "overrun must be 'raise' or 'count', not 'drop'"),
    (dict(groups=[True]), "multicast group must be an int >= 1, not True"),
    (dict(groups=[0]), "multicast group must be an int >= 1, not 0"),
])
def test_arguments_out_of_bounds_are_named(kw: dict[str, object], text: str) -> None:
    kw = dict(kw)  # the parameter's own dict stays as it is, for a second run
    proto = kw.pop("protocol", USERSOCK)
    with pytest.raises(ValueError, match=f"^{re.escape(text)}$"):
        nlfast.Socket(proto, **kw)  # type: ignore[arg-type]


def test_protocol_must_be_an_int_not_a_bool() -> None:
    for bad in (True, "route", 16.0):
        with pytest.raises(TypeError, match=f"^{re.escape(f'protocol must be an int, not {bad!r}')}$"):
            nlfast.Socket(bad)  # type: ignore[arg-type]
    with pytest.raises(OSError) as ei:  # in range, but no family on this host
        nlfast.Socket(31)
    assert ei.value.errno == errno.EPROTONOSUPPORT


def test_a_refused_subscription_closes_the_new_socket() -> None:
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match=r"^\[Errno 22\] cannot join multicast group 999 of netlink protocol 0: "):
        nlfast.Socket(nlfast.NETLINK_ROUTE, groups=[999])
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        with pytest.raises(OSError, match=r"^\[Errno 22\] cannot leave multicast group 999 of netlink protocol 0: "):
            s.unsubscribe(999)
        with pytest.raises(OSError, match=r"^\[Errno \d+\] setsockopt\(270, 9999\)"):
            s.setsockopt(lib.SOL_NETLINK, 9999, 1)


def test_recv_without_waiting_takes_an_event_behind_late_replies() -> None:
    """recv(timeout=0) reads what is queued, also when a late reply of an
    abandoned request fills the first receive (rx_buffers=1) and the event
    is in the next; it once raised TimeoutError there."""
    def answer(typ: int, flags: int, seq: int, pid: int) -> Answer:
        return [(0.1, msg(typ, 0, seq, b"late"), 0), (0.01, msg(0x72, 0, 0, b"event"), 0)]

    for p in peer(answer):
        with nlfast.Socket(USERSOCK, rx_buffers=1) as s:
            with pytest.raises(TimeoutError):
                s.request(Message(0x71), dest=p.port, timeout=0.05)
            deadline = time.monotonic() + 5
            while p.sent < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert p.sent == 2  # both datagrams are queued now
            (ev,) = s.recv(timeout=0)
            assert bytes(ev.payload) == b"event" and s.stale_dropped == 1
            with pytest.raises(TimeoutError):
                s.recv(timeout=0)
