"""NLM_F_ECHO: the kernel answers an echoed request with the notification
itself, unicast to the requester but still marked with the group it was
multicast to (nlmsg_notify).  It goes to the request, not to the events;
without NLM_F_ECHO the same notification is an event."""

from __future__ import annotations

import socket

import pytest

import nlfast
from nlfast import Message, attrs, rtnl
from nlfast.constants import NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL


def newaddr(ip: str, flags: int) -> Message:
    return Message(rtnl.RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | flags,
                   header=rtnl.ifaddrmsg(family=socket.AF_INET, prefixlen=32, index=1),
                   attrs=[attrs.binary(rtnl.IFA_LOCAL, socket.inet_aton(ip))])


def local_of(m: nlfast.MessageView) -> bytes:
    return m.attrs().bytes(rtnl.IFA_LOCAL)


@pytest.mark.parametrize("subscribed", [False, True])
def test_echo_goes_to_the_request(netns, subscribed: bool) -> None:
    groups = [rtnl.RTNLGRP_IPV4_IFADDR] if subscribed else []
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name, groups=groups) as s:
        got = s.request(newaddr("10.9.9.1", NLM_F_ECHO))
        assert [m.type for m in got] == [rtnl.RTM_NEWADDR]
        assert local_of(got[0]) == socket.inet_aton("10.9.9.1")
        # the kernel leaves the requester out of the multicast: no event
        with pytest.raises(TimeoutError):
            s.recv(timeout=0.2)
        assert s.stale_dropped == 0
    assert "10.9.9.1" in netns.ip("addr", "show", "lo")


def test_without_echo_the_notification_is_an_event(netns) -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                       groups=[rtnl.RTNLGRP_IPV4_IFADDR]) as s:
        assert s.request(newaddr("10.9.9.2", 0)) == []
        ev = list(s.events(timeout=1.0))
        assert [m.type for m in ev] == [rtnl.RTM_NEWADDR]
        assert local_of(ev[0]) == socket.inet_aton("10.9.9.2")


def test_echo_among_many_in_flight(netns) -> None:
    """request_many: each echo reaches its own request; another socket's
    notifications (its port in nlmsg_pid) stay events here."""
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name,
                       groups=[rtnl.RTNLGRP_IPV4_IFADDR]) as s, \
            nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as other:
        assert other.request(newaddr("10.9.8.1", 0)) == []
        res = s.request_many([newaddr(f"10.9.9.{i}", NLM_F_ECHO) for i in range(10, 30)])
        for i, r in enumerate(res):
            assert not isinstance(r, Exception), r
            assert [local_of(m) for m in r] == [socket.inet_aton(f"10.9.9.{i + 10}")]
        ev = list(s.events(timeout=1.0))
        assert [local_of(m) for m in ev] == [socket.inet_aton("10.9.8.1")]
