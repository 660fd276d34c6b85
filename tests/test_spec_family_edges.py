"""Family's edges: columns of every kind (C, the C plan, fixed headers,
sub-batches, the op named or inferred), replies decoded as the op their
type names (or as the request's op when none does), timeouts passed
through, multicast group look-ups and events.

Peers: NETLINK_USERSOCK messages a socket sends to itself (hand-built, so
every shape can be had), nlctrl over generic netlink, and rtnetlink in a
private namespace with a veth pair.  Oracles: the pure-Python decoder
(``Spec.decode_py``), hand-packed bytes and ``ip -j``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nlfast
from nlfast import Message, spec
from nlfast.errors import DecodeError, NetlinkError
from nlfast.spec import EncodeError, Family

from .conftest import Netns

NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
T_A, T_B, T_BARE = 0x40, 0x41, 0x42

# -- a netlink-raw spec over NETLINK_USERSOCK: messages a socket sends itself

USER_DOC: dict[str, Any] = {
    "name": "user-edges",
    "protocol": "netlink-raw",
    "protonum": nlfast.NETLINK_USERSOCK,
    "definitions": [
        {"name": "hdr", "type": "struct", "members": [
            {"name": "x", "type": "u32"}, {"name": "y", "type": "u32"}]},
    ],
    "attribute-sets": [
        {"name": "top", "attributes": [
            {"name": "num", "type": "u32", "value": 1},
            {"name": "name", "type": "string"},
            {"name": "bf", "type": "bitfield32"},
            {"name": "arr", "type": "indexed-array", "sub-type": "u32"},
            {"name": "inner", "type": "nest", "nested-attributes": "inner"},
        ]},
        {"name": "inner", "attributes": [{"name": "z", "type": "u32", "value": 1}]},
        {"name": "other", "attributes": [{"name": "only-b", "type": "u32", "value": 1}]},
        {"name": "empty", "attributes": []},
    ],
    "operations": {"list": [
        {"name": "a", "value": T_A, "attribute-set": "top", "fixed-header": "hdr",
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
        {"name": "b", "value": T_B, "attribute-set": "other",
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
        {"name": "bare", "value": T_BARE,
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
    ]},
}


def _a(x: int, y: int, attrs: bytes = b"") -> bytes:
    """A payload of op a: its 8-byte header, then attributes."""
    return struct.pack("=II", x, y) + attrs


def _attr(t: int, payload: bytes) -> bytes:
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + bytes(-n % 4)


@pytest.fixture
def user() -> Iterator[Family]:
    with Family(spec.load(USER_DOC), nlfast.Socket(nlfast.NETLINK_USERSOCK)) as fam:
        yield fam


def _loop(fam: Family, payloads: list[tuple[int, bytes]]) -> nlfast.Batch:
    """The messages sent to the family's own socket, as one received batch."""
    fam.sock.send_batch([Message(t, NLM_F_REQUEST, p) for t, p in payloads],
                        dest=fam.sock.portid)
    b = fam.sock.recv(timeout=2)
    assert len(b) == len(payloads)
    return b


def _py(fam: Family, b: nlfast.Batch) -> list[dict[str, Any]]:
    """Each message of b by the pure-Python decoder."""
    return [fam.spec.decode_py(m.type, bytes(m.payload)) for m in b]


