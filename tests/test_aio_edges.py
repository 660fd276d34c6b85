"""nlfast.aio at its edges: what the mutation run of nlfast/aio.py found
untested (defaults, the errors' fields, repr, request_many's window and ack
flag, failures that reach a call that is not waiting yet).

Peers as in test_aio.py: rtnetlink in a private namespace, the scripted
USERSOCK server, and plain stdlib netlink sockets the test reads and answers
itself (``Peer``), so what went over the wire is seen as sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket as pysocket
import struct
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import nlfast
import nlfast.aio
from nlfast import Message, rtnl
from nlfast.batch import slab_idle

from .conftest import Netns
from .test_aio import USERSOCK, Run, arun, getlink, ifindex, items, server
from .test_receive_state import DUMP, HDR, LATE, REQ, Server, _msg, request

__all__ = ["arun", "server"]  # fixtures, imported for pytest

T_ASK, T_ANSWER = 0x200, 0x201
NLM_F_ROOT = 0x100  # a flag of the caller's: kept on the wire


class Peer:
    """A stdlib USERSOCK socket the test reads and answers by hand."""

    def __init__(self, rcvbuf: int | None = None, groups: int = 0) -> None:
        self.sock = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
        if rcvbuf is not None:
            self.sock.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, rcvbuf)
        self.sock.bind((0, groups))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[0]

    def take(self) -> list[tuple[int, int, int, int]]:
        """The messages queued now: (type, flags, seq, portid) each."""
        out = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return out
            off = 0
            while off + 16 <= len(data):
                ln, typ, flags, seq, pid = HDR.unpack_from(data, off)
                out.append((typ, flags, seq, pid))
                off += (ln + 3) & ~3

    async def take_at_least(self, n: int) -> list[tuple[int, int, int, int]]:
        got: list[tuple[int, int, int, int]] = []
        for _ in range(500):
            got += self.take()
            if len(got) >= n:
                return got
            await asyncio.sleep(0.01)
        raise AssertionError(f"the peer got {len(got)} messages, not {n}")

    def answer(self, to: int, seq: int, *, ack: bool, multi: bool = False) -> None:
        """One reply (NLM_F_MULTI when ``multi``), then the ack when ``ack``."""
        out = _msg(T_ANSWER, nlfast.NLM_F_MULTI if multi else 0, seq, struct.pack("=I", seq))
        if ack:
            out += _msg(nlfast.NLMSG_ERROR, 0, seq,
                        struct.pack("=i", 0) + HDR.pack(16, T_ASK, 0, seq, to))
        self.sock.sendto(out, (to, 0))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    try:
        yield p
    finally:
        p.close()


def answered(r: Any) -> list[int]:
    assert isinstance(r, list), r
    return [struct.unpack_from("=I", m.payload)[0] for m in r]


# -- errors, repr, the messages that name a misused call -----------------------------------


def test_timeouts_are_etimedout_with_their_message(arun: Run, server: Server) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            # (wait_for bounds a call that would not time out by itself: its
            # TimeoutError carries no errno)
            with pytest.raises(TimeoutError) as ei:
                await asyncio.wait_for(
                    s.request(request(LATE, 1, 1), dest=server.port, timeout=0.05), 5)
            assert (ei.value.errno, ei.value.strerror) == (errno.ETIMEDOUT,
                                                           "no netlink reply in time")
            with pytest.raises(TimeoutError) as ei:
                await asyncio.wait_for(
                    s.request_many([request(REQ, 1, 2), request(LATE, 1, 3)],
                                   dest=server.port, timeout=0.05), 5)
            assert (ei.value.errno, ei.value.strerror) == (errno.ETIMEDOUT,
                                                           "no netlink reply in time")
            with pytest.raises(TimeoutError) as ei:
                await asyncio.wait_for(s.recv(timeout=0.05), 5)
            assert (ei.value.errno, ei.value.strerror) == (errno.ETIMEDOUT,
                                                           "no netlink message in time")
            # the late ones (a reply and an ack each) come before this one's
            # answer: dropped and counted, nobody waits for them any more
            assert items(await s.request(request(REQ, 2, 4), dest=server.port)) == [
                (4, 0), (4, 1)]
            assert s.stale_dropped == 4 and not s._e.waiters

    arun(main())


def test_repr_names_protocol_descriptor_and_port(arun: Run) -> None:
    async def main() -> None:
        s = nlfast.aio.Socket(USERSOCK)
        fd, port = s.fileno(), s.portid
        assert repr(s) == f"<nlfast.aio.Socket protocol={USERSOCK} fd={fd} portid={port}>"
        s.close()
        assert repr(s) == f"<nlfast.aio.Socket protocol={USERSOCK} closed>"

    arun(main())


def test_a_call_given_no_message_is_named(arun: Run) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            for what, call in [
                ("send", lambda: s.send(b"x" * 16)),  # type: ignore[arg-type]
                ("send_batch", lambda: s.send_batch([Message(0x40), "m"])),  # type: ignore[list-item]
                ("request", lambda: s.request(b"x" * 16)),  # type: ignore[arg-type]
                ("request_many", lambda: s.request_many([Message(0x40), 7])),  # type: ignore[list-item]
                ("dump", lambda: s.dump(b"x" * 16).__anext__()),  # type: ignore[arg-type]
            ]:
                with pytest.raises(TypeError) as ei:
                    await call()
                assert str(ei.value).startswith(f"{what} takes a Message, not "), ei.value

    arun(main())


# -- send: its defaults --------------------------------------------------------------------


def test_send_goes_by_default_to_the_kernel(arun: Run, netns: Netns) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
            seq = await s.send(Message(rtnl.RTM_GETLINK, flags=nlfast.NLM_F_REQUEST,
                                       header=rtnl.ifinfomsg(index=1)))
            b = await s.recv(timeout=5)
            assert [(m.type, m.seq, ifindex(m)) for m in b] == [(rtnl.RTM_NEWLINK, seq, 1)]
            (seq,) = await s.send_batch([Message(rtnl.RTM_GETLINK, flags=nlfast.NLM_F_REQUEST,
                                                 header=rtnl.ifinfomsg(index=1))])
            b = await s.recv(timeout=5)
            assert [(m.type, m.seq, ifindex(m)) for m in b] == [(rtnl.RTM_NEWLINK, seq, 1)]
            assert await s.send_repeat(Message(rtnl.RTM_GETLINK, flags=nlfast.NLM_F_REQUEST,
                                               header=rtnl.ifinfomsg(index=1)), 1) == 1
            b = await s.recv(timeout=5)
            assert [(m.type, ifindex(m)) for m in b] == [(rtnl.RTM_NEWLINK, 1)]

    arun(main())


def test_send_multicasts_only_when_asked(arun: Run, peer: Peer) -> None:
    listener = Peer(groups=1)  # a member of group 1

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            await s.send(Message(0x41), dest=peer.port)
            await s.send(Message(0x42), dest=listener.port)
            await s.send(Message(0x43), dest=peer.port, groups=1)
            assert [m[0] for m in listener.take()] == [0x42, 0x43]
            assert [m[0] for m in peer.take()] == [0x41, 0x43]
            await s.send_batch([Message(0x44)], dest=peer.port)
            assert await s.send_repeat(Message(0x45), 2, dest=peer.port) == 2
            await s.send(Message(0x46), dest=listener.port)
            assert [m[0] for m in listener.take()] == [0x46]
            assert [m[0] for m in peer.take()] == [0x44, 0x45, 0x45]

    try:
        arun(main())
    finally:
        listener.close()


def test_send_repeat_counts_and_raw_bytes(arun: Run, peer: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            for bad in (-1, "2", 1.0):
                with pytest.raises(ValueError, match="count"):
                    await s.send_repeat(Message(0x41), bad, dest=peer.port)  # type: ignore[arg-type]
            assert await s.send_repeat(Message(0x41), 0, dest=peer.port) == 0
            raw = HDR.pack(16, 0x47, 0, 0, 0)  # a framed message as bytes
            assert await s.send_repeat(raw, 3, dest=peer.port) == 3
            await s.send(Message(0x48), dest=peer.port)
            assert [m[0] for m in peer.take()] == [0x47, 0x47, 0x47, 0x48]

    arun(main())


# -- request_many: flags on the wire, the window, the defaults -------------------------


def test_request_many_asks_for_acks_by_default_and_keeps_the_window(arun: Run,
                                                                    peer: Peer) -> None:
    n = 100

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            many = s.request_many([Message(T_ASK, flags=NLM_F_ROOT) for _ in range(n)],
                                  dest=peer.port)
            task = asyncio.ensure_future(many)
            sent = await peer.take_at_least(64)
            await asyncio.sleep(0.05)  # a 65th would have gone by now
            sent += peer.take()
            assert len(sent) == 64  # the default window
            seen = 0
            while seen < n:
                for typ, flags, seq, _ in sent:
                    assert typ == T_ASK
                    assert flags == (nlfast.NLM_F_REQUEST | nlfast.NLM_F_ACK
                                     | NLM_F_ROOT)
                    peer.answer(s.portid, seq, ack=True, multi=True)
                seen += len(sent)
                if seen < n:
                    sent = await peer.take_at_least(1)
            res = await task
            assert [len(r) for r in res] == [1] * n  # type: ignore[arg-type]
            first = answered(res[0])[0]
            assert [answered(r)[0] for r in res] == list(range(first, first + n))
            assert not s._e.waiters and s.stale_dropped == 0

    arun(main())


def test_request_many_window_of_one_sends_one_at_a_time(arun: Run, peer: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            task = asyncio.ensure_future(s.request_many([Message(T_ASK)] * 3, window=1,
                                                        dest=peer.port))
            seqs = []
            for _ in range(3):
                sent = await peer.take_at_least(1)
                await asyncio.sleep(0.02)
                sent += peer.take()
                assert len(sent) == 1
                seqs.append(sent[0][2])
                peer.answer(s.portid, sent[0][2], ack=True)
            assert [answered(r) for r in await task] == [[q] for q in seqs]

    arun(main())


def test_request_many_without_ack_asks_none_and_ends_at_the_reply(arun: Run,
                                                                 peer: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            task = asyncio.ensure_future(s.request_many([Message(T_ASK)] * 3, ack=False,
                                                        dest=peer.port, timeout=2))
            sent = await peer.take_at_least(3)
            assert [flags for _, flags, _, _ in sent] == [nlfast.NLM_F_REQUEST] * 3
            for _, _, seq, _ in sent:
                peer.answer(s.portid, seq, ack=False)
            assert [answered(r) for r in await task] == [[q] for _, _, q, _ in sent]

    arun(main())


def test_request_many_on_rtnetlink_ends_at_the_ack(arun: Run, netns: Netns) -> None:
    """The kernel answers a get with a reply that is not NLM_F_MULTI and then
    the ack: the ack ends the request (nothing is left over as an event); a
    set that changes nothing is answered by the ack alone."""
    setlo = Message(rtnl.RTM_SETLINK, header=rtnl.ifinfomsg(index=1))

    async def main() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
            res = await s.request_many([getlink(1), setlo, getlink(1)], timeout=2)
            assert [[ifindex(m) for m in r] for r in res] == [[1], [], [1]]  # type: ignore[union-attr]
            with pytest.raises(TimeoutError):
                await s.recv(timeout=0)
            assert s.stale_dropped == 0
            # without acks: the get ends at its reply
            res = await s.request_many([getlink(1)] * 2, ack=False, timeout=2)
            assert [[ifindex(m) for m in r] for r in res] == [[1], [1]]  # type: ignore[union-attr]
            with pytest.raises(TimeoutError):
                await s.recv(timeout=0)
            # a message that asks for its ack itself: it ends at the ack
            own = Message(rtnl.RTM_GETLINK, flags=nlfast.NLM_F_ACK,
                          header=rtnl.ifinfomsg(index=1))
            res = await s.request_many([own] * 2, ack=False, timeout=2)
            assert [[ifindex(m) for m in r] for r in res] == [[1], [1]]  # type: ignore[union-attr]
            with pytest.raises(TimeoutError):
                await s.recv(timeout=0)
            assert s.stale_dropped == 0

    arun(main())


class _Recorder:
    """Records the delays of call_later that schedule nlfast.aio's timeouts."""

    def __init__(self) -> None:
        self.delays: list[float] = []


