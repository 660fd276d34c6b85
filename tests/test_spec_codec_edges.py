"""Edges of nlfast.spec's codecs that the round-trip properties do not pin
down (issue #9, the survivors of a mutation run): fixed headers decoded by
the Python reference, generic netlink payloads through decode_py and through
views, headers whose size is not a multiple of 4, the error messages of bad
array elements, the defaults of encode_py and Enum.decode.

Every expected value is packed by hand with the struct module, not made by
the encoder under test."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from nlfast import MessageView, spec
from nlfast.errors import DecodeError

HDR = [
    {"name": "a", "type": "u8"},
    {"name": "p", "type": "pad", "len": 1},
    {"name": "be", "type": "u16", "byte-order": "big-endian"},
    {"name": "ip", "type": "u32", "display-hint": "ipv4"},  # host order on the wire
    {"name": "sbe", "type": "s16", "byte-order": "big-endian"},
]  # 10 bytes: attributes start at 12

DOC: dict[str, Any] = {
    "name": "codec-edges",
    "protocol": "netlink-raw",
    "protonum": 31,
    "definitions": [
        {"name": "colour", "type": "enum", "entries": ["red", "green", "blue"]},
        {"name": "hdr", "type": "struct", "members": HDR},
        {"name": "pair", "type": "struct", "members": [
            {"name": "x", "type": "u32"}, {"name": "y", "type": "s16"},
            {"name": "pad", "type": "pad", "len": 2}]},
        {"name": "named", "type": "struct", "members": [
            {"name": "s", "type": "string", "len": 4}]},
    ],
    "attribute-sets": [
        {"name": "top", "attributes": [
            {"name": "n", "type": "u32"},
            {"name": "arr", "type": "indexed-array", "sub-type": "u16"},
            {"name": "uarr", "type": "indexed-array", "sub-type": "uint"},
            {"name": "name", "type": "string"},
            {"name": "pair", "type": "binary", "struct": "pair"},
            {"name": "si", "type": "sint"},
            {"name": "fl", "type": "flag"},
            {"name": "tv", "type": "nest-type-value", "type-value": ["id"],
             "nested-attributes": "inner"},
            {"name": "kind", "type": "string"},
            {"name": "data", "type": "sub-message", "sub-message": "by-kind",
             "selector": "kind"},
        ]},
        {"name": "inner", "attributes": [{"name": "s1", "type": "string"},
                                         {"name": "s2", "type": "string"}]},
    ],
    "sub-messages": [{"name": "by-kind", "formats": [
        {"value": "p", "fixed-header": "pair"}]}],
    "operations": {"list": [
        {"name": "get", "value": 16, "attribute-set": "top", "fixed-header": "hdr",
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
        {"name": "plain", "value": 17, "attribute-set": "top",
         "do": {"request": {"attributes": []}, "reply": {"attributes": []}}},
    ]},
}

RAW = spec.load(DOC)
GENL = spec.load({**{k: v for k, v in DOC.items() if k != "protonum"},
                  "protocol": "genetlink-legacy", "name": "codec-edges-genl", "version": 2})

# hdr: a=7, be=0x0102, ip=192.0.2.9, sbe=-2
HDR_BYTES = struct.pack("=BxH4sH", 7, 0x0201, bytes([192, 0, 2, 9]), 0xFEFF)
HDR_DICT = {"a": 7, "be": 0x0102, "ip": "192.0.2.9", "sbe": -2}


def nla(t: int, payload: bytes) -> bytes:
    return struct.pack("=HH", len(payload) + 4, t) + payload + bytes(-len(payload) % 4)


def framed(mtype: int, payload: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(payload), mtype, 0, 1, 0) + payload


def view_of(data: bytes, lead: int = 0) -> MessageView:
    """A view over a bytes object (read in place), ``lead`` bytes into it."""
    return MessageView(memoryview(bytes(lead) + data)[lead:])


# -- fixed headers through the Python reference (Struct.decode) ---------------

def test_struct_decode_big_endian_and_hinted_members() -> None:
    assert len(HDR_BYTES) == 10
    st = RAW.structs["hdr"]
    assert st.decode(HDR_BYTES) == HDR_DICT
    assert st.decode(b"xy" + HDR_BYTES, 2) == HDR_DICT


def test_raw_header_python_and_c_agree() -> None:
    payload = HDR_BYTES + bytes(2) + nla(1, struct.pack("=I", 5))
    want = {**HDR_DICT, "n": 5}
    assert RAW.decode_py(16, payload) == want
    assert RAW.decode(16, payload) == want
    assert spec.Family(RAW, None).to_dict(view_of(framed(16, payload))) == want  # type: ignore[arg-type]


def genl_hdr(cmd: int) -> bytes:
    return struct.pack("=BBH", cmd, 2, 0)


def test_genl_header_and_attributes_after_genlmsghdr() -> None:
    """decode_py: the command from byte 0, the fixed header after the
    genlmsghdr, the attributes after both (4 + 12 bytes in)."""
    payload = genl_hdr(16) + HDR_BYTES + bytes(2) + nla(1, struct.pack("=I", 0xAABBCCDD))
    want = {**HDR_DICT, "n": 0xAABBCCDD}
    assert GENL.decode_py(0x1234, payload) == want
    assert GENL.decode(0x1234, payload) == want
    plain = genl_hdr(17) + nla(4, b"eth0\0")
    assert GENL.decode_py(0x1234, plain) == GENL.decode(0x1234, plain) == {"name": "eth0"}


def test_genl_decode_py_empty_payload_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        GENL.decode_py(0x1234, b"")


# -- decoding views (Family.to_dict: _decode_view, _decode_mem) ---------------

def test_view_inside_a_larger_bytes_object() -> None:
    """A view that starts 4 bytes into a bytes object is read at its own
    offset, not at the bytes object's start."""
    payload = nla(1, struct.pack("=I", 9)) + nla(4, b"lo\0")
    data = framed(17, payload)
    fam = spec.Family(RAW, None)  # type: ignore[arg-type]
    for lead in (0, 4, 12):
        assert fam.to_dict(view_of(data, lead)) == {"n": 9, "name": "lo"}


