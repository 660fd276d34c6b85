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
# The other family headers (<linux/rtnetlink.h>, <linux/neighbour.h>,
# <linux/fib_rules.h>), sized by the C compiler:
RTMSG_LEN: int = ffi.sizeof("struct rtmsg")
NDMSG_LEN: int = ffi.sizeof("struct ndmsg")
FIB_RULE_HDR_LEN: int = ffi.sizeof("struct fib_rule_hdr")
TCMSG_LEN: int = ffi.sizeof("struct tcmsg")

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


# -- routes, neighbours, link kinds and operational states ---------------------

RTA_UNSPEC: int = lib.RTA_UNSPEC
RTA_DST: int = lib.RTA_DST
RTA_SRC: int = lib.RTA_SRC
RTA_IIF: int = lib.RTA_IIF
RTA_OIF: int = lib.RTA_OIF
RTA_GATEWAY: int = lib.RTA_GATEWAY
RTA_PRIORITY: int = lib.RTA_PRIORITY
RTA_PREFSRC: int = lib.RTA_PREFSRC
RTA_METRICS: int = lib.RTA_METRICS
RTA_MULTIPATH: int = lib.RTA_MULTIPATH
RTA_FLOW: int = lib.RTA_FLOW
RTA_CACHEINFO: int = lib.RTA_CACHEINFO
RTA_TABLE: int = lib.RTA_TABLE
RTA_MARK: int = lib.RTA_MARK
RTA_VIA: int = lib.RTA_VIA
RTA_PREF: int = lib.RTA_PREF
RTA_ENCAP_TYPE: int = lib.RTA_ENCAP_TYPE
RTA_ENCAP: int = lib.RTA_ENCAP
RTA_EXPIRES: int = lib.RTA_EXPIRES
RTA_PAD: int = lib.RTA_PAD
RTA_UID: int = lib.RTA_UID
RTA_NH_ID: int = lib.RTA_NH_ID
RTA_MAX: int = lib.RTA_MAX

RTN_UNSPEC: int = lib.RTN_UNSPEC
RTN_UNICAST: int = lib.RTN_UNICAST
RTN_LOCAL: int = lib.RTN_LOCAL
RTN_BROADCAST: int = lib.RTN_BROADCAST
RTN_BLACKHOLE: int = lib.RTN_BLACKHOLE
RTN_UNREACHABLE: int = lib.RTN_UNREACHABLE
RTN_PROHIBIT: int = lib.RTN_PROHIBIT
RTPROT_UNSPEC: int = lib.RTPROT_UNSPEC
RTPROT_KERNEL: int = lib.RTPROT_KERNEL
RTPROT_BOOT: int = lib.RTPROT_BOOT
RTPROT_STATIC: int = lib.RTPROT_STATIC
RT_SCOPE_UNIVERSE: int = lib.RT_SCOPE_UNIVERSE
RT_SCOPE_LINK: int = lib.RT_SCOPE_LINK
RT_SCOPE_HOST: int = lib.RT_SCOPE_HOST
RT_SCOPE_NOWHERE: int = lib.RT_SCOPE_NOWHERE
RT_TABLE_UNSPEC: int = lib.RT_TABLE_UNSPEC
RT_TABLE_DEFAULT: int = lib.RT_TABLE_DEFAULT
RT_TABLE_MAIN: int = lib.RT_TABLE_MAIN
RT_TABLE_LOCAL: int = lib.RT_TABLE_LOCAL

NDA_UNSPEC: int = lib.NDA_UNSPEC
NDA_DST: int = lib.NDA_DST
NDA_LLADDR: int = lib.NDA_LLADDR
NDA_CACHEINFO: int = lib.NDA_CACHEINFO
NDA_PROBES: int = lib.NDA_PROBES
NDA_VLAN: int = lib.NDA_VLAN
NDA_IFINDEX: int = lib.NDA_IFINDEX
NDA_MASTER: int = lib.NDA_MASTER
NUD_INCOMPLETE: int = lib.NUD_INCOMPLETE
NUD_REACHABLE: int = lib.NUD_REACHABLE
NUD_STALE: int = lib.NUD_STALE
NUD_DELAY: int = lib.NUD_DELAY
NUD_PROBE: int = lib.NUD_PROBE
NUD_FAILED: int = lib.NUD_FAILED
NUD_NOARP: int = lib.NUD_NOARP
NUD_PERMANENT: int = lib.NUD_PERMANENT
NUD_NONE: int = lib.NUD_NONE