def test_columns_the_c_plan_decodes(user: Family) -> None:
    """Attributes C's column does not take (bitfield32, an indexed array of
    u32, a nest) go through the C plan, one of whose sets is empty; each
    row matches the Python decoder, None where the attribute is absent."""
    rows = [
        _a(1, 2, _attr(1, struct.pack("=I", 7)) + _attr(3, struct.pack("=II", 0x5, 0xF))
           + _attr(4, _attr(0, struct.pack("=I", 10)) + _attr(1, struct.pack("=I", 11)))
           + _attr(5, _attr(1, struct.pack("=I", 99)))),
        _a(3, 4, _attr(2, b"n1\0")),
        _a(5, 6, _attr(3, struct.pack("=II", 0xFFFFFFFF, 1)) + _attr(4, b"")),
    ]
    b = _loop(user, [(T_A, p) for p in rows])
    py = _py(user, b)
    assert py[0]["bf"] == {"value": 5, "selector": 15}
    for name in ("bf", "arr", "inner", "num", "name"):
        assert user.column(b, name) == [d.get(name) for d in py], name
    assert user.column(b, "bf") == [{"value": 5, "selector": 15}, None,
                                    {"value": 0xFFFFFFFF, "selector": 1}]
    assert user.column(b, "arr") == [[10, 11], None, []]
    assert user.column(b, "inner") == [{"z": 99}, None, None]
    # and again, from the plans now cached
    assert user.column(b, "arr") == [[10, 11], None, []]
    assert user.column(b, "bf")[0] == {"value": 5, "selector": 15}


def test_column_of_a_fixed_header_field(user: Family) -> None:
    """A field of the fixed header: None where a message is too short to hold
    the header, the value where it holds it exactly or more."""
    b = _loop(user, [(T_A, _a(1, 2)),                      # exactly the header
                     (T_A, struct.pack("=I", 0xAAAA)),     # half a header
                     (T_A, _a(3, 4, _attr(1, struct.pack("=I", 9)))),
                     (T_A, b"")])                          # no payload at all
    assert user.column(b, "x") == [1, None, 3, None]
    assert user.column(b, "y") == [2, None, 4, None]
    assert user.column(b, "num") == [None, None, 9, None]


def test_column_of_a_sub_batch(user: Family) -> None:
    """A sub-batch (rows [1, n) of a receive) reads its own rows (their own
    offsets and lengths), in C and through the C plan alike."""
    # rows of growing length (an attribute the spec does not name, 8 bytes
    # more each time), the named ones last: each row needs its own length
    rows = [_a(i, i, _attr(9, bytes(8 * i)) + _attr(2, f"r{i}\0".encode())
               + _attr(3, struct.pack("=II", i, i + 1)) + _attr(1, struct.pack("=I", 100 + i)))
            for i in range(5)]
    b = _loop(user, [(T_A, p) for p in rows])
    sub = b.sub(1, 5)
    assert sub.start == 1
    assert user.column(sub, "num") == [101, 102, 103, 104]
    assert user.column(sub, "name") == ["r1", "r2", "r3", "r4"]
    assert user.column(sub, "bf") == [{"value": i, "selector": i + 1} for i in range(1, 5)]
    assert user.column(sub, "x") == [1, 2, 3, 4]
    assert user.column(b, "num")[1:] == user.column(sub, "num")


def test_column_op_named_or_inferred(user: Family) -> None:
    """The op a column reads as: the one named (even where the first
    message's type names another), else the first message's."""
    b = _loop(user, [(T_A, _a(0, 0, _attr(1, struct.pack("=I", 5)))),
                     (T_B, _attr(1, struct.pack("=I", 6)))])
    # inferred from the first message (type a): attribute 1 is "num"
    # (row 1's 8 bytes are all header, read as a's)
    assert user.column(b, "num") == [5, None]
    assert user.column(b, "x") == [0, 0x10008]
    # named: attribute 1 is "only-b"; a's messages have no such attribute
    b2 = _loop(user, [(T_A, _attr(1, struct.pack("=I", 5)))])
    with pytest.raises(KeyError, match="only-b"):
        user.column(b2, "only-b")
    assert user.column(b2, "only-b", "b") == [5]
    assert user.column(b2, "only-b", "b") == [5]  # cached
    with pytest.raises(KeyError, match="no attribute or field 'nope'"):
        user.column(b2, "nope", "bare")
    b3 = _loop(user, [(T_BARE, b"")])
    with pytest.raises(KeyError, match="no attribute or field 'nope'"):
        user.column(b3, "nope")