def test_genl_view_with_only_a_genlmsghdr() -> None:
    """(what Family.to_dict does for a generic netlink family)"""
    o = GENL.ops["plain"]
    assert GENL._decode_view(o, view_of(framed(0x1234, genl_hdr(17)))) == {}
    with pytest.raises(DecodeError, match="genlmsghdr"):
        GENL._decode_view(o, view_of(framed(0x1234, genl_hdr(17)[:3])))


def test_unaligned_header_ending_the_payload() -> None:
    """A 10-byte header and nothing after it: no attributes, and no read past
    the payload (the aligned header end, 12, is past it)."""
    fam = spec.Family(RAW, None)  # type: ignore[arg-type]
    for tail in (b"", b"\0", b"\0\0"):
        payload = HDR_BYTES + tail
        assert fam.to_dict(view_of(framed(16, payload))) == HDR_DICT
        assert RAW.decode(16, payload) == RAW.decode_py(16, payload) == HDR_DICT
    # a stray attribute header right after the view's end is not read
    data = framed(16, HDR_BYTES) + nla(1, struct.pack("=I", 1))
    assert fam.to_dict(MessageView(memoryview(data)[:26])) == HDR_DICT
    with pytest.raises(DecodeError, match="needs 10"):
        fam.to_dict(view_of(framed(16, HDR_BYTES[:9])))


def test_binary_attribute_holding_a_struct() -> None:
    """The C plan decodes it into the struct's dict, as Python does; a
    payload shorter than the struct stays bytes."""
    payload = nla(5, struct.pack("=Ih2x", 70000, -3))
    want = {"pair": {"x": 70000, "y": -3}}
    assert RAW.decode(17, payload) == RAW.decode_py(17, payload) == want
    short = nla(5, b"\x01\x02")
    assert RAW.decode(17, short) == RAW.decode_py(17, short) == {"pair": b"\x01\x02"}


# -- array elements: their errors name the attribute and its sub-type --------

def test_short_array_element_error_names_attribute_and_type() -> None:
    payload = nla(2, nla(0, struct.pack("=H", 1)) + nla(1, b"\x01"))
    with pytest.raises(DecodeError, match=r"^attribute arr: 1 bytes, u16 needs 2$"):
        RAW.decode_py(17, payload)
    with pytest.raises(DecodeError):
        RAW.decode(17, payload)
    bad = nla(3, nla(0, struct.pack("=I", 1)) + nla(1, b"\x01\x02"))
    with pytest.raises(DecodeError, match=r"^attribute uarr: 2 bytes, uint needs 4 or 8$"):
        RAW.decode_py(17, bad)
    ok = nla(2, nla(0, struct.pack("=H", 1)) + nla(1, struct.pack("=H", 0xFFFF)))
    assert RAW.decode_py(17, ok) == RAW.decode(17, ok) == {"arr": [1, 0xFFFF]}


# -- encode_py: the request id, in Python ---------------------------------

DIRECTIONAL: dict[str, Any] = {
    "name": "directional",
    "protocol": "genetlink-legacy",
    "attribute-sets": [{"name": "s", "attributes": [{"name": "n", "type": "u32"}]}],
    "operations": {"enum-model": "directional", "list": [
        {"name": "get", "attribute-set": "s",
         "do": {"request": {"value": 3, "attributes": ["n"]},
                "reply": {"value": 7, "attributes": ["n"]}}},
    ]},
}


