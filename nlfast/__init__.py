"""nlfast: the fastest way to speak netlink from Python.

A C shim (cffi) frames messages in place, sends many per datagram and many
datagrams per ``sendmmsg``, drains the socket with ``recvmmsg`` and parses
headers, attributes, errors and extended acks in C; Python sees columns and
views.

A :class:`~nlfast.socket.Socket` sends :class:`~nlfast.message.Message`
objects and receives :class:`~nlfast.batch.Batch` objects: columns decoded
in C (``types``, ``seqs``, ``attr_uint()``...) and
:class:`~nlfast.message.MessageView` objects.  Every error is an
:class:`~nlfast.errors.NlfastError`; see :mod:`nlfast.errors`.

**How long a view stays valid:** as long as you hold it.  Every receive
fills a block of memory that a Python object owns; a ``Batch``, its
``MessageView`` and ``AttrSet`` objects and every memoryview they hand out
keep that block alive and keep showing the bytes they showed first, after
the next receive and after ``close()``.  The socket reuses a block only
when nothing points into it, so holding views costs memory, never
correctness; ``copy()`` keeps a small owning copy.  ``request()`` and
``request_many()`` return copies.

    >>> import nlfast
    >>> from nlfast import rtnl
    >>> with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
    ...     names = [n for b in s.dump(nlfast.Message(rtnl.RTM_GETLINK,
    ...                                               header=rtnl.ifinfomsg()))
    ...              for n in b.attr_str(rtnl.IFLA_IFNAME, rtnl.IFINFOMSG_LEN)]
    >>> "lo" in names
    True
"""

from nlfast import attrs
from nlfast._version import __version__
from nlfast.attrs import Attr, AttrSet
from nlfast.constants import (
    NETLINK_GENERIC,
    NETLINK_ROUTE,
    NETLINK_USERSOCK,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_MULTI,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
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
from nlfast.message import Message, MessageView
from nlfast.socket import Batch, Socket

__all__ = [
    "NETLINK_GENERIC",
    "NETLINK_ROUTE",
    "NETLINK_USERSOCK",
    "NLMSG_DONE",
    "NLMSG_ERROR",
    "NLM_F_ACK",
    "NLM_F_DUMP",
    "NLM_F_MULTI",
    "NLM_F_REQUEST",
    "Attr",
    "AttrSet",
    "Batch",
    "ClosedError",
    "ConcurrentUseError",
    "DecodeError",
    "DumpInterruptedError",
    "EventOverflowError",
    "Message",
    "MessageTooLargeError",
    "MessageView",
    "NetlinkError",
    "NlfastError",
    "OverrunError",
    "Socket",
    "TruncatedError",
    "__version__",
    "attrs",
]