def test_events_decode_and_pass_the_timeout(user: Family) -> None:
    b_payload = _attr(1, struct.pack("=I", 6))
    user.sock.send_batch([Message(T_B, NLM_F_REQUEST, b_payload)], dest=user.sock.portid)
    got = list(user.events(timeout=0.3))  # the message is queued already
    assert got == [("b", {"only-b": 6})]
    # the timeout reaches recv(), which refuses a negative one (a message
    # waits, so nothing would block)
    user.sock.send_batch([Message(T_B, NLM_F_REQUEST, b_payload)], dest=user.sock.portid)
    with pytest.raises(ValueError, match="timeout must be"):
        next(user.events(timeout=-1))


def test_group_errors_name_the_groups(kernel_specs: Path) -> None:
    link = spec.load(kernel_specs / "rt_link.yaml")
    with Family(link, nlfast.Socket(nlfast.NETLINK_USERSOCK)) as fam:
        assert fam.group("rtnlgrp-link") == 1
        with pytest.raises(KeyError) as e:
            fam.group("nope")
        assert "no multicast group 'nope' (it has: rtnlgrp-link, rtnlgrp-stats)" in str(e.value)
    with spec.open(spec.load(kernel_specs / "nlctrl.yaml")) as ctrl:
        with pytest.raises(KeyError) as e:
            ctrl.group("nope")
        assert "no multicast group 'nope' (it has: none)" in str(e.value)


# -- generic netlink: nlctrl ------------------------------------------------


def test_genl_columns_and_to_dict(kernel_specs: Path) -> None:
    """A genl batch: the op is inferred from the genlmsghdr's cmd, and the
    attributes start after the netlink and genl headers."""
    with spec.open(spec.load(kernel_specs / "nlctrl.yaml")) as ctrl:
        dicts = ctrl.dump("getfamily")
        names = [d["family-name"] for d in dicts]
        assert "nlctrl" in names
        got_names: list[Any] = []
        got_ids: list[Any] = []
        got_ops: list[Any] = []
        for b in ctrl.batches("getfamily"):
            got_names += ctrl.column(b, "family-name")
            got_ids += ctrl.column(b, "family-id")
            got_ops += ctrl.column(b, "ops")  # an indexed array of nests: the C plan
            assert [ctrl.to_dict(m) for m in b] == _py(ctrl, b)
        assert got_names == names
        assert got_ids == [d["family-id"] for d in dicts]
        assert got_ops == [d.get("ops") for d in dicts]
        assert got_ids[names.index("nlctrl")] == 16


def test_genl_batches_send_the_values(kernel_specs: Path) -> None:
    """getpolicy's dump needs the family named (EINVAL without)."""
    with spec.open(spec.load(kernel_specs / "nlctrl.yaml")) as ctrl:
        rows = [d for b in ctrl.batches("getpolicy", {"family-name": "nlctrl"})
                for d in (ctrl.to_dict(m) for m in b)]
        assert rows and all(r["family-id"] == 16 for r in rows)
        with pytest.raises(NetlinkError):
            list(ctrl.batches("getpolicy"))


# nlctrl again, with an op ("ask") whose request is CTRL_CMD_GETFAMILY but
# which names no reply: its replies (CTRL_CMD_NEWFAMILY) decode as the op
# whose reply that cmd is
CTRL_DOC: dict[str, Any] = {
    "name": "nlctrl",
    "protocol": "genetlink-legacy",
    "attribute-sets": [
        {"name": "ctrl", "attributes": [
            {"name": "family-id", "type": "u16", "value": 1},
            {"name": "family-name", "type": "string"}]},
        {"name": "alt", "attributes": [
            {"name": "ident", "type": "u16", "value": 1},
            {"name": "label", "type": "string"}]},
    ],
    "operations": {"enum-model": "directional", "list": [
        {"name": "getfamily", "attribute-set": "ctrl",
         "do": {"request": {"value": 3, "attributes": ["family-name"]},
                "reply": {"value": 1, "attributes": ["family-id", "family-name"]}},
         "dump": {"request": {"value": 3}, "reply": {"value": 1}}},
        {"name": "ask", "attribute-set": "alt",
         "do": {"request": {"value": 3, "attributes": ["label"]}},
         "dump": {"request": {"value": 3}}},
        {"name": "odd", "attribute-set": "alt", "value": 0x20, "event": {"attributes": []}},
    ]},
}


