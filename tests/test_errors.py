"""Bad calls get clear Python exceptions, never a crash."""

from __future__ import annotations

import errno

import pytest

import nlfast
from nlfast import Message, attrs


def test_unknown_protocol_number() -> None:
    # 30 is free on this host: no family registered it (the module is not loaded)
    with pytest.raises(OSError, match="not available") as ei:
        nlfast.Socket(30)
    assert ei.value.errno == errno.EPROTONOSUPPORT
    with pytest.raises(ValueError, match="out of range"):
        nlfast.Socket(32)
    with pytest.raises(TypeError, match="protocol must be an int"):
        nlfast.Socket("route")  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rx_bufsize"):
        nlfast.Socket(nlfast.NETLINK_ROUTE, rx_bufsize=10)
    with pytest.raises(ValueError, match="overrun"):
        nlfast.Socket(nlfast.NETLINK_ROUTE, overrun="ignore")
    with pytest.raises(TypeError, match="Message"), nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        s.send_batch([b"raw bytes"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Attr"):
        Message(0x10, attrs=[(1, 2)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="out of range"):
        Message(0x10000)
    with pytest.raises(TypeError, match="header must be bytes"):
        Message(0x10, header="abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group"):
        nlfast.Socket(nlfast.NETLINK_ROUTE, groups=[0])
    with pytest.raises(ValueError, match="timeout"), nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        s.recv(timeout=-1)


def test_payload_too_large_for_the_buffer() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, tx_size=4096) as s:
        big = Message(0x40, attrs=[attrs.binary(1, b"z" * 8000)])
        with pytest.raises(nlfast.MessageTooLargeError, match="send arena"):
            s.send(big, dest=s.portid)
        with pytest.raises(nlfast.MessageTooLargeError, match="send arena"):
            s.send_repeat(big, 3, dest=s.portid)
        # the socket still works afterwards
        s.send(Message(0x40, attrs=[attrs.u32(1, 7)]), dest=s.portid)
        assert s.recv(timeout=2)[0].attrs().u32(1) == 7


def test_use_after_close() -> None:
    s = nlfast.Socket(nlfast.NETLINK_ROUTE)
    s.close()
    s.close()  # twice is fine
    for call in (lambda: s.recv(0), lambda: s.send(Message(0x10)), s.fileno,
                 lambda: s.subscribe(1), s.drops):
        with pytest.raises(nlfast.ClosedError, match="closed"):
            call()


def test_recv_timeout_and_send_to_nobody() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK) as s:
        with pytest.raises(TimeoutError):
            s.recv(timeout=0.05)
        with pytest.raises(ConnectionRefusedError):
            s.send(Message(0x40), dest=0x7FFFFFF0)


def test_truncated_datagram_is_reported() -> None:
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, rx_bufsize=256) as s:
        s.send(Message(0x40, attrs=[attrs.binary(1, b"q" * 1000)]), dest=s.portid)
        with pytest.raises(nlfast.TruncatedError, match="truncated") as ei:
            s.recv(timeout=2)
        assert s.truncated == 1
        assert len(ei.value.batch) == 0  # the one message did not fit whole
        assert ei.value.count == 1
        assert str(ei.value).startswith("1 datagram(s) larger than the receive buffer")
        s.send(Message(0x40, attrs=[attrs.binary(1, b"q" * 1000)]), dest=s.portid)
        with pytest.raises(nlfast.TruncatedError):
            s.recv(timeout=2)
        assert s.truncated == 2  # counted over the socket's life