IFLA_INFO_UNSPEC: int = lib.IFLA_INFO_UNSPEC
IFLA_INFO_DATA: int = lib.IFLA_INFO_DATA
IFLA_INFO_XSTATS: int = lib.IFLA_INFO_XSTATS
IFLA_INFO_SLAVE_KIND: int = lib.IFLA_INFO_SLAVE_KIND
IFLA_INFO_SLAVE_DATA: int = lib.IFLA_INFO_SLAVE_DATA

# RFC 2863 operational states (enum in <linux/if.h>, which clashes with
# glibc's <net/if.h>, so the values are written here)
IF_OPER_UNKNOWN = 0
IF_OPER_NOTPRESENT = 1
IF_OPER_DOWN = 2
IF_OPER_LOWERLAYERDOWN = 3
IF_OPER_TESTING = 4
IF_OPER_DORMANT = 5
IF_OPER_UP = 6
IF_OPER_NAMES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")



_RTMSG_NAMES = ("rtm_family", "rtm_dst_len", "rtm_src_len", "rtm_tos", "rtm_table",
                "rtm_protocol", "rtm_scope", "rtm_type", "rtm_flags")
_NDMSG_NAMES = ("ndm_family", "ndm_ifindex", "ndm_state", "ndm_flags", "ndm_type")


def _unpack(ctype: str, names: tuple[str, ...], payload: memoryview | bytes) -> dict[str, int]:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"{ctype} is read from bytes, not {type(payload).__name__}")
    size = ffi.sizeof(ctype)
    if len(payload) < size:
        raise DecodeError(f"{ctype} needs {size} bytes, got {len(payload)}")
    c = ffi.new(ctype + " *")
    ffi.memmove(c, bytes(payload[:size]), size)
    return {n: int(getattr(c, n)) for n in names}


def rtmsg(family: int = 0, dst_len: int = 0, src_len: int = 0, tos: int = 0,
          table: int = 0, protocol: int = 0, scope: int = 0, type: int = 0,
          flags: int = 0) -> bytes:
    """struct rtmsg (the fixed header of route messages), laid out by the C
    compiler.  :raises TypeError, ValueError: a field is not an int that fits."""
    return _pack("struct rtmsg", rtm_family=family, rtm_dst_len=dst_len,
                 rtm_src_len=src_len, rtm_tos=tos, rtm_table=table, rtm_protocol=protocol,
                 rtm_scope=scope, rtm_type=type, rtm_flags=flags)


def rtmsg_fields(payload: memoryview | bytes) -> dict[str, int]:
    """The fields of a route message's struct rtmsg, by their C names.

    :raises DecodeError: the payload is shorter than a struct rtmsg.
    """
    return _unpack("struct rtmsg", _RTMSG_NAMES, payload)


def ndmsg(family: int = 0, ifindex: int = 0, state: int = 0, flags: int = 0,
          type: int = 0) -> bytes:
    """struct ndmsg (the fixed header of neighbour messages), laid out by the
    C compiler.  :raises TypeError, ValueError: a field is not an int that fits."""
    return _pack("struct ndmsg", ndm_family=family, ndm_ifindex=ifindex, ndm_state=state,
                 ndm_flags=flags, ndm_type=type)


def ndmsg_fields(payload: memoryview | bytes) -> dict[str, int]:
    """The fields of a neighbour message's struct ndmsg, by their C names.

    :raises DecodeError: the payload is shorter than a struct ndmsg.
    """
    return _unpack("struct ndmsg", _NDMSG_NAMES, payload)
