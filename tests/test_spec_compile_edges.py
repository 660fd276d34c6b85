"""Spec compilation at its edges: every refusal's exact message (the path in
the spec it names), and the features few specs use (big-endian, string,
pad and struct members of structs, value starts, subsets, sub-messages,
array-nest, directional operations) checked on hand-packed bytes."""

from __future__ import annotations

import copy
import struct
from collections.abc import Callable
from typing import Any

import pytest

from nlfast import spec

Edit = Callable[[dict[str, Any]], None]


def nla(t: int, payload: bytes) -> bytes:
    return struct.pack("=HH", len(payload) + 4, t) + payload + bytes(-len(payload) % 4)


def nest(t: int, payload: bytes) -> bytes:
    return nla(t | 0x8000, payload)


def _node(d: Any, path: list[Any]) -> Any:
    for k in path:
        d = d[k]
    return d


def put(path: list[Any], value: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        _node(d, path[:-1])[path[-1]] = value
    return edit


def drop(path: list[Any]) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        del _node(d, path[:-1])[path[-1]]
    return edit


def add(path: list[Any], value: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        _node(d, path).append(value)
    return edit


# -- refusals, by path ---------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "edge",
    "protocol": "netlink-raw",
    "protonum": 31,
    "definitions": [
        {"name": "n", "type": "const", "value": 4},
        {"name": "colour", "type": "enum", "entries": ["red", {"name": "green"}]},
        {"name": "hdr", "type": "struct", "members": [
            {"name": "a", "type": "u8"},
            {"name": "s", "type": "string", "len": "n"},
            {"name": "b", "type": "binary", "len": 3}]},
        {"name": "pair", "type": "struct", "members": [{"name": "x", "type": "u32"}]},
    ],
    "attribute-sets": [
        {"name": "main", "attributes": [
            {"name": "x", "type": "u32"},
            {"name": "n", "type": "nest", "nested-attributes": "main"},
            {"name": "kind", "type": "string"},
            {"name": "data", "type": "sub-message", "sub-message": "sm", "selector": "kind"},
        ]},
        {"name": "sub", "subset-of": "main", "attributes": [{"name": "x"}]},
    ],
    "sub-messages": [{"name": "sm", "formats": [
        {"value": "a", "attribute-set": "main"},
        {"value": "b", "fixed-header": "pair"},
    ]}],
    "operations": {"list": [
        {"name": "get", "value": 16, "attribute-set": "main", "fixed-header": "hdr",
         "do": {"request": {"attributes": ["x"]}, "reply": {"attributes": ["x"]}}},
    ]},
    "mcast-groups": {"list": [{"name": "g", "value": 1}]},
}

AS0 = ["attribute-sets", 0, "attributes"]
AS1 = ["attribute-sets", 1, "attributes"]
M2 = ["definitions", 2, "members"]
F0 = ["sub-messages", 0, "formats"]
OP0 = ["operations", "list", 0]

REFUSED: list[tuple[list[Edit], str]] = [
    ([drop(["name"])], "/: 'name' is missing"),
    ([put(["protocol"], "netlink-cooked")],
     "/protocol: unsupported protocol 'netlink-cooked' "
     "(supported: genetlink, genetlink-c, genetlink-legacy, netlink-raw)"),
    ([drop(["protonum"])], "/: a netlink-raw spec needs 'protonum'"),
    # definitions
    ([drop(["definitions", 0, "name"])], "/definitions/0: 'name' is missing"),
    ([drop(["definitions", 0, "type"])], "/definitions/0: 'type' is missing"),
    ([drop(["definitions", 0, "value"])], "/definitions/0: 'value' is missing"),
    ([drop(["definitions", 1, "entries", 1, "name"])],
     "/definitions/1/entries/1: 'name' is missing"),
    ([put(["definitions", 1, "value-start"], "zz")],
     "/definitions/1/value-start: length 'zz' is neither a number nor a const definition"),
    # structs
    ([drop([*M2])], "/definitions/2: 'members' is missing"),
    ([drop([*M2, 0, "name"])], "/definitions/2/members/0: 'name' is missing"),
    ([drop([*M2, 0, "type"])], "/definitions/2/members/0: 'type' is missing"),
    ([put([*M2, 0, "enum"], "nope")],
     "/definitions/2/members/0/enum: no enum or flags definition 'nope'"),
    ([put([*M2, 1, "len"], "zz")],
     "/definitions/2/members/1/len: length 'zz' is neither a number nor a const definition"),
    ([drop([*M2, 1, "len"])], "/definitions/2/members/1: 'len' is missing"),
    ([put([*M2, 2, "display-hint"], "roman")],
     "/definitions/2/members/2/display-hint: unsupported display hint 'roman'"),
    ([put([*M2, 2, "len"], "zz")],
     "/definitions/2/members/2/len: length 'zz' is neither a number nor a const definition"),
    ([drop([*M2, 2, "len"])], "/definitions/2/members/2: 'len' is missing"),
    # a struct member naming a struct defined later: that one's path
    ([put([*M2, 2], {"name": "b", "type": "binary", "struct": "later"}),
      add(["definitions"], {"name": "later", "type": "struct",
                            "members": [{"name": "f", "type": "float"}]})],
     "/definitions/4/members/0/type: unsupported struct member type 'float'"),
    # attribute sets
    ([drop(["attribute-sets", 0, "name"])], "/attribute-sets/0: 'name' is missing"),
    ([drop(["attribute-sets", 0, "attributes"])], "/attribute-sets/0: 'attributes' is missing"),
    ([drop([*AS0, 0, "name"])], "/attribute-sets/0/attributes/0: 'name' is missing"),
    ([drop([*AS0, 0, "type"])], "/attribute-sets/0/attributes/0: 'type' is missing"),
    ([put([*AS0, 0, "value"], 16384)],
     "/attribute-sets/0/attributes/0/value: attribute value 16384 is out of range"),
    ([drop([*AS0, 1, "nested-attributes"])],
     "/attribute-sets/0/attributes/1: 'nested-attributes' is missing"),
    ([drop([*AS0, 3, "selector"])], "/attribute-sets/0/attributes/3: 'selector' is missing"),
    ([put([*AS0, 1], {"name": "n", "type": "indexed-array", "sub-type": ["u8"]})],
     "/attribute-sets/0/attributes/1/sub-type: unsupported indexed-array sub-type ['u8']"),
    ([add(AS0, {"name": "x", "type": "u8"})],
     "/attribute-sets/0/attributes/4: attribute 'x' appears twice in the set"),
    # subsets
    ([put(["attribute-sets", 1, "subset-of"], "nope")],
     "/attribute-sets/1/subset-of: no main attribute set 'nope'"),
    ([put(["attribute-sets", 1, "subset-of"], "sub")],
     "/attribute-sets/1/subset-of: no main attribute set 'sub'"),
    ([drop(["attribute-sets", 1, "attributes"])], "/attribute-sets/1: 'attributes' is missing"),
    ([put([*AS1, 0], {})], "/attribute-sets/1/attributes/0: 'name' is missing"),
    ([put([*AS1, 0, "name"], "zz")],
     "/attribute-sets/1/attributes/0: set 'main' has no attribute 'zz'"),
    ([put([*AS1, 0, "type"], "u128")],
     "/attribute-sets/1/attributes/0/type: unsupported attribute type 'u128'"),
    # sub-messages
    ([drop(["sub-messages", 0, "name"])], "/sub-messages/0: 'name' is missing"),
    ([drop(["sub-messages", 0, "formats"])], "/sub-messages/0: 'formats' is missing"),
    ([drop([*F0, 0, "value"])], "/sub-messages/0/formats/0: 'value' is missing"),
    ([put([*F0, 0, "attribute-set"], "nope")],
     "/sub-messages/0/formats/0/attribute-set: no attribute set 'nope'"),
    ([put([*F0, 1, "fixed-header"], "nope")],
     "/sub-messages/0/formats/1/fixed-header: no struct definition 'nope'"),
    # operations, groups
    ([drop([*OP0, "name"])], "/operations/list/0: 'name' is missing"),
    ([put([*OP0, "fixed-header"], "nope")],
     "/operations/list/0/fixed-header: no struct definition 'nope'"),
    ([add(["operations", "list"], {"name": "ntf", "notify": "nope", "value": 17})],
     "/operations: ntf: notify names no operation 'nope'"),
    ([drop(["mcast-groups", "list", 0, "name"])], "/mcast-groups/list/0: 'name' is missing"),
]


def test_base_compiles() -> None:
    s = spec.compile_spec(copy.deepcopy(BASE))
    assert s.origin == "<spec>"
    assert s.attr_sets["sub"].by_name["x"].value == 1
    assert s.mcast_groups == {"g": 1}
    assert s.fixed_header is None and s.ops["get"].fixed_header is s.structs["hdr"]


def test_fixed_header_for_all_and_per_op() -> None:
    d = copy.deepcopy(BASE)
    d["operations"]["fixed-header"] = "pair"
    d["operations"]["list"].append({"name": "other", "value": 17, "attribute-set": "main",
                                    "do": {"request": {"attributes": ["x"]}}})
    s = spec.compile_spec(d)
    assert s.fixed_header is s.structs["pair"]
    assert s.ops["get"].fixed_header is s.structs["hdr"]
    assert s.ops["other"].fixed_header is s.structs["pair"]
    # "x" names a member of the header before an attribute
    assert s.encode("other", {"x": 1, "n": {}}) == struct.pack("=I", 1) + nest(2, b"")


@pytest.mark.parametrize(("edits", "where"), REFUSED, ids=[w for _, w in REFUSED])
def test_refused_with_its_path(edits: list[Edit], where: str) -> None:
    d = copy.deepcopy(BASE)
    for e in edits:
        e(d)
    with pytest.raises(spec.SpecError) as exc:
        spec.compile_spec(d)
    assert str(exc.value) == f"<spec>: {where}"
    with pytest.raises(spec.SpecError) as exc:
        spec.compile_spec(d, "rt-edge.yaml")
    assert str(exc.value) == f"rt-edge.yaml: {where}"
    with pytest.raises(spec.SpecError) as exc:
        spec.load(d)
    assert str(exc.value) == f"<spec>: {where}"


def test_attribute_value_range() -> None:
    d = copy.deepcopy(BASE)
    d["attribute-sets"][0]["attributes"].append({"name": "far", "type": "u8",
                                                 "value": 0x3FFF})  # NLA_TYPE_MASK
    a = spec.compile_spec(d).attr_sets["main"].by_name["far"]
    assert a.value == 0x3FFF and a.type == "u8" and a.name == "far"


# -- what compiles, on the wire ------------------------------------------------

FEAT: dict[str, Any] = {
    "name": "feat",
    "protocol": "netlink-raw",
    "protonum": 31,
    "definitions": [
        {"name": "ifnamsiz", "type": "const", "value": 8},
        {"name": "base", "type": "const", "value": 10},
        {"name": "colour", "type": "enum", "entries": ["red", "green", "blue"]},
        {"name": "started", "type": "enum", "value-start": 5, "entries": ["five", "six"]},
        {"name": "by-const", "type": "enum", "value-start": "base",
         "entries": ["ten", {"name": "twenty", "value": 20}, "twenty-one"]},
        {"name": "perms", "type": "flags", "entries": ["read", "write"]},
        {"name": "inner", "type": "struct", "members": [
            {"name": "be", "type": "u16", "byte-order": "big-endian"},
            {"name": "b", "type": "u8", "enum": "colour"},
            {"name": "p", "type": "pad", "len": 1}]},
        {"name": "hdr", "type": "struct", "members": [
            {"name": "be32", "type": "s32", "byte-order": "big-endian"},
            {"name": "name", "type": "string", "len": "ifnamsiz"},
            {"name": "gap", "type": "pad", "len": 2},
            {"name": "in", "type": "binary", "struct": "inner"},
            {"name": "raw", "type": "binary", "len": "ifnamsiz - 6"},
            {"name": "le16", "type": "u16"}]},
    ],
    "attribute-sets": [
        {"name": "main", "attributes": [
            {"name": "x", "type": "u32"},
            {"name": "be", "type": "u16", "byte-order": "big-endian"},
            {"name": "arr", "type": "array-nest", "nested-attributes": "item"},
            {"name": "arr-u16", "type": "indexed-array", "sub-type": "u16"},
            {"name": "arr-be", "type": "indexed-array", "sub-type": "u16",
             "byte-order": "big-endian"},
            {"name": "bits", "type": "u32", "enum": "colour", "enum-as-flags": True},
            {"name": "colour", "type": "u8", "enum": "colour"},
            {"name": "kind", "type": "string"},
            {"name": "data", "type": "sub-message", "sub-message": "by-kind",
             "selector": "kind"},
            {"name": "pad", "type": "pad"},
            {"name": "pair", "type": "binary", "struct": "inner"},
            {"name": "addr", "type": "uint", "display-hint": "ipv4"},
            {"name": "many", "type": "u8", "multi-attr": True},
            {"name": "far", "type": "u8", "value": 0x3FFF},
        ]},
        {"name": "item", "attributes": [{"name": "y", "type": "u32"}]},
        {"name": "narrow", "subset-of": "main", "attributes": [
            {"name": "be"}, {"name": "x", "type": "u16"}]},
        {"name": "fmt-a", "attributes": [{"name": "alpha", "type": "u32"}]},
    ],
    "sub-messages": [{"name": "by-kind", "formats": [
        {"value": "a", "attribute-set": "fmt-a"},
        {"value": "h", "fixed-header": "inner"},
        {"value": 7, "fixed-header": "inner", "attribute-set": "fmt-a"},
    ]}],
    "operations": {"list": [
        {"name": "get", "value": 16, "attribute-set": "main", "flags": ["admin-perm"],
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
        {"name": "geth", "fixed-header": "hdr", "attribute-set": "main",
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
        {"name": "ntf", "notify": "geth", "mcgrp": "g", "value": 30},
        {"name": "small", "value": 40, "attribute-set": "narrow",
         "dump": {"request": {"attributes": []}}},
    ]},
    "mcast-groups": {"list": [{"name": "g", "value": 1}]},
}


def feat() -> spec.Spec:
    return spec.compile_spec(copy.deepcopy(FEAT), "feat.yaml")


def codec(s: spec.Spec, op: str, values: dict[str, Any], wire: bytes) -> None:
    """``values`` encode to ``wire`` (in C and in Python) and ``wire``
    decodes to ``values`` (in C and in Python), as the reply of ``op``."""
    o = s.ops[op]
    assert s.encode(op, values) == wire
    assert s.encode_py(op, values) == wire
    assert o.rsp_value is not None
    assert s.decode(o.rsp_value, wire) == values
    assert s.decode_py(o.rsp_value, wire) == values


def test_compiled_tables() -> None:
    s = feat()
    assert s.origin == "feat.yaml" and s.version == 1
    assert s.definitions == {"ifnamsiz": 8, "base": 10}
    assert s.enums["started"].by_name == {"five": 5, "six": 6}
    assert s.enums["by-const"].by_name == {"ten": 10, "twenty": 20, "twenty-one": 21}
    assert s.enums["perms"].by_name == {"read": 1, "write": 2}
    assert s.enums["colour"].name == "colour"
    assert s.structs["hdr"].name == "hdr" and s.structs["hdr"].size == 4 + 8 + 2 + 4 + 2 + 2
    assert s.structs["inner"].size == 4
    assert set(s.structs) == {"inner", "hdr"}
    assert s.attr_sets["main"].name == "main" and s.attr_sets["narrow"].name == "narrow"
    assert s.attr_sets["main"].pad == 10 and s.attr_sets["item"].pad is None
    assert s.sub_messages["by-kind"].name == "by-kind"
    fmts = s.sub_messages["by-kind"].formats
    assert list(fmts) == ["a", "h", "7"] and all(k == f.value for k, f in fmts.items())
    assert fmts["a"].fixed_header is None and fmts["a"].attrs is s.attr_sets["fmt-a"]
    assert fmts["h"].fixed_header is s.structs["inner"] and fmts["h"].attrs is None
    main = s.attr_sets["main"].by_name
    assert main["data"].submsg is s.sub_messages["by-kind"] and main["data"].selector == "kind"
    assert main["pair"].scalar.struct is s.structs["inner"]
    assert main["bits"].scalar.as_flags is True and main["colour"].scalar.as_flags is False
    assert main["many"].multi is True and main["x"].multi is False
    assert main["arr"].nest is s.attr_sets["item"] and main["arr"].sub_type == "nest"
    assert main["arr-u16"].nest is None
    assert [a.type for a in main.values()][:3] == ["u32", "u16", "array-nest"]
    assert s.fixed_header is None
    assert s.mcast_groups == {"g": 1}


def test_operations_unified() -> None:
    s = feat()
    get, geth, ntf, small = (s.ops[n] for n in ("get", "geth", "ntf", "small"))
    assert [o.name for o in s.ops.values()] == ["get", "geth", "ntf", "small"]
    assert (get.req_value, get.rsp_value) == (16, 16)
    assert (geth.req_value, geth.rsp_value) == (17, 17)
    assert (ntf.req_value, ntf.rsp_value) == (30, 30)
    assert (small.req_value, small.rsp_value) == (40, 40)
    assert get.flags == ("admin-perm",) and geth.flags == ()
    assert ntf.mcgrp == "g" and get.mcgrp is None
    assert ntf.notify == "geth" and ntf.event is None
    # a notification decodes like the op it names: its set and its header
    assert ntf.attrs is s.attr_sets["main"] and ntf.fixed_header is s.structs["hdr"]
    assert geth.fixed_header is s.structs["hdr"] and get.fixed_header is None
    assert s.requests == {16: get, 17: geth, 40: small}
    assert s.replies == {16: get, 17: geth, 30: ntf, 40: small}


def test_unified_counts_from_one() -> None:
    d = copy.deepcopy(BASE)
    d["operations"] = {"list": [
        {"name": "a", "do": {"request": {}}},
        {"name": "b", "dump": {"request": {}, "reply": {}}},
        {"name": "ev", "event": {"attributes": ["x"]}, "attribute-set": "main"},
        {"name": "c", "value": 9, "do": {"request": {}}},
        {"name": "d", "do": {"reply": {}}},
    ]}
    s = spec.compile_spec(d)
    vals = {n: (o.req_value, o.rsp_value) for n, o in s.ops.items()}
    assert vals == {"a": (1, 1), "b": (2, 2), "ev": (3, 3), "c": (9, 9), "d": (10, 10)}
    assert s.ops["ev"].event == {"attributes": ["x"]}
    assert set(s.requests) == {1, 2, 9, 10} and set(s.replies) == {1, 2, 3, 9, 10}


def test_operations_directional() -> None:
    d = copy.deepcopy(BASE)
    d["operations"] = {"enum-model": "directional", "list": [
        {"name": "a", "attribute-set": "main",
         "do": {"request": {"value": 10}, "reply": {"value": 20}}},
        {"name": "b", "do": {"request": {}, "reply": {}}},
        {"name": "ev", "value": 30, "event": {"attributes": ["x"]}},
        {"name": "ev2", "event": {"attributes": ["x"]}},
        {"name": "ntf", "notify": "a", "value": 40},
        {"name": "rq", "value": 50, "do": {"request": {}}},
        {"name": "only-reply", "do": {"reply": {}}},
        {"name": "dumpy", "dump": {"request": {}, "reply": {}}},
    ]}
    s = spec.compile_spec(d)
    vals = {n: (o.req_value, o.rsp_value) for n, o in s.ops.items()}
    assert vals == {"a": (10, 20), "b": (11, 21), "ev": (None, 30), "ev2": (None, 31),
                    "ntf": (None, 40), "rq": (50, 50), "only-reply": (None, 51),
                    "dumpy": (51, 52)}
    assert s.ops["ev"].event == {"attributes": ["x"]}
    assert s.ops["ntf"].attrs is s.attr_sets["main"]
    assert {k: o.name for k, o in s.requests.items()} == {10: "a", 11: "b", 50: "rq",
                                                           51: "dumpy"}
    assert {k: o.name for k, o in s.replies.items()} == {
        20: "a", 21: "b", 30: "ev", 31: "ev2", 40: "ntf", 50: "rq", 51: "only-reply",
        52: "dumpy"}


def test_genl_header_and_groups() -> None:
    d = copy.deepcopy(BASE)
    d["protocol"] = "genetlink-legacy"
    del d["protonum"]
    s = spec.compile_spec(d)
    assert s.version == 1 and s.mcast_groups == {"g": None}
    hdr = bytes(8)  # hdr: u8, string[4], binary[3]
    assert s.encode("get", {"x": 5}) == bytes([16, 1, 0, 0]) + hdr + nla(1, struct.pack("=I", 5))
    assert s.encode("get", {}, reply=True)[:4] == bytes([16, 1, 0, 0])
    d["version"] = 3
    assert spec.compile_spec(d).encode("get")[:4] == bytes([16, 3, 0, 0])


def test_struct_members_on_the_wire() -> None:
    s = feat()
    values = {"be32": -2, "name": "eth0", "in": {"be": 0x1234, "b": "blue"},
              "raw": b"\xaa\xbb", "le16": 0x0102, "x": 7}
    wire = (struct.pack(">i", -2) + b"eth0\0\0\0\0" + bytes(2) + struct.pack(">HBx", 0x1234, 2)
            + b"\xaa\xbb" + struct.pack("=H", 0x0102) + bytes(2) + nla(1, struct.pack("=I", 7)))
    codec(s, "geth", values, wire)
    # the notification decodes with the header of the op it names
    assert s.decode(30, wire) == values
    with pytest.raises(spec.EncodeError, match="struct inner has no member zz"):
        s.encode("geth", {"in": {"zz": 1}})


def test_attributes_on_the_wire() -> None:
    s = feat()
    values = {"be": 0x0102, "arr": [{"y": 1}, {"y": 2}], "arr-u16": [0x0304, 5],
              "arr-be": [0x0304], "bits": ["red", "blue"], "colour": "green",
              "pair": {"be": 1, "b": "red"}, "addr": "10.0.0.1", "many": [1, 2],
              "far": 3}
    wire = (nla(2, struct.pack(">H", 0x0102))
            + nest(3, nest(0, nla(1, struct.pack("=I", 1))) + nest(1, nla(1, struct.pack("=I", 2))))
            + nest(4, nla(0, struct.pack("=H", 0x0304)) + nla(1, struct.pack("=H", 5)))
            + nest(5, nla(0, struct.pack(">H", 0x0304)))
            + nla(6, struct.pack("=I", 0b101))
            + nla(7, b"\x01")
            + nla(11, struct.pack(">HBx", 1, 0))
            + nla(12, struct.pack("=I", 0x0A000001))
            + nla(13, b"\x01") + nla(13, b"\x02")
            + nla(0x3FFF, b"\x03"))
    codec(s, "get", values, wire)
    with pytest.raises(spec.EncodeError, match="struct inner has no member zz"):
        s.encode("get", {"pair": {"zz": 1}})
    with pytest.raises(spec.EncodeError, match=r"'pink' is not a name of colour \(red, green"):
        s.encode("get", {"bits": ["pink"]})


@pytest.mark.parametrize(("kind", "data", "payload"), [
    ("a", {"alpha": 9}, nla(1, struct.pack("=I", 9))),
    ("h", {"be": 0x0506, "b": "green"}, struct.pack(">HBx", 0x0506, 1)),
    ("7", {"be": 1, "b": "red", "alpha": 2}, struct.pack(">HBx", 1, 0)
     + nla(1, struct.pack("=I", 2))),
])
def test_sub_messages_on_the_wire(kind: str, data: dict[str, Any], payload: bytes) -> None:
    s = feat()
    values = {"kind": kind, "data": data}
    wire = nla(8, kind.encode() + b"\0") + nest(9, payload)
    codec(s, "get", values, wire)


def test_subset_on_the_wire() -> None:
    s = feat()
    narrow = s.attr_sets["narrow"].by_name
    assert list(narrow) == ["be", "x"] and narrow["x"].type == "u16"
    assert narrow["be"].scalar.fmt is not None and narrow["be"].scalar.fmt.format == ">H"
    wire = nla(2, struct.pack(">H", 0x0102)) + nla(1, struct.pack("=H", 9))
    codec(s, "small", {"be": 0x0102, "x": 9}, wire)


def test_enum_as_flags_bits() -> None:
    e = spec.Enum("e", False, {"a": 0, "b": 2, "top": 63, "far": 64, "neg": -1},
                  {0: "a", 2: "b", 63: "top", 64: "far", -1: "neg"})
    assert e.bits == {1: "a", 4: "b", 1 << 63: "top"}
    assert e.decode(0b101 | 1 << 63, as_flags=True) == ["a", "b", "top"]
    assert e.decode(2) == "b" and e.decode(2, as_flags=True) == [2]
    assert e.encode(["a", "top"], True, "w") == 1 | 1 << 63
    with pytest.raises(spec.EncodeError, match="'far' is not a name of e"):
        e.encode(["far"], True, "w")
    f = spec.Enum("f", True, {"r": 1, "w": 2}, {1: "r", 2: "w"})
    assert f.bits == {1: "r", 2: "w"}
    assert f.encode(["r", "w"], False, "w") == 3 and f.decode(3) == ["r", "w"]


# -- a spec written here, against the kernel --------------------------------------

ADDR: dict[str, Any] = {
    "name": "addr-edge",
    "protocol": "netlink-raw",
    "protonum": 0,
    "definitions": [
        {"name": "ifaddrmsg", "type": "struct", "members": [
            {"name": "family", "type": "u8"}, {"name": "prefixlen", "type": "u8"},
            {"name": "flags", "type": "u8"}, {"name": "scope", "type": "u8"},
            {"name": "index", "type": "u32"}]},
    ],
    "attribute-sets": [{"name": "addr-attrs", "attributes": [
        {"name": "address", "type": "binary", "display-hint": "ipv4", "value": 1},
        {"name": "local", "type": "binary", "display-hint": "ipv4"},
        {"name": "label", "type": "string"},
    ]}],
    "operations": {"enum-model": "directional", "fixed-header": "ifaddrmsg", "list": [
        {"name": "newaddr", "attribute-set": "addr-attrs",
         "do": {"request": {"value": 20, "attributes": []}}},
        {"name": "getaddr", "attribute-set": "addr-attrs",
         "dump": {"request": {"value": 22, "attributes": []},
                  "reply": {"value": 20, "attributes": ["address", "local", "label"]}}},
    ]},
}


def test_directional_spec_against_the_kernel(netns: Any) -> None:
    """A directional spec's numbers as rtnetlink has them: RTM_GETADDR out,
    RTM_NEWADDR back, decoded with the spec-wide header."""
    s = spec.compile_spec(copy.deepcopy(ADDR))
    assert (s.ops["getaddr"].req_value, s.ops["getaddr"].rsp_value) == (22, 20)
    netns.ip("link", "set", "lo", "up")
    with spec.open(s, netns=netns.name) as fam:
        got = fam.dump("getaddr", {"family": 2})
    assert [(a["family"], a["prefixlen"], a["address"], a["local"], a["label"])
            for a in got] == [(2, 8, "127.0.0.1", "127.0.0.1", "lo")]
