"""Misuse of messages, attributes and rtnl helpers gets a clear error at
once, before anything is sent: an exception that names the mistake."""

from __future__ import annotations

import pickle

import pytest

import nlfast
from nlfast import Message, MessageView, attrs, message, rtnl
from nlfast.errors import DecodeError, MessageTooLargeError

from .conftest import Netns

GETLINK = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1))


@pytest.mark.parametrize("seq", [-1, 2**32, 2**64])
def test_encode_seq_out_of_range(seq: int) -> None:
    with pytest.raises(ValueError, match=rf"seq {seq} is out of range 0\.\.4294967295"):
        GETLINK.encode(seq=seq)


@pytest.mark.parametrize("seq", ["1", 1.0, None, True])
def test_encode_seq_wrong_type(seq: object) -> None:
    with pytest.raises(TypeError, match="seq must be an int"):
        GETLINK.encode(seq=seq)  # type: ignore[arg-type]


def test_encode_seq_edges_are_kept() -> None:
    for seq in (0, 1, 2**32 - 1):
        assert MessageView.from_bytes(GETLINK.encode(seq=seq)).seq == seq


def test_rtnl_fields_of_short_payloads() -> None:
    with pytest.raises(DecodeError, match=r"ifinfo_index .* at least 16 bytes, got 0"):
        rtnl.ifinfo_index(b"")
    with pytest.raises(DecodeError, match=r"ifaddr_index .* at least 8 bytes, got 7"):
        rtnl.ifaddr_index(b"\0" * 7)
    assert rtnl.ifinfo_index(rtnl.ifinfomsg(index=-3)) == -3
    assert rtnl.ifaddr_index(rtnl.ifaddrmsg(index=7)) == 7


def test_rtnl_headers_check_their_fields() -> None:
    with pytest.raises(ValueError, match="ifi_index: 1099511627776 does not fit"):
        rtnl.ifinfomsg(index=2**40)
    with pytest.raises(ValueError, match="ifa_prefixlen: 256 does not fit"):
        rtnl.ifaddrmsg(prefixlen=256)
    with pytest.raises(TypeError, match="ifi_flags must be an int"):
        rtnl.ifinfomsg(flags="up")  # type: ignore[arg-type]


def test_header_length_known_per_rtm_type() -> None:
    assert rtnl.header_len(rtnl.RTM_NEWLINK) == rtnl.IFINFOMSG_LEN == 16
    assert rtnl.header_len(rtnl.RTM_GETADDR) == rtnl.IFADDRMSG_LEN == 8
    assert rtnl.header_len(rtnl.RTM_DELROUTE) == rtnl.RTMSG_LEN == 12
    assert rtnl.header_len(rtnl.RTM_NEWNEIGH) == rtnl.NDMSG_LEN == 12
    assert rtnl.header_len(0x10000) is None and rtnl.header_len(3) is None


def test_attrs_header_length_from_the_type(netns: Netns) -> None:
    """On a NETLINK_ROUTE socket, views, their copies and request() replies
    find the family header themselves; a wrong explicit one is refused."""
    netns.ip("link", "add", "mu0", "type", "veth", "peer", "name", "mu1")
    netns.ip("addr", "add", "10.9.8.7/24", "dev", "mu0")
    want = {d["ifindex"]: d["ifname"] for d in netns.ip_json("link", "show")}
    with nlfast.Socket(nlfast.NETLINK_ROUTE, netns=netns.name) as s:
        got, copies = {}, []
        for m in s.dump_messages(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg())):
            assert m.protocol == nlfast.NETLINK_ROUTE and m.hdrlen() == rtnl.IFINFOMSG_LEN
            got[rtnl.ifinfo_index(m.payload)] = m.attrs().str(rtnl.IFLA_IFNAME)
            copies.append(m.copy())
            with pytest.raises(DecodeError, match="is hdrlen right"):
                m.attrs(0)  # no header where an ifinfomsg is
        assert got == want
        assert {c.attrs().str(rtnl.IFLA_IFNAME) for c in copies} == set(want.values())
        (reply,) = s.request(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1)),
                             ack=False)
        assert reply.attrs().str(rtnl.IFLA_IFNAME) == "lo"
        addrs = [m.attrs().bytes(rtnl.IFA_LOCAL) for m in s.dump_messages(
            Message(rtnl.RTM_GETADDR, header=rtnl.ifaddrmsg(family=rtnl.AF_INET)))]
        assert bytes([10, 9, 8, 7]) in addrs


