"""Micro-benchmarks (pytest-benchmark) of nlfast's building blocks, through
its public API: ``.venv/bin/pytest benchmarks/test_micro.py --benchmark-only``.

The captured dump is the RTM_NEWADDR message of tests/data/getaddr_inet_dump.bin
copied 400 times (each with its own seq and address) into one datagram, as a
kernel dump delivers them.  Every benchmarked call's result is checked.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

import nlfast
from benchmarks import nlconst
from nlfast import Message, attrs, family, rtnl

CAPTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "getaddr_inet_dump.bin"
N = 400


@pytest.fixture(scope="module")
def dump() -> tuple[bytes, list[int]]:
    """N RTM_NEWADDR messages back to back, and the IFA_ADDRESS of each."""
    data = CAPTURE.read_bytes()
    one = bytearray(data[: struct.unpack_from("=I", data)[0]])
    assert struct.unpack_from("=HHH", one, 4)[0] == rtnl.RTM_NEWADDR
    assert struct.unpack_from("=HH", one, 24) == (8, rtnl.IFA_ADDRESS)  # after the ifaddrmsg
    out = bytearray()
    for i in range(N):
        struct.pack_into("=I", one, 8, i + 1)  # seq
        struct.pack_into("=I", one, 28, 0x0A000000 + i)  # the address
        out += one
    return bytes(out), [0x0A000000 + i for i in range(N)]


@pytest.fixture
def batch(dump: tuple[bytes, list[int]]) -> Iterator[nlfast.Batch]:
    """The captured dump, sent to an nlfast socket and received: a Batch."""
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as rx, \
            socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nlfast.NETLINK_USERSOCK) as tx:
        tx.bind((0, 0))
        tx.sendto(dump[0], (rx.portid, 0))
        b = rx.recv(timeout=5)
        assert len(b) == N
        yield b


def test_constants_match_nlfast() -> None:
    """nlconst (for the contenders that must not import nlfast) agrees with nlfast."""
    for name in ("RTM_NEWLINK", "RTM_GETLINK", "RTM_NEWADDR", "RTM_GETADDR", "IFLA_IFNAME",
                 "IFA_ADDRESS", "IFA_LOCAL", "IFINFOMSG_LEN", "IFADDRMSG_LEN"):
        assert getattr(nlconst, name) == getattr(rtnl, name), name
    for name in ("NLMSG_ERROR", "NLMSG_DONE", "NLM_F_REQUEST", "NLM_F_ACK", "NLM_F_DUMP",
                 "NLM_F_MULTI", "NLMSG_MIN_TYPE", "NETLINK_ROUTE", "NETLINK_USERSOCK",
                 "SOL_NETLINK", "NETLINK_ADD_MEMBERSHIP", "NETLINK_CAP_ACK", "SO_RCVBUFFORCE",
                 "SO_SNDBUFFORCE", "NLA_TYPE_MASK"):  # nlfast's NLA_TYPE_MASK is a negative C int
        assert getattr(nlconst, name) == getattr(nlfast.constants, name) & 0xFFFF, name
    for name in ("MSG_ECHO", "MSG_SINK", "MSG_FLOOD", "MSG_DUMP", "A_DATA", "A_COUNT", "A_SIZE",
                 "A_GROUP", "A_INDEX"):
        assert getattr(nlconst, "FAM_" + name) == getattr(family, "NLFAM_" + name), name


def test_encode_message(benchmark) -> None:  # type: ignore[no-untyped-def]
    """Framing one request with a family header and three attributes."""
    msg = Message(rtnl.RTM_NEWLINK, nlfast.NLM_F_REQUEST | nlfast.NLM_F_ACK,
                  header=rtnl.ifinfomsg(index=7),
                  attrs=[attrs.string(rtnl.IFLA_IFNAME, "veth0"), attrs.u32(rtnl.IFLA_MTU, 1500)])
    out = benchmark(msg.encode, 42)
    assert struct.unpack_from("=IHHI", out) == (len(out), rtnl.RTM_NEWLINK, msg.flags, 42)
    v = nlfast.MessageView.from_bytes(out).attrs(rtnl.IFINFOMSG_LEN)
    assert v.str(rtnl.IFLA_IFNAME) == "veth0" and v.u32(rtnl.IFLA_MTU) == 1500


def test_attr_uint_on_captured_dump(benchmark, batch, dump) -> None:  # type: ignore[no-untyped-def]
    """Batch.attr_uint: one attribute of 400 messages in one C call."""
    assert benchmark(batch.attr_uint, rtnl.IFA_ADDRESS, rtnl.IFADDRMSG_LEN).tolist() == dump[1]


def test_views_on_captured_dump(benchmark, batch, dump) -> None:  # type: ignore[no-untyped-def]
    """Per message: a MessageView each, attrs().u32()."""

    def views() -> list[int]:
        return [m.attrs(rtnl.IFADDRMSG_LEN).u32(rtnl.IFA_ADDRESS) for m in batch]

    assert benchmark(views) == dump[1]
