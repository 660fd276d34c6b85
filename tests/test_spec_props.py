"""Property tests: random values through encode then decode give the same
dict, for every attribute type and nesting form; random bytes never break
the decoder with anything but DecodeError."""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlfast import spec
from nlfast.errors import DecodeError

INTS = {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
        "u64": (0, 2**64 - 1), "s8": (-(2**7), 2**7 - 1), "s16": (-(2**15), 2**15 - 1),
        "s32": (-(2**31), 2**31 - 1), "s64": (-(2**63), 2**63 - 1),
        "uint": (0, 2**64 - 1), "sint": (-(2**63), 2**63 - 1)}

DOC: dict[str, Any] = {
    "name": "every-type",
    "protocol": "netlink-raw",
    "protonum": 31,
    "definitions": [
        {"name": "colour", "type": "enum", "entries": ["red", "green", "blue"]},
        {"name": "perms", "type": "flags", "entries": ["read", "write", "exec"]},
        {"name": "sparse", "type": "enum", "entries": [{"name": "low", "value": 3},
                                                        {"name": "high", "value": 200}]},
        {"name": "hdr", "type": "struct", "members": [
            {"name": "h-u8", "type": "u8"}, {"name": "h-pad", "type": "pad", "len": 1},
            {"name": "h-be16", "type": "u16", "byte-order": "big-endian"},
            {"name": "h-s32", "type": "s32"}, {"name": "h-colour", "type": "u8",
                                                "enum": "colour"},
            {"name": "h-name", "type": "string", "len": 8},
            {"name": "h-mac", "type": "binary", "len": 6, "display-hint": "mac"},
            {"name": "h-u64", "type": "u64"}]},
        {"name": "pair", "type": "struct", "members": [
            {"name": "a", "type": "u32"}, {"name": "b", "type": "s16"},
            {"name": "pad", "type": "pad", "len": 2}]},
    ],
    "attribute-sets": [
        {"name": "top", "attributes": [
            *({"name": f"i-{t}", "type": t} for t in INTS),
            {"name": "be-u32", "type": "u32", "byte-order": "big-endian"},
            {"name": "be-s64", "type": "s64", "byte-order": "big-endian"},
            {"name": "flag", "type": "flag"},
            {"name": "str", "type": "string"},
            {"name": "bin", "type": "binary"},
            {"name": "mac", "type": "binary", "display-hint": "mac"},
            {"name": "ip4", "type": "binary", "display-hint": "ipv4"},
            {"name": "ip6", "type": "binary", "display-hint": "ipv6"},
            {"name": "uuid", "type": "binary", "display-hint": "uuid"},
            {"name": "ip46", "type": "binary", "display-hint": "ipv4-or-v6"},
            {"name": "hexbin", "type": "binary", "display-hint": "hex"},
            {"name": "ip4-u32", "type": "u32", "byte-order": "big-endian",
             "display-hint": "ipv4"},
            {"name": "pair", "type": "binary", "struct": "pair"},
            {"name": "bf", "type": "bitfield32"},
            {"name": "colour", "type": "u32", "enum": "colour"},
            {"name": "perms", "type": "u32", "enum": "perms"},
            {"name": "colour-bits", "type": "u32", "enum": "colour", "enum-as-flags": True},
            {"name": "sparse", "type": "u16", "enum": "sparse"},
            {"name": "nest", "type": "nest", "nested-attributes": "inner"},
            {"name": "multi", "type": "u32", "multi-attr": True},
            {"name": "multi-nest", "type": "nest", "nested-attributes": "inner",
             "multi-attr": True},
            {"name": "arr-nest", "type": "indexed-array", "sub-type": "nest",
             "nested-attributes": "inner"},
            {"name": "arr-u16", "type": "indexed-array", "sub-type": "u16"},
            {"name": "arr-str", "type": "indexed-array", "sub-type": "string"},
            {"name": "ntv1", "type": "nest-type-value", "type-value": ["id"],
             "nested-attributes": "inner"},
            {"name": "ntv2", "type": "nest-type-value", "type-value": ["a", "b"],
             "nested-attributes": "inner"},
            {"name": "kind", "type": "string"},
            {"name": "data", "type": "sub-message", "sub-message": "by-kind",
             "selector": "kind"},
            {"name": "pad", "type": "pad"},
            {"name": "sub", "type": "nest", "nested-attributes": "inner-subset"},
        ]},
        {"name": "inner", "attributes": [
            {"name": "x", "type": "u32", "value": 5},
            {"name": "s", "type": "string"},
            {"name": "deeper", "type": "nest", "nested-attributes": "inner"},
        ]},
        {"name": "inner-subset", "subset-of": "inner", "attributes": [{"name": "x"}]},
        {"name": "fmt-a", "attributes": [{"name": "alpha", "type": "u64"}]},
    ],
    "sub-messages": [{"name": "by-kind", "formats": [
        {"value": "a", "attribute-set": "fmt-a"},
        {"value": "hdr-only", "fixed-header": "pair"},
        {"value": "both", "fixed-header": "pair", "attribute-set": "inner"},
    ]}],
    "operations": {"list": [
        {"name": "plain", "value": 16, "attribute-set": "top",
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
        {"name": "with-hdr", "value": 17, "attribute-set": "top", "fixed-header": "hdr",
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
    ]},
}

SPEC = spec.load(DOC)
GENL = spec.load({**{k: v for k, v in DOC.items() if k != "protonum"},
                  "protocol": "genetlink-legacy", "name": "every-type-genl"})

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
               max_size=20)
u32 = st.integers(0, 2**32 - 1)


def inner(depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, Any] = {"x": u32, "s": text}
    if depth:
        fields["deeper"] = st.deferred(lambda: inner(depth - 1))
    return st.fixed_dictionaries({}, optional=fields)


def flags_of(names: list[str]) -> st.SearchStrategy[list[str]]:
    return st.sets(st.sampled_from(names)).map(lambda s: [n for n in names if n in s])


pair = st.fixed_dictionaries({"a": u32, "b": st.integers(-(2**15), 2**15 - 1)})

submsg = st.one_of(
    st.fixed_dictionaries({"kind": st.just("a"),
                           "data": st.fixed_dictionaries({"alpha": st.integers(0, 2**64 - 1)})}),
    st.fixed_dictionaries({"kind": st.just("hdr-only"), "data": pair}),
    st.fixed_dictionaries({"kind": st.just("both"), "data": st.builds(
        lambda p, i: {**p, **i}, pair, inner(1))}),
)

top_fields: dict[str, Any] = {
    **{f"i-{t}": st.integers(lo, hi) for t, (lo, hi) in INTS.items()},
    "be-u32": u32,
    "be-s64": st.integers(-(2**63), 2**63 - 1),
    "flag": st.just(True),
    "str": text,
    "bin": st.binary(max_size=40),
    "mac": st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
    "ip4": st.ip_addresses(v=4).map(str),
    "ip6": st.ip_addresses(v=6).map(str),
    "uuid": st.uuids().map(str),
    "ip46": st.ip_addresses().map(str),
    "hexbin": st.binary(max_size=16),
    "ip4-u32": st.ip_addresses(v=4).map(str),
    "pair": pair,
    "bf": st.fixed_dictionaries({"value": u32, "selector": u32}),
    "colour": st.sampled_from(["red", "green", "blue"]),
    "perms": flags_of(["read", "write", "exec"]),
    "colour-bits": flags_of(["red", "green", "blue"]),  # as flags: bits 0, 1 and 2
    "sparse": st.sampled_from(["low", "high"]),
    "nest": inner(),
    "multi": st.lists(u32, min_size=1, max_size=5),
    "multi-nest": st.lists(inner(1), min_size=1, max_size=3),
    "arr-nest": st.lists(inner(1), max_size=4),
    "arr-u16": st.lists(st.integers(0, 2**16 - 1), max_size=6),
    "arr-str": st.lists(text, max_size=4),
    "ntv1": st.dictionaries(st.integers(0, 200), inner(1), max_size=3),
    "ntv2": st.dictionaries(st.integers(0, 50), st.dictionaries(st.integers(0, 50), inner(0),
                                                                max_size=3), max_size=3),
    "sub": st.fixed_dictionaries({}, optional={"x": u32}),
}

top = st.builds(lambda a, b: {**a, **b}, st.fixed_dictionaries({}, optional=top_fields),
                st.one_of(st.just({}), submsg))

header = st.fixed_dictionaries({
    "h-u8": st.integers(0, 255), "h-be16": st.integers(0, 2**16 - 1),
    "h-s32": st.integers(-(2**31), 2**31 - 1), "h-colour": st.sampled_from(["red", "blue"]),
    "h-name": st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=7),
    "h-mac": st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
    "h-u64": st.integers(0, 2**64 - 1)})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(top)