def _loop_class(kind: str) -> type:
    """The event loop class of ``kind`` (asyncio's selector loop, or uvloop's)."""
    if kind == "uvloop":
        import uvloop

        return uvloop.Loop
    return asyncio.SelectorEventLoop


def _recording_loop(kind: str, rec: _Recorder) -> asyncio.AbstractEventLoop:
    base = _loop_class(kind)

    class Loop(base):  # type: ignore[misc, valid-type]
        def call_later(self, delay: float, callback: Any, *args: Any, **kw: Any) -> Any:
            if getattr(callback, "__name__", "") == "_expire":
                rec.delays.append(delay)
            return super().call_later(delay, callback, *args, **kw)

    return Loop()


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_calls_wait_five_seconds_by_default(kind: str, server: Server) -> None:
    rec = _Recorder()
    loop = _recording_loop(kind, rec)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            for call in (lambda: s.request(request(LATE, 1, 1), dest=server.port),
                         lambda: s.request_many([request(LATE, 1, 2)], dest=server.port),
                         lambda: s.dump(request(LATE, 1, 3), dest=server.port).__anext__()):
                task = asyncio.ensure_future(call())
                for _ in range(100):
                    if rec.delays:
                        break
                    await asyncio.sleep(0.01)
                assert rec.delays == [5.0]
                rec.delays.clear()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()


