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
import socket as pysocket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import nlfast
import nlfast.aio
from nlfast import Message, rtnl
from nlfast.constants import NLM_F_ACK, NLM_F_DUMP, NLM_F_MULTI, NLM_F_REQUEST

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

    def __init__(self, answer: Callable[[int, int, int, int], Answer]) -> None:
        self.sock = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
        self.sock.bind((0, 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[0]
        self.answer = answer
        self.seen: list[tuple[int, int, int]] = []
        self._stop = False
        self._th = threading.Thread(target=self._serve, daemon=True)
        self._th.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                data, (pid, _groups) = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            pos = 0
            while pos + 16 <= len(data):
                ln, typ, flags, seq, _ = struct.unpack_from("=IHHII", data, pos)
                self.seen.append((typ, flags, seq))
                for pause, dgram, groups in self.answer(typ, flags, seq, pid):
                    if pause:
                        time.sleep(pause)
                    self.sock.sendto(dgram, (pid, groups))
                pos += (ln + 3) & ~3

    def close(self) -> None:
        self._stop = True
        self._th.join()
        self.sock.close()


def peer(answer: Callable[[int, int, int, int], Answer]) -> Iterator[Peer]:
    p = Peer(answer)
    try:
        yield p
    finally:
        p.close()


def replies_then_ack(typ: int, flags: int, seq: int, pid: int) -> Answer:
    """One reply, then (in its own datagram, a moment later) the ACK when
    asked for one; nothing for IGNORED."""
    if typ == IGNORED:
        return []
    out: Answer = [(0, msg(typ, 0, seq, b"reply"), 0)]
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
        s.recv(timeout=0.15)


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
