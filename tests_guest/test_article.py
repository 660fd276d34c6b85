"""The article's three flows, end to end."""

from __future__ import annotations

import pytest

import nlfast
from nlfast import attrs
from nlfast import family as F

from .conftest import fam, kmsg_mark, kmsg_since, msg


def test_hello_is_logged_and_answered(sock: nlfast.Socket) -> None:
    mark = kmsg_mark()
    (reply,) = sock.request(msg(F.NLFAM_MSG_HELLO, [attrs.string(F.NLFAM_A_TEXT, F.NLFAM_HELLO_TEXT)]))
    assert reply.type == F.NLFAM_MSG_HELLO
    assert reply.attrs().str(F.NLFAM_A_TEXT) == F.NLFAM_HELLO_REPLY
    assert reply.portid == sock.portid  # addressed to us, as rtnetlink does
    assert F.NLFAM_HELLO_TEXT in kmsg_since(mark)


def test_group_multicast_reaches_subscribers_only() -> None:
    with fam(groups=[F.NLFAM_GRP_HELLO]) as sub, fam() as other, fam() as asker:
        asker.request(msg(F.NLFAM_MSG_MCAST_HELLO))
        b = sub.recv(timeout=5)
        assert len(b) == 1
        m = b[0]
        assert m.type == F.NLFAM_MSG_HELLO
        assert m.attrs().str(F.NLFAM_A_TEXT) == F.NLFAM_HELLO_MCAST
        assert b.datagrams == 1
        with pytest.raises(TimeoutError):
            other.recv(timeout=0.3)
        with pytest.raises(TimeoutError):
            asker.recv(timeout=0.1)


def test_unsubscribe_stops_delivery() -> None:
    with fam(groups=[F.NLFAM_GRP_HELLO]) as sub, fam() as asker:
        sub.unsubscribe(F.NLFAM_GRP_HELLO)
        asker.request(msg(F.NLFAM_MSG_MCAST_HELLO))
        with pytest.raises(TimeoutError):
            sub.recv(timeout=0.3)
