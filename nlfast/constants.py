"""Netlink numbers, as the system headers define them (read through the shim).

Protocols (``NETLINK_*`` for :class:`~nlfast.socket.Socket`), message types
(``NLMSG_*``), header flags (``NLM_F_*``), attribute flags (``NLA_F_*``) and
socket options (``SOL_*``, ``NETLINK_*``, ``SO_*`` for ``setsockopt()``).
The values come from ``<linux/netlink.h>`` and ``<sys/socket.h>`` through
the C compiler at build time: none is copied by hand.
"""

from __future__ import annotations

from nlfast._shim import lib

#: Bytes of ``struct nlmsghdr`` (aligned): where a message's payload starts.
NLMSG_HDRLEN: int = lib.NLMSG_HDRLEN
#: Bytes of ``struct nlattr`` (aligned): where an attribute's payload starts.
NLA_HDRLEN: int = lib.NLA_HDRLEN
#: Message type: nothing; receivers skip it.
NLMSG_NOOP: int = lib.NLMSG_NOOP
#: Message type: an error (errno < 0) or an acknowledgement (errno 0).
NLMSG_ERROR: int = lib.NLMSG_ERROR
#: Message type: the end of a multipart message (a dump).
NLMSG_DONE: int = lib.NLMSG_DONE
#: Message type: data lost (unused by the kernel).
NLMSG_OVERRUN: int = lib.NLMSG_OVERRUN
#: The first message type a family may use for itself.
NLMSG_MIN_TYPE: int = lib.NLMSG_MIN_TYPE
#: Attribute type flag: the payload is nested attributes.
NLA_F_NESTED: int = lib.NLA_F_NESTED
#: Attribute type flag: the payload is in network byte order.
NLA_F_NET_BYTEORDER: int = lib.NLA_F_NET_BYTEORDER
#: The attribute type without its flags, as a 16-bit mask.
NLA_TYPE_MASK: int = lib.NLA_TYPE_MASK & 0xFFFF  # ~(NESTED | NET_BYTEORDER), as u16

#: Flag: the message is a request (set on everything sent to the kernel).
NLM_F_REQUEST: int = lib.NLM_F_REQUEST
#: Flag: one part of a multipart message; NLMSG_DONE ends it.
NLM_F_MULTI: int = lib.NLM_F_MULTI
#: Flag: ask for an acknowledgement (NLMSG_ERROR with errno 0) on success.
NLM_F_ACK: int = lib.NLM_F_ACK
#: Flag: echo this request back to the sender.
NLM_F_ECHO: int = lib.NLM_F_ECHO
#: Flag on a dump's messages: the state changed during the dump.
NLM_F_DUMP_INTR: int = lib.NLM_F_DUMP_INTR
#: Flag on a dump's messages: the kernel filtered the dump as asked.
NLM_F_DUMP_FILTERED: int = lib.NLM_F_DUMP_FILTERED
#: GET flag: return the whole table rather than one entry.
NLM_F_ROOT: int = lib.NLM_F_ROOT
#: GET flag: return every entry that matches.
NLM_F_MATCH: int = lib.NLM_F_MATCH
#: GET flag: return an atomic snapshot of the table.
NLM_F_ATOMIC: int = lib.NLM_F_ATOMIC
#: GET flag: a dump, ``NLM_F_ROOT | NLM_F_MATCH``.
NLM_F_DUMP: int = lib.NLM_F_DUMP
#: NEW flag: replace an existing object.
NLM_F_REPLACE: int = lib.NLM_F_REPLACE
#: NEW flag: fail if the object exists.
NLM_F_EXCL: int = lib.NLM_F_EXCL
#: NEW flag: create the object if it does not exist.
NLM_F_CREATE: int = lib.NLM_F_CREATE
#: NEW flag: add to the end of the object list.
NLM_F_APPEND: int = lib.NLM_F_APPEND
#: DELETE flag: do not delete recursively.
NLM_F_NONREC: int = lib.NLM_F_NONREC
#: DELETE flag: delete many objects at once.
NLM_F_BULK: int = lib.NLM_F_BULK
#: ACK flag: the acknowledgement carries only the request's header.
NLM_F_CAPPED: int = lib.NLM_F_CAPPED
#: ACK flag: the acknowledgement carries extended-ack attributes.
NLM_F_ACK_TLVS: int = lib.NLM_F_ACK_TLVS

#: Protocol: rtnetlink (links, addresses, routes, neighbours...).
NETLINK_ROUTE: int = lib.NETLINK_ROUTE
#: Protocol: reserved for user-space protocols (socket to socket).
NETLINK_USERSOCK: int = lib.NETLINK_USERSOCK
#: Protocol: socket monitoring (sock_diag).
NETLINK_SOCK_DIAG: int = lib.NETLINK_SOCK_DIAG
#: Protocol: the netfilter subsystem (nfnetlink).
NETLINK_NETFILTER: int = lib.NETLINK_NETFILTER
#: Protocol: kernel uevents to user space.
NETLINK_KOBJECT_UEVENT: int = lib.NETLINK_KOBJECT_UEVENT
#: Protocol: generic netlink, families resolved by name.
NETLINK_GENERIC: int = lib.NETLINK_GENERIC
#: Protocol numbers are below this.
MAX_LINKS: int = lib.MAX_LINKS

#: Socket option level of the NETLINK_* options.
SOL_NETLINK: int = lib.SOL_NETLINK
#: Socket option level of the SO_* options.
SOL_SOCKET: int = lib.SOL_SOCKET
#: Option: join a multicast group (by number).
NETLINK_ADD_MEMBERSHIP: int = lib.NETLINK_ADD_MEMBERSHIP
#: Option: leave a multicast group.
NETLINK_DROP_MEMBERSHIP: int = lib.NETLINK_DROP_MEMBERSHIP
#: Option: deliver the destination group with each message.
NETLINK_PKTINFO: int = lib.NETLINK_PKTINFO
#: Option: report delivery failures of broadcasts to the sender.
NETLINK_BROADCAST_ERROR: int = lib.NETLINK_BROADCAST_ERROR
#: Option: never report ENOBUFS on this socket (losses go unnoticed).
NETLINK_NO_ENOBUFS: int = lib.NETLINK_NO_ENOBUFS
#: Option: receive multicasts of every peer network namespace.
NETLINK_LISTEN_ALL_NSID: int = lib.NETLINK_LISTEN_ALL_NSID
#: Option: acknowledgements carry only the request's header.
NETLINK_CAP_ACK: int = lib.NETLINK_CAP_ACK
#: Option: errors and acknowledgements carry extended-ack attributes.
NETLINK_EXT_ACK: int = lib.NETLINK_EXT_ACK
#: Option: the kernel checks GET requests strictly.
NETLINK_GET_STRICT_CHK: int = lib.NETLINK_GET_STRICT_CHK
#: Option: the receive buffer size (capped by net.core.rmem_max).
SO_RCVBUF: int = lib.SO_RCVBUF
#: Option: the send buffer size (capped by net.core.wmem_max).
SO_SNDBUF: int = lib.SO_SNDBUF
#: Option: the receive buffer size past the cap (CAP_NET_ADMIN).
SO_RCVBUFFORCE: int = lib.SO_RCVBUFFORCE
#: Option: the send buffer size past the cap (CAP_NET_ADMIN).
SO_SNDBUFFORCE: int = lib.SO_SNDBUFFORCE