# -- failures that reach a call that is not waiting yet ---------------------------------


def test_close_while_request_many_waits_to_frame_the_rest(arun: Run) -> None:
    """request_many that waits for a full peer before its first wait for
    answers: close() wakes it with ClosedError (and itself raises nothing)."""
    full = Peer(rcvbuf=4096)

    async def main() -> None:
        s = nlfast.aio.Socket(USERSOCK, tx_size=4096)
        # fill the peer's queue, so the next send finds it full
        while True:
            try:
                s._s.send(Message(0x40, header=b"f" * 200), dest=full.port)
            except BlockingIOError:
                break
        msg = Message(T_ASK, header=b"q" * 200)
        task = asyncio.ensure_future(s.request_many([msg] * 100, dest=full.port, timeout=None))
        for _ in range(100):
            if s.send_waits:
                break
            await asyncio.sleep(0.01)
        assert s.send_waits and not task.done()
        s.close()
        with pytest.raises(nlfast.ClosedError):
            await task

    try:
        arun(main())
    finally:
        full.close()


def test_overrun_with_nobody_waiting_reaches_the_next_call(arun: Run, server: Server) -> None:
    """ENOBUFS read while only a timed-out request's late replies are
    awaited: nobody waits, so the next call raises it."""
    flood = nlfast.Socket(USERSOCK)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, groups=[1], rcvbuf=8192) as s:
            with pytest.raises(TimeoutError):
                await s.request(request(LATE, 1, 1), dest=server.port, timeout=0.02)
            assert s._e.stale  # its reply is still awaited, to be dropped
            flood.send_repeat(Message(0x50, header=b"x" * 64), 2000, groups=1)
            for _ in range(100):
                if s.overruns:
                    break
                await asyncio.sleep(0.01)
            assert s.overruns >= 1
            with pytest.raises(nlfast.OverrunError):
                await s.request(request(REQ, 1, 2), dest=server.port)

    try:
        arun(main())
    finally:
        flood.close()


def test_close_after_leaving_a_dump_early(arun: Run, peer: Peer) -> None:
    """A dump left early is abandoned (taken in at the next call); close()
    meanwhile raises nothing and the socket is closed."""

    async def main() -> None:
        s = nlfast.aio.Socket(USERSOCK)
        dump = s.dump(Message(T_ASK), dest=peer.port)
        first = asyncio.ensure_future(dump.__anext__())
        ((_, flags, seq, _),) = await peer.take_at_least(1)
        assert flags & nlfast.NLM_F_DUMP == nlfast.NLM_F_DUMP
        peer.answer(s.portid, seq, ack=False, multi=True)  # a row, no NLMSG_DONE yet
        assert len(await first) == 1
        await dump.aclose()
        assert s._e.abandoned
        s.close()
        assert s.closed

    arun(main())


# -- recv: what it reads itself, and when it waits --------------------------------------


def test_recv_reads_a_queued_message_itself_and_validates_its_timeout(arun: Run,
                                                                      peer: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            with pytest.raises(TimeoutError) as ei:
                await s.recv(timeout=0)  # nothing there: at once
            assert (ei.value.errno, ei.value.strerror) == (errno.ETIMEDOUT,
                                                           "no netlink message in time")
            peer.sock.sendto(_msg(0x45, 0, 0, b""), (s.portid, 0))
            b = await s.recv(timeout=0)  # there already: no wait needed
            assert [m.type for m in b] == [0x45]
            with pytest.raises(ValueError, match="timeout"):
                await s.recv(timeout=-1)

    arun(main())


def test_recv_leaves_a_waiting_requests_reply_to_it(arun: Run, peer: Peer) -> None:
    """A reply and an event in the socket while a request waits: recv gets
    the event, the request its reply."""

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            task = asyncio.ensure_future(s.request(Message(T_ASK), dest=peer.port))
            (_, _, seq, _), = await peer.take_at_least(1)
            peer.answer(s.portid, seq, ack=True, multi=True)
            peer.sock.sendto(_msg(0x45, 0, 0, b""), (s.portid, 0))
            b = await s.recv(timeout=2)
            assert [m.type for m in b] == [0x45]
            assert answered(await task) == [seq]

    arun(main())


def test_recv_waits_on_a_socket_with_late_replies_due(server: Server, peer: Peer) -> None:
    """With a timed-out request's reply still due, recv(timeout=0.001) waits
    its millisecond for a message already in the socket (asyncio only: its
    loop runs the reader before a timer due in the same turn; libuv runs
    timers first, so on uvloop the millisecond may be gone first)."""

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            with pytest.raises(TimeoutError):
                await s.request(request(LATE, 1, 1), dest=server.port, timeout=0.02)
            assert s._e.stale
            peer.sock.sendto(_msg(0x45, 0, 0, b""), (s.portid, 0))
            b = await s.recv(timeout=0.001)
            assert [m.type for m in b] == [0x45]

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()


async def paused(s: nlfast.aio.Socket) -> None:
    """Until the socket stops reading for a dump whose consumer holds a batch."""
    for _ in range(500):
        if not s._reading:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the dump did not pause")


# -- dumps paused for a slow consumer ------------------------------------------------------


def test_a_paused_dump_lets_recv_get_events(arun: Run, server: Server, peer: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, rx_buffers=1) as s:
            rows = 0
            async for b in s.dump(request(DUMP, 90, 1), dest=server.port):
                rows += len(b)
                if rows == len(b):  # holding the first batch
                    await paused(s)
                    (w,) = s._dumps
                    # paused with DUMP_AHEAD batches queued, not more
                    assert len(w.queue) == nlfast.aio.DUMP_AHEAD
                    peer.sock.sendto(_msg(0x45, 0, 0, b""), (s.portid, 0))
                    ev = await s.recv(timeout=2)
                    assert [m.type for m in ev] == [0x45]
            assert rows == 90

    arun(main())


def test_overrun_reaches_a_paused_dump_and_the_events_reader(arun: Run, server: Server,
                                                            peer: Peer) -> None:
    """ENOBUFS read while a dump's consumer holds a batch and recv() waits:
    recv raises it, and so does the dump once its queued batches are taken."""
    flood = nlfast.Socket(USERSOCK)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, rx_buffers=1, groups=[1], rcvbuf=65536) as s:
            rows = 0
            with pytest.raises(nlfast.OverrunError):
                async for b in s.dump(request(DUMP, 90, 1), dest=server.port):
                    rows += len(b)
                    if rows == len(b):  # holding the first batch
                        await paused(s)
                        flood.send_repeat(Message(0x50, header=b"x" * 64), 2000, groups=1)
                        with pytest.raises(nlfast.OverrunError):
                            await s.recv(timeout=2)
            assert rows < 90

    try:
        arun(main())
    finally:
        flood.close()


