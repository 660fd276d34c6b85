"""Loading and unloading: a taken protocol, and 100 load/unload cycles with
sockets open and a dump in progress.  Runs last (zz): it unloads the module."""

from __future__ import annotations

import gc
import subprocess

import pytest

import nlfast
from nlfast import attrs
from nlfast import family as F

from .conftest import KO, kmsg_mark, kmsg_since, msg


def sh(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True)


def loaded() -> bool:
    return "nlfast_family" in open("/proc/modules").read()


def test_second_load_on_a_taken_protocol_fails_cleanly() -> None:
    gc.collect()
    assert loaded()
    assert sh("rmmod", "nlfast_family").returncode == 0
    try:
        for proto, why in ((0, "already taken"), (16, "already taken"), (32, "out of range")):
            mark = kmsg_mark()
            r = sh("insmod", str(KO), f"proto={proto}")
            assert r.returncode != 0
            assert why in kmsg_since(mark)
            assert not loaded()
        # a free number works, and the family answers there
        assert sh("insmod", str(KO), "proto=29").returncode == 0
        with nlfast.Socket(29) as s:
            assert s.request(msg(F.NLFAM_MSG_SINK)) == []
        assert sh("rmmod", "nlfast_family").returncode == 0
        with pytest.raises(OSError):
            nlfast.Socket(29)
    finally:
        if not loaded():
            assert sh("insmod", str(KO)).returncode == 0


def test_load_unload_cycles_with_sockets_and_dump() -> None:
    gc.collect()
    for i in range(100):
        if not loaded():
            r = sh("insmod", str(KO))
            assert r.returncode == 0, r.stderr
        s = nlfast.Socket(F.PROTO_DEFAULT, groups=[F.NLFAM_GRP_HELLO, F.NLFAM_GRP_FLOOD])
        d = nlfast.Socket(F.PROTO_DEFAULT, rx_buffers=1)
        it = d.dump(msg(F.NLFAM_MSG_DUMP, [attrs.u32(F.NLFAM_A_COUNT, 100000),
                                           attrs.u32(F.NLFAM_A_SIZE, 64)]))
        next(it)  # a dump in progress
        s.request(msg(F.NLFAM_MSG_MCAST_HELLO))
        # open sockets pin the module: unloading now is refused, cleanly
        r = sh("rmmod", "nlfast_family")
        assert r.returncode != 0 and loaded()
        if i % 2:
            it.close()
        s.close()
        d.close()
        del it
        gc.collect()
        r = sh("rmmod", "nlfast_family")
        assert r.returncode == 0, r.stderr
        assert not loaded()
    assert sh("insmod", str(KO)).returncode == 0