def test_attrs_of_an_error_message_say_what_to_do() -> None:
    with nlfast.Socket(nlfast.NETLINK_ROUTE) as s:
        s.send(Message(rtnl.RTM_GETLINK, flags=0x5, header=rtnl.ifinfomsg(index=1 << 30)))
        (err,) = [m for m in s.recv(timeout=2) if m.type == message.NLMSG_ERROR]
        with pytest.raises(DecodeError, match=r"NLMSG_ERROR .* \.to_error\(\), or pass hdrlen"):
            err.attrs()
        assert err.error == 19 and err.to_error().code == 19


def test_attrs_without_a_protocol_start_after_no_header() -> None:
    """Type 16 is RTM_NEWLINK only on NETLINK_ROUTE: elsewhere (USERSOCK, the
    module's family) the payload starts with attributes."""
    raw = Message(rtnl.RTM_NEWLINK, attrs=[attrs.u32(1, 77)]).encode()
    assert MessageView.from_bytes(raw).attrs().u32(1) == 77
    usersock = MessageView.from_bytes(raw, protocol=nlfast.NETLINK_USERSOCK)
    assert usersock.hdrlen() is None and usersock.attrs().u32(1) == 77
    route = MessageView.from_bytes(raw, protocol=nlfast.NETLINK_ROUTE)
    with pytest.raises(DecodeError, match="no room for a 16-byte header"):
        route.attrs()
    assert route.copy().protocol == nlfast.NETLINK_ROUTE


@pytest.mark.parametrize(("hdrlen", "exc"), [(-1, ValueError), ("4", TypeError), (1.5, TypeError)])
def test_attrs_hdrlen_checked(hdrlen: object, exc: type) -> None:
    v = MessageView.from_bytes(Message(0x20).encode())
    with pytest.raises(exc, match="hdrlen must be"):
        v.attrs(hdrlen)  # type: ignore[arg-type]


def test_message_is_immutable() -> None:
    m = Message(0x20, flags=1, attrs=[attrs.u32(1, 5)])
    for field, value in (("type", 0x21), ("flags", 5), ("header", b"x"),
                         ("attrs", ()), ("portid", 9)):
        with pytest.raises(AttributeError, match=rf"cannot set '{field}'.*msg\.replace\({field}="):
            setattr(m, field, value)
    with pytest.raises(AttributeError, match="immutable"):
        del m.flags
    with pytest.raises(AttributeError, match="immutable"):
        m.other = 1  # type: ignore[attr-defined]
    assert m.encode() == Message(0x20, flags=1, attrs=[attrs.u32(1, 5)]).encode()


def test_replace_gives_changed_copies() -> None:
    m = Message(0x20, flags=1, attrs=[attrs.u32(1, 5)])
    m._template()
    assert m.replace(flags=5).encode() == Message(0x20, flags=5, attrs=m.attrs).encode()
    assert m.replace(flags=5)._template()[2] == m.replace(flags=5).encode()
    r = m.replace(type=0x22, attrs=[attrs.u8(2, 1)], portid=7)
    assert (r.type, r.flags, r.attrs, r.portid) == (0x22, 1, (attrs.u8(2, 1),), 7)
    assert (m.type, m.attrs) == (0x20, (attrs.u32(1, 5),))
    with pytest.raises(TypeError, match="no field 'seq'"):
        m.replace(seq=3)
    with pytest.raises(ValueError, match="flags 65536 is out of range"):
        m.replace(flags=0x10000)
    with pytest.raises(ValueError, match="flags 65536 is out of range"):
        m.with_flags(0x10000)
    assert m == Message(0x20, flags=1, attrs=[attrs.u32(1, 5)]) and len({m, m.replace()}) == 1
    assert pickle.loads(pickle.dumps(m)) == m


def test_attr_is_immutable_and_nests_are_tuples() -> None:
    kids = [attrs.u8(1, 1)]
    n = attrs.nested(2, kids)
    kids.append(attrs.u8(3, 3))  # the caller's list is not the Attr's
    assert n.value == (attrs.u8(1, 1),)
    for field in ("type", "kind", "value"):
        with pytest.raises(AttributeError, match=f"Attr is immutable: cannot set '{field}'"):
            setattr(n, field, 1)
    assert pickle.loads(pickle.dumps(n)) == n and hash(n) == hash(attrs.nested(2, kids[:1]))