def test_request_many_gets_answers_while_it_waits_to_frame(arun: Run, peer: Peer) -> None:
    """request_many waits to frame its next request (send_repeat holds the
    send arena for a full peer) while an earlier one is answered: every
    answer reaches its place."""
    full = Peer(rcvbuf=4096)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            task = asyncio.ensure_future(s.request_many([Message(T_ASK)] * 3, window=2,
                                                        dest=peer.port))
            sent = await peer.take_at_least(2)
            rep = asyncio.ensure_future(s.send_repeat(Message(0x40, header=b"f" * 200), 200,
                                                      dest=full.port))
            for _ in range(100):
                if s.send_waits:
                    break
                await asyncio.sleep(0.01)
            assert s.send_waits and not rep.done()  # it waits for the full peer
            peer.answer(s.portid, sent[0][2], ack=True)
            await asyncio.sleep(0.05)
            assert peer.take() == []  # the third waits for send_repeat
            peer.answer(s.portid, sent[1][2], ack=True)
            await asyncio.sleep(0.05)
            got = 0
            while not rep.done():  # the full peer reads: send_repeat ends
                got += len(full.take())
                await asyncio.sleep(0.005)
            assert await rep == 200 and got + len(full.take()) == 200
            assert s.send_waits >= 2  # each try that found the peer full counted
            third = await peer.take_at_least(1)
            assert [m[0] for m in third] == [T_ASK]
            peer.answer(s.portid, third[0][2], ack=True)
            res = await task
            assert [answered(r) for r in res] == [[sent[0][2]], [sent[1][2]], [third[0][2]]]

    try:
        arun(main())
    finally:
        full.close()


def test_a_negative_timeout_is_refused_before_anything_is_sent(arun: Run, peer: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            with pytest.raises(ValueError, match="timeout"):
                await s.request_many([Message(T_ASK)], dest=peer.port, timeout=-1)
            with pytest.raises(ValueError, match="timeout"):
                await s.request(Message(T_ASK), dest=peer.port, timeout=-1)
            with pytest.raises(ValueError, match="timeout"):
                await s.recv(timeout=-1)
            with pytest.raises(ValueError, match="timeout"):
                await s.dump(Message(T_ASK), dest=peer.port, timeout=-1).__anext__()
            assert peer.take() == []

    arun(main())


def test_request_many_raises_an_overrun_met_while_it_waits_to_frame(arun: Run,
                                                                    peer: Peer) -> None:
    """ENOBUFS read while request_many waits to frame its next request (its
    other request still waiting for an answer): it raises it at once."""
    full = Peer(rcvbuf=4096)
    flood = nlfast.Socket(USERSOCK)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, groups=[1], rcvbuf=8192) as s:
            task = asyncio.ensure_future(s.request_many([Message(T_ASK)] * 3, window=2,
                                                        dest=peer.port, timeout=5))
            sent = await peer.take_at_least(2)
            rep = asyncio.ensure_future(s.send_repeat(Message(0x40, header=b"f" * 200), 200,
                                                      dest=full.port))
            for _ in range(100):
                if s.send_waits:
                    break
                await asyncio.sleep(0.01)
            assert s.send_waits and not rep.done()
            peer.answer(s.portid, sent[0][2], ack=True)
            await asyncio.sleep(0.05)  # it waits to frame the third
            flood.send_repeat(Message(0x50, header=b"x" * 64), 2000, groups=1)
            for _ in range(100):
                if s.overruns:
                    break
                await asyncio.sleep(0.01)
            assert s.overruns and not task.done()
            while not rep.done():  # the full peer reads: send_repeat ends
                full.take()
                await asyncio.sleep(0.005)
            await rep
            with pytest.raises(nlfast.OverrunError):
                await asyncio.wait_for(task, 2)  # not only at its timeout

    try:
        arun(main())
    finally:
        full.close()
        flood.close()


def test_close_right_after_a_send_began_waiting_leaves_no_watcher(arun: Run) -> None:
    """close() in the same loop turn as a send that found the peer full and
    began waiting for writability: the loop watches the descriptor no more."""
    full = Peer(rcvbuf=4096)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        s = nlfast.aio.Socket(USERSOCK)
        fd = s.fileno()
        rep = asyncio.ensure_future(s.send_repeat(Message(0x40, header=b"f" * 200), 200,
                                                  dest=full.port))
        closer = loop.create_future()
        loop.call_soon(lambda: closer.set_result(s.close()))  # runs after rep's first step
        await closer
        assert s.send_waits == 1  # rep found the peer full before the close
        with pytest.raises(nlfast.ClosedError):
            await rep
        assert not loop.remove_writer(fd) and not loop.remove_reader(fd)

    try:
        arun(main())
    finally:
        full.close()


def test_request_many_of_dumps_gets_every_row(arun: Run, server: Server) -> None:
    """A request with NLM_F_DUMP among request_many's: its rows over several
    datagrams are its replies, it ends at its NLMSG_DONE."""

    def dump_req(n: int, tag: int) -> Message:
        m = request(DUMP, n, tag)
        return Message(m.type, flags=nlfast.NLM_F_DUMP, header=m.header)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            res = await s.request_many([dump_req(30, 1), request(REQ, 2, 2), dump_req(7, 3)],
                                       dest=server.port, timeout=2)
            assert [items(r) for r in res] == [[(1, i) for i in range(30)],
                                              [(2, 0), (2, 1)],
                                              [(3, i) for i in range(7)]]
            assert not s._e.waiters and s.stale_dropped == 0

    arun(main())


