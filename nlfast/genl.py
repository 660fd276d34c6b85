"""Generic netlink: families by name, through the kernel's controller (nlctrl).

    >>> import nlfast
    >>> from nlfast import genl
    >>> with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
    ...     fam = genl.family(s, "nlctrl")
    >>> fam.id == genl.GENL_ID_CTRL and "notify" in fam.groups
    True

A family is looked up once per socket (a socket lives in one network
namespace) and cached there; :func:`message` builds a request with its
``genlmsghdr``; :func:`parse` splits a reply into the command, version and
attributes.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nlfast._shim import lib
from nlfast.attrs import Attr, AttrSet
from nlfast.attrs import string as _string
from nlfast.attrs import u16 as _u16
from nlfast.constants import NETLINK_GENERIC, NLM_F_REQUEST
from nlfast.errors import DecodeError, NetlinkError, NlfastError
from nlfast.message import Message, MessageView

if TYPE_CHECKING:
    from nlfast.socket import Socket

GENL_ID_CTRL: int = lib.GENL_ID_CTRL
GENL_HDRLEN: int = lib.GENL_HDRLEN
GENL_NAMSIZ: int = lib.GENL_NAMSIZ
GENL_ADMIN_PERM: int = lib.GENL_ADMIN_PERM
GENL_CMD_CAP_DO: int = lib.GENL_CMD_CAP_DO
GENL_CMD_CAP_DUMP: int = lib.GENL_CMD_CAP_DUMP
GENL_CMD_CAP_HASPOL: int = lib.GENL_CMD_CAP_HASPOL
GENL_UNS_ADMIN_PERM: int = lib.GENL_UNS_ADMIN_PERM

CTRL_CMD_UNSPEC: int = lib.CTRL_CMD_UNSPEC
CTRL_CMD_NEWFAMILY: int = lib.CTRL_CMD_NEWFAMILY
CTRL_CMD_DELFAMILY: int = lib.CTRL_CMD_DELFAMILY
CTRL_CMD_GETFAMILY: int = lib.CTRL_CMD_GETFAMILY
CTRL_CMD_NEWOPS: int = lib.CTRL_CMD_NEWOPS
CTRL_CMD_DELOPS: int = lib.CTRL_CMD_DELOPS
CTRL_CMD_GETOPS: int = lib.CTRL_CMD_GETOPS
CTRL_CMD_NEWMCAST_GRP: int = lib.CTRL_CMD_NEWMCAST_GRP
CTRL_CMD_DELMCAST_GRP: int = lib.CTRL_CMD_DELMCAST_GRP
CTRL_CMD_GETMCAST_GRP: int = lib.CTRL_CMD_GETMCAST_GRP
CTRL_CMD_GETPOLICY: int = lib.CTRL_CMD_GETPOLICY
CTRL_ATTR_UNSPEC: int = lib.CTRL_ATTR_UNSPEC
CTRL_ATTR_FAMILY_ID: int = lib.CTRL_ATTR_FAMILY_ID
CTRL_ATTR_FAMILY_NAME: int = lib.CTRL_ATTR_FAMILY_NAME
CTRL_ATTR_VERSION: int = lib.CTRL_ATTR_VERSION
CTRL_ATTR_HDRSIZE: int = lib.CTRL_ATTR_HDRSIZE
CTRL_ATTR_MAXATTR: int = lib.CTRL_ATTR_MAXATTR
CTRL_ATTR_OPS: int = lib.CTRL_ATTR_OPS
CTRL_ATTR_MCAST_GROUPS: int = lib.CTRL_ATTR_MCAST_GROUPS
CTRL_ATTR_POLICY: int = lib.CTRL_ATTR_POLICY
CTRL_ATTR_OP_POLICY: int = lib.CTRL_ATTR_OP_POLICY
CTRL_ATTR_OP: int = lib.CTRL_ATTR_OP
CTRL_ATTR_OP_UNSPEC: int = lib.CTRL_ATTR_OP_UNSPEC
CTRL_ATTR_OP_ID: int = lib.CTRL_ATTR_OP_ID
CTRL_ATTR_OP_FLAGS: int = lib.CTRL_ATTR_OP_FLAGS
CTRL_ATTR_MCAST_GRP_UNSPEC: int = lib.CTRL_ATTR_MCAST_GRP_UNSPEC
CTRL_ATTR_MCAST_GRP_NAME: int = lib.CTRL_ATTR_MCAST_GRP_NAME
CTRL_ATTR_MCAST_GRP_ID: int = lib.CTRL_ATTR_MCAST_GRP_ID

_GENLHDR = struct.Struct("=BBH")


class FamilyNotFoundError(NlfastError, LookupError):
    """No generic netlink family of that name in the socket's namespace."""


