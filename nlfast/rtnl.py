"""rtnetlink helpers: family headers and numbers (from the system headers)."""

from __future__ import annotations

import re
import struct

from nlfast._shim import ffi, lib
from nlfast.errors import DecodeError

RTM_NEWLINK: int = lib.RTM_NEWLINK
RTM_DELLINK: int = lib.RTM_DELLINK
RTM_GETLINK: int = lib.RTM_GETLINK
RTM_SETLINK: int = lib.RTM_SETLINK
RTM_NEWADDR: int = lib.RTM_NEWADDR
RTM_DELADDR: int = lib.RTM_DELADDR
RTM_GETADDR: int = lib.RTM_GETADDR
RTM_NEWROUTE: int = lib.RTM_NEWROUTE
RTM_DELROUTE: int = lib.RTM_DELROUTE
RTM_GETROUTE: int = lib.RTM_GETROUTE
RTM_NEWNEIGH: int = lib.RTM_NEWNEIGH
RTM_DELNEIGH: int = lib.RTM_DELNEIGH
RTM_GETNEIGH: int = lib.RTM_GETNEIGH
RTNLGRP_LINK: int = lib.RTNLGRP_LINK
RTNLGRP_IPV4_IFADDR: int = lib.RTNLGRP_IPV4_IFADDR
RTNLGRP_IPV6_IFADDR: int = lib.RTNLGRP_IPV6_IFADDR
RTNLGRP_IPV4_ROUTE: int = lib.RTNLGRP_IPV4_ROUTE
RTNLGRP_NEIGH: int = lib.RTNLGRP_NEIGH

IFLA_ADDRESS: int = lib.IFLA_ADDRESS
IFLA_BROADCAST: int = lib.IFLA_BROADCAST
IFLA_IFNAME: int = lib.IFLA_IFNAME
IFLA_MTU: int = lib.IFLA_MTU
IFLA_LINK: int = lib.IFLA_LINK
IFLA_MASTER: int = lib.IFLA_MASTER
IFLA_TXQLEN: int = lib.IFLA_TXQLEN
IFLA_OPERSTATE: int = lib.IFLA_OPERSTATE
IFLA_LINKINFO: int = lib.IFLA_LINKINFO
IFLA_INFO_KIND: int = lib.IFLA_INFO_KIND
IFLA_EXT_MASK: int = lib.IFLA_EXT_MASK
IFA_ADDRESS: int = lib.IFA_ADDRESS
IFA_LOCAL: int = lib.IFA_LOCAL
IFA_LABEL: int = lib.IFA_LABEL
IFA_BROADCAST: int = lib.IFA_BROADCAST
IFA_FLAGS: int = lib.IFA_FLAGS
IFF_UP: int = lib.IFF_UP
RTEXT_FILTER_VF: int = lib.RTEXT_FILTER_VF
RTEXT_FILTER_SKIP_STATS: int = lib.RTEXT_FILTER_SKIP_STATS
AF_UNSPEC: int = lib.AF_UNSPEC
AF_INET: int = lib.AF_INET
AF_INET6: int = lib.AF_INET6

IFINFOMSG_LEN: int = ffi.sizeof("struct ifinfomsg")
IFADDRMSG_LEN: int = ffi.sizeof("struct ifaddrmsg")
# The other family headers, fixed by the uapi (<linux/rtnetlink.h>,
# <linux/neighbour.h>, <linux/fib_rules.h>):
RTMSG_LEN = 12  # struct rtmsg: 8 x u8, unsigned rtm_flags
NDMSG_LEN = 12  # struct ndmsg: u8, u8, u16 pad, int ifindex, u16 state, u8, u8
FIB_RULE_HDR_LEN = 12  # struct fib_rule_hdr: 8 x u8, u32 flags
TCMSG_LEN = 20  # struct tcmsg: u8, u8, u16 pad, int ifindex, u32 handle, parent, info

_HEADER_LENS = {
    "LINK": IFINFOMSG_LEN,
    "ADDR": IFADDRMSG_LEN,
    "ROUTE": RTMSG_LEN,
    "NEIGH": NDMSG_LEN,
    "RULE": FIB_RULE_HDR_LEN,
    "QDISC": TCMSG_LEN,
    "TCLASS": TCMSG_LEN,
    "TFILTER": TCMSG_LEN,
}

