"""The C dict decoder (csrc/nlf_specdict.c) beside the Python reference
decoder: the cases the round-trip properties do not reach (its struct
cache, flags with bits the spec does not name, views over memory that is
not bytes)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlfast import MessageView, spec
from nlfast.errors import DecodeError
from tests.test_spec_props import DOC, SPEC, top


def top_names() -> list[str]:
    return [a["name"] for a in DOC["attribute-sets"][0]["attributes"]]


def test_struct_dicts_are_fresh_and_follow_their_bytes() -> None:
    """Equal struct bytes give a copy of the last dict: mutating one result
    changes no later one, and other bytes give their own values."""
    one = SPEC.encode("plain", {"pair": {"a": 1, "b": -2}})
    two = SPEC.encode("plain", {"pair": {"a": 2, "b": 3}})
    for _ in range(3):  # the first decodes, the others copy: each result is its own
        got = SPEC.decode(16, one)
        assert got == {"pair": {"a": 1, "b": -2}}
        got["pair"]["a"] = 99
        got["pair"]["new"] = 0
    assert SPEC.decode(16, two) == {"pair": {"a": 2, "b": 3}}
    assert SPEC.decode(16, one) == SPEC.decode_py(16, one) == {"pair": {"a": 1, "b": -2}}
    # the multi-attr and struct-in-nest forms share the cache too
    pairs = SPEC.encode("plain", {"pair": {"a": 7, "b": 7}, "i-u8": 1})
    assert [SPEC.decode(16, pairs) for _ in range(3)] == [{"pair": {"a": 7, "b": 7},
                                                           "i-u8": 1}] * 3


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_flags_with_unnamed_bits(perms: int, colours: int) -> None:
    payload = SPEC.encode("plain", {"perms": perms, "colour-bits": colours})
    got = SPEC.decode(16, payload)
    assert got == SPEC.decode_py(16, payload)
    assert sum(b if isinstance(b, int) else {"read": 1, "write": 2, "exec": 4}[b]
               for b in got["perms"]) == perms


@settings(max_examples=100, deadline=None)
@given(top, st.integers(0, 64))
def test_views_over_other_memory(values: dict[str, Any], lead: int) -> None:
    """A view inside a bytearray (no bytes object to read in place): the C
    decoder reads it through its address, at its offset."""
    framed = SPEC.message("plain", values).encode(seq=3)
    mem = memoryview(bytearray(bytes(lead) + framed))[lead:]
    view = MessageView(mem)
    fam = spec.Family(SPEC, None)  # type: ignore[arg-type]  # to_dict needs no socket
    assert fam.to_dict(view) == SPEC.to_dict(view) == SPEC.decode_py(16, framed[16:]) == values
    assert fam.to_dict(MessageView.from_bytes(framed)) == values


def encoded(f: Any, *args: Any) -> Any:
    try:
        return f(*args)
    except (spec.EncodeError, UnicodeEncodeError) as e:
        return type(e), str(e)


@settings(max_examples=200, deadline=None)
@given(top)
def test_c_encodes_as_python_does(values: dict[str, Any]) -> None:
    """C encodes the common kinds and hands the rest to Python: byte for
    byte what Python makes, for every type and nesting form."""
    assert SPEC.encode("plain", values) == SPEC.encode_py("plain", values)
    assert SPEC.decode(16, SPEC.encode("plain", values)) == values


scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=5),
                   st.binary(max_size=5), st.lists(st.integers(0, 9), max_size=2),
                   st.dictionaries(st.sampled_from(["x", "s", "nope"]), st.integers(0, 9),
                                   max_size=2))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from([*top_names(), "no-such", "pad"]), scalar, max_size=4))
def test_c_and_python_agree_on_bad_values(values: dict[str, Any]) -> None:
    """Any value of any attribute: the same bytes, or the same error (C hands
    what it does not take to Python, which names the mistake)."""
    assert encoded(SPEC.encode, "plain", values) == encoded(SPEC.encode_py, "plain", values)


def test_c_encodes_big_endian_and_enum_names() -> None:
    values = {"be-u32": 0x01020304, "colour": "blue", "sparse": "high", "i-u16": 7,
              "str": "héllo", "flag": True, "nest": {"x": 1, "deeper": {"s": "a"}}}
    payload = SPEC.encode("plain", values)
    assert payload == SPEC.encode_py("plain", values)
    assert b"\x01\x02\x03\x04" in payload
    assert SPEC.decode(16, payload) == values


def test_python_reference_rejects_short_headers_as_decode_does() -> None:
    """decode_py raises what decode raises for a payload shorter than its
    genlmsghdr or its fixed header (it gave {} or a struct.error)."""
    from tests.test_spec_codec_edges import GENL, HDR_BYTES, RAW, genl_hdr

    cases = [(GENL, 0x1234, genl_hdr(17)[:n]) for n in range(4)] + [
        (RAW, 16, HDR_BYTES[:9]), (RAW, 16, b""), (GENL, 0x1234, genl_hdr(16) + HDR_BYTES[:5])]
    for sp, mtype, payload in cases:
        with pytest.raises(DecodeError) as c_err:
            sp.decode(mtype, payload)
        with pytest.raises(DecodeError) as py_err:
            sp.decode_py(mtype, payload)
        assert str(py_err.value) == str(c_err.value)
    with pytest.raises(DecodeError, match="no message with id 99"):
        GENL.decode_py(17, genl_hdr(99))
