"""nlfast.genl at its edges: header bounds and defaults, the family header,
group names, and nlctrl messages that leave attributes out.

The kernel's controller answers what it can be asked; the messages it never
sends (a family without a name, an operation without flags) come from a
second NETLINK_USERSOCK socket, received and decoded as the kernel's are.
"""

from __future__ import annotations

import pytest

import nlfast
from nlfast import DecodeError, Message, MessageView, attrs, genl
from nlfast.constants import NLM_F_DUMP, NLM_F_REQUEST

USERSOCK = nlfast.NETLINK_USERSOCK


def over_usersock(msg: Message) -> MessageView:
    """msg sent from one USERSOCK socket to another, as the receiver sees it."""
    with nlfast.Socket(USERSOCK) as rx, nlfast.Socket(USERSOCK) as tx:
        tx.send(msg, dest=rx.portid)
        (got,) = rx.recv(timeout=5)
        return got.copy()


# -- genlmsghdr and message(): bounds, defaults, the family header --------------------------


def test_genlmsghdr_takes_every_byte_value_and_defaults_to_version_1() -> None:
    assert genl.genlmsghdr(0, 0) == b"\x00\x00\x00\x00"
    assert genl.genlmsghdr(255, 255) == b"\xff\xff\x00\x00"
    assert genl.genlmsghdr(7) == b"\x07\x01\x00\x00"
    for cmd, version, what in ((-1, 1, "cmd"), (256, 1, "cmd"), (1, -1, "version"),
                               (1, 256, "version"), (1, "2", "version")):
        with pytest.raises(ValueError, match=rf"genlmsghdr {what} must be an int in 0\.\.255"):
            genl.genlmsghdr(cmd, version)  # type: ignore[arg-type]


def test_message_defaults_and_version_reach_the_peer() -> None:
    m = over_usersock(genl.message(0x30, 5))
    assert (m.type, m.flags & NLM_F_REQUEST) == (0x30, NLM_F_REQUEST)
    assert bytes(m.payload) == b"\x05\x01\x00\x00"
    cmd, version, a = genl.parse(m)  # a payload of exactly GENL_HDRLEN bytes
    assert (cmd, version, list(a)) == (5, 1, [])
    m = over_usersock(genl.message(0x30, 6, [attrs.u32(1, 9)], version=3))
    cmd, version, a = genl.parse(m)
    assert (cmd, version, a.u32(1)) == (6, 3, 9)


def test_family_header_goes_after_genlmsghdr_and_parse_skips_it() -> None:
    fam = genl.Family("x", 0x31, 4, 8, 2)
    m = over_usersock(fam.message(9, [attrs.string(2, "after")], header=b"HDR!0123"))
    assert bytes(m.payload[:12]) == b"\x09\x04\x00\x00HDR!0123"
    cmd, version, a = genl.parse(m, hdrsize=8)
    assert (cmd, version, a.str(2)) == (9, 4, "after")
    assert len(m.payload) == 12 + 12  # genlmsghdr, header, one 4-byte-aligned string
    genl.parse(m, hdrsize=20)  # exactly the payload: no attributes, no error
    with pytest.raises(DecodeError, match="no room for genlmsghdr"):
        genl.parse(m, hdrsize=21)


def test_family_message_version_and_flags_against_nlctrl() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        f = genl.family(s, "nlctrl")
        assert f.version == 2  # so the default differs from genlmsghdr's 1
        assert f.message(genl.CTRL_CMD_GETFAMILY).header == genl.genlmsghdr(
            genl.CTRL_CMD_GETFAMILY, 2)
        assert f.message(genl.CTRL_CMD_GETFAMILY, version=7).header[1] == 7
        assert f.message(genl.CTRL_CMD_GETFAMILY, version=0).header[1] == 0
        # flags reach the kernel: a dump of every family, not a failed do
        req = f.message(genl.CTRL_CMD_GETFAMILY, flags=NLM_F_REQUEST | NLM_F_DUMP)
        assert req.flags == NLM_F_REQUEST | NLM_F_DUMP
        names = {genl.family_from_message(m).name for m in s.request(req)}
        assert {"nlctrl", "ethtool", "netdev"} <= names
        with pytest.raises(nlfast.NetlinkError):  # a do without id or name
            s.request(f.message(genl.CTRL_CMD_GETFAMILY))


