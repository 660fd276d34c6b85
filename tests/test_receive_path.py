"""The receive path: who owns received memory, and who gets which message.

Each test here reproduces a defect of the first landing (issue 8) against a
real peer: rtnetlink in a private namespace, or a second USERSOCK socket.
"""

from __future__ import annotations

import gc
import os
import socket as pysocket
import struct
import threading
import time
from typing import Any

import pytest

import nlfast
from nlfast import Message, attrs, rtnl

from .conftest import Netns

USERSOCK = nlfast.NETLINK_USERSOCK
GETLINK = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg())


def getlink(index: int) -> Message:
    return Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=index))


def names(batches: Any) -> list[str]:
    out: list[str] = []
    for b in batches:
        out += [n for n in b.attr_str(rtnl.IFLA_IFNAME, rtnl.IFINFOMSG_LEN) if n]
    return out


# -- 1, 2: views own what they point into -------------------------------------------


def test_view_kept_past_close_and_gc_reads_its_own_bytes() -> None:
    with nlfast.Socket(USERSOCK) as s:
        s.send(Message(0x40, attrs=[attrs.binary(1, b"kept-bytes" * 10)]), dest=s.portid)
        batch = s.recv(timeout=5)
        payload = batch[0].payload
        attr = batch[0].attrs().get(1)
        types = batch.types
    del batch, s
    gc.collect()
    junk = [bytearray(b"\xee" * 65536) for _ in range(800)]  # ~50 MiB over freed memory
    assert bytes(attr) == b"kept-bytes" * 10  # type: ignore[arg-type]
    assert b"kept-bytes" in bytes(payload)
    assert types[0] == 0x40
    del junk


def test_view_kept_across_the_next_receive_keeps_its_bytes() -> None:
    with nlfast.Socket(USERSOCK) as s:
        s.send(Message(0x40, attrs=[attrs.string(1, "first")]), dest=s.portid)
        first = s.recv(timeout=5)
        m = first[0]
        col = first.attr_column(1)
        s.send(Message(0x41, attrs=[attrs.string(1, "second")]), dest=s.portid)
        second = s.recv(timeout=5)
        assert second[0].attrs().str(1) == "second"
        assert (m.type, m.attrs().str(1)) == (0x40, "first")
        off, ln = col[0][0], col[1][0]
        assert bytes(first.buffer[off : off + ln]) == b"first\0"
        assert first.types.tolist() == [0x40]


def test_receive_memory_is_reused_once_released() -> None:
    with nlfast.Socket(USERSOCK) as s:
        for i in range(200):
            s.send(Message(0x40, attrs=[attrs.u32(1, i)]), dest=s.portid)
            b = s.recv(timeout=5)
            assert b[0].attrs().u32(1) == i
        assert len(s._t.pool) <= 4  # a few slabs, not one per receive


# -- 3: a dump yields only its own rows ------------------------------------------------


def test_dump_skips_an_unread_reply(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
        s.send(getlink(1))  # a reply nobody reads
        seq = s.next_seq
        rows = [(m.type, m.seq) for b in s.dump(GETLINK) for m in b]
        assert rows == [(rtnl.RTM_NEWLINK, seq)]
        left = [m.seq for m in s.events(timeout=0.2)]
        assert left == [seq - 1]  # the reply, for recv()


def test_dump_ends_at_its_own_done_only() -> None:
    peer = _peer()
    port = peer.getsockname()[0]
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        done = struct.pack("=i", 0)

        def serve() -> None:
            peer.recv(4096)
            to = (s.portid, 0)
            peer.sendto(_msg(0x30, 2, seq + 7, b"other") + _msg(3, 2, seq + 7, done), to)
            for i in range(3):
                peer.sendto(_msg(0x31, 2, seq, struct.pack("=I", i)), to)
            peer.sendto(_msg(0x32, 0, 0, b"event") + _msg(3, 2, seq, done), to)

        th = threading.Thread(target=serve)
        th.start()
        rows = [(m.type, m.seq) for b in s.dump(Message(0x31), dest=port) for m in b]
        th.join()
        assert rows == [(0x31, seq)] * 3
        assert [m.type for m in s.events(timeout=0.2)] == [0x30, 3, 0x32]
    peer.close()


def test_dump_keeps_multicast_events_for_later(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                       groups=[rtnl.RTNLGRP_LINK]) as s:
        netns.ip("link", "add", "ev0", "type", "veth", "peer", "name", "ev1")
        time.sleep(0.05)
        seq = s.next_seq
        got = [(m.type, m.seq) for b in s.dump(GETLINK) for m in b]
        assert len(got) == 3 and all(g == (rtnl.RTM_NEWLINK, seq) for g in got)
        events = list(s.events(timeout=0.2))
        assert events and all(m.type == rtnl.RTM_NEWLINK and m.seq != seq for m in events)
        assert "ev0" in {m.attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME) for m in events}