def test_round_trip_every_type(values: dict[str, Any]) -> None:
    payload = SPEC.encode("plain", values)
    assert SPEC.decode(16, payload) == values


@settings(max_examples=100, deadline=None)
@given(header, top)
def test_round_trip_with_fixed_header(hdr: dict[str, Any], values: dict[str, Any]) -> None:
    payload = SPEC.encode("with-hdr", {**hdr, **values})
    assert len(payload) >= 24
    assert SPEC.decode(17, payload) == {**hdr, **values}


@settings(max_examples=100, deadline=None)
@given(top)
def test_round_trip_generic_netlink(values: dict[str, Any]) -> None:
    payload = GENL.encode("plain", values)
    assert payload[:2] == bytes([16, 1])  # genlmsghdr: cmd, version
    assert GENL.decode(0x1234, payload) == values


@settings(max_examples=50, deadline=None)
@given(top)
def test_message_framing_round_trip(values: dict[str, Any]) -> None:
    """Through a framed netlink message and its view (the to_dict path)."""
    msg = SPEC.message("plain", values)
    assert SPEC.to_dict(msg.encode(seq=7)) == values


def test_hints_decode_to_their_usual_text() -> None:
    payload = SPEC.encode("plain", {"ip4": "10.1.2.3", "ip6": "2001:db8::5",
                                    "uuid": str(uuid.UUID(int=7)), "ip4-u32": "192.0.2.9"})
    d = SPEC.decode(16, payload)
    assert ipaddress.ip_address(d["ip4"]) == ipaddress.ip_address("10.1.2.3")
    assert d["ip6"] == "2001:db8::5"
    assert d["uuid"] == "00000000-0000-0000-0000-000000000007"
    # big-endian u32 with an ipv4 hint: the bytes on the wire are the address
    assert bytes.fromhex("c0000209") in payload