def test_send_repeat_counts_each_wait_for_a_full_peer_once(arun: Run) -> None:
    """One try that finds the peer full is one send_waits; a send that
    finds room counts none."""
    full = Peer(rcvbuf=4096)
    filler = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
    filler.setblocking(False)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            assert await s.send_repeat(Message(0x41), 3, dest=full.port) == 3
            assert s.send_waits == 0  # room: no wait
            while True:  # fill the peer's queue
                try:
                    filler.sendto(_msg(0x40, 0, 0, b"f" * 200), (full.port, 0))
                except BlockingIOError:
                    break
            rep = asyncio.ensure_future(s.send_repeat(Message(0x42), 3, dest=full.port))
            await asyncio.sleep(0)  # rep tries (the peer is full) and waits for the loop
            assert s.send_waits == 1 and not rep.done()
            got = full.take()  # room again before its next try
            assert await rep == 3 and s.send_waits == 1
            got += full.take()
            assert [m[0] for m in got if m[0] != 0x40] == [0x41] * 3 + [0x42] * 3

    try:
        arun(main())
    finally:
        filler.close()
        full.close()


def test_an_interrupted_dump_raises_unless_allowed(arun: Run, peer: Peer) -> None:
    """Rows marked NLM_F_DUMP_INTR: the dump raises DumpInterruptedError at
    its end by default, and ends quietly with allow_interrupted."""
    intr = 0x10  # NLM_F_DUMP_INTR

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            for allow in (False, True):
                it = s.dump_messages(Message(T_ASK), dest=peer.port,
                                     **({"allow_interrupted": True} if allow else {}))
                first = asyncio.ensure_future(it.__anext__())
                ((_, _, seq, _),) = await peer.take_at_least(1)
                peer.sock.sendto(
                    _msg(T_ANSWER, nlfast.NLM_F_MULTI | intr, seq, b"")
                    + _msg(nlfast.NLMSG_DONE, nlfast.NLM_F_MULTI, seq, struct.pack("=i", 0)),
                    (s.portid, 0))
                assert (await first).type == T_ANSWER
                if allow:
                    assert [m async for m in it] == []
                else:
                    with pytest.raises(nlfast.DumpInterruptedError) as ei:
                        await it.__anext__()
                    assert str(ei.value) == ("NLM_F_DUMP_INTR: the state changed during"
                                             " the dump")

    arun(main())


# -- a full peer: the pauses between tries, the tries counted --------------------------------


def _fill(port: int) -> pysocket.socket:
    """A stdlib socket that filled the queue of the peer at ``port``."""
    filler = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
    filler.setblocking(False)
    while True:
        try:
            filler.sendto(_msg(0x40, 0, 0, b"f" * 200), (port, 0))
        except BlockingIOError:
            return filler


def _pauses_loop(kind: str, pauses: list[float], flushes: list[float] | None = None,
                 timers: list[int] | None = None) -> asyncio.AbstractEventLoop:
    """A loop that records the delays of the asyncio.sleep calls made by
    nlfast/aio.py itself (its pauses between tries to a full peer) and, in
    ``flushes``, those of its timers that flush the framed requests (in
    ``timers``: how many of those are pending, the most at once)."""
    base = _loop_class(kind)

    class Loop(base):  # type: ignore[misc, valid-type]
        def call_later(self, delay: float, callback: Any, *args: Any, **kw: Any) -> Any:
            if getattr(callback, "__name__", "") == "_set_result_unless_cancelled":
                caller = sys._getframe(2).f_code.co_filename  # asyncio.sleep's caller
                if caller.endswith(os.path.join("nlfast", "aio.py")):
                    pauses.append(delay)
            elif getattr(callback, "__name__", "") == "_flush_soon" and flushes is not None:
                flushes.append(delay)
                if timers is not None:
                    timers[0] += 1
                    timers[1] = max(timers)
                    flush = callback

                    def callback() -> None:
                        timers[0] -= 1
                        flush()

            return super().call_later(delay, callback, *args, **kw)

    return Loop()


def _backoff(waits: int) -> list[float]:
    """The pauses of ``waits`` tries that found the peer full: none after the
    first, then from BACKOFF_MIN doubling up to BACKOFF_MAX."""
    out, d = [], 0.0
    for _ in range(waits - 1):
        d = min(max(d * 2, nlfast.aio.BACKOFF_MIN), nlfast.aio.BACKOFF_MAX)
        out.append(d)
    return out


@pytest.mark.parametrize("how", ["send", "send_repeat"])
@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_a_send_to_a_full_peer_counts_each_try_and_doubles_its_pause(kind: str,
                                                                    how: str) -> None:
    pauses: list[float] = []
    loop = _pauses_loop(kind, pauses)
    full = Peer(rcvbuf=4096)
    filler = _fill(full.port)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            send = asyncio.ensure_future(
                s.send(Message(0x42), dest=full.port) if how == "send"
                else s.send_repeat(Message(0x42), 1, dest=full.port))
            for _ in range(500):
                if s.send_waits >= 5 or send.done():
                    break
                await asyncio.sleep(0.005)
            assert s.send_waits >= 5 and not send.done()
            got = full.take()  # room again: its next try goes
            await send
            assert s.send_waits >= 5 and pauses == _backoff(s.send_waits)
            got += full.take()
            assert [m[0] for m in got if m[0] != 0x40] == [0x42]

    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()
        filler.close()
        full.close()


# -- frames that wait for another destination's ----------------------------------------------


def test_a_send_to_another_port_sends_the_framed_requests_first(arun: Run) -> None:
    """A request framed for one port (sent at the loop's next turn) and, in
    the same turn, a send to another port: each goes to its own port."""
    p1, p2 = Peer(), Peer()

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            first = asyncio.ensure_future(s.request(Message(T_ASK), dest=p1.port))
            ((_, _, seq1, _),) = await p1.take_at_least(1)  # sent at once, it waits
            second = asyncio.ensure_future(s.request(Message(T_ASK), dest=p1.port))
            sent = asyncio.ensure_future(s.send(Message(0x41), dest=p2.port))
            await sent  # the second was framed, not sent yet, when the send began
            got2 = await p2.take_at_least(1)
            ((_, _, seq2, _),) = await p1.take_at_least(1)
            assert [m[0] for m in got2 + p2.take()] == [0x41]
            p1.answer(s.portid, seq1, ack=True)
            p1.answer(s.portid, seq2, ack=True)
            assert answered(await first) == [seq1] and answered(await second) == [seq2]

    try:
        arun(main())
    finally:
        p1.close()
        p2.close()


