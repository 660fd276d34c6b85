"""The shim against real kernel families and real peers: extended acks the
kernel writes (with and without NETLINK_CAP_ACK, with a missing-attribute
report), a send arena filled to the byte, and the count send_repeat gives
when sending stops part-way."""

from __future__ import annotations

import errno
import os
import struct

import pytest

import nlfast
from nlfast import Message, attrs, rtnl
from nlfast._shim import lib

# the "netdev" generic netlink family (linux/netdev.h, Linux 6.5+): its
# DEV_GET needs NETDEV_A_DEV_IFINDEX and reports it missing by type
NETDEV_CMD_DEV_GET = 1
NETDEV_A_DEV_IFINDEX = 1


def genlhdr(cmd: int) -> bytes:
    return struct.pack("=BBH", cmd, 1, 0)


def genl_family(s: nlfast.Socket, name: str) -> int:
    (r,) = s.request(Message(lib.GENL_ID_CTRL, header=genlhdr(lib.CTRL_CMD_GETFAMILY),
                             attrs=[attrs.string(lib.CTRL_ATTR_FAMILY_NAME, name)]))
    return r.attrs(lib.GENL_HDRLEN).u16(lib.CTRL_ATTR_FAMILY_ID)


def test_extack_miss_type_from_the_kernel() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        try:
            fam = genl_family(s, "netdev")
        except nlfast.NetlinkError as e:  # pragma: no cover - kernels before 6.5
            pytest.fail(f"this kernel has no netdev genl family ({e}): the test needs one")
        with pytest.raises(nlfast.NetlinkError) as ei:
            s.request(Message(fam, header=genlhdr(NETDEV_CMD_DEV_GET)))
    assert ei.value.code == errno.EINVAL
    assert ei.value.miss_type == NETDEV_A_DEV_IFINDEX
    assert ei.value.miss_nest is None


@pytest.mark.parametrize("cap_ack", [True, False])
def test_extack_with_and_without_cap_ack(cap_ack: bool) -> None:
    # a strict get link with flags set in its header: the kernel names the
    # fault; without CAP_ACK the whole request comes back before the TLVs
    req = Message(rtnl.RTM_GETLINK, flags=lib.NLM_F_REQUEST | lib.NLM_F_ACK,
                  header=rtnl.ifinfomsg(index=1, flags=1),
                  attrs=[attrs.string(rtnl.IFLA_IFNAME, "lo" * 20)])
    raw = req.encode()
    with nlfast.Socket(nlfast.NETLINK_ROUTE, strict_check=True, cap_ack=cap_ack) as s:
        assert s.getsockopt(lib.SOL_NETLINK, lib.NETLINK_CAP_ACK) == int(cap_ack)
        seq = s.send(req)
        (v,) = list(s.recv(timeout=5))
        assert v.type == lib.NLMSG_ERROR and v.seq == seq
        assert bool(v.flags & lib.NLM_F_CAPPED) == cap_ack
        echoed = 16 if cap_ack else len(raw)
        assert len(v.data()) > 16 + 4 + echoed
        echo = bytes(v.data()[20 : 20 + echoed])
        assert echo[4:8] == raw[4:8] and struct.unpack_from("=I", echo, 8)[0] == seq
        assert echo[16:] == raw[16:echoed]
        e = v.to_error()
    assert e.code == errno.EINVAL and e.seq == seq
    assert e.msg == "Invalid values in header for get link request"


def test_ack_without_cap_ack_carries_no_tlvs() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, cap_ack=False) as s:
        seq = s.send(Message(rtnl.RTM_GETLINK, flags=lib.NLM_F_REQUEST | lib.NLM_F_ACK,
                             header=rtnl.ifinfomsg(index=1)))
        views = list(s.recv(timeout=5))
        while views[-1].type != lib.NLMSG_ERROR:
            views += list(s.recv(timeout=5))
        ack = views[-1]
        assert ack.seq == seq and ack.error == 0
        e = ack.to_error()
        assert (e.code, e.msg, e.offset, e.miss_type) == (0, "", None, None)


def _drain(rx: nlfast.Socket) -> list[int]:
    seqs: list[int] = []
    while True:
        try:
            b = rx.recv(timeout=0.2)
        except TimeoutError:
            return seqs
        seqs += list(b.seqs)


def test_message_filling_the_send_arena_exactly() -> None:
    m = Message(0x40, attrs=[attrs.binary(1, b"a" * 20)])  # 40 bytes framed
    size = len(m.encode())
    assert size == 40
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as rx, \
            nlfast.Socket(nlfast.NETLINK_USERSOCK, tx_size=3 * size, dgram_size=3 * size) as tx:
        seqs = tx.send_batch([m] * 3, dest=rx.portid)  # exactly full: one datagram
        assert _drain(rx) == seqs
        seqs = tx.send_batch([m] * 7, dest=rx.portid)  # full twice, then 1
        assert _drain(rx) == seqs == list(range(seqs[0], seqs[0] + 7))
        assert tx.send_repeat(m, 6, dest=rx.portid) == 6
        got = _drain(rx)
        assert got == list(range(seqs[-1] + 1, seqs[-1] + 7))
        big = Message(0x40, attrs=[attrs.binary(1, b"a" * (20 + 2 * size + 4))])  # 4 too many
        with pytest.raises(nlfast.MessageTooLargeError):
            tx.send_batch([big, m, m], dest=rx.portid)


def test_send_repeat_counts_what_went_when_it_fails_part_way() -> None:
    m = Message(0x41, attrs=[attrs.u32(1, 5)])
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, rcvbuf=65536) as rx, \
            nlfast.Socket(nlfast.NETLINK_USERSOCK, tx_size=1 << 16, dgram_size=4096) as tx:
        os.set_blocking(tx.fileno(), False)  # a full receiver: EAGAIN, not a wait
        first = tx.next_seq
        with pytest.raises(OSError) as ei:
            tx.send_repeat(m, 1_000_000, dest=rx.portid)
        assert ei.value.errno == errno.EAGAIN
        sent = ei.value.sent  # type: ignore[attr-defined]
        assert 0 < sent < 1_000_000
        got = _drain(rx)
    # every message counted went, none more; in order, numbered from first
    assert got == list(range(first, first + sent))
