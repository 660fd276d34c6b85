"""The exception types: their fields, their text, and that each crosses a
pickle whole (a worker process hands them back); NetlinkError as the
kernel raises it, with its extended ack."""

from __future__ import annotations

import errno
import os
import pickle

import pytest

import nlfast
from nlfast import Message, attrs, rtnl
from nlfast.errors import (
    ClosedError,
    ConcurrentUseError,
    DecodeError,
    DumpInterruptedError,
    EventOverflowError,
    MessageTooLargeError,
    NetlinkError,
    NlfastError,
    OverrunError,
    TruncatedError,
)


def test_netlink_error_text_and_fields() -> None:
    e = NetlinkError(errno.EINVAL, "bad mtu", offset=24, miss_type=3, miss_nest=20, seq=9)
    assert (e.code, e.errno, e.msg, e.offset, e.miss_type, e.miss_nest, e.seq) == \
        (22, 22, "bad mtu", 24, 3, 20, 9)
    assert str(e) == "[Errno 22] Invalid argument: bad mtu (missing attribute 3) (at offset 24)"
    assert e.args == (22, "bad mtu")
    assert str(NetlinkError(errno.ENODEV)) == "[Errno 19] No such device"
    assert str(NetlinkError(19, offset=0)) == "[Errno 19] No such device (at offset 0)"
    assert str(NetlinkError(19, miss_type=0)) == "[Errno 19] No such device (missing attribute 0)"
    plain = NetlinkError(19)
    assert (plain.msg, plain.offset, plain.miss_type, plain.miss_nest, plain.seq) == \
        ("", None, None, None, 0)
    # an errno the C library cannot name
    assert str(NetlinkError(2**40)) == f"[Errno {2**40}] Unknown error"
    for bad in ("22", 22.0, True):
        with pytest.raises(TypeError, match="int errno"):
            NetlinkError(bad)  # type: ignore[arg-type]


def test_every_error_type_survives_a_pickle() -> None:
    e = NetlinkError(errno.EINVAL, "bad mtu", offset=24, miss_type=3, miss_nest=20, seq=9)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is NetlinkError and str(again) == str(e)
    assert (again.code, again.msg, again.offset, again.miss_type, again.miss_nest, again.seq) == \
        (22, "bad mtu", 24, 3, 20, 9)
    o = pickle.loads(pickle.dumps(OverrunError(5, 2)))
    assert (type(o), o.drops, o.overruns) == (OverrunError, 5, 2)
    assert str(o) == ("receive queue overrun (ENOBUFS): messages lost; "
                      "5 dropped so far, 2 overruns")
    t = pickle.loads(pickle.dumps(TruncatedError(object(), 3)))
    assert (type(t), t.batch, t.count) == (TruncatedError, None, 3)
    assert str(t).startswith("3 datagram(s) larger than the receive buffer")
    v = pickle.loads(pickle.dumps(EventOverflowError(4, 10)))
    assert (type(v), v.dropped, v.total, v.drops, v.overruns) == (EventOverflowError, 4, 10, 10, 0)
    assert str(v).startswith("event queue overflow: 4 events dropped") and "(10 in all)" in str(v)


def test_the_hierarchy() -> None:
    for cls in (ClosedError, DecodeError, MessageTooLargeError):
        assert issubclass(cls, NlfastError) and issubclass(cls, ValueError)
    assert issubclass(ConcurrentUseError, RuntimeError)
    assert issubclass(EventOverflowError, OverrunError)
    for other in (NetlinkError, OverrunError, TruncatedError, DumpInterruptedError):
        assert issubclass(other, NlfastError)


def test_netlink_error_from_the_kernel_carries_its_extended_ack() -> None:
    # a link request with an attribute of the wrong size: the kernel's
    # policy check says which, by message text and offset
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        bad = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1),
                      attrs=[attrs.u8(rtnl.IFLA_EXT_MASK, 1)])
        with pytest.raises(NetlinkError) as ei:
            s.request(bad)
        e = ei.value
        assert e.code in (errno.EINVAL, errno.ERANGE) and e.errno == e.code
        assert e.msg and e.offset == 16 + rtnl.IFINFOMSG_LEN
        assert str(e) == (f"[Errno {e.code}] {os.strerror(e.code)}: {e.msg} "
                          f"(at offset {e.offset})")
        assert e.seq > 0
