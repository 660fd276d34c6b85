"""rtnl's family headers byte for byte, its tables of message types and
groups, and its field readers on short or wrong input; the header lengths
checked against what the kernel sends."""

from __future__ import annotations

import struct

import pytest

import nlfast
from nlfast import Message, rtnl
from nlfast._shim import lib
from nlfast.errors import DecodeError


def test_rtm_names_are_the_message_types_in_order() -> None:
    names = rtnl.rtm_names()
    assert list(names) == sorted(names)
    assert names[rtnl.RTM_NEWLINK] == "RTM_NEWLINK"
    assert names[rtnl.RTM_GETROUTE] == "RTM_GETROUTE"
    assert names[rtnl.RTM_SETLINK] == "RTM_SETLINK"
    assert all(n[4:7] in ("NEW", "DEL", "GET", "SET") for n in names.values())
    assert int(lib.RTM_BASE) not in names or names[int(lib.RTM_BASE)] == "RTM_NEWLINK"


def test_rtnl_groups_by_name_in_order() -> None:
    g = rtnl.rtnl_groups()
    assert g["link"] == rtnl.RTNLGRP_LINK and g["ipv4-ifaddr"] == rtnl.RTNLGRP_IPV4_IFADDR
    assert g["ipv4-route"] == rtnl.RTNLGRP_IPV4_ROUTE and g["neigh"] == rtnl.RTNLGRP_NEIGH
    assert list(g.values()) == sorted(g.values())
    assert not {"none", "max"} & set(g) and not any(n.startswith("nop") for n in g)
    assert all(n == n.lower() and "_" not in n for n in g)


@pytest.mark.parametrize(("msgtype", "length"), [
    (rtnl.RTM_NEWLINK, rtnl.IFINFOMSG_LEN), (rtnl.RTM_SETLINK, rtnl.IFINFOMSG_LEN),
    (rtnl.RTM_GETADDR, rtnl.IFADDRMSG_LEN), (rtnl.RTM_DELROUTE, rtnl.RTMSG_LEN),
    (rtnl.RTM_NEWNEIGH, rtnl.NDMSG_LEN), (int(lib.RTM_NEWRULE), rtnl.FIB_RULE_HDR_LEN),
    (int(lib.RTM_GETQDISC), rtnl.TCMSG_LEN), (int(lib.RTM_NEWTCLASS), rtnl.TCMSG_LEN),
    (int(lib.RTM_DELTFILTER), rtnl.TCMSG_LEN), (0x7FFF, None), (1, None),
])
def test_header_len_per_type(msgtype: int, length: int | None) -> None:
    assert rtnl.header_len(msgtype) == length


def test_the_type_table_is_built_from_the_rtm_names() -> None:
    # the table header_len reads, built again from the system's RTM_* names
    table = rtnl._type_hdrlen()
    assert table == {t: rtnl.header_len(t) for t in rtnl.rtm_names() if rtnl.header_len(t)}
    assert table[rtnl.RTM_NEWLINK] == rtnl.IFINFOMSG_LEN
    assert table[rtnl.RTM_GETADDR] == rtnl.IFADDRMSG_LEN
    assert table[int(lib.RTM_NEWRULE)] == rtnl.FIB_RULE_HDR_LEN
    assert table[int(lib.RTM_DELTFILTER)] == rtnl.TCMSG_LEN
    assert int(lib.RTM_NEWNEXTHOP) not in table


def test_headers_are_laid_out_as_the_kernel_reads_them() -> None:
    assert rtnl.ifinfomsg() == bytes(16) and rtnl.ifaddrmsg() == bytes(8)
    assert rtnl.rtmsg() == bytes(12) and rtnl.ndmsg() == bytes(12)
    assert rtnl.ifinfomsg(family=2, type=772, index=-3, flags=0x10001, change=0xFFFFFFFF) == \
        struct.pack("=BxHiII", 2, 772, -3, 0x10001, 0xFFFFFFFF)
    assert rtnl.ifaddrmsg(family=10, prefixlen=64, flags=0x80, scope=253, index=0xFFFFFFF0) == \
        struct.pack("=BBBBI", 10, 64, 0x80, 253, 0xFFFFFFF0)
    assert rtnl.rtmsg(family=2, dst_len=24, src_len=8, tos=4, table=254, protocol=3,
                      scope=200, type=1, flags=0x1000) == \
        struct.pack("=BBBBBBBBI", 2, 24, 8, 4, 254, 3, 200, 1, 0x1000)
    assert rtnl.ndmsg(family=7, ifindex=-9, state=0x80, flags=0x40, type=5) == \
        struct.pack("=BBHiHBB", 7, 0, 0, -9, 0x80, 0x40, 5)


