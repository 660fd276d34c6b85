"""A Batch read column by column, row by row and attribute by attribute,
over messages a USERSOCK socket sent to itself (the kernel delivers them
as datagrams; what came back is checked field by field)."""

from __future__ import annotations

import time

import pytest

import nlfast
from nlfast import Message, attrs, rtnl
from nlfast._shim import ffi

from .conftest import Netns

T = 0x40
HDR = b"\x07\x00\x00\x00"  # a 4-byte family header before the attributes


def _sent(s: nlfast.Socket) -> list[Message]:
    msgs = []
    for i in range(5):
        kids = [attrs.u32(1, 100 + i), attrs.u16(2, i), attrs.binary(4, bytes([i]) * (i + 1))]
        if i != 2:
            kids.append(attrs.string(3, f"name{i}"))
        msgs.append(Message(T + (i % 2), flags=1 | (i << 8), header=HDR, attrs=kids,
                            portid=1000 + i))
    s.send_batch(msgs, dest=s.portid)
    return msgs


def _recv_all(s: nlfast.Socket, n: int) -> nlfast.Batch:
    b = s.recv(timeout=2)
    assert len(b) == n, "send_batch to itself arrives in one receive"
    return b


def test_columns_rows_and_views() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        msgs = _sent(s)
        b = _recv_all(s, 5)
        assert bool(b) and repr(b) == "<nlfast.Batch 5 messages>"
        assert b.protocol == nlfast.NETLINK_USERSOCK
        assert list(b.types) == [T, T + 1, T, T + 1, T]
        assert list(b.flags) == [1 | (i << 8) for i in range(5)]
        assert list(b.portids) == [1000 + i for i in range(5)]
        assert list(b.errors) == [0] * 5
        assert list(b.lengths) == [m.wire_size() for m in msgs]
        seqs = list(b.seqs)
        assert seqs == list(range(seqs[0], seqs[0] + 5))
        offs = list(b.offsets)
        for i, m in enumerate(msgs):
            raw = bytes(b.buffer[offs[i]: offs[i] + b.lengths[i]])
            assert raw == m.encode(seq=seqs[i])
            assert bytes(b[i].data()) == raw and bytes(b[i - 5].data()) == raw
        assert [v.seq for v in b] == seqs
        assert [v.protocol for v in b] == [nlfast.NETLINK_USERSOCK] * 5
        assert b[1].protocol == nlfast.NETLINK_USERSOCK and b[1].attrs(4).u32(1) == 101
        for bad in (5, -6):
            with pytest.raises(IndexError, match="out of range"):
                b[bad]
        assert b.count(T) == 3 and b.count(T + 1) == 2 and b.count(T + 2) == 0
        assert b.datagrams >= 1 and b.overruns == 0 and b.truncated == 0
        assert not b.interrupted
        assert [b.sender(i) for i in range(5)] == [s.portid] * 5
        assert [b.group(i) for i in (0, -1)] == [0, 0]
        for bad in (5, -6):
            with pytest.raises(IndexError, match="out of range"):
                b.sender(bad)


def test_sub_batches_and_copies() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        msgs = _sent(s)
        b = _recv_all(s, 5)
        seqs = list(b.seqs)
        sub = b.sub(b.start + 1, b.start + 4)
        assert len(sub) == 3 and list(sub.seqs) == seqs[1:4]
        assert [v.seq for v in sub] == seqs[1:4] and sub[-1].seq == seqs[3]
        assert not b.sub(b.start + 2, b.start + 2)
        assert sub.attr_uint(1, 4).tolist() == [101, 102, 103]
        assert sub.attr_gaps(1, 101, 4) == (0, 104, 0)
        assert b.sub(b.start + 1, b.start + 3).attr_gaps(1, 101, 4) == (0, 103, 0)
        row = b.copy_row(b.start + 3)
        assert bytes(row.data()) == msgs[3].encode(seq=seqs[3])
        assert row.protocol == nlfast.NETLINK_USERSOCK
        rows = b.copy_rows(b.start + 1, 4)
        assert [bytes(r.data()) for r in rows] == \
            [m.encode(seq=q) for m, q in zip(msgs[1:], seqs[1:])]
        assert [r.protocol for r in rows] == [nlfast.NETLINK_USERSOCK] * 4
        with pytest.raises(ValueError, match="whole batch"):
            sub.seq_gaps(T, seqs[1])