def test_a_request_that_waits_to_be_framed_keeps_its_flags_and_port(arun: Run, server: Server,
                                                                    peer: Peer) -> None:
    """Requests that find another port's frames pending (they wait in _start
    for them to go): sent to their port alone (no group), they end at their
    ack (not at their reply) and, for an NLM_F_DUMP one, at its NLMSG_DONE."""
    listener = Peer(groups=1)
    other = Peer()

    def dump_req(n: int, tag: int) -> Message:
        m = request(DUMP, n, tag)
        return Message(m.type, flags=nlfast.NLM_F_DUMP, header=m.header)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            first = asyncio.ensure_future(s.request(Message(T_ASK), dest=other.port))
            ((_, _, seq1, _),) = await other.take_at_least(1)  # sent at once, it waits
            framed = asyncio.ensure_future(s.request(Message(T_ASK), dest=other.port))
            late = asyncio.ensure_future(s.request(Message(T_ASK, flags=NLM_F_ROOT),
                                                   dest=peer.port))
            ((typ, flags, seq, _),) = await peer.take_at_least(1)
            assert (typ, flags) == (T_ASK, nlfast.NLM_F_REQUEST | nlfast.NLM_F_ACK | NLM_F_ROOT)
            peer.answer(s.portid, seq, ack=True)  # a reply without NLM_F_MULTI, the ack
            assert answered(await late) == [seq]
            assert s.stale_dropped == 0  # the ack was its end, not left over
            ((_, _, seq2, _),) = await other.take_at_least(1)
            # the same for a request of a dump (its rows end at NLMSG_DONE)
            again = asyncio.ensure_future(s.request(Message(T_ASK), dest=other.port))
            rows = asyncio.ensure_future(s.request(dump_req(7, 1), dest=server.port,
                                                   timeout=2))
            assert items(await rows) == [(1, i) for i in range(7)]
            ((_, _, seq3, _),) = await other.take_at_least(1)
            for q in (seq1, seq2, seq3):
                other.answer(s.portid, q, ack=True)
            assert [answered(await t) for t in (first, framed, again)] == [[seq1], [seq2],
                                                                             [seq3]]
            # nothing went to a group (other tests' group traffic aside)
            assert [m for m in listener.take() if m[0] == T_ASK] == []
            assert s.stale_dropped == 0

    try:
        arun(main())
    finally:
        listener.close()
        other.close()


def test_a_message_numbered_zero_is_sent_once(arun: Run, peer: Peer) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            s.next_seq = 0
            assert await s.send(Message(0x41), dest=peer.port) == 0
            s.next_seq = 0
            assert await s.send_batch([Message(0x42), Message(0x43)], dest=peer.port) == [0, 1]
            assert [(m[0], m[2]) for m in peer.take()] == [(0x41, 0), (0x42, 0), (0x43, 1)]
            # a request framed while another waits
            first = asyncio.ensure_future(s.request(Message(T_ASK), dest=peer.port))
            ((_, _, seq1, _),) = await peer.take_at_least(1)
            s.next_seq = 0
            second = asyncio.ensure_future(s.request(Message(T_ANSWER), dest=peer.port))
            sent = await peer.take_at_least(1)
            await asyncio.sleep(0.02)
            assert [(m[0], m[2]) for m in sent + peer.take()] == [(T_ANSWER, 0)]
            peer.answer(s.portid, 0, ack=True)
            peer.answer(s.portid, seq1, ack=True)
            assert answered(await second) == [0] and answered(await first) == [seq1]

    arun(main())


# -- dumps: their timeout, the reading they resume and leave -----------------------------


