"""Netlink numbers for the contenders that must not import nlfast.

They are the kernel's ABI (linux/netlink.h, linux/rtnetlink.h,
linux/if_link.h, linux/if_addr.h); test_micro.py checks them against
nlfast's own, which the C compiler reads from the system headers.
"""

from __future__ import annotations

import contextlib
import socket
import struct

AF_NETLINK = socket.AF_NETLINK
NETLINK_ROUTE = 0
NETLINK_USERSOCK = 2
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_CAP_ACK = 10
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_MIN_TYPE = 0x10
NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_DUMP = 0x300
NLA_TYPE_MASK = 0x3FFF

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
IFLA_IFNAME = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFINFOMSG_LEN = 16
IFADDRMSG_LEN = 8

# The message the USERSOCK workloads carry, as nlceil sends and checks it:
# type NLMSG_MIN_TYPE, flags 0, seqs 1..N, 16 payload bytes of pattern().
USERSOCK_TYPE = NLMSG_MIN_TYPE
USERSOCK_SIZE = 16

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, portid
NLATTR = struct.Struct("=HH")  # len, type
I32 = struct.Struct("=i")
U32 = struct.Struct("=I")

BIG_BUF = 32768  # one receive buffer: a dump skb is never larger
RCVBUF = 32 << 20  # SO_RCVBUFFORCE for every contender, as nlceil sets it


def pattern(size: int) -> bytes:
    """nlceil's payload bytes: byte i is (i * 131 + 7) & 0xff."""
    return bytes((i * 131 + 7) & 0xFF for i in range(size))


def open_socket(protocol: int, rcvbuf: int = RCVBUF, groups: int = 0) -> socket.socket:
    """A stdlib netlink socket set up as nlceil sets its own up."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, rcvbuf)
    with contextlib.suppress(OSError):
        s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    s.bind((0, groups))
    return s