def test_header_fields_are_checked_by_name() -> None:
    with pytest.raises(TypeError, match="struct ifinfomsg field ifi_index must be an int"):
        rtnl.ifinfomsg(index="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="field ifa_scope must be an int, not True"):
        rtnl.ifaddrmsg(scope=True)
    with pytest.raises(ValueError, match="struct rtmsg field rtm_table: 256 does not fit"):
        rtnl.rtmsg(table=256)
    with pytest.raises(ValueError, match="struct ndmsg field ndm_state: -1 does not fit"):
        rtnl.ndmsg(state=-1)


def test_fields_read_back() -> None:
    f = rtnl.rtmsg_fields(rtnl.rtmsg(2, 24, 8, 4, 254, 3, 200, 1, 0x1000) + b"tail")
    assert f == {"rtm_family": 2, "rtm_dst_len": 24, "rtm_src_len": 8, "rtm_tos": 4,
                 "rtm_table": 254, "rtm_protocol": 3, "rtm_scope": 200, "rtm_type": 1,
                 "rtm_flags": 0x1000}
    assert rtnl.ndmsg_fields(memoryview(rtnl.ndmsg(7, -9, 0x80, 0x40, 5))) == \
        {"ndm_family": 7, "ndm_ifindex": -9, "ndm_state": 0x80, "ndm_flags": 0x40, "ndm_type": 5}
    assert rtnl.ifinfo_index(rtnl.ifinfomsg(index=-1)) == -1
    assert rtnl.ifinfo_index(rtnl.ifinfomsg(index=0x7FFFFFFF, change=5)) == 0x7FFFFFFF
    assert rtnl.ifaddr_index(rtnl.ifaddrmsg(index=0xFFFFFFFF, scope=9)) == 0xFFFFFFFF


def test_short_or_wrong_payloads_are_named() -> None:
    with pytest.raises(DecodeError, match=r"ifinfo_index \(struct ifinfomsg\) needs a payload "
                       r"of at least 16 bytes, got 15"):
        rtnl.ifinfo_index(rtnl.ifinfomsg()[:15])
    with pytest.raises(DecodeError, match=r"ifaddr_index \(struct ifaddrmsg\) needs a payload "
                       r"of at least 8 bytes, got 7"):
        rtnl.ifaddr_index(rtnl.ifaddrmsg()[:7])
    with pytest.raises(DecodeError, match="struct rtmsg needs 12 bytes, got 11"):
        rtnl.rtmsg_fields(rtnl.rtmsg()[:11])
    with pytest.raises(DecodeError, match="struct ndmsg needs 12 bytes, got 0"):
        rtnl.ndmsg_fields(b"")
    with pytest.raises(TypeError, match="struct ndmsg is read from bytes, not str"):
        rtnl.ndmsg_fields("x" * 12)  # type: ignore[arg-type]
    assert rtnl.rtmsg_fields(memoryview(rtnl.rtmsg(family=2)))["rtm_family"] == 2


def test_route_dump_headers_read_as_rtmsg() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        req = Message(rtnl.RTM_GETROUTE, flags=0x301, header=rtnl.rtmsg(family=rtnl.AF_INET))
        routes = [m.copy() for m in s.dump_messages(req)]
    assert routes, "the host has IPv4 routes (at least the local table's)"
    for m in routes:
        f = rtnl.rtmsg_fields(m.payload)
        assert f["rtm_family"] == rtnl.AF_INET and f["rtm_dst_len"] <= 32
        assert m.hdrlen() == rtnl.RTMSG_LEN
        table = m.attrs().u32(rtnl.RTA_TABLE) if rtnl.RTA_TABLE in m.attrs() else f["rtm_table"]
        assert table > 0