_RTM_MSG_TYPE = re.compile(r"RTM_(?:NEW|DEL|GET|SET)[A-Z0-9]")
_RTNLGRP_SKIP = re.compile(r"RTNLGRP_(?:NONE|MAX|NOP\d*)$")


def rtm_names() -> dict[int, str]:
    """{message type: name} of every RTM_NEW*, RTM_DEL*, RTM_GET* and RTM_SET*
    message type of the system's <linux/rtnetlink.h>, in numeric order."""
    names = {int(getattr(lib, n)): n for n in dir(lib) if _RTM_MSG_TYPE.match(n)}
    return dict(sorted(names.items()))


def rtnl_groups() -> dict[str, int]:
    """{name: number} of the rtnetlink multicast groups of the system's
    <linux/rtnetlink.h>, in numeric order: "ipv4-ifaddr" for
    RTNLGRP_IPV4_IFADDR (lower case, "-" for "_"). The placeholders
    RTNLGRP_NONE, RTNLGRP_NOP* and RTNLGRP_MAX are left out."""
    groups = [(int(getattr(lib, n)), n) for n in dir(lib)
              if n.startswith("RTNLGRP_") and not _RTNLGRP_SKIP.match(n)]
    return {n[len("RTNLGRP_"):].lower().replace("_", "-"): v for v, n in sorted(groups)}


def header_len(msgtype: int) -> int | None:
    """The family header length of an rtnetlink message type (RTM_NEWLINK:
    ``IFINFOMSG_LEN``, RTM_GETADDR: ``IFADDRMSG_LEN``, the route, neighbour,
    rule and traffic-control types), or None for a type not known here."""
    return _TYPE_HDRLEN.get(msgtype)


def _type_hdrlen() -> dict[int, int]:
    out = {}
    for t, name in rtm_names().items():
        for obj, n in _HEADER_LENS.items():
            if name[len("RTM_") + 3:] == obj:
                out[t] = n
    return out


_TYPE_HDRLEN = _type_hdrlen()


def _pack(ctype: str, **fields: int) -> bytes:
    c = ffi.new(ctype + " *")
    for k, v in fields.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{ctype} field {k} must be an int, not {v!r}")
        try:
            setattr(c, k, v)
        except OverflowError:
            raise ValueError(f"{ctype} field {k}: {v} does not fit the field") from None
    return bytes(ffi.buffer(c))


def ifinfomsg(family: int = 0, type: int = 0, index: int = 0, flags: int = 0,
              change: int = 0) -> bytes:
    """struct ifinfomsg, laid out by the C compiler."""
    return _pack("struct ifinfomsg", ifi_family=family, ifi_type=type, ifi_index=index,
                 ifi_flags=flags, ifi_change=change)


def ifaddrmsg(family: int = 0, prefixlen: int = 0, flags: int = 0, scope: int = 0,
              index: int = 0) -> bytes:
    """struct ifaddrmsg, laid out by the C compiler."""
    return _pack("struct ifaddrmsg", ifa_family=family, ifa_prefixlen=prefixlen,
                 ifa_flags=flags, ifa_scope=scope, ifa_index=index)


_IFI_INDEX = ffi.offsetof("struct ifinfomsg", "ifi_index")
_IFA_INDEX = ffi.offsetof("struct ifaddrmsg", "ifa_index")
_S32 = struct.Struct("=i")  # host order, as the kernel writes them
_U32 = struct.Struct("=I")


def _field(payload: memoryview | bytes, st: struct.Struct, off: int, what: str,
           need: int) -> int:
    if len(payload) < need:
        raise DecodeError(
            f"{what} needs a payload of at least {need} bytes, got {len(payload)}")
    return int(st.unpack_from(payload, off)[0])


def ifinfo_index(payload: memoryview | bytes) -> int:
    """ifi_index of a link message's payload.

    :raises DecodeError: the payload is shorter than a struct ifinfomsg.
    """
    return _field(payload, _S32, _IFI_INDEX, "ifinfo_index (struct ifinfomsg)", IFINFOMSG_LEN)


def ifaddr_index(payload: memoryview | bytes) -> int:
    """ifa_index of an address message's payload.

    :raises DecodeError: the payload is shorter than a struct ifaddrmsg.
    """
    return _field(payload, _U32, _IFA_INDEX, "ifaddr_index (struct ifaddrmsg)", IFADDRMSG_LEN)
