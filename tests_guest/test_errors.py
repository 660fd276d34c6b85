"""Bad requests: NLMSG_ERROR with an errno and an extended ack, decoded by nlfast."""

from __future__ import annotations

import errno
import struct

import pytest

import nlfast
from nlfast import Message, attrs
from nlfast import family as F

from .conftest import msg, stats


def err(sock: nlfast.Socket, m: Message) -> nlfast.NetlinkError:
    with pytest.raises(nlfast.NetlinkError) as ei:
        sock.request(m)
    return ei.value


def test_unknown_type(sock: nlfast.Socket) -> None:
    e = err(sock, msg(0x7F))
    assert e.code == errno.EOPNOTSUPP
    assert "unknown message type" in e.msg


def test_missing_attribute(sock: nlfast.Socket) -> None:
    e = err(sock, msg(F.NLFAM_MSG_HELLO))
    assert e.code == errno.EINVAL
    assert "TEXT" in e.msg
    assert e.miss_type == F.NLFAM_A_TEXT


def test_attribute_of_the_wrong_size(sock: nlfast.Socket) -> None:
    e = err(sock, msg(F.NLFAM_MSG_DUMP, [attrs.u16(F.NLFAM_A_COUNT, 5)],
                      flags=nlfast.NLM_F_REQUEST | nlfast.NLM_F_DUMP))
    assert e.code in (errno.EINVAL, errno.ERANGE)
    assert e.msg
    assert e.offset == 16  # the COUNT attribute, right after the header


def test_value_out_of_range(sock: nlfast.Socket) -> None:
    e = err(sock, msg(F.NLFAM_MSG_MCAST_HELLO, [attrs.u32(F.NLFAM_A_GROUP, 9)]))
    assert e.code == errno.ERANGE
    assert "GROUP" in e.msg and e.offset == 16
    e = err(sock, msg(F.NLFAM_MSG_FLOOD, [attrs.u32(F.NLFAM_A_COUNT, F.NLFAM_FLOOD_MAX_COUNT + 1)]))
    assert e.code == errno.ERANGE and "COUNT" in e.msg


def test_unknown_attribute_rejected_by_strict_policy(sock: nlfast.Socket) -> None:
    e = err(sock, msg(F.NLFAM_MSG_ECHO, [attrs.u32(F.NLFAM_A_MAX + 5, 1)]))
    assert e.code in (errno.EINVAL, errno.EOPNOTSUPP)
    assert e.msg


def test_truncated_message(sock: nlfast.Socket) -> None:
    # an attribute header that claims more bytes than the message holds
    good = msg(F.NLFAM_MSG_ECHO, [attrs.binary(F.NLFAM_A_DATA, b"12345678")]).encode()
    bad = bytearray(good)
    struct.pack_into("<H", bad, 16, 40)  # nla_len past the end
    seq = sock.send_repeat(bytes(bad), 1) and sock.next_seq - 1
    (m,) = list(sock.recv(timeout=5))
    assert m.type == nlfast.NLMSG_ERROR and m.seq == seq
    e = m.to_error()
    assert e.code == errno.EINVAL and e.msg


def test_dump_without_the_dump_flag(sock: nlfast.Socket) -> None:
    e = err(sock, msg(F.NLFAM_MSG_DUMP, [attrs.u32(F.NLFAM_A_COUNT, 5)]))
    assert e.code == errno.EINVAL and "NLM_F_DUMP" in e.msg


def test_errors_are_counted_and_acks_honoured(sock: nlfast.Socket) -> None:
    before = stats(sock)
    err(sock, msg(0x7F))
    assert stats(sock)["errors"] == before["errors"] + 1
    assert sock.request(msg(F.NLFAM_MSG_SINK)) == []
