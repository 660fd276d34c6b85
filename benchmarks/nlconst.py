"""Netlink numbers for the contenders that must not import nlfast.

They are the kernel's ABI (linux/netlink.h, linux/rtnetlink.h,
linux/if_link.h, linux/if_addr.h, kernel/uapi/nlfast_family.h);
test_micro.py checks them against nlfast's own.
"""

from __future__ import annotations

import contextlib
import socket
import struct

NETLINK_ROUTE, NETLINK_USERSOCK = 0, 2
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NETLINK_CAP_ACK = 270, 1, 10
SO_RCVBUFFORCE, SO_SNDBUFFORCE = 33, 32

NLMSG_ERROR, NLMSG_DONE, NLMSG_MIN_TYPE = 2, 3, 0x10
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP = 0x01, 0x02, 0x04, 0x300
NLA_TYPE_MASK = 0x3FFF

RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 18, 20, 22
IFLA_IFNAME, IFA_ADDRESS, IFA_LOCAL = 3, 1, 2
IFINFOMSG_LEN, IFADDRMSG_LEN = 16, 8

# the nlfast family (NLFAM_MSG_*, NLFAM_A_*)
FAM_MSG_ECHO, FAM_MSG_SINK, FAM_MSG_FLOOD, FAM_MSG_DUMP = 18, 19, 21, 22
FAM_A_DATA, FAM_A_COUNT, FAM_A_SIZE, FAM_A_GROUP, FAM_A_INDEX = 2, 3, 4, 5, 6

# What the USERSOCK workloads carry, as nlceil sends and checks it: type
# NLMSG_MIN_TYPE, flags 0, seqs 1..N, 16 bytes of pattern(); END ends a run.
USERSOCK_TYPE = NLMSG_MIN_TYPE
END_TYPE = USERSOCK_TYPE + 1
USERSOCK_SIZE = 16

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, portid
NLATTR = struct.Struct("=HH")  # len, type
U32 = struct.Struct("=I")

BIG_BUF = 32768  # one receive buffer: a dump skb is never larger
RCVBUF = 32 << 20  # SO_RCVBUFFORCE for every contender, as nlceil sets it


def pattern(size: int) -> bytes:
    """nlceil's payload bytes: byte i is (i * 131 + 7) & 0xff."""
    return bytes((i * 131 + 7) & 0xFF for i in range(size))


def attr_u32(atype: int, value: int) -> bytes:
    return NLATTR.pack(8, atype) + U32.pack(value)


def open_socket(protocol: int, rcvbuf: int = RCVBUF) -> socket.socket:
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
    s.bind((0, 0))
    return s