class GroupNotFoundError(NlfastError, LookupError):
    """The family has no multicast group of that name."""


@dataclass(frozen=True)
class Family:
    """A generic netlink family as nlctrl describes it.

    ``ops`` maps each command number to its flags (``GENL_ADMIN_PERM``,
    ``GENL_CMD_CAP_DO``, ``GENL_CMD_CAP_DUMP``, ...); ``groups`` maps each
    multicast group name to its group number.
    """

    name: str
    id: int
    version: int
    hdrsize: int
    maxattr: int
    ops: dict[int, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)

    def group(self, name: str) -> int:
        """The number of a multicast group.

        :raises GroupNotFoundError: naming the groups the family has.
        """
        try:
            return self.groups[name]
        except KeyError:
            have = ", ".join(sorted(self.groups)) or "none"
            raise GroupNotFoundError(
                f"generic netlink family {self.name!r} has no multicast group {name!r} "
                f"(it has: {have})"
            ) from None

    def message(self, cmd: int, attrs: Sequence[Attr] = (), *, flags: int = NLM_F_REQUEST,
                version: int | None = None, header: bytes = b"") -> Message:
        """A request to this family: ``genlmsghdr`` (this family's version
        unless given), then the family's own fixed header, then attributes."""
        return message(self.id, cmd, attrs, flags=flags,
                       version=self.version if version is None else version, header=header)


def genlmsghdr(cmd: int, version: int = 1) -> bytes:
    """struct genlmsghdr: cmd, version, 2 reserved bytes.

    :raises ValueError: cmd or version does not fit a byte.
    """
    for what, v in (("cmd", cmd), ("version", version)):
        if not isinstance(v, int) or not 0 <= v <= 0xFF:
            raise ValueError(f"genlmsghdr {what} must be an int in 0..255, not {v!r}")
    return _GENLHDR.pack(cmd, version, 0)


def message(family_id: int, cmd: int, attrs: Sequence[Attr] = (), *,
            flags: int = NLM_F_REQUEST, version: int = 1, header: bytes = b"") -> Message:
    """A generic netlink request: ``genlmsghdr(cmd, version)`` + ``header``
    (a family's own fixed header, if it has one) + attributes."""
    return Message(family_id, flags, genlmsghdr(cmd, version) + bytes(header), attrs)


def parse(msg: MessageView, hdrsize: int = 0) -> tuple[int, int, AttrSet]:
    """(cmd, version, attributes) of a generic netlink message whose family
    has a fixed header of ``hdrsize`` bytes after the genlmsghdr.

    :raises DecodeError: the message is too short for its headers.
    """
    p = msg.payload
    if len(p) < GENL_HDRLEN + hdrsize:
        raise DecodeError(
            f"generic netlink message of {len(p)} payload bytes has no room for "
            f"genlmsghdr ({GENL_HDRLEN}) and a {hdrsize}-byte family header"
        )
    cmd, version, _ = _GENLHDR.unpack_from(p)
    return int(cmd), int(version), msg.attrs(GENL_HDRLEN + hdrsize)


def family_from_message(msg: MessageView) -> Family:
    """The Family a CTRL_CMD_NEWFAMILY message (a reply or a notification) describes.

    :raises DecodeError: the message lacks the family's id or name.
    """
    _, _, a = parse(msg)
    if CTRL_ATTR_FAMILY_ID not in a or CTRL_ATTR_FAMILY_NAME not in a:
        raise DecodeError("nlctrl message without CTRL_ATTR_FAMILY_ID/CTRL_ATTR_FAMILY_NAME")
    ops: dict[int, int] = {}
    if CTRL_ATTR_OPS in a:
        for _idx, payload in a.nested(CTRL_ATTR_OPS):
            op = AttrSet(payload)
            if CTRL_ATTR_OP_ID in op:
                ops[op.u32(CTRL_ATTR_OP_ID)] = (
                    op.u32(CTRL_ATTR_OP_FLAGS) if CTRL_ATTR_OP_FLAGS in op else 0)
    groups: dict[str, int] = {}
    if CTRL_ATTR_MCAST_GROUPS in a:
        for _idx, payload in a.nested(CTRL_ATTR_MCAST_GROUPS):
            g = AttrSet(payload)
            if CTRL_ATTR_MCAST_GRP_NAME in g and CTRL_ATTR_MCAST_GRP_ID in g:
                groups[g.str(CTRL_ATTR_MCAST_GRP_NAME)] = g.u32(CTRL_ATTR_MCAST_GRP_ID)

    def opt(t: int) -> int:
        return a.u32(t) if t in a else 0

    return Family(
        name=a.str(CTRL_ATTR_FAMILY_NAME),
        id=a.u16(CTRL_ATTR_FAMILY_ID),
        version=opt(CTRL_ATTR_VERSION),
        hdrsize=opt(CTRL_ATTR_HDRSIZE),
        maxattr=opt(CTRL_ATTR_MAXATTR),
        ops=ops,
        groups=groups,
    )