def test_a_dump_waits_its_timeout_for_each_part(arun: Run, peer: Peer) -> None:
    """timeout=None: a dump waits as long as its parts take; a timeout: a
    dump whose peer stops after a part raises ETIMEDOUT; an ended dump
    leaves no watcher on the descriptor."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with nlfast.aio.Socket(USERSOCK) as s:
            it = s.dump_messages(Message(T_ASK), dest=peer.port, timeout=None)
            first = asyncio.ensure_future(it.__anext__())
            ((_, _, seq, _),) = await peer.take_at_least(1)
            peer.answer(s.portid, seq, ack=False, multi=True)
            assert answered([await first]) == [seq]
            nxt = asyncio.ensure_future(it.__anext__())
            await asyncio.sleep(0.02)  # it waits for the next part
            assert not nxt.done()
            peer.sock.sendto(_msg(T_ANSWER, nlfast.NLM_F_MULTI, seq, struct.pack("=I", 7))
                             + _msg(nlfast.NLMSG_DONE, nlfast.NLM_F_MULTI, seq,
                                    struct.pack("=i", 0)), (s.portid, 0))
            assert answered([await nxt]) == [7]
            assert [m async for m in it] == []
            assert not loop.remove_reader(s.fileno())  # nobody waits: not watched

            it = s.dump_messages(Message(T_ASK), dest=peer.port, timeout=0.05)
            first = asyncio.ensure_future(it.__anext__())
            ((_, _, seq, _),) = await peer.take_at_least(1)
            peer.answer(s.portid, seq, ack=False, multi=True)  # a row, then nothing
            assert answered([await first]) == [seq]
            with pytest.raises(TimeoutError) as ei:
                await asyncio.wait_for(it.__anext__(), 2)  # (its TimeoutError: no errno)
            assert (ei.value.errno, ei.value.strerror) == (errno.ETIMEDOUT,
                                                           "no netlink reply in time")

    arun(main())


def test_a_paused_dump_reads_again_once_a_batch_is_taken(arun: Run, server: Server) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, rx_buffers=1) as s:
            it = s.dump(request(DUMP, 90, 1), dest=server.port)
            rows = len(await it.__anext__())  # held: the rest queues, then reading pauses
            await paused(s)
            (w,) = s._dumps
            assert len(w.queue) == nlfast.aio.DUMP_AHEAD
            rows += len(await it.__anext__())  # one taken: room for one more
            await paused(s)
            assert len(w.queue) == nlfast.aio.DUMP_AHEAD
            async for b in it:
                rows += len(b)
            assert rows == 90

    arun(main())


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_requests_to_a_full_peer_count_each_try_and_double_the_pause(kind: str) -> None:
    """Requests framed for a full peer: each try that finds it full counts
    once and the next is timed from BACKOFF_MIN doubling, one timer at a
    time however many requests join; once they went, the pause starts over."""
    pauses: list[float] = []
    flushes: list[float] = []
    timers = [0, 0]  # pending, the most at once
    loop = _pauses_loop(kind, pauses, flushes, timers)
    full = Peer(rcvbuf=4096)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            for _ in range(2):
                filler = _fill(full.port)
                try:
                    tasks = [asyncio.ensure_future(s.request(Message(T_ASK), dest=full.port,
                                                             timeout=5))]
                    for _ in range(500):
                        if s.send_waits >= 2:
                            break
                        await asyncio.sleep(0.002)
                    tasks.append(asyncio.ensure_future(  # joins the frames waiting
                        s.request(Message(T_ASK), dest=full.port, timeout=5)))
                    for _ in range(500):
                        if s.send_waits >= 5:
                            break
                        await asyncio.sleep(0.002)
                    assert s.send_waits >= 5 and not any(t.done() for t in tasks)
                    full.take()  # room again: the next try sends them
                    asks = [m for m in await full.take_at_least(2) if m[0] == T_ASK]
                    for _, _, seq, _ in asks:
                        full.answer(s.portid, seq, ack=True)
                    assert [answered(await t) for t in tasks] == [[m[2]] for m in asks]
                    # one timer per try that found the peer full, no spin meanwhile
                    assert flushes == _backoff(s.send_waits + 1) and pauses == []
                    assert timers[1] == 1
                finally:
                    filler.close()
                flushes.clear()
                s.send_waits = 0

    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()
        full.close()


def test_close_with_a_flush_due_reports_nothing_to_the_loop(arun: Run, peer: Peer) -> None:
    async def main() -> None:
        errors: list[Any] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: errors.append(ctx))
        s = nlfast.aio.Socket(USERSOCK)
        first = asyncio.ensure_future(s.request(Message(T_ASK), dest=peer.port))
        await peer.take_at_least(1)  # sent at once: it waits
        second = asyncio.ensure_future(s.request(Message(T_ASK), dest=peer.port))
        await asyncio.sleep(0)  # the second is framed, its flush due at the next turn
        s.close()
        for t in (first, second):
            with pytest.raises(nlfast.ClosedError):
                await t
        await asyncio.sleep(0.01)
        assert errors == [] and peer.take() == []

    arun(main())


def test_recv_is_woken_by_events_only(arun: Run, peer: Peer) -> None:
    """A reply read for a request while recv() waits does not wake recv: its
    one timeout stays armed (no second one) until an event comes."""

    async def main() -> None:
        delays: list[float] = []
        loop = asyncio.get_running_loop()
        real = loop.call_later

        def call_later(delay: float, callback: Any, *args: Any) -> Any:
            if getattr(callback, "__name__", "") == "_expire":
                delays.append(delay)
            return real(delay, callback, *args)

        loop.call_later = call_later  # type: ignore[method-assign]
        try:
            async with nlfast.aio.Socket(USERSOCK) as s:
                ev = asyncio.ensure_future(s.recv(timeout=7))
                await asyncio.sleep(0.01)
                req = asyncio.ensure_future(s.request(Message(T_ASK), dest=peer.port,
                                                      timeout=3))
                ((_, _, seq, _),) = await peer.take_at_least(1)
                peer.answer(s.portid, seq, ack=True)
                assert answered(await req) == [seq]
                await asyncio.sleep(0.01)
                assert not ev.done()
                peer.sock.sendto(_msg(0x45, 0, 0, b""), (s.portid, 0))
                assert [m.type for m in await ev] == [0x45]
                assert delays == [7, 3]
        finally:
            del loop.call_later  # type: ignore[method-assign]

    arun(main())


def test_closed_is_a_bool(arun: Run) -> None:
    async def main() -> None:
        s = nlfast.aio.Socket(USERSOCK)
        assert s.closed is False
        s.close()
        assert s.closed is True

    arun(main())


def test_requests_answered_inside_the_send_yield_to_the_loop_once_in_fair_every(
        arun: Run, netns: Netns) -> None:
    """With nothing else in flight a kernel family's answer is read in the
    same call that sent the request: the loop does not run, except once every
    FAIR_EVERY such requests (the others' turn)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
            ran: list[int] = []  # the requests during which the loop ran
            now = [0]
            for i in range(1, 2 * nlfast.aio.FAIR_EVERY + 1):
                now[0] = i  # recorded if the loop runs before this request returns:
                loop.call_soon(lambda n=i: ran.append(n) if now[0] == n else None)
                assert [ifindex(m) for m in await s.request(getlink(1))] == [1]
            assert ran == [nlfast.aio.FAIR_EVERY, 2 * nlfast.aio.FAIR_EVERY]

    arun(main())


def test_a_dump_read_at_once_pins_no_receive_slab_for_its_queued_parts(arun: Run,
                                                                      netns: Netns) -> None:
    """A dump sent and read in one call (its first part is there at once) and
    a consumer that holds that part: of the parts queued meanwhile only the
    one read for it while its queue was empty stays in receive memory; the
    others are copied out, so the slabs go back to the pool."""
    netns.batch([f"link add va{i} type veth peer name vb{i}" for i in range(70)])

    async def main() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                                     rx_buffers=1) as s:
            rows = 0
            async for b in s.dump(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg())):
                rows += len(b)
                if rows == len(b):  # holding the first part
                    await paused(s)
                    (w,) = s._dumps
                    assert len(w.queue) == nlfast.aio.DUMP_AHEAD
                    # the part held and the first one queued, not the rest
                    assert sum(not slab_idle(x) for x in s._t.pool) == 2
            assert rows == 141

    arun(main())