def test_attribute_columns() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        _sent(s)
        b = _recv_all(s, 5)
        assert b.attr_uint(1, 4).tolist() == [100, 101, 102, 103, 104]
        assert b.attr_uint(2, 4).tolist() == [0, 1, 2, 3, 4]
        assert b.attr_uint(9, 4, default=7).tolist() == [7] * 5
        assert b.attr_uint(9, 4).tolist() == [0] * 5
        assert b.attr_bytes(4, 4) == [bytes([i]) * (i + 1) for i in range(5)]
        assert b.attr_bytes(9, 4) == [None] * 5
        assert b.attr_str(3, 4) == ["name0", "name1", None, "name3", "name4"]
        assert b.attr_str(3, 4) == ["name0", "name1", None, "name3", "name4"]  # scratch reused
        assert b.sub(b.start, b.start + 2).attr_str(3, 4) == ["name0", "name1"]
        assert b.sub(b.start, b.start).attr_str(3, 4) == []
        offs, lens = b.attr_column(4, 4)
        assert lens.tolist() == [1, 2, 3, 4, 5]
        assert [bytes(b.buffer[o: o + n]) for o, n in zip(offs, lens)] == b.attr_bytes(4, 4)
        assert b.attr_gaps(1, 100, 4) == (0, 105, 0)
        assert b.attr_gaps(1, 98, 4) == (2, 105, 0)
        assert b.attr_gaps(3, 0, 4)[2] == 5  # a string attribute is not a counter
        seqs = list(b.seqs)
        assert b.seq_gaps(T, seqs[0]) == (2, seqs[4] + 1)
        assert b.seq_gaps(T + 1, seqs[1]) == (1, seqs[3] + 1)


def test_rows_across_datagrams() -> None:
    # two datagrams of two messages each, read by one receive
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        msgs = [Message(T, attrs=[attrs.u64(1, 2**64 - 1 - i), attrs.binary(2, b"d" * (4 + i))])
                for i in range(4)]
        s.send_batch(msgs[:2], dest=s.portid)
        s.send_batch(msgs[2:], dest=s.portid)
        b = s.recv(timeout=2)
        if len(b) < 4:
            b2 = s.recv(timeout=2)
            pytest.fail(f"one receive brought {len(b)} of 4 messages, then {len(b2)}")
        assert b.start == 0 and b.datagrams == 2
        seqs = list(b.seqs)
        want = [m.encode(seq=q) for m, q in zip(msgs, seqs)]
        for first in range(4):
            for n in range(1, 5 - first):
                rows = b.copy_rows(first, n)
                assert [bytes(r.data()) for r in rows] == want[first:first + n], (first, n)
        assert b.attr_uint(1).tolist() == [2**64 - 1 - i for i in range(4)]
        sub = b.sub(1, 3)
        assert sub.attr_uint(1).tolist() == [2**64 - 2, 2**64 - 3]
        assert b.sub(2, 2).attr_uint(1).tolist() == []
        assert b.attr_bytes(2) == [b"d" * (4 + i) for i in range(4)]
        assert sub.attr_bytes(2) == [b"d" * 5, b"d" * 6]
        offs, lens = sub.attr_column(2)
        assert lens.tolist() == [5, 6] and offs.tolist() == b.attr_column(2)[0].tolist()[1:3]
        assert [x.tolist() for x in b.sub(3, 3).attr_column(2)] == [[], []]
        assert b.sub(3, 3).attr_bytes(2) == []
        assert sub.attr_gaps(2, 0) == (0, 0, 2)  # 5- and 6-byte payloads: not counters
        assert sub.attr_gaps(1, 0)[2] == 0
        assert [sub.sender(i) for i in (0, 1, -1, -2)] == [s.portid] * 4
        for bad in (2, -3):
            with pytest.raises(IndexError, match=r"^batch index out of range$"):
                sub.sender(bad)
            with pytest.raises(IndexError, match=r"^batch index out of range$"):
                sub[bad]
        for part in (b.sub(0, 3), b.sub(1, 4)):
            with pytest.raises(ValueError, match=r"^seq_gaps works on a whole batch as received$"):
                part.seq_gaps(T, seqs[0])
        assert b.seq_gaps(T, seqs[0]) == (0, seqs[3] + 1)