def test_genl_replies_decode_as_their_cmds_op() -> None:
    s = spec.load(CTRL_DOC)
    assert s.replies[1].name == "getfamily" and s.ops["ask"].rsp_value is None
    with spec.open(s) as ctrl:
        got = ctrl.do("ask", {"label": "nlctrl"})
        assert got is not None
        assert (got["family-id"], got["family-name"]) == (16, "nlctrl")
        assert "label" not in got and "ident" not in got
        rows = ctrl.dump("ask")
        assert ("nlctrl", 16) in [(r["family-name"], r["family-id"]) for r in rows]
        assert all("label" not in r for r in rows)


def test_genl_message_without_its_genlmsghdr() -> None:
    """A genl message too short for its genlmsghdr (sent to the socket
    itself): found by its type, then refused as too short."""
    with spec.open(spec.load(CTRL_DOC)) as ctrl:
        ctrl.sock.send(Message(0x20, 0, b""), dest=ctrl.sock.portid)
        with pytest.raises(DecodeError, match="shorter than its genlmsghdr"):
            next(ctrl.events(timeout=2))
        ctrl.sock.send(Message(0x20, 0, b""), dest=ctrl.sock.portid)
        b = ctrl.sock.recv(timeout=2)
        assert len(b) == 1 and b[0].type == 0x20
        with pytest.raises(DecodeError, match="shorter than its genlmsghdr"):
            ctrl.to_dict(b[0])


# -- rtnetlink in a namespace ----------------------------------------------

IFINFOMSG = {"name": "ifinfomsg", "type": "struct", "members": [
    {"name": "ifi-family", "type": "u8"}, {"name": "pad", "type": "pad", "len": 1},
    {"name": "ifi-type", "type": "u16"}, {"name": "ifi-index", "type": "s32"},
    {"name": "ifi-flags", "type": "u32"}, {"name": "ifi-change", "type": "u32"}]}


def _rt_doc(with_getlink: bool) -> dict[str, Any]:
    """RTM_GETLINK twice: as "getlink" (its replies RTM_NEWLINK, attributes
    named as the kernel does) and as "getlink-other" (no reply named; its
    own names for the same attributes).  Without "getlink", RTM_NEWLINK
    names no op."""
    ops: list[dict[str, Any]] = [
        {"name": "getlink-other", "attribute-set": "other",
         "do": {"request": {"value": 18}}, "dump": {"request": {"value": 18}}},
        {"name": "reply-only", "attribute-set": "other", "do": {"reply": {"value": 99}}},
    ]
    if with_getlink:
        ops.insert(0, {"name": "getlink", "attribute-set": "link",
                       "do": {"request": {"value": 18}, "reply": {"value": 16}},
                       "dump": {"request": {"value": 18}, "reply": {"value": 16}}})
    return {
        "name": "rt-edges" if with_getlink else "rt-edges-noreply",
        "protocol": "netlink-raw", "protonum": 0,
        "definitions": [IFINFOMSG],
        "attribute-sets": [
            {"name": "link", "attributes": [
                {"name": "ifname", "type": "string", "value": 3},
                {"name": "mtu", "type": "u32", "value": 4}]},
            {"name": "other", "attributes": [
                {"name": "label", "type": "string", "value": 3},
                {"name": "size", "type": "u32", "value": 4},
                # IFLA_MAP (struct rtnl_link_ifmap, all zero for veth) read as a
                # bitfield32: a kind C leaves to Python
                {"name": "map-bits", "type": "bitfield32", "value": 14}]},
        ],
        "operations": {"enum-model": "directional", "fixed-header": "ifinfomsg", "list": ops},
    }


