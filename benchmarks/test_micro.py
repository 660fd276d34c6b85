"""Micro-benchmarks (pytest-benchmark) of nlfast's building blocks.

    .venv/bin/pytest benchmarks/test_micro.py --benchmark-only

Each benchmarked function returns its result, so every test still checks
that the fast thing is also the right thing.  The "captured dump" is the
RTM_NEWADDR message in tests/data/getaddr_inet_dump.bin, copied 400 times
(each with its own address and seq) into one 32 KiB datagram, as a dump
of the kernel delivers them.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

import nlfast
from benchmarks import nlconst
from nlfast import Message, attrs, family, rtnl
from nlfast._shim import ffi, lib

CAPTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "getaddr_inet_dump.bin"
N = 400


def captured_dump() -> tuple[bytes, list[int]]:
    """N RTM_NEWADDR messages back to back, and the IFA_ADDRESS each carries
    (as the u32 read in host order)."""
    data = CAPTURE.read_bytes()
    (ln,) = struct.unpack_from("=I", data)
    one = bytearray(data[:ln])
    assert struct.unpack_from("=H", one, 4)[0] == rtnl.RTM_NEWADDR
    # IFA_ADDRESS is the first attribute after the 8-byte ifaddrmsg
    alen, atype = struct.unpack_from("=HH", one, 16 + 8)
    assert (alen, atype) == (8, rtnl.IFA_ADDRESS)
    out = bytearray()
    want = []
    for i in range(N):
        struct.pack_into("=I", one, 8, i + 1)  # seq
        struct.pack_into("=I", one, 16 + 8 + 4, 0x0A000000 + i)  # the address
        want.append(struct.unpack_from("=I", one, 16 + 8 + 4)[0])
        out += one
    assert len(out) <= nlconst.BIG_BUF
    return bytes(out), want


@pytest.fixture(scope="module")
def dump() -> tuple[bytes, list[int]]:
    return captured_dump()


@pytest.fixture
def batch(dump: tuple[bytes, list[int]]) -> nlfast.Batch:
    """The captured dump, delivered to an nlfast socket and received: a Batch."""
    data, _ = dump
    rx = nlfast.Socket(nlfast.NETLINK_USERSOCK)
    tx = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nlfast.NETLINK_USERSOCK)
    tx.bind((0, 0))
    tx.sendto(data, (rx.portid, 0))
    tx.close()
    b = rx.recv(timeout=5)
    assert len(b) == N
    yield b
    rx.close()


def test_constants_match_nlfast() -> None:
    """benchmarks/nlconst.py (for the contenders that must not import nlfast)
    agrees with the numbers nlfast reads from the system headers."""
    for name in ("RTM_NEWLINK", "RTM_GETLINK", "RTM_NEWADDR", "RTM_GETADDR", "IFLA_IFNAME",
                 "IFA_ADDRESS", "IFA_LOCAL", "IFINFOMSG_LEN", "IFADDRMSG_LEN"):
        assert getattr(nlconst, name) == getattr(rtnl, name), name
    for name in ("NLMSG_ERROR", "NLMSG_DONE", "NLM_F_REQUEST", "NLM_F_ACK", "NLM_F_DUMP",
                 "NLM_F_MULTI", "NLMSG_MIN_TYPE", "NETLINK_ROUTE", "NETLINK_USERSOCK",
                 "SOL_NETLINK", "NETLINK_ADD_MEMBERSHIP", "NETLINK_CAP_ACK", "SO_RCVBUFFORCE",
                 "SO_SNDBUFFORCE", "NLA_TYPE_MASK"):
        # (nlfast's NLA_TYPE_MASK is the C int ~(NESTED|NET_BYTEORDER): negative)
        assert getattr(nlconst, name) == getattr(nlfast.constants, name) & 0xFFFF, name
    assert [getattr(nlconst, "FAM_" + n[6:]) for n in FAM] == [getattr(family, n) for n in FAM]


FAM = ("NLFAM_MSG_ECHO", "NLFAM_MSG_SINK", "NLFAM_MSG_FLOOD", "NLFAM_MSG_DUMP", "NLFAM_A_DATA",
       "NLFAM_A_COUNT", "NLFAM_A_SIZE", "NLFAM_A_GROUP", "NLFAM_A_INDEX")


def test_encode_message(benchmark) -> None:  # type: ignore[no-untyped-def]
    """Framing one request with a family header and three attributes."""
    msg = Message(rtnl.RTM_NEWLINK, nlfast.NLM_F_REQUEST | nlfast.NLM_F_ACK,
                  header=rtnl.ifinfomsg(index=7),
                  attrs=[attrs.string(rtnl.IFLA_IFNAME, "veth0"), attrs.u32(rtnl.IFLA_MTU, 1500),
                         attrs.binary(rtnl.IFLA_ADDRESS, b"\x02\x00\x00\x00\x00\x01")])
    out = benchmark(msg.encode, 42)
    ln, typ, flags, seq, _pid = struct.unpack_from("=IHHII", out)
    assert (ln, typ, flags, seq) == (len(out), rtnl.RTM_NEWLINK, msg.flags, 42)
    v = nlfast.MessageView.from_bytes(out).attrs(rtnl.IFINFOMSG_LEN)
    assert v.str(rtnl.IFLA_IFNAME) == "veth0" and v.u32(rtnl.IFLA_MTU) == 1500


def test_attr_uint_on_captured_dump(benchmark, batch, dump) -> None:  # type: ignore[no-untyped-def]
    """Batch.attr_uint: one attribute of 400 messages, decoded in one C call."""
    col = benchmark(batch.attr_uint, rtnl.IFA_ADDRESS, rtnl.IFADDRMSG_LEN)
    assert col.tolist() == dump[1]


def test_attr_bytes_on_captured_dump(benchmark, batch, dump) -> None:  # type: ignore[no-untyped-def]
    """Batch.attr_bytes: the same attribute as 400 bytes objects."""
    col = benchmark(batch.attr_bytes, rtnl.IFA_ADDRESS, rtnl.IFADDRMSG_LEN)
    assert [struct.unpack("=I", b)[0] for b in col] == dump[1]


def test_views_on_captured_dump(benchmark, batch, dump) -> None:  # type: ignore[no-untyped-def]
    """The simple path: a MessageView per message, attrs().u32()."""

    def views() -> list[int]:
        return [m.attrs(rtnl.IFADDRMSG_LEN).u32(rtnl.IFA_ADDRESS) for m in batch]

    assert benchmark(views) == dump[1]


def test_c_parse_of_buffer(benchmark, dump) -> None:  # type: ignore[no-untyped-def]
    """The shim's parser (what every recv runs) over the 32 KiB buffer."""
    data, _want = dump
    buf = ffi.from_buffer(data)
    t = ffi.new("struct nlf_table *")
    assert lib.nlf_table_init(t, N + 1) == 0

    def parse() -> list[int]:
        lib.nlf_table_reset(t)
        n = lib.nlf_parse(buf, len(data), 0, 0, t)
        assert n == N
        return list(ffi.unpack(t.seq, t.count))

    try:
        assert benchmark(parse) == list(range(1, N + 1))
    finally:
        lib.nlf_table_fini(t)


def test_pure_python_parse_of_buffer(benchmark, dump) -> None:  # type: ignore[no-untyped-def]
    """The stdlib contender's loop over the same buffer, for scale."""
    data, want = dump
    hdr = nlconst.NLMSGHDR.unpack_from
    nla = nlconst.NLATTR.unpack_from
    u32 = nlconst.U32.unpack_from

    def parse() -> list[int]:
        out = []
        off = 0
        n = len(data)
        while off + 16 <= n:
            ln, _typ, _fl, _seq, _pid = hdr(data, off)
            p, end = off + 16 + 8, off + ln
            while p + 4 <= end:
                alen, atype = nla(data, p)
                if atype == rtnl.IFA_ADDRESS:
                    out.append(u32(data, p + 4)[0])
                    break
                p += (alen + 3) & ~3
            off += (ln + 3) & ~3
        return out

    assert benchmark(parse) == want