# one cache per socket: a socket stays in the namespace it was opened in
_cache: weakref.WeakKeyDictionary[Socket, dict[str, Family]] = weakref.WeakKeyDictionary()


def _check_sock(sock: Socket) -> None:
    if sock.protocol != NETLINK_GENERIC:
        raise ValueError(
            f"generic netlink needs a NETLINK_GENERIC socket, not protocol {sock.protocol}")


def family(sock: Socket, name: str, *, refresh: bool = False) -> Family:
    """Looks a family up by name (CTRL_CMD_GETFAMILY), once per socket.

    :param refresh: ask the kernel again rather than use the cached answer.
    :raises FamilyNotFoundError: no such family in the socket's namespace
        (its module may not be loaded).
    :raises ValueError: not a NETLINK_GENERIC socket, or a bad name.
    """
    _check_sock(sock)
    if not isinstance(name, str) or not name or len(name.encode()) >= GENL_NAMSIZ:
        raise ValueError(
            f"a generic netlink family name is a non-empty str under {GENL_NAMSIZ} bytes, "
            f"not {name!r}")
    cache = _cache.setdefault(sock, {})
    if not refresh and name in cache:
        return cache[name]
    req = message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, [_string(CTRL_ATTR_FAMILY_NAME, name)])
    try:
        replies = sock.request(req)
    except NetlinkError as e:
        if e.code == 2:  # ENOENT
            raise FamilyNotFoundError(
                f"no generic netlink family {name!r} in this namespace") from e
        raise
    if not replies:
        raise DecodeError(f"nlctrl answered the lookup of {name!r} with no family")
    fam = family_from_message(replies[0])
    cache[name] = fam
    return fam


def family_by_id(sock: Socket, family_id: int) -> Family:
    """Looks a family up by its number (not cached: ids are reused after unload).

    :raises FamilyNotFoundError: no family has that number.
    """
    _check_sock(sock)
    req = message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, [_u16(CTRL_ATTR_FAMILY_ID, family_id)])
    try:
        replies = sock.request(req)
    except NetlinkError as e:
        if e.code == 2:
            raise FamilyNotFoundError(
                f"no generic netlink family with id {family_id} in this namespace") from e
        raise
    return family_from_message(replies[0])


def families(sock: Socket) -> dict[str, Family]:
    """Every generic netlink family of the socket's namespace, by name (a dump);
    the per-socket cache is refreshed with them."""
    _check_sock(sock)
    out: dict[str, Family] = {}
    for m in sock.dump_messages(message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY)):
        f = family_from_message(m)
        out[f.name] = f
    _cache.setdefault(sock, {}).update(out)
    return out


def group(sock: Socket, spec: str) -> int:
    """The group number of ``"family:group"`` (e.g. ``"nlctrl:notify"``).

    :raises ValueError: no ":" in spec.
    :raises FamilyNotFoundError, GroupNotFoundError: naming what is missing.
    """
    fam_name, sep, grp = spec.partition(":")
    if not sep or not fam_name or not grp:
        raise ValueError(f"a generic netlink group is named 'family:group', not {spec!r}")
    return family(sock, fam_name).group(grp)


def subscribe(sock: Socket, *specs: str) -> list[int]:
    """Joins generic netlink multicast groups by name (``"family:group"``);
    returns their numbers.

    :raises FamilyNotFoundError, GroupNotFoundError: naming what is missing.
    """
    nums = [group(sock, s) for s in specs]
    sock.subscribe(*nums)
    return nums


__all__ = [n for n in dir() if n.startswith(("CTRL_", "GENL_"))] + [
    "Family",
    "FamilyNotFoundError",
    "GroupNotFoundError",
    "families",
    "family",
    "family_by_id",
    "family_from_message",
    "genlmsghdr",
    "group",
    "message",
    "parse",
    "subscribe",
]
