"""Open/close cycles leak neither file descriptors nor memory."""

from __future__ import annotations

import gc

import nlfast
from nlfast import Message

from .conftest import fd_count


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def cycle(n: int) -> None:
    for _ in range(n):
        with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
            s.send(Message(0x40), dest=s.portid)
            assert len(s.recv(timeout=1)) == 1
        nlfast.Socket(nlfast.NETLINK_ROUTE)  # dropped without close: __del__ closes


def test_open_close_cycles_leak_nothing() -> None:
    cycle(200)  # warm up allocators
    gc.collect()
    fds, rss = fd_count(), rss_kib()
    cycle(1000)
    gc.collect()
    assert fd_count() == fds
    # each socket owns ~1.6 MiB of buffers: a leak of them would show as
    # hundreds of MiB; allow allocator noise
    assert rss_kib() - rss < 8 * 1024