@pytest.fixture
def veth(netns: Netns) -> Netns:
    netns.ip("link", "add", "va0", "mtu", "1400", "type", "veth", "peer", "name", "vb0")
    return netns


def test_rt_replies_decode_as_their_types_op(veth: Netns) -> None:
    links = {x["ifname"]: x for x in veth.ip_json("link", "show")}
    with spec.open(spec.load(_rt_doc(True)), netns=veth.name) as fam:
        rows = fam.dump("getlink-other")
        assert sorted(r["ifname"] for r in rows) == sorted(links)
        assert all("label" not in r for r in rows)
        got = fam.do("getlink-other", {"label": "va0"})
        assert got is not None and got["ifname"] == "va0" and got["mtu"] == 1400
        assert got["ifi-index"] == links["va0"]["ifindex"]
        with pytest.raises(EncodeError, match="no request message id"):
            fam.do("reply-only")


def test_rt_replies_no_op_names_decode_as_the_request(veth: Netns) -> None:
    links = {x["ifname"]: x for x in veth.ip_json("link", "show")}
    with spec.open(spec.load(_rt_doc(False)), netns=veth.name) as fam:
        assert 16 not in fam.spec.replies
        rows = fam.dump("getlink-other")
        assert sorted(r["label"] for r in rows) == sorted(links)
        assert {r["label"]: r["size"] for r in rows} == {k: v["mtu"] for k, v in links.items()}
        got = fam.do("getlink-other", {"label": "vb0"})
        assert got is not None and got["label"] == "vb0" and got["size"] == 1500
        assert got["map-bits"] == {"value": 0, "selector": 0}
        # a do() whose reply shares its receive with an event: the reply comes
        # through the engine as a MessageView, decoded the same way
        fam.sock.subscribe(1)  # RTNLGRP_LINK
        veth.ip("link", "set", "va0", "mtu", "1300")
        got = fam.do("getlink-other", {"label": "va0"})
        assert got is not None and got["label"] == "va0" and got["size"] == 1300
        assert got["map-bits"] == {"value": 0, "selector": 0}


def test_rt_timeouts_reach_the_socket(veth: Netns, kernel_specs: Path) -> None:
    """A negative timeout is refused by the socket, whichever call it is given to."""
    with spec.open(spec.load(kernel_specs / "rt_link.yaml"), netns=veth.name) as fam:
        with pytest.raises(ValueError, match="timeout must be"):
            fam.create("newlink", {"ifname": "vc0", "linkinfo": {"kind": "veth"}}, timeout=-1)
        with pytest.raises(ValueError, match="timeout must be"):
            fam.dump("getlink", timeout=-1)
        with pytest.raises(ValueError, match="timeout must be"):
            list(fam.dump_iter("getlink", timeout=-1))
        with pytest.raises(ValueError, match="timeout must be"):
            list(fam.batches("getlink", timeout=-1))
        assert "vc0" not in {x["ifname"] for x in veth.ip_json("link", "show")}


def test_message_flags(veth: Netns, kernel_specs: Path) -> None:
    with spec.open(spec.load(kernel_specs / "rt_link.yaml"), netns=veth.name) as fam:
        m = fam.message("getlink", flags=NLM_F_REQUEST | NLM_F_DUMP)
        raw = m.encode(seq=7)
        assert struct.unpack_from("=IHHII", raw) == (len(raw), 18, 0x301, 7, 0)
        names = [d["ifname"] for b in fam.sock.dump(m) for d in map(fam.to_dict, b)]
        assert sorted(names) == ["lo", "va0", "vb0"]