@pytest.mark.parametrize(("args", "exc", "match"), [
    ((1, "u32", "5"), TypeError, "needs an int"),
    ((1, "u8", 256), ValueError, "out of range"),
    ((1, "str", b"x"), TypeError, "needs a str"),
    ((1, "str", "a\0b"), ValueError, "NUL"),
    ((1, "bytes", "x"), TypeError, "needs bytes"),
    ((1, "bytes", b"x" * 70000), MessageTooLargeError, "64 KiB"),
    ((1, "flag", 1), TypeError, "no value"),
    ((1, "nested", [1]), TypeError, "holds Attr objects"),
    ((1, "nested", "ab"), TypeError, "sequence of Attr"),
    ((1, "f32", 1), ValueError, "unknown attribute kind"),
    ((-1, "u8", 1), ValueError, "0..65535"),
    (("1", "u8", 1), TypeError, "0..65535"),
])
def test_attr_checks_its_value(args: tuple[object, ...], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        attrs.Attr(*args)  # type: ignore[arg-type]


def _deep(levels: int) -> attrs.Attr:
    a = attrs.u8(1, 1)
    for _ in range(levels):
        a = attrs.nested(2, [a])
    return a


def test_nested_too_deep_says_so_and_keeps_no_big_arena() -> None:
    ok = Message(0x20, attrs=[_deep(attrs.NEST_MAX)]).encode()
    assert len(ok) == 16 + 4 * attrs.NEST_MAX + 8
    with pytest.raises(MessageTooLargeError, match=r"nested too deep .* at most 16 levels"):
        Message(0x20, attrs=[_deep(attrs.NEST_MAX + 1)]).encode()
    with pytest.raises(MessageTooLargeError, match="nested too deep"):
        Message(0x20, attrs=[_deep(10000)]).encode()
    assert message._scratch.tx.cap == 1 << 16  # no arena grown for it


def test_large_messages_use_a_passing_arena() -> None:
    big = Message(0x20, attrs=[attrs.binary(i, b"x" * 60000) for i in range(5)])
    raw = big.encode(seq=3)
    assert len(raw) == big.wire_size() == 16 + 5 * 60004
    assert MessageView.from_bytes(raw).attrs().bytes(4) == b"x" * 60000
    assert message._scratch.tx.cap == 1 << 16
    huge = Message(0x20, attrs=[attrs.binary(1, b"x" * 60000)] * 300)  # 18 MB
    with pytest.raises(MessageTooLargeError, match="larger than 16 MiB"):
        huge.encode()
    assert message._scratch.tx.cap == 1 << 16
    assert GETLINK.encode(seq=1) == GETLINK.encode(seq=1)  # and the arena still works


def test_attrset_lookups_check_the_type() -> None:
    a = MessageView.from_bytes(Message(0x20, attrs=[attrs.u32(1, 5)]).encode()).attrs()
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        a.get(0x10000)
    with pytest.raises(TypeError, match=r"0\.\.65535"):
        a.u32("1")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        a.u32(2)
    with pytest.raises(DecodeError, match="has 4 bytes, needs 8"):
        a.u64(1)


def test_message_fields_checked() -> None:
    with pytest.raises(ValueError, match="type 65536 is out of range"):
        Message(0x10000)
    with pytest.raises(TypeError, match="type must be an int"):
        Message("16")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sequence of Attr"):
        Message(0x20, attrs=attrs.u8(1, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="header must be bytes"):
        Message(0x20, header="abc")  # type: ignore[arg-type]


def test_attribute_size_limit_is_exact() -> None:
    """nla_len is 16 bits and counts the 4-byte header: 65531 payload bytes."""
    limit = attrs.ATTR_MAX_PAYLOAD
    assert limit == 65531
    raw = Message(0x20, attrs=[attrs.binary(1, b"x" * limit)]).encode()
    assert MessageView.from_bytes(raw).attrs().bytes(1) == b"x" * limit
    with pytest.raises(MessageTooLargeError, match="65532 bytes, at most 65531"):
        attrs.binary(1, b"x" * (limit + 1))
    assert MessageView.from_bytes(
        Message(0x20, attrs=[attrs.string(1, "s" * (limit - 1))]).encode()
    ).attrs().str(1) == "s" * (limit - 1)
    with pytest.raises(MessageTooLargeError, match="65532 bytes with its NUL, at most 65531"):
        attrs.string(1, "s" * limit)
    # a nest whose children pass 65535 bytes with its header
    kids = [attrs.binary(i, b"x" * 30000) for i in range(3)]
    with pytest.raises(MessageTooLargeError, match=r"attribute 9 is too large .* over 65535"):
        Message(0x20, attrs=[attrs.nested(9, kids)]).encode()


def test_frame_needs_a_tx() -> None:
    """Found by the property test: frame(None) was an AttributeError."""
    for tx in (None, 5, b"tx"):
        with pytest.raises(TypeError, match="frame needs a shim tx"):
            GETLINK.frame(tx)