# -- 4: events during a request are kept ------------------------------------------------


def test_events_arriving_during_a_request_are_delivered_later(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                       groups=[rtnl.RTNLGRP_LINK]) as s:
        netns.ip("link", "add", "rq0", "type", "veth", "peer", "name", "rq1")
        time.sleep(0.05)
        (reply,) = s.request(getlink(1))
        assert reply.attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME) == "lo"
        assert s.events_queued >= 2
        got = {m.attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME) for m in s.events(timeout=0.2)}
        assert {"rq0", "rq1"} <= got


# -- 5, 6: requests inside a dump, and a dump left early -------------------------------------


def test_request_inside_a_dump_loop_loses_nothing(big_netns: Netns) -> None:
    want = len(big_netns.ip_json("link", "show"))
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:
        seen: list[str] = []
        looked_up = 0
        for batch in s.dump(GETLINK):
            seen += names([batch])
            (lo,) = s.request(getlink(1))
            assert lo.attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME) == "lo"
            looked_up += 1
        assert len(seen) == want == len(set(seen))
        assert looked_up >= 2  # the dump took several receives


def test_a_dump_left_early_does_not_break_the_next(big_netns: Netns) -> None:
    want = len(big_netns.ip_json("link", "show"))
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:
        for _ in range(3):
            for _batch in s.dump(GETLINK):
                break  # the generator is closed here, its dump half-way
            assert len(names(s.dump(GETLINK))) == want
        assert s.stale_dropped > 0
        (lo,) = s.request(getlink(1))
        assert lo.type == rtnl.RTM_NEWLINK


def test_dump_after_close_raises_closed(big_netns: Netns) -> None:
    s = nlfast.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name)
    it = s.dump(GETLINK)
    next(it)
    s.close()
    with pytest.raises(nlfast.ClosedError):
        next(it)


# -- late replies of abandoned requests -----------------------------------------------------


def _peer() -> pysocket.socket:
    p = pysocket.socket(pysocket.AF_NETLINK, pysocket.SOCK_RAW, USERSOCK)
    p.bind((0, 0))
    return p


def _msg(typ: int, flags: int, seq: int, body: bytes = b"") -> bytes:
    """One message, padded to 4 bytes (so messages can be concatenated)."""
    pad = b"\0" * (-len(body) % 4)
    return struct.pack("=IHHII", 16 + len(body), typ, flags, seq, 0) + body + pad


def test_late_reply_of_a_timed_out_request_is_dropped_and_counted() -> None:
    peer = _peer()
    port = peer.getsockname()[0]
    with nlfast.Socket(USERSOCK) as s:
        with pytest.raises(TimeoutError):
            s.request(Message(0x50), dest=port, timeout=0.05)
        req = peer.recv(4096)
        seq = struct.unpack_from("=I", req, 8)[0]
        peer.sendto(_msg(0x50, 0, seq, b"late") + _msg(2, 0, seq, bytes(4) + req[:16]),
                    (s.portid, 0))
        peer.sendto(_msg(0x51, 0, 0, b"unsolicited"), (s.portid, 0))
        b = s.recv(timeout=5)
        assert [m.type for m in b] == [0x51]
        assert s.stale_dropped == 2
    peer.close()