def test_encode_py_is_a_request_by_default() -> None:
    d = spec.load(DIRECTIONAL)
    body = nla(1, struct.pack("=I", 5))
    assert d.encode_py("get", {"n": 5}) == struct.pack("=BBH", 3, 1, 0) + body
    assert d.encode_py("get", {"n": 5}, reply=True) == struct.pack("=BBH", 7, 1, 0) + body
    assert d.encode("get", {"n": 5}) == d.encode_py("get", {"n": 5})


def test_encode_py_does_not_use_the_c_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """encode_py is the Python reference: it never asks C."""
    real = spec._specdict

    class NoEncode:
        def __getattr__(self, name: str) -> Any:
            if name == "encode":
                raise AssertionError("encode_py called the C encoder")
            return getattr(real, name)

    monkeypatch.setattr(spec, "_specdict", NoEncode())
    values = {"n": 1, "arr": [2, 3], "name": "x"}
    want = (nla(1, struct.pack("=I", 1))
            + nla(2 | 0x8000, nla(0, struct.pack("=H", 2)) + nla(1, struct.pack("=H", 3)))
            + nla(4, b"x\0"))
    assert RAW.encode_py("plain", values) == want


# -- Enum.decode -------------------------------------------------------------

def test_enum_decode_defaults_to_one_value() -> None:
    colour = RAW.enums["colour"]
    assert colour.decode(1) == "green"
    assert colour.decode(9) == 9
    assert colour.decode(5, True) == ["red", "blue"]  # bits 0 and 2


# -- encoding: the Python encoder's values and messages ------------------------

def test_enum_encode_flags_and_error_names() -> None:
    perms = spec.Enum("perms", True, {"r": 1, "w": 2, "x": 4}, {1: "r", 2: "w", 4: "x"})
    assert perms.encode([1, "x"], False, "w") == 5
    assert perms.encode((8, 2), False, "w") == 10
    with pytest.raises(spec.EncodeError, match=r"^at: 'pink' is not a name of colour "
                                               r"\(red, green, blue\)$"):
        RAW.enums["colour"].encode("pink", False, "at")


def test_struct_string_member_keeps_its_nul() -> None:
    st = RAW.structs["named"]
    assert st.encode({"s": "abc"}, "w") == b"abc\0"
    with pytest.raises(spec.EncodeError, match="longer than 3 bytes"):
        st.encode({"s": "abcd"}, "w")


def test_sint_is_4_bytes_from_its_lowest_value() -> None:
    for n, packed in ((-5, struct.pack("=i", -5)), (-(2**31), struct.pack("=i", -(2**31))),
                      (2**31 - 1, struct.pack("=i", 2**31 - 1)),
                      (-(2**31) - 1, struct.pack("=q", -(2**31) - 1))):
        assert RAW.encode_py("plain", {"si": n}) == nla(6, packed)
        assert RAW.encode("plain", {"si": n}) == nla(6, packed)


def test_string_with_nul_and_false_flag() -> None:
    with pytest.raises(spec.EncodeError, match="NUL byte"):
        RAW.encode_py("plain", {"name": "a\0b"})
    assert RAW.encode_py("plain", {"fl": False}) == b""
    assert RAW.encode_py("plain", {"fl": None}) == b""
    assert RAW.encode_py("plain", {"fl": True}) == nla(7, b"")


def test_sub_message_header_error_names_where() -> None:
    with pytest.raises(spec.EncodeError, match=r"^plain\.data\.x: 4294967296 does not fit"):
        RAW.encode_py("plain", {"kind": "p", "data": {"x": 2**32}})
    assert RAW.encode_py("plain", {"kind": "p", "data": {"x": 1, "y": 2}}) == (
        nla(9, b"p\0") + nla(10 | 0x8000, struct.pack("=Ih2x", 1, 2)))


def test_nest_type_value_too_big_names_its_type() -> None:
    big = {3: {"s1": "a" * 40000, "s2": "b" * 40000}}
    with pytest.raises(spec.EncodeError, match=r"^plain\.tv\[3\]: nest of \d+ bytes"):
        RAW.encode_py("plain", {"tv": big})


def test_spec_path_lists_directories_separated_by_colons(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (two / "codec-edges-only.yaml").write_text("name: codec-edges-only\n")
    monkeypatch.setenv("NLFAST_SPEC_PATH", f"{one}:{two}")
    assert spec.find("codec-edges-only") == two / "codec-edges-only.yaml"
