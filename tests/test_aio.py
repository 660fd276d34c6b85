"""nlfast.aio against real peers, on the default event loop and on uvloop.

Peers: rtnetlink in a private namespace, and the scripted NETLINK_USERSOCK
server of test_receive_state (a stdlib socket in a thread: it answers each
request as its payload says, LATE ones only before the next request).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket as pysocket
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nlfast
import nlfast.aio
from nlfast import Message, rtnl

from .conftest import N_LINK_PAIRS, Netns, fd_count
from .test_receive_state import (
    DUMP,
    ERR,
    EVENTS,
    ITEM,
    LATE,
    REQ,
    T_EVENT,
    T_REPLY,
    T_ROW,
    Server,
    request,
)

USERSOCK = nlfast.NETLINK_USERSOCK
GETLINK = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg())

Run = Callable[[Awaitable[Any]], Any]


def getlink(index: int) -> Message:
    return Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=index))


@pytest.fixture(params=["asyncio", "uvloop"])
def arun(request: pytest.FixtureRequest) -> Iterator[Run]:
    """Runs a coroutine to its end on a fresh loop of either kind."""
    if request.param == "uvloop":
        import uvloop  # in the test extra: a missing one fails, never skips

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()

    def run(coro: Awaitable[Any]) -> Any:
        return loop.run_until_complete(asyncio.wait_for(coro, 120))

    try:
        yield run
    finally:
        loop.close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    srv.start()
    try:
        yield srv
    finally:
        srv.running = False
        srv.join()
        srv.sock.close()


def resolve(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_result(None)


def items(msgs: Any) -> list[tuple[int, int]]:
    return [ITEM.unpack_from(m.payload) for m in msgs]


def ifindex(m: Any) -> int:
    return rtnl.ifinfo_index(m.payload)


async def check_usable(s: nlfast.aio.Socket, srv: Server, tag: int) -> None:
    """The socket answers a request and a whole dump correctly."""
    got = await s.request(request(REQ, 3, tag), dest=srv.port, timeout=5)
    assert items(got) == [(tag, i) for i in range(3)]
    rows = [m async for m in s.dump_messages(request(DUMP, 40, tag + 1), dest=srv.port)]
    assert items(rows) == [(tag + 1, i) for i in range(40)]
    assert not s._e.waiters


# -- rtnetlink -------------------------------------------------------------------------


def test_request_dump_and_errors_on_rtnetlink(arun: Run, big_netns: Netns) -> None:
    expect = {li["ifname"] for li in big_netns.ip_json("link", "show")}

    async def main() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:
            lo = await s.request(getlink(1))
            assert [ifindex(m) for m in lo] == [1]
            with pytest.raises(nlfast.NetlinkError) as ei:
                await s.request(getlink(424242))
            assert ei.value.code == 19
            names: list[str] = []
            async for b in s.dump(GETLINK):
                assert isinstance(b, nlfast.Batch)
                names += b.attr_str(rtnl.IFLA_IFNAME, rtnl.IFINFOMSG_LEN)
            assert set(names) == expect and len(names) == 2 * N_LINK_PAIRS + 1
            count = 0
            async for m in s.dump_messages(GETLINK):
                assert m.type == rtnl.RTM_NEWLINK
                count += 1
            assert count == len(names)
            res = await s.request_many([getlink(1), getlink(424242), getlink(1)] * 100,
                                       window=16)
            for i, r in enumerate(res):
                if i % 3 == 1:
                    assert isinstance(r, nlfast.NetlinkError) and r.code == 19
                else:
                    assert isinstance(r, list) and [ifindex(m) for m in r] == [1]

    arun(main())


def test_a_slow_dump_consumer_keeps_memory_bounded(arun: Run, big_netns: Netns) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name,
                                     rx_buffers=1, rx_bufsize=16384) as s:
            names: list[str] = []
            most = 0
            async for b in s.dump(GETLINK):
                names += b.attr_str(rtnl.IFLA_IFNAME, rtnl.IFINFOMSG_LEN)
                await asyncio.sleep(0.002)  # the consumer awaits something else
                if len(names) < 500:
                    most = max(most, *(len(w.queue) for w in s._e.waiters.values()), 0)
                else:  # a request meanwhile gets its answer (reading through to it)
                    assert [ifindex(m) for m in await s.request(getlink(1))] == [1]
            assert len(names) == 2 * N_LINK_PAIRS + 1 == len(set(names))
            assert most <= nlfast.aio.DUMP_AHEAD + 1

    arun(main())


def test_thousand_coroutines_share_one_socket_on_rtnetlink(arun: Run, big_netns: Netns) -> None:
    indexes = [li["ifindex"] for li in big_netns.ip_json("link", "show")]

    async def main() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:

            async def worker(k: int) -> None:
                for j in range(5):
                    want = indexes[(k + j) % len(indexes)]
                    got = await s.request(getlink(want))
                    assert [ifindex(m) for m in got] == [want]

            await asyncio.gather(*[worker(k) for k in range(1000)])
            assert not s._e.waiters and s.stale_dropped == 0

    arun(main())


def test_link_events_arrive_while_requests_run(arun: Run, netns: Netns) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                                     groups=[rtnl.RTNLGRP_LINK]) as s:
            seen: list[str] = []

            async def watch() -> None:
                async for m in s.events():
                    if m.type == rtnl.RTM_NEWLINK:
                        name = m.attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME)
                        seen.append(name)
                        if {"ev0", "ev1"} <= set(seen):
                            return

            async def busy() -> None:
                while not {"ev0", "ev1"} <= set(seen):
                    assert [ifindex(m) for m in await s.request(getlink(1))] == [1]
                    await asyncio.sleep(0)

            async def make() -> None:
                p = await asyncio.create_subprocess_exec(
                    "ip", "-n", netns.name, "link", "add", "ev0", "type", "veth", "peer",
                    "name", "ev1")
                assert await p.wait() == 0

            await asyncio.gather(watch(), busy(), make())
            assert {"ev0", "ev1"} <= set(seen)

    arun(main())


# -- a USERSOCK server: concurrency, cancellation, close, timeouts ---------------------


def test_thousand_concurrent_requests_get_their_own_replies(arun: Run, server: Server) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:

            async def one(tag: int) -> None:
                got = await s.request(request(REQ, 1 + tag % 4, tag), dest=server.port)
                assert all(m.type == T_REPLY for m in got)
                assert items(got) == [(tag, i) for i in range(1 + tag % 4)]

            await asyncio.gather(*[one(t) for t in range(1000)])
            res = await s.request_many([request(REQ, 2, t) for t in range(300)]
                                       + [request(ERR, 0, 7)], dest=server.port, window=32)
            for t, r in enumerate(res[:-1]):
                assert isinstance(r, list) and items(r) == [(t, 0), (t, 1)]
            assert isinstance(res[-1], nlfast.NetlinkError) and res[-1].code == 2
            # dumps and requests interleaved from many coroutines
            async def dumper(tag: int) -> None:
                rows = [m async for m in s.dump_messages(request(DUMP, 25, tag),
                                                         dest=server.port)]
                assert all(m.type == T_ROW for m in rows)
                assert items(rows) == [(tag, i) for i in range(25)]

            await asyncio.gather(*[dumper(5000 + t) if t % 5 == 0 else one(t)
                                   for t in range(200)])
            await check_usable(s, server, 9000)

    arun(main())


async def scenario(s: nlfast.aio.Socket, srv: Server, progress: list[int]) -> None:
    """Every kind of await: requests, a dump read part-way and whole,
    request_many, events, a late request; ``progress`` counts the stages."""
    await s.request(request(REQ, 2, 1), dest=srv.port)
    progress.append(1)
    async for b in s.dump(request(DUMP, 60, 2), dest=srv.port):
        assert len(b)
    progress.append(2)
    await s.request_many([request(REQ, 1, 10 + t) for t in range(20)], dest=srv.port, window=4)
    progress.append(3)

    async def three_events() -> None:
        n = 0
        async for _ in s.events(timeout=1):
            n += 1
            if n == 3:
                break

    # a request that waits (a LATE one is in flight), then events awaited
    late = asyncio.ensure_future(s.request(request(LATE, 1, 30), dest=srv.port))
    ev = asyncio.ensure_future(three_events())
    try:
        await asyncio.sleep(0)  # both sent or waiting
        await s.request(request(EVENTS, 3, 3), dest=srv.port)
        progress.append(4)
        await ev
        await late
    finally:
        late.cancel()
        ev.cancel()
    progress.append(5)
    async for _ in s.dump(request(DUMP, 60, 4), dest=srv.port):
        break
    progress.append(6)
    await asyncio.gather(s.request(request(REQ, 1, 6), dest=srv.port),
                         s.request(request(LATE, 1, 5), dest=srv.port, timeout=0.05))
    progress.append(7)


def test_cancelling_at_every_await_point_leaves_the_socket_usable(arun: Run,
                                                                   server: Server) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            stages: set[int] = set()
            tag = 100
            for stage in range(7):  # cancelled in each stage, at its first few awaits
                for ticks in range(6):
                    progress: list[int] = [0]
                    task = asyncio.ensure_future(scenario(s, server, progress))
                    while progress[-1] < stage and not task.done():
                        await asyncio.sleep(0)
                    for _ in range(ticks):
                        await asyncio.sleep(0)
                    if not task.done():
                        stages.add(progress[-1])
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await task
                    tag += 100
                    await check_usable(s, server, tag)
                    while True:  # events of a cancelled scenario: read, not left behind
                        try:
                            await s.recv(timeout=0)
                        except TimeoutError:
                            break
            # cancelled while waiting in most stages (one may finish without a wait)
            assert len(stages) >= 6, stages
            assert not s._e.waiters and s.stale_dropped > 0

    arun(main())


def test_timeouts_drop_late_replies_and_count_them(arun: Run, server: Server) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            with pytest.raises(TimeoutError):
                await s.request(request(LATE, 2, 1), dest=server.port, timeout=0.1)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(s.request(request(LATE, 3, 2), dest=server.port), 0.1)
            late = 2 + 3 + 2  # replies and acks of the two
            timeout_cm = getattr(asyncio, "timeout", None)  # Python >= 3.11
            if timeout_cm is not None:
                with pytest.raises(TimeoutError):
                    async with timeout_cm(0.1):
                        await s.request(request(LATE, 4, 4), dest=server.port)
                late += 4 + 1
            # the server sends the late replies before this one's
            got = await s.request(request(REQ, 1, 3), dest=server.port)
            assert items(got) == [(3, 0)]
            for _ in range(100):
                if s.stale_dropped == late:
                    break
                await asyncio.sleep(0.01)
            assert s.stale_dropped == late
            await check_usable(s, server, 10)

    arun(main())


def test_close_wakes_every_waiter_with_closed_error(arun: Run, server: Server) -> None:
    async def main() -> None:
        s = nlfast.aio.Socket(USERSOCK)

        async def dump_waits() -> None:
            async for _ in s.dump(request(LATE, 1, 2), dest=server.port, timeout=None):
                pass

        waits = [
            asyncio.ensure_future(s.request(request(LATE, 1, 1), dest=server.port, timeout=None)),
            asyncio.ensure_future(dump_waits()),
            asyncio.ensure_future(s.recv()),
            asyncio.ensure_future(s.request_many([request(LATE, 1, 3)] * 3, dest=server.port,
                                                 timeout=None)),
        ]
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in waits)
        s.close()
        for t in waits:
            with pytest.raises(nlfast.ClosedError):
                await t
        with pytest.raises(nlfast.ClosedError):
            await s.request(request(REQ, 1, 1), dest=server.port)
        s.close()  # a second close does nothing

    arun(main())


def test_events_during_requests_come_in_order(arun: Run, server: Server) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            got: list[tuple[int, int]] = []

            async def watch() -> None:
                async for m in s.events(timeout=2):
                    assert m.type == T_EVENT
                    got.append(ITEM.unpack_from(m.payload))
                    if len(got) == 60:
                        return

            w = asyncio.ensure_future(watch())
            for tag in range(3):
                await asyncio.gather(s.request(request(EVENTS, 20, tag), dest=server.port),
                                     s.request(request(REQ, 2, 100 + tag), dest=server.port))
            await w
            assert got == [(t, i) for t in range(3) for i in range(20)]

    arun(main())


def test_each_receiver_has_its_own_timeout(arun: Run) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s, nlfast.aio.Socket(USERSOCK) as peer:
            short = asyncio.ensure_future(s.recv(timeout=0.05))
            long = asyncio.ensure_future(s.recv(timeout=5))
            with pytest.raises(TimeoutError):
                await short
            await peer.send(Message(0x45), dest=s.portid)
            b = await long
            assert [m.type for m in b] == [0x45]

    arun(main())


# -- overflow ------------------------------------------------------------------------


def test_event_queue_overflow_reaches_the_events_reader(arun: Run, server: Server) -> None:
    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, events_max=10) as s:
            await s.request(request(EVENTS, 50, 1), dest=server.port)
            assert s.events_dropped == 40
            with pytest.raises(nlfast.EventOverflowError) as ei:
                await s.recv(timeout=1)
            assert ei.value.dropped == 40
            kept = [ITEM.unpack_from(m.payload) async for m in s.events(timeout=0.1)]
            assert kept == [(1, i) for i in range(10)]

    arun(main())


def test_enobufs_reaches_a_waiting_request_and_the_events_reader(arun: Run,
                                                                  server: Server) -> None:
    async def main() -> None:
        flood = nlfast.Socket(USERSOCK)
        async with nlfast.aio.Socket(USERSOCK, groups=[1], rcvbuf=8192) as s:
            late = asyncio.ensure_future(s.request(request(LATE, 1, 1), dest=server.port))
            await asyncio.sleep(0.02)
            flood.send_repeat(Message(0x50, header=b"x" * 64), 2000, groups=1)
            with pytest.raises(nlfast.OverrunError):
                await late
            assert s.overruns >= 1
            while True:  # read what is queued: the kernel reports ENOBUFS again after
                try:
                    await s.recv(timeout=0.1)
                except TimeoutError:
                    break
            # nobody waits now: the next reader gets it
            flood.send_repeat(Message(0x50, header=b"x" * 64), 2000, groups=1)
            with pytest.raises(nlfast.OverrunError):
                async for _ in s.events(timeout=2):
                    pass
            await check_usable(s, server, 20)
        async with nlfast.aio.Socket(USERSOCK, groups=[1], rcvbuf=8192, overrun="count") as s:
            flood.send_repeat(Message(0x50, header=b"x" * 64), 2000, groups=1)
            n = 0
            async for _ in s.events(timeout=0.2):
                n += 1
            assert 0 < n < 2000 and s.overruns >= 1
        flood.close()

    arun(main())


# -- sending with back-pressure -----------------------------------------------------


def test_send_waits_for_a_full_peer_without_spinning(arun: Run, server: Server) -> None:
    peer = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
    peer.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, 4096)
    peer.bind((0, 0))
    peer.setblocking(False)
    port = peer.getsockname()[0]
    n = 3000

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK, dgram_size=256) as s:
            loop = asyncio.get_running_loop()
            got = 0
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while got < n:
                    ticks += 1
                    await asyncio.sleep(0.01)

            async def sender() -> None:
                msg = Message(0x60, header=b"y" * 40)
                half = n // 2
                first = s.next_seq

                async def asks() -> list[Any]:  # while send_repeat waits for the peer
                    await asyncio.sleep(0.05)
                    return await s.request(request(REQ, 2, 77), dest=server.port)

                sent, got_replies = await asyncio.gather(s.send_repeat(msg, half, dest=port),
                                                         asks())
                assert sent == half and items(got_replies) == [(77, 0), (77, 1)]
                seqs = await s.send_batch([msg] * (n - half), dest=port)
                # the messages framed for a send that waited keep their numbers:
                # no gap between the rounds (the request took first + half)
                assert seqs == list(range(first + half + 1, first + n + 1))
                assert s.next_seq == first + n + 1

            async def reader() -> None:
                nonlocal got
                await asyncio.sleep(0.5)  # the peer stalls: the sender must wait
                stalled = s.send_waits
                assert 0 < stalled < 100  # waited, with pauses: not spun
                while got < n:
                    try:
                        data = peer.recv(65536)
                    except BlockingIOError:
                        fut = loop.create_future()
                        loop.add_reader(peer.fileno(), resolve, fut)
                        await fut
                        loop.remove_reader(peer.fileno())
                        continue
                    off = 0
                    while off + 16 <= len(data):
                        ln, seq = struct.unpack_from("=I4xI", data, off)
                        seen.append(seq)
                        got += 1
                        off += (ln + 3) & ~3

            seen: list[int] = []
            first = s.next_seq
            await asyncio.gather(ticker(), sender(), reader())
            assert got == n
            assert seen == [*range(first, first + n // 2), *range(first + n // 2 + 1, first + n + 1)]
            assert ticks >= 10  # the loop kept running while the sender waited

    try:
        arun(main())
    finally:
        peer.close()


def test_requests_to_a_full_peer_wait_without_spinning_and_close_ends_them(arun: Run) -> None:
    silent = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
    silent.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, 4096)
    silent.bind((0, 0))
    port = silent.getsockname()[0]

    async def main() -> None:
        s = nlfast.aio.Socket(USERSOCK, dgram_size=512)
        msg = Message(0x40, header=b"z" * 100)
        waits = [asyncio.ensure_future(s.request(msg, dest=port, timeout=None))
                 for _ in range(2000)]
        await asyncio.sleep(0.5)  # the peer never reads: the sends wait
        assert 0 < s.send_waits < 100  # pauses that grow, not a spin
        assert not any(t.done() for t in waits)
        s.close()
        for t in waits:
            with pytest.raises(nlfast.ClosedError):
                await t

    try:
        arun(main())
    finally:
        silent.close()


# -- misuse ------------------------------------------------------------------------------


def test_misuse_is_named(arun: Run) -> None:
    with pytest.raises(RuntimeError):
        nlfast.aio.Socket(USERSOCK)  # no running loop

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            with pytest.raises(TypeError, match="takes a Message"):
                await s.request(b"\0" * 16)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="window"):
                await s.request_many([], window=0)
            with pytest.raises(ValueError, match="timeout"):
                await s.request(Message(0x10), timeout=-1)
            assert "nlfast.aio.Socket" in repr(s)
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                await s.recv(timeout=0)
            assert time.monotonic() - start < 5

    arun(main())


# -- many kinds of call at once, some cancelled: hypothesis picks the mix --------------

OPS = st.one_of(
    st.tuples(st.just("req"), st.integers(0, 6)),
    st.tuples(st.just("dump"), st.integers(0, 40)),
    st.tuples(st.just("err"), st.just(0)),
    st.tuples(st.just("events"), st.integers(1, 8)),
    st.tuples(st.just("many"), st.integers(1, 12)),
)
PLANS = st.lists(st.tuples(OPS, st.integers(0, 4), st.one_of(st.none(), st.integers(0, 6))),
                 min_size=1, max_size=12)
# fewer examples for each of the many runs of a mutation run (make mutation)
MODEL_EXAMPLES = 8 if os.environ.get("NLFAST_MUTATION") == "1" else 30


@settings(max_examples=MODEL_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=PLANS, kind=st.sampled_from(["asyncio", "uvloop"]))
def test_mixed_concurrent_calls_match_the_model(server: Server, plan: Any, kind: str) -> None:
    """Each op starts after some ticks, and may be cancelled after some more;
    whatever is not cancelled gets exactly its own answer, and the socket
    stays right for the next calls."""
    if kind == "uvloop":
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()

    async def op(s: nlfast.aio.Socket, what: str, n: int, tag: int) -> None:
        port = server.port
        if what == "req":
            assert items(await s.request(request(REQ, n, tag), dest=port)) == [
                (tag, i) for i in range(n)]
        elif what == "dump":
            rows = [m async for m in s.dump_messages(request(DUMP, n, tag), dest=port)]
            assert items(rows) == [(tag, i) for i in range(n)]
        elif what == "err":
            with pytest.raises(nlfast.NetlinkError) as ei:
                await s.request(request(ERR, 0, tag), dest=port)
            assert ei.value.code == 2
        elif what == "events":
            assert await s.request(request(EVENTS, n, tag), dest=port) == []
        else:
            res = await s.request_many([request(REQ, 1, tag + k) for k in range(n)],
                                       dest=port, window=3)
            assert [items(r) for r in res] == [[(tag + k, 0)] for k in range(n)]

    async def main() -> None:
        async with nlfast.aio.Socket(USERSOCK) as s:
            tasks = []
            for i, ((what, n), start, cancel) in enumerate(plan):
                async def run(what: str = what, n: int = n, tag: int = 1000 * (i + 1),
                              start: int = start) -> None:
                    for _ in range(start):
                        await asyncio.sleep(0)
                    await op(s, what, n, tag)

                tasks.append((asyncio.ensure_future(run()), cancel))
            for tick in range(8):
                for t, cancel in tasks:
                    if cancel == tick:
                        t.cancel()
                await asyncio.sleep(0)
            for t, cancel in tasks:
                if cancel is None:
                    await t  # an assertion inside fails the example
                else:
                    with contextlib.suppress(asyncio.CancelledError):
                        await t
            # events of the events ops not cancelled: all there, in order per tag
            want = {1000 * (i + 1): n for i, ((what, n), _, cancel) in enumerate(plan)
                    if what == "events" and cancel is None}
            seen: dict[int, list[int]] = {}
            while True:
                try:
                    b = await s.recv(timeout=0.05)
                except TimeoutError:
                    break
                for m in b:
                    tag, k = ITEM.unpack_from(m.payload)
                    seen.setdefault(tag, []).append(k)
            for tag, n in want.items():
                assert seen.get(tag) == list(range(n))
            await check_usable(s, server, 99000)

    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()


def test_open_close_cycles_leak_no_descriptor(arun: Run) -> None:
    silent = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
    silent.bind((0, 0))
    port = silent.getsockname()[0]

    async def main() -> None:
        for _ in range(5):  # warm up
            async with nlfast.aio.Socket(USERSOCK) as s:
                await s.send(Message(0x40), dest=s.portid)
                assert len(await s.recv(timeout=1)) == 1
        before = fd_count()
        for _ in range(200):
            s = nlfast.aio.Socket(USERSOCK)
            w = asyncio.ensure_future(s.request(Message(0x40), dest=port))  # never answered
            await asyncio.sleep(0)
            s.close()
            with pytest.raises(nlfast.ClosedError):
                await w
        assert fd_count() == before

    try:
        arun(main())
    finally:
        silent.close()