def test_replies_are_matched_by_sender_port_too() -> None:
    a, b = _peer(), _peer()
    with nlfast.Socket(USERSOCK) as s:
        seq = s.next_seq
        th = threading.Thread(target=lambda: (
            a.recv(4096),
            b.sendto(_msg(0x60, 0, seq, b"impostor"), (s.portid, 0)),
            a.sendto(_msg(0x60, 0, seq, b"real"), (s.portid, 0)),
        ))
        th.start()
        (r,) = s.request(Message(0x60), dest=a.getsockname()[0], ack=False)
        th.join()
        assert bytes(r.payload) == b"real"
        (ev,) = list(s.events(timeout=0.2))
        assert bytes(ev.payload) == b"impostor"
    a.close()
    b.close()


def test_event_queue_overflow_is_counted_and_raised() -> None:
    peer = _peer()
    port = peer.getsockname()[0]
    with nlfast.Socket(USERSOCK, events_max=10) as s:
        seq = s.next_seq

        def serve() -> None:
            peer.recv(4096)
            for i in range(50):
                peer.sendto(_msg(0x70, 0, 0, struct.pack("=I", i)), (s.portid, 0))
            peer.sendto(_msg(0x71, 0, seq), (s.portid, 0))

        th = threading.Thread(target=serve)
        th.start()
        s.request(Message(0x71), dest=port, ack=False)
        th.join()
        assert s.events_dropped == 40
        with pytest.raises(nlfast.OverrunError, match="event queue overflow"):
            s.recv(timeout=1)
        kept = [struct.unpack("=I", m.payload)[0] for m in s.events(timeout=0.1)]
        assert kept == list(range(10))
    peer.close()


# -- 7: threads, close from another thread, fork ----------------------------------------------


def test_second_thread_gets_a_clear_error_and_close_wakes_the_first() -> None:
    s = nlfast.Socket(USERSOCK)
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            s.recv(timeout=30)
        except BaseException as e:
            errors.append(e)

    th = threading.Thread(target=blocked)
    th.start()
    time.sleep(0.2)
    with pytest.raises(nlfast.ConcurrentUseError, match="another thread"):
        s.request(Message(0x40), dest=s.portid, timeout=1)
    t0 = time.monotonic()
    s.close()
    th.join(5)
    assert not th.is_alive() and time.monotonic() - t0 < 2
    assert len(errors) == 1 and isinstance(errors[0], nlfast.ClosedError)
    with pytest.raises(nlfast.ClosedError):
        s.recv(timeout=0)


def test_socket_used_in_a_forked_child_raises() -> None:
    with nlfast.Socket(USERSOCK) as s:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                s.recv(timeout=0)
                os.write(w, b"no error")
            except nlfast.NlfastError as e:
                os.write(w, str(e).encode())
            finally:
                os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        said = os.read(r, 200).decode()
        os.close(r)
        assert "fork" in said
        s.send(Message(0x40), dest=s.portid)  # the parent's socket still works
        assert s.recv(timeout=5).types.tolist() == [0x40]


# -- misuse at the socket ------------------------------------------------------------------------


def test_socket_misuse_is_named() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        with pytest.raises(TypeError, match="takes a Message, not bytes"):
            s.request(b"\x00" * 16)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="window"):
            s.request_many([getlink(1)], window=0)
        with pytest.raises(OSError, match="multicast group 999"):
            s.subscribe(999)


def test_views_in_reference_cycles_are_collected_safely() -> None:
    # a view's C pointer must hold no buffer export: the garbage collector
    # clears a memoryview found in a cycle, and an exported one crashed it
    class Box:
        pass

    raw = Message(0x40, attrs=[attrs.u32(1, 7)]).encode(seq=3)
    for _ in range(200):
        box = Box()
        v = nlfast.MessageView.from_bytes(raw)
        box.v, box.a, box.c = v, v.attrs(), v.copy()  # type: ignore[attr-defined]
        box.c.attrs()  # type: ignore[attr-defined]
        box.aset = nlfast.AttrSet(memoryview(bytes(v.payload)))  # type: ignore[attr-defined]
        box.me = box  # type: ignore[attr-defined]
        del box, v
    gc.collect()
    assert nlfast.MessageView.from_bytes(raw).attrs().u32(1) == 7
