"""nlfast.aio against the module: many coroutines on one socket, a dump
interleaved with requests, the module's multicast kept as events, and the
CLI's monitor (which runs on nlfast.aio)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

import nlfast
from nlfast import aio, attrs
from nlfast import family as F

from .conftest import PROTO, msg


def echo(i: int) -> nlfast.Message:
    return msg(F.NLFAM_MSG_ECHO, [attrs.binary(F.NLFAM_A_DATA, i.to_bytes(4, "little"))])


def test_many_coroutines_share_one_socket_with_a_dump_and_events() -> None:
    async def main() -> None:
        async with aio.Socket(PROTO, groups=[F.NLFAM_GRP_HELLO]) as s:
            async def one(i: int) -> int:
                (r,) = await s.request(echo(i), ack=False)
                return int.from_bytes(r.attrs().bytes(F.NLFAM_A_DATA), "little")

            async def dump() -> list[int]:
                got: list[int] = []
                q = msg(F.NLFAM_MSG_DUMP, [attrs.u32(F.NLFAM_A_COUNT, 3000),
                                           attrs.u32(F.NLFAM_A_SIZE, 8)])
                async for b in s.dump(q, timeout=60):
                    got += b.attr_uint(F.NLFAM_A_INDEX).tolist()
                return got

            d = asyncio.ensure_future(dump())
            await s.request(msg(F.NLFAM_MSG_MCAST_HELLO))  # to our group, kept as an event
            answers = await asyncio.gather(*(one(i) for i in range(500)))
            assert answers == list(range(500))
            assert await d == list(range(3000))
            ev = [m async for m in s.events(timeout=1)]
            assert [m.attrs().str(F.NLFAM_A_TEXT) for m in ev] == [F.NLFAM_HELLO_MCAST]

    asyncio.run(main())


def test_a_cancelled_request_leaves_the_socket_usable() -> None:
    async def main() -> None:
        async with aio.Socket(PROTO) as s:
            t = asyncio.ensure_future(s.request(echo(1), ack=False))
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
            (r,) = await s.request(echo(2), ack=False)
            assert r.attrs().bytes(F.NLFAM_A_DATA) == (2).to_bytes(4, "little")

    asyncio.run(main())


def test_monitor_on_aio_prints_the_module_multicast() -> None:
    mon = subprocess.Popen([sys.executable, "-m", "nlfast", "monitor", "--proto", "family",
                            "hello", "--count", "1", "--timeout", "20", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert mon.stderr is not None
    assert "listening" in mon.stderr.readline()
    with nlfast.Socket(PROTO) as s:
        s.request(msg(F.NLFAM_MSG_MCAST_HELLO))
    out, err = mon.communicate(timeout=30)
    assert mon.returncode == 0, err
    assert F.NLFAM_HELLO_MCAST in out