def test_attr_str_when_strings_fill_the_receive() -> None:
    # four datagrams, each nearly all one string: the gathered strings take
    # almost the whole arena (the scratch buffer must hold them all)
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, rx_buffers=4, rx_bufsize=4096) as s:
        for i in range(4):
            s.send(Message(T, attrs=[attrs.string(3, chr(97 + i) * 4070)]), dest=s.portid)
        b = s.recv(timeout=2)
        assert len(b) == 4 and b.datagrams == 4
        assert b.attr_str(3) == [chr(97 + i) * 4070 for i in range(4)]
        assert b.sub(1, 3).attr_str(3) == ["b" * 4070, "c" * 4070]


def test_attr_str_replaces_bad_utf8() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        s.send_batch([Message(T, attrs=[attrs.binary(3, b"a\xffb\0")]),
                      Message(T, attrs=[attrs.binary(3, b"ok\0")])], dest=s.portid)
        b = s.recv(timeout=2)
        assert b.attr_str(3) == ["a\ufffdb", "ok"]


def test_a_dump_request_returns_every_reply_as_its_own_view() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        req = Message(rtnl.RTM_GETROUTE, flags=0x301, header=rtnl.rtmsg(family=rtnl.AF_INET))
        dumped = [bytes(m.data()) for m in s.dump_messages(req)]
        assert len(dumped) > 1, "the host's IPv4 tables hold several routes"
        got = s.request(req)
        strip = [d[:8] + d[12:] for d in dumped]  # all but nlmsg_seq
        assert [bytes(v.data())[:8] + bytes(v.data())[12:] for v in got] == strip
        assert len({v.seq for v in got}) == 1 and all(v.protocol == 0 for v in got)


def test_scan_fills_the_struct_it_is_given() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        s.send_batch([Message(T), Message(2, header=b"\xea\xff\xff\xff" + bytes(16))],
                     dest=s.portid)
        b = s.recv(timeout=2)
        out = ffi.new("struct nlf_scan *")
        assert b.scan(out) is out
        assert (out.n_error, out.n_ack, out.term) == (1, 0, 1) and b.scan().n_error == 1


def test_queued_events_keep_their_protocol(netns: Netns) -> None:
    # link events that arrive while a request waits are queued (copied out
    # of the receive): read later, they still know their protocol, so
    # attrs() finds the ifinfomsg by itself
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                       groups=[rtnl.RTNLGRP_LINK]) as s:
        netns.ip("link", "add", "bq0", "type", "veth", "peer", "name", "bq1")
        time.sleep(0.05)
        s.request(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1)))
        assert s.events_queued >= 2
        events = list(s.events(timeout=0.2))
        assert all(m.protocol == nlfast.NETLINK_ROUTE for m in events)
        assert {"bq0", "bq1"} <= {m.attrs().str(rtnl.IFLA_IFNAME) for m in events}


def test_a_truncated_datagram_while_a_request_waits_is_reported() -> None:
    # the receive routed for the waiting request holds no whole message
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, rx_bufsize=256) as s, \
            nlfast.Socket(nlfast.NETLINK_USERSOCK) as peer:
        peer.send(Message(T, attrs=[attrs.binary(1, b"q" * 1000)]), dest=s.portid)
        with pytest.raises(nlfast.TruncatedError, match="raise rx_bufsize") as ei:
            s.request(Message(T + 1), dest=peer.portid, timeout=0.5)
        assert len(ei.value.batch) == 0 and s.truncated == 1
        assert peer.recv(timeout=2).types.tolist() == [T + 1]  # the request went