# -- group names -----------------------------------------------------------------------------


def test_missing_group_lists_the_groups_or_none() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        netdev = genl.family(s, "netdev")
        assert {"mgmt", "page-pool"} <= set(netdev.groups)
        have = ", ".join(sorted(netdev.groups))
        with pytest.raises(genl.GroupNotFoundError, match=rf"\(it has: {have}\)$"):
            netdev.group("nope")
        bare = genl.family(s, "tcp_metrics")
        assert bare.groups == {}
        with pytest.raises(genl.GroupNotFoundError, match=r"\(it has: none\)$"):
            bare.group("nope")


def test_group_spec_is_split_at_its_first_colon() -> None:
    with nlfast.Socket(nlfast.NETLINK_GENERIC) as s:
        assert genl.group(s, "netdev:mgmt") == genl.family(s, "netdev").groups["mgmt"]
        with pytest.raises(genl.GroupNotFoundError, match="no multicast group 'mgmt:x'"):
            genl.group(s, "netdev:mgmt:x")
        for spec in ("netdev:", ":mgmt", ":", "netdev"):
            with pytest.raises(ValueError, match=r"named 'family:group', not"):
                genl.group(s, spec)


# -- family_from_message: what nlctrl always sends, left out -----------------------------------


def newfamily(*a: attrs.Attr) -> MessageView:
    return over_usersock(genl.message(genl.GENL_ID_CTRL, genl.CTRL_CMD_NEWFAMILY, a))


FID = attrs.u16(genl.CTRL_ATTR_FAMILY_ID, 0x42)
FNAME = attrs.string(genl.CTRL_ATTR_FAMILY_NAME, "made")


def test_family_needs_both_its_id_and_its_name() -> None:
    for only in (FID, FNAME):
        with pytest.raises(DecodeError, match=r"^nlctrl message without CTRL_ATTR_FAMILY_ID/CTRL_ATTR_FAMILY_NAME$"):
            genl.family_from_message(newfamily(only))
    f = genl.family_from_message(newfamily(FID, FNAME))
    # version, hdrsize and maxattr absent: 0 each, no ops, no groups
    assert f == genl.Family("made", 0x42, 0, 0, 0, {}, {})


def test_operations_without_flags_and_groups_without_a_name_or_id() -> None:
    op = genl.CTRL_ATTR_OP_ID
    ops = attrs.nested(genl.CTRL_ATTR_OPS, [
        attrs.nested(1, [attrs.u32(op, 3)]),  # no CTRL_ATTR_OP_FLAGS
        attrs.nested(2, [attrs.u32(op, 4), attrs.u32(genl.CTRL_ATTR_OP_FLAGS, 0x1e)]),
        attrs.nested(3, [attrs.u32(genl.CTRL_ATTR_OP_FLAGS, 0x1e)]),  # no id: left out
    ])
    gname, gid = genl.CTRL_ATTR_MCAST_GRP_NAME, genl.CTRL_ATTR_MCAST_GRP_ID
    groups = attrs.nested(genl.CTRL_ATTR_MCAST_GROUPS, [
        attrs.nested(1, [attrs.string(gname, "named-only")]),
        attrs.nested(2, [attrs.u32(gid, 9)]),
        attrs.nested(3, [attrs.string(gname, "whole"), attrs.u32(gid, 10)]),
    ])
    f = genl.family_from_message(newfamily(
        FID, FNAME, attrs.u32(genl.CTRL_ATTR_VERSION, 5), attrs.u32(genl.CTRL_ATTR_HDRSIZE, 8),
        attrs.u32(genl.CTRL_ATTR_MAXATTR, 12), ops, groups))
    assert (f.version, f.hdrsize, f.maxattr) == (5, 8, 12)
    assert f.ops == {3: 0, 4: 0x1e}
    assert f.groups == {"whole": 10}
