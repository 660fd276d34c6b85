"""Flood and dump of 100k messages: all received (or ENOBUFS reported), in order."""

from __future__ import annotations

import errno
import resource

import pytest

import nlfast
from nlfast import attrs
from nlfast import family as F

from .conftest import fam, msg

N = 100_000


def flood(sender: nlfast.Socket, count: int, size: int = 0, group: int = F.NLFAM_GRP_FLOOD) -> int:
    """Asks for a flood; returns the COUNT sent, from the module's reply."""
    (reply,) = sender.request(msg(F.NLFAM_MSG_FLOOD, [attrs.u32(F.NLFAM_A_COUNT, count),
                                                      attrs.u32(F.NLFAM_A_SIZE, size),
                                                      attrs.u32(F.NLFAM_A_GROUP, group)]),
                              timeout=300)
    assert reply.type == F.NLFAM_MSG_FLOOD
    return reply.attrs().u32(F.NLFAM_A_COUNT)


def test_flood_all_received_with_room() -> None:
    # a receive buffer that holds the whole flood: nothing may be lost
    with fam(groups=[F.NLFAM_GRP_FLOOD], rcvbuf=256 << 20, rx_buffers=64) as rx, fam() as tx:
        assert flood(tx, N, 8) == N
        got, expect, gaps = 0, 0, 0
        while got < N:
            b = rx.recv(timeout=10)
            idx = b.attr_uint(F.NLFAM_A_INDEX)
            for i in idx:
                gaps += i != expect
                expect = i + 1
            got += len(b)
        assert (got, gaps, expect) == (N, 0, N)
        with pytest.raises(TimeoutError):
            rx.recv(timeout=0.2)


def test_flood_overrun_reported_to_receiver() -> None:
    # a small buffer nobody reads during the flood: losses must be reported;
    # the flood ends once its only listener took nothing for a second
    with fam(groups=[F.NLFAM_GRP_FLOOD], rcvbuf=64 << 10) as rx, fam() as tx:
        sent = flood(tx, N, 64)
        got = 0
        with pytest.raises(nlfast.OverrunError) as ei:
            while True:
                got += len(rx.recv(timeout=2))
        assert ei.value.drops > 0
        # what arrived plus what the kernel says it dropped is the whole flood
        while True:
            try:
                got += len(rx.recv(timeout=0.5))
            except TimeoutError:
                break
        assert got + rx.drops() == sent
        assert got < sent <= N


def test_flood_overrun_counted_mode() -> None:
    with fam(groups=[F.NLFAM_GRP_FLOOD], rcvbuf=64 << 10, overrun="count") as rx, fam() as tx:
        sent = flood(tx, 20000, 64)
        got = 0
        while True:
            try:
                got += len(rx.recv(timeout=0.5))
            except TimeoutError:
                break
        assert rx.overruns >= 1
        assert got + rx.drops() == sent


def test_flood_with_no_listener_is_cheap_and_succeeds() -> None:
    with fam() as tx:
        # would take ages if done; nobody subscribes, so nothing is sent
        assert flood(tx, F.NLFAM_FLOOD_MAX_COUNT, 0, F.NLFAM_GRP_SPARE) == 0


def test_dump_100k_in_order_complete_bounded_memory() -> None:
    size = 32
    with fam(rx_buffers=32) as s:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        expect, n, bad = 0, 0, 0
        for b in s.dump(msg(F.NLFAM_MSG_DUMP, [attrs.u32(F.NLFAM_A_COUNT, N),
                                               attrs.u32(F.NLFAM_A_SIZE, size)]), timeout=60):
            assert b.count(F.NLFAM_MSG_DUMP) == len(b)
            idx = b.attr_uint(F.NLFAM_A_INDEX)
            for i in idx:
                bad += i != expect
                expect = i + 1
            if n == 0:
                first = b[0].attrs().bytes(F.NLFAM_A_DATA)
                assert first == bytes((i & 0xFF) for i in range(size))
            n += len(b)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    assert (n, bad, expect) == (N, 0, N)
    assert grown < 32 * 1024  # KiB: streaming, not accumulating


def test_dump_interrupted_by_reset_is_flagged() -> None:
    with fam(rx_buffers=1, rx_bufsize=32768) as s, fam() as admin:
        it = s.dump(msg(F.NLFAM_MSG_DUMP, [attrs.u32(F.NLFAM_A_COUNT, 20000)]))
        next(it)
        admin.request(msg(F.NLFAM_MSG_RESET))
        with pytest.raises(nlfast.DumpInterruptedError):
            for _ in it:
                pass


def test_dump_bounds(sock: nlfast.Socket) -> None:
    with pytest.raises(nlfast.NetlinkError) as ei:
        list(sock.dump(msg(F.NLFAM_MSG_DUMP, [attrs.u32(F.NLFAM_A_COUNT, 0)])))
    assert ei.value.code == errno.ERANGE and "COUNT" in ei.value.msg