def test_big_endian_on_the_wire() -> None:
    payload = SPEC.encode("plain", {"be-u32": 0x01020304})
    assert payload.endswith(b"\x01\x02\x03\x04")
    payload = SPEC.encode("plain", {"i-u32": 0x01020304})
    assert payload.endswith(b"\x04\x03\x02\x01")


def test_enum_as_flags_takes_values_as_bit_positions() -> None:
    payload = SPEC.encode("plain", {"colour-bits": ["red", "blue"]})
    assert payload.endswith((1 | 4).to_bytes(4, "little"))
    payload = SPEC.encode("plain", {"perms": ["exec"]})
    assert payload.endswith((4).to_bytes(4, "little"))


def test_uint_is_4_or_8_bytes() -> None:
    assert len(SPEC.encode("plain", {"i-uint": 5})) == 8
    assert len(SPEC.encode("plain", {"i-uint": 2**40})) == 12
    assert len(SPEC.encode("plain", {"i-sint": -(2**40)})) == 12


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([16, 17]))
def test_random_bytes_only_raise_decode_error(data: bytes, msg_type: int) -> None:
    with contextlib.suppress(DecodeError):
        SPEC.decode(msg_type, data)


@settings(max_examples=100, deadline=None)
@given(top, st.data())
def test_corrupted_messages_only_raise_decode_error(values: dict[str, Any],
                                                    data: st.DataObject) -> None:
    payload = bytearray(SPEC.encode("plain", values))
    if payload:
        for _ in range(data.draw(st.integers(1, 4))):
            payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(
                st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        SPEC.decode(16, bytes(payload))


@settings(max_examples=200, deadline=None)
@given(top)
def test_c_plan_decodes_as_python_does(values: dict[str, Any]) -> None:
    payload = SPEC.encode("plain", values)
    assert SPEC.decode(16, payload) == SPEC.decode_py(16, payload) == values


def outcome(f: Any, *args: Any) -> Any:
    try:
        return f(*args)
    except DecodeError:
        return DecodeError


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_c_plan_and_python_agree_on_any_bytes(data: bytes) -> None:
    assert outcome(SPEC.decode, 16, data) == outcome(SPEC.decode_py, 16, data)


@settings(max_examples=100, deadline=None)
@given(top, st.data())
def test_c_plan_and_python_agree_on_corrupted(values: dict[str, Any],
                                              data: st.DataObject) -> None:
    payload = bytearray(SPEC.encode("plain", values))
    if payload:
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] = data.draw(st.integers(0, 255))
    assert outcome(SPEC.decode, 16, bytes(payload)) == outcome(SPEC.decode_py, 16,
                                                               bytes(payload))


def test_c_plan_depth_is_bounded() -> None:
    """33 nests deep: the C walker stops (it never recurses without bound)."""
    inner_doc = {"x": 1}
    for _ in range(40):
        inner_doc = {"deeper": inner_doc}
    payload = SPEC.encode("plain", {"nest": inner_doc})
    try:
        SPEC.decode(16, payload)
    except DecodeError as e:
        assert "deeper than 32" in str(e)
    else:
        raise AssertionError("a 41-deep nest decoded")
