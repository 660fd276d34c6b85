"""rtnetlink through nlfast against the host kernel, in private namespaces."""

from __future__ import annotations

import errno

import pytest

import nlfast
from nlfast import Message, rtnl

from .conftest import N_ADDRS, N_LINK_PAIRS, Netns


def _mac(b: bytes | None) -> str | None:
    return None if b is None else ":".join(f"{x:02x}" for x in b)


def test_link_dump_matches_ip(big_netns: Netns) -> None:
    want = {(d["ifindex"], d["ifname"], d.get("address")) for d in big_netns.ip_json("link", "show")}
    got = set()
    batches = 0
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:
        for b in s.dump(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg())):
            batches += 1
            assert set(b.types.tolist()) == {rtnl.RTM_NEWLINK}
            names = b.attr_str(rtnl.IFLA_IFNAME, rtnl.IFINFOMSG_LEN)
            macs = b.attr_bytes(rtnl.IFLA_ADDRESS, rtnl.IFINFOMSG_LEN)
            idx = [rtnl.ifinfo_index(m.payload) for m in b]
            got |= {(i, n, _mac(a)) for i, n, a in zip(idx, names, macs)}
    assert len(want) == 2 * N_LINK_PAIRS + 1
    assert got == want
    assert batches >= 1


def test_addr_dump_matches_ip(big_netns: Netns) -> None:
    want = {
        (d["ifindex"], d["ifname"], a["local"])
        for d in big_netns.ip_json("addr", "show")
        for a in d.get("addr_info", [])
        if a["family"] == "inet"
    }
    names = {d["ifindex"]: d["ifname"] for d in big_netns.ip_json("link", "show")}
    got = set()
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:
        msg = Message(rtnl.RTM_GETADDR, header=rtnl.ifaddrmsg(family=rtnl.AF_INET))
        for m in s.dump_messages(msg):
            a = m.attrs(rtnl.IFADDRMSG_LEN)
            idx = rtnl.ifaddr_index(m.payload)
            got.add((idx, names[idx], ".".join(str(x) for x in a.bytes(rtnl.IFA_LOCAL))))
    assert len(want) == N_ADDRS + 1  # and 127.0.0.1
    assert got == want


def test_pipelined_getlink_all_come_back(big_netns: Netns) -> None:
    links = {d["ifindex"]: d["ifname"] for d in big_netns.ip_json("link", "show")}
    order = sorted(links) * 3  # 3003 requests
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:
        msgs = [Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=i)) for i in order]
        results = s.request_many(msgs, window=512)
    assert len(results) == len(order)
    for i, r in zip(order, results):
        assert isinstance(r, list) and len(r) == 1
        assert rtnl.ifinfo_index(r[0].payload) == i
        assert r[0].attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME) == links[i]


def test_missing_ifindex_is_enodev(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
        with pytest.raises(nlfast.NetlinkError) as ei:
            s.request(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=4242)))
    assert ei.value.code == errno.ENODEV
    assert "No such device" in str(ei.value)


def test_extended_ack_message_decoded(netns: Netns) -> None:
    # A link name that is too long: the kernel says why in the extended ack.
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
        with pytest.raises(nlfast.NetlinkError) as ei:
            s.request(
                Message(
                    rtnl.RTM_NEWLINK,
                    nlfast.NLM_F_REQUEST | nlfast.constants.NLM_F_CREATE,
                    header=rtnl.ifinfomsg(),
                    attrs=[nlfast.attrs.string(rtnl.IFLA_IFNAME, "x" * 40)],
                )
            )
    assert ei.value.code == errno.ERANGE
    assert "policy" in ei.value.msg  # the kernel's own words
    assert ei.value.offset is not None


def test_request_many_mixes_errors_in_order(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
        res = s.request_many(
            [Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=i)) for i in (1, 99, 1)]
        )
    assert isinstance(res[0], list) and isinstance(res[2], list)
    assert isinstance(res[1], nlfast.NetlinkError) and res[1].code == errno.ENODEV


def test_link_multicast_subscription(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name, groups=[rtnl.RTNLGRP_LINK]) as s:
        netns.ip("link", "add", "mc0", "type", "veth", "peer", "name", "mc1")
        seen = set()
        while not {"mc0", "mc1"} <= seen:
            b = s.recv(timeout=5)
            seen |= {n for n in b.attr_str(rtnl.IFLA_IFNAME, rtnl.IFINFOMSG_LEN) if n}
        assert b.datagrams >= 1


def test_attr_columns_mark_absent_attributes(big_netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=big_netns.name) as s:
        for b in s.dump(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg())):
            names = b.attr_str(rtnl.IFLA_IFNAME, rtnl.IFINFOMSG_LEN)
            assert names == [m.attrs(rtnl.IFINFOMSG_LEN).str(rtnl.IFLA_IFNAME) for m in b]
            # attribute 0x3ff0 exists on no link: every row says so
            assert b.attr_str(0x3FF0, rtnl.IFINFOMSG_LEN) == [None] * len(b)
            assert b.attr_bytes(0x3FF0, rtnl.IFINFOMSG_LEN) == [None] * len(b)
            assert list(b.attr_uint(0x3FF0, rtnl.IFINFOMSG_LEN, default=7)) == [7] * len(b)
            assert b.count(rtnl.RTM_NEWLINK) == len(b) and b.count(0x99) == 0


def test_request_many_without_acks(netns: Netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
        res = s.request_many(
            [Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=i)) for i in (1, 99, 1)],
            ack=False,
        )
        assert isinstance(res[0], list) and len(res[0]) == 1
        assert isinstance(res[1], nlfast.NetlinkError) and res[1].code == errno.ENODEV
        assert isinstance(res[2], list) and rtnl.ifinfo_index(res[2][0].payload) == 1
        with pytest.raises(TimeoutError):  # nothing left over: no ACKs were asked for
            s.recv(timeout=0.1)
