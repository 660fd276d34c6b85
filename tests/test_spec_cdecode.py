"""The C dict decoder (csrc/nlf_specdict.c) beside the Python reference
decoder: the cases the round-trip properties do not reach (its struct
cache, flags with bits the spec does not name, views over memory that is
not bytes)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nlfast import MessageView, spec
from tests.test_spec_props import SPEC, top


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
