"""Byte order: netlink headers and attributes are in the host's order; the
big-endian values (NLA_F_NET_BYTEORDER, the specs' be16/be32 fields) have
their own builders and getters.  Checked against the bytes on the wire and
against the kernel's own big-endian attributes (IFA_ADDRESS)."""

from __future__ import annotations

import ipaddress
import struct
import sys

import pytest

import nlfast
from nlfast import Message, MessageView, attrs, rtnl
from nlfast._shim import lib

from .conftest import Netns

HOST = sys.byteorder

INTS = [
    (attrs.u16, "u16", 0x1234, 2, False),
    (attrs.u32, "u32", 0x12345678, 4, False),
    (attrs.u64, "u64", 0x0102030405060708, 8, False),
    (attrs.s16, "s16", -300, 2, True),
    (attrs.s32, "s32", -70000, 4, True),
    (attrs.s64, "s64", -(1 << 40), 8, True),
]


def _first_attr(raw: bytes, hdrlen: int = 0) -> tuple[int, int, bytes]:
    pos = 16 + ((hdrlen + 3) & ~3)
    alen = int.from_bytes(raw[pos : pos + 2], HOST)
    atype = int.from_bytes(raw[pos + 2 : pos + 4], HOST)
    return alen, atype, raw[pos + 4 : pos + alen]


@pytest.mark.parametrize(("make", "kind", "value", "width", "signed"), INTS)
def test_ints_are_host_order_on_the_wire(make, kind, value, width, signed) -> None:  # type: ignore[no-untyped-def]
    raw = Message(0x20, attrs=[make(7, value)]).encode(seq=0x01020304)
    alen, atype, payload = _first_attr(raw)
    assert (alen, atype) == (4 + width, 7)
    assert payload == value.to_bytes(width, HOST, signed=signed)
    assert getattr(MessageView.from_bytes(raw).attrs(), kind)(7) == value


def test_header_is_host_order() -> None:
    raw = Message(0x1234, flags=0x0305, portid=0x0A0B0C0D).encode(seq=0x01020304)
    assert raw[0:4] == (16).to_bytes(4, HOST)
    assert raw[4:6] == (0x1234).to_bytes(2, HOST)
    assert raw[6:8] == (0x0305).to_bytes(2, HOST)
    assert raw[8:12] == (0x01020304).to_bytes(4, HOST)
    assert raw[12:16] == (0x0A0B0C0D).to_bytes(4, HOST)
    v = MessageView.from_bytes(raw)
    assert v.header == (16, 0x1234, 0x0305, 0x01020304, 0x0A0B0C0D)


def test_with_flags_patches_in_host_order() -> None:
    m = Message(0x30, flags=1, attrs=[attrs.u32(1, 5)])
    m._template()  # the cached framed bytes, which with_flags patches
    patched = m.with_flags(0x0102)
    assert patched._template()[2] == Message(0x30, flags=0x0102, attrs=m.attrs).encode()


@pytest.mark.parametrize(("make", "kind", "value", "width"), [
    (attrs.be16, "be16", 0x1234, 2),
    (attrs.be32, "be32", 0x12345678, 4),
    (attrs.be64, "be64", 0x0102030405060708, 8),
])
def test_big_endian_values(make, kind, value, width) -> None:  # type: ignore[no-untyped-def]
    plain = Message(0x20, attrs=[make(3, value)]).encode()
    flagged = Message(0x20, attrs=[make(3, value, net_byteorder=True)]).encode()
    for raw, atype in ((plain, 3), (flagged, 3 | lib.NLA_F_NET_BYTEORDER)):
        alen, t, payload = _first_attr(raw)
        assert (alen, t) == (4 + width, atype)
        assert payload == value.to_bytes(width, "big")
        a = MessageView.from_bytes(raw).attrs()
        assert getattr(a, kind)(3) == value  # looked up without the flag bit
        assert a.bytes(3) == value.to_bytes(width, "big")
    with pytest.raises(ValueError, match="out of range"):
        make(3, 1 << (8 * width))
    with pytest.raises(ValueError, match="out of range"):
        make(3, -1)
    with pytest.raises(TypeError, match="needs an int"):
        make(3, b"\x00\x01")


def test_s16_width_on_the_wire() -> None:
    raw = Message(0x20, attrs=[attrs.s16(1, -2), attrs.u8(2, 9)]).encode()
    alen, _, payload = _first_attr(raw)
    assert alen == 6
    assert payload == (b"\xfe\xff" if HOST == "little" else b"\xff\xfe")
    assert len(raw) == 16 + 8 + 8


def test_kernel_big_endian_address_and_host_order_index(netns: Netns) -> None:
    """IFA_ADDRESS is an IPv4 address in network order; ifa_index is host order."""
    netns.ip("link", "add", "bo0", "type", "veth", "peer", "name", "bo1")
    netns.ip("addr", "add", "10.1.2.3/24", "dev", "bo0")
    ifindex = netns.ip_json("link", "show", "bo0")[0]["ifindex"]
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
        msg = Message(rtnl.RTM_GETADDR, header=rtnl.ifaddrmsg(family=rtnl.AF_INET))
        got = {rtnl.ifaddr_index(m.payload): m.attrs().be32(rtnl.IFA_ADDRESS)
               for m in s.dump_messages(msg)}
    assert got[ifindex] == int(ipaddress.IPv4Address("10.1.2.3"))
    assert struct.pack("=I", ifindex) == ifindex.to_bytes(4, HOST)