def test_a_waiting_dump_gets_its_part_in_place_and_the_rest_copied(arun: Run,
                                                                   peer: Peer) -> None:
    """The part read while the dump waits is its batch in the receive slab;
    the parts read while its consumer holds that one are copied out."""

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, rx_buffers=1) as s:
            it = s.dump_messages(Message(T_ASK), dest=peer.port)
            first = asyncio.ensure_future(it.__anext__())
            ((_, _, seq, _),) = await peer.take_at_least(1)
            await asyncio.sleep(0.01)  # it waits
            for i in range(8):  # eight parts, one row each
                peer.sock.sendto(_msg(T_ANSWER, nlfast.NLM_F_MULTI, seq, struct.pack("=I", i)),
                                 (s.portid, 0))
            held = await first
            await paused(s)
            (w,) = s._dumps
            assert len(w.queue) == nlfast.aio.DUMP_AHEAD
            assert sum(not slab_idle(x) for x in s._t.pool) == 1
            assert answered([held]) == [0]
            peer.sock.sendto(_msg(nlfast.NLMSG_DONE, nlfast.NLM_F_MULTI, seq,
                                  struct.pack("=i", 0)), (s.portid, 0))
            assert answered([m async for m in it]) == list(range(1, 8))

    arun(main())


def test_a_dump_after_one_left_unended_still_pauses_for_its_consumer(arun: Run, server: Server,
                                                                    peer: Peer) -> None:
    """A dump left early whose peer never ends it: the next dump waits its
    timeout for that end (so the kernel would take it), forgets the old one,
    and then pauses reading at DUMP_AHEAD batches as usual."""

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, rx_buffers=1) as s:
            left = s.dump(Message(T_ASK), dest=peer.port)
            first = asyncio.ensure_future(left.__anext__())
            ((_, _, seq, _),) = await peer.take_at_least(1)
            peer.answer(s.portid, seq, ack=False, multi=True)  # a row, never its end
            assert len(await first) == 1
            await left.aclose()
            it = s.dump(request(DUMP, 90, 1), dest=server.port, timeout=0.3)
            rows = len(await it.__anext__())  # after 0.3 s: the old one forgotten
            assert not s._e.stale
            await paused(s)
            (w,) = s._dumps
            assert len(w.queue) == nlfast.aio.DUMP_AHEAD
            async for b in it:
                rows += len(b)
            assert rows == 90

    arun(main())


def test_leaving_a_dump_keeps_another_waiting_dumps_part_in_place(arun: Run,
                                                                  peer: Peer) -> None:
    """One dump left early while another waits: the waiting one still gets
    its next part in place (in the receive slab), not a copy."""
    other = Peer()

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, rx_buffers=1) as s:
            left = s.dump(Message(T_ASK), dest=other.port)
            first = asyncio.ensure_future(left.__anext__())
            ((_, _, seq, _),) = await other.take_at_least(1)
            other.answer(s.portid, seq, ack=False, multi=True)
            assert len(await first) == 1
            first = None  # type: ignore[assignment]
            it = s.dump_messages(Message(T_ASK), dest=peer.port)
            nxt = asyncio.ensure_future(it.__anext__())
            ((_, _, seq2, _),) = await peer.take_at_least(1)
            await asyncio.sleep(0.01)  # it waits
            await left.aclose()
            peer.answer(s.portid, seq2, ack=False, multi=True)
            assert answered([await nxt]) == [seq2]
            assert sum(not slab_idle(x) for x in s._t.pool) == 1  # its part, in place
            peer.sock.sendto(_msg(nlfast.NLMSG_DONE, nlfast.NLM_F_MULTI, seq2,
                                  struct.pack("=i", 0)), (s.portid, 0))
            assert [m async for m in it] == []

    try:
        arun(main())
    finally:
        other.close()


def test_close_names_what_it_ended_and_leaves_a_dumps_queued_batches(arun: Run, server: Server,
                                                                    peer: Peer) -> None:
    """close() wakes a waiting request with "closed while waiting", later
    calls raise "is closed"; a paused dump's queued batches are still handed
    out after close (the loop watches nothing), then it raises ClosedError."""

    async def main() -> None:
        s = nlfast.aio.Socket(USERSOCK)
        req = asyncio.ensure_future(s.request(Message(T_ASK), dest=peer.port))
        await peer.take_at_least(1)  # sent: it waits
        s.close()
        with pytest.raises(nlfast.ClosedError) as ei:
            await req
        assert str(ei.value) == "the socket was closed while waiting"
        with pytest.raises(nlfast.ClosedError) as ei:
            await s.request(request(REQ, 1, 2), dest=server.port)
        assert str(ei.value) == "the socket is closed"

        s = nlfast.aio.Socket(USERSOCK, rx_buffers=1)
        fd = s.fileno()
        it = s.dump(request(DUMP, 90, 3), dest=server.port)
        rows = len(await it.__anext__())
        await paused(s)
        s.close()
        for _ in range(nlfast.aio.DUMP_AHEAD):
            rows += len(await it.__anext__())
        assert rows == nlfast.aio.DUMP_AHEAD * 3 + 3
        loop = asyncio.get_running_loop()
        assert not loop.remove_reader(fd) and not loop.remove_writer(fd)
        with pytest.raises(nlfast.ClosedError):
            await it.__anext__()

    arun(main())


def test_a_message_larger_than_the_send_arena_is_refused_at_once(arun: Run, server: Server) -> None:
    """Framed into an empty arena, a message that does not fit is refused
    (never waited on as if a flush could make room), and the socket goes on."""
    big = Message(T_ASK, header=b"z" * 8000)

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, tx_size=4096) as s:
            for call in (lambda: s.request(big, dest=server.port, timeout=5),
                         lambda: s.request_many([big], dest=server.port, timeout=5),
                         lambda: s.send(big, dest=server.port)):
                with pytest.raises(nlfast.MessageTooLargeError,
                                   match=r"^message larger than the send arena \(tx_size\)$"):
                    await asyncio.wait_for(call(), 10)
            await s.send(Message(0x40), dest=s.portid)
            got = await s.recv(timeout=5)
            assert [m.type for m in got] == [0x40]

    arun(main())


def test_requests_that_overflow_the_send_arena_are_each_sent_and_answered(
        arun: Run, server: Server) -> None:
    """More requests at once than the send arena holds: the arena is flushed
    when full and every request framed again after it, none lost."""
    n = 300  # 300 requests of 28 bytes in a 4096-byte arena

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, tx_size=4096) as s:
            got = await asyncio.wait_for(s.request_many(
                [request(REQ, 1, tag) for tag in range(n)], window=n, dest=server.port,
                timeout=10), 20)
            assert [items(r) for r in got] == [[(tag, 0)] for tag in range(n)]

    arun(main())
