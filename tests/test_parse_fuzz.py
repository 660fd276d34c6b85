"""The C parsers against malformed input: they never crash and never read past
the buffer.  Each input is an exact-size malloc'd copy, so under the ASan
build (tests/test_asan.py runs this file there) one byte past it faults."""

from __future__ import annotations

import errno
import os
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlfast import Message, MessageView, attrs
from nlfast._shim import ffi, lib
from nlfast.errors import DecodeError

from .conftest import heap_copy

# fewer examples when make mutation runs these tests once per mutant
EXAMPLES = 60 if os.environ.get("NLFAST_MUTATION") == "1" else 400
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def hdr(length: int, type: int = 0x20, flags: int = 0, seq: int = 0) -> bytes:
    return struct.pack("<IHHII", length & 0xFFFFFFFF, type, flags, seq, 0)


# Streams built from pieces that are each a little wrong.
piece = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda n, t, b: hdr(n, t) + b, st.integers(0, 2**32 - 1),
              st.sampled_from([1, 2, 3, 4, 0x10, 0x20]), st.binary(max_size=40)),
    st.builds(lambda n, b: hdr(16 + len(b) + n) + b, st.integers(-20, 20), st.binary(max_size=40)),
    st.builds(lambda al, t, b: struct.pack("<HH", al, t) + b, st.integers(0, 0xFFFF),
              st.integers(0, 0xFFFF), st.binary(max_size=20)),
)
streams = st.lists(piece, max_size=8).map(b"".join)


def parse_all(data: bytes) -> list[tuple[int, int]]:
    t = ffi.new("struct nlf_table *")
    assert lib.nlf_table_init(t, len(data) // 16 + 1) == 0
    try:
        buf = heap_copy(data)
        n = lib.nlf_parse(buf, len(data), 0, 0, t)
        assert 0 <= n <= len(data) // 16
        rows = [(t.off[i], t.len[i]) for i in range(t.count)]
        for off, ln in rows:
            assert ln >= 16 and off + ln <= len(data)
            # attribute index and extack of every row stay inside it too
            idx_off = ffi.new("uint32_t[]", 257)
            idx_len = ffi.new("uint32_t[]", 257)
            row = heap_copy(data[off : off + ln])
            lib.nlf_attr_parse(row + 16, ln - 16, 256, idx_off, idx_len)
            for ty in range(257):
                if idx_off[ty]:
                    assert idx_off[ty] + idx_len[ty] <= ln - 16
            ea = ffi.new("struct nlf_extack *")
            if lib.nlf_extack_parse(row, ln, ea) == 0 and ea.has & lib.NLF_EXTACK_MSG:
                assert ea.msg_off + ea.msg_len <= ln
        return rows
    finally:
        lib.nlf_table_fini(t)


@SETTINGS
@given(streams)
def test_parse_never_reads_out_of_bounds(data: bytes) -> None:
    parse_all(data)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.binary(max_size=64))
def test_any_nlmsg_len(length: int, body: bytes) -> None:
    data = hdr(length) + body
    rows = parse_all(data)
    if 16 <= length <= len(data):
        assert rows[0] == (0, length)
    else:
        assert rows == []


@SETTINGS
@given(st.binary(max_size=200))
def test_attr_parse_random(data: bytes) -> None:
    buf = heap_copy(data)
    off = ffi.new("uint32_t[]", 65536)
    ln = ffi.new("uint32_t[]", 65536)
    n = lib.nlf_attr_parse(buf, len(data), 0xFFFF, off, ln)
    assert n == -1 or n <= len(data) // 4
    for t in range(8):
        found = lib.nlf_attr_find(buf, 0, len(data), t)
        off, alen = found & 0xFFFFFFFF, found >> 32
        assert found == 0 or (off >= 4 and off + alen <= len(data))


@SETTINGS
@given(st.integers(-5000, 5000), st.integers(0, 0xFFFF), st.binary(max_size=60),
       st.binary(max_size=60))
def test_extack_random(code: int, flags: int, inner: bytes, tlvs: bytes) -> None:
    body = struct.pack("<i", code) + inner + tlvs
    data = hdr(16 + len(body), lib.NLMSG_ERROR, flags) + body
    buf = heap_copy(data)
    ea = ffi.new("struct nlf_extack *")
    r = lib.nlf_extack_parse(buf, len(data), ea)
    assert r in (0, -1)
    if r == 0:
        assert ea.error == (-code if -4096 < code < 0 else 0)
        assert ea.msg_off + ea.msg_len <= len(data)


def test_extack_well_formed() -> None:
    req = Message(0x20, attrs=[attrs.u32(1, 1)]).encode(seq=9)
    tlv = struct.pack("<HH", 4 + 6, lib.NLMSGERR_ATTR_MSG) + b"bad x\0" + b"\0\0"
    tlv += struct.pack("<HHI", 8, lib.NLMSGERR_ATTR_OFFS, 20)
    body = struct.pack("<i", -22) + req[:16] + tlv
    flags = lib.NLM_F_CAPPED | lib.NLM_F_ACK_TLVS
    data = hdr(16 + len(body), lib.NLMSG_ERROR, flags, 9) + body
    ea = ffi.new("struct nlf_extack *")
    assert lib.nlf_extack_parse(heap_copy(data), len(data), ea) == 0
    assert ea.error == 22 and ea.req_seq == 9 and ea.req_type == 0x20
    assert data[ea.msg_off : ea.msg_off + ea.msg_len] == b"bad x"
    assert ea.has & lib.NLF_EXTACK_OFFS and ea.offs == 20


def test_many_messages_one_datagram() -> None:
    msgs = b"".join(Message(0x20 + i % 3, attrs=[attrs.u32(1, i)]).encode(seq=i)
                    for i in range(100))
    rows = parse_all(msgs + b"\x01\x02")  # a malformed tail
    assert len(rows) == 100
    t = ffi.new("struct nlf_table *")
    lib.nlf_table_init(t, 200)
    lib.nlf_parse(heap_copy(msgs + b"\x01\x02"), len(msgs) + 2, 0, 0, t)
    assert t.n_bad == 1
    assert [t.seq[i] for i in range(100)] == list(range(100))
    lib.nlf_table_fini(t)


def _walk_next(data: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """(raw type, payload) of every attribute by nlf_attr_next, and whether
    the stream ended cleanly."""
    buf = heap_copy(data)
    out: list[tuple[int, bytes]] = []
    pos = 0
    while True:
        r = lib.nlf_attr_next(buf, pos, len(data))
        if r == 0:
            return out, True
        if r == 2**64 - 1:
            assert ffi.errno == errno.EINVAL
            return out, False
        off, plen, typ = r & 0xFFFFFFFF, (r >> 32) & 0xFFFF, r >> 48
        assert off == pos + 4 and off + plen <= len(data)
        out.append((typ, data[off : off + plen]))
        pos = off + ((plen + 3) & ~3)


@SETTINGS
@given(st.binary(max_size=200))
def test_attr_next_agrees_with_the_walker(data: bytes) -> None:
    got, clean = _walk_next(data)
    assert clean == bool(lib.nlf_attr_ok(heap_copy(data), len(data)))
    off = ffi.new("uint32_t[]", 65536)
    ln = ffi.new("uint32_t[]", 65536)
    n = lib.nlf_attr_parse(heap_copy(data), len(data), 0xFFFF, off, ln)
    assert n == (len(got) if clean else -1)
    for typ, _payload in got:
        found = lib.nlf_attr_find(heap_copy(data), 0, len(data), typ & lib.NLA_TYPE_MASK)
        assert found != 0


def test_attr_next_on_a_stream_with_offset_start() -> None:
    body = b"\xee" * 8 + attrs_bytes([(1 | lib.NLA_F_NESTED, b"ab"), (2, b"")])
    buf = heap_copy(body)
    r = lib.nlf_attr_next(buf, 8, len(body))
    assert (r & 0xFFFFFFFF, (r >> 32) & 0xFFFF, r >> 48) == (12, 2, 1 | lib.NLA_F_NESTED)
    r = lib.nlf_attr_next(buf, 16, len(body))
    assert (r & 0xFFFFFFFF, (r >> 32) & 0xFFFF, r >> 48) == (20, 0, 2)
    assert lib.nlf_attr_next(buf, 20, len(body)) == 0
    assert lib.nlf_attr_next(buf, 8, 11) == 2**64 - 1  # a header cut short


def attrs_bytes(items: list[tuple[int, bytes]]) -> bytes:
    out = b""
    for typ, payload in items:
        a = struct.pack("=HH", 4 + len(payload), typ) + payload
        out += a + b"\0" * (-len(a) % 4)
    return out


def _table(data: bytes) -> Any:
    t = ffi.new("struct nlf_table *")
    assert lib.nlf_table_init(t, len(data) // 16 + 1) == 0
    assert lib.nlf_parse(heap_copy(data), len(data), 0, 0, t) >= 0
    return ffi.gc(t, lib.nlf_table_fini)


def test_attr_gaps_saturates_instead_of_going_negative() -> None:
    vals = [0, 2**63, 2**64 - 1]
    data = b"".join(Message(0x20, attrs=[attrs.u64(1, v)]).encode(seq=i)
                    for i, v in enumerate(vals))
    t = _table(data)
    expect = ffi.new("uint64_t *", 0)
    absent = ffi.new("uint32_t *", 0)
    arena = heap_copy(data)
    gaps = lib.nlf_table_attr_gaps(arena, t, 0, 3, 0, 1, expect, absent)
    assert gaps == 2**63 - 1  # 2**64 - 3 values skipped: saturated, not -1
    assert absent[0] == 0
    # one row at a time: the first gap alone is exact, then it saturates
    expect[0] = 0
    assert lib.nlf_table_attr_gaps(arena, t, 0, 2, 0, 1, expect, absent) == 2**63 - 1
    expect[0] = 5
    assert lib.nlf_table_attr_gaps(arena, t, 1, 1, 0, 1, expect, absent) == 2**63 - 5
    assert expect[0] == 2**63 + 1


def _error_msg(inner_len: int, seq: int, portid: bytes, flags: int) -> bytes:
    inner = struct.pack("=IHHI", inner_len, 0x20, 0, 7) + portid
    body = struct.pack("=i", -22) + inner
    return struct.pack("=IHHII", 16 + len(body), lib.NLMSG_ERROR, flags, seq, 0) + body


@pytest.mark.parametrize("inner_len", [2**32 - 12, 2**32 - 1, 1000, 21, 8, 0])
def test_extack_bounds_the_echoed_length_by_the_outer(inner_len: int) -> None:
    # inner length 2**32 - 12 once wrapped the TLV offset back to 8, so the
    # outer header's seq and portid were read as a NLMSGERR_ATTR_MSG "bad"
    seq = lib.NLMSGERR_ATTR_MSG << 16 | 8
    data = _error_msg(inner_len, seq, b"bad\0", lib.NLM_F_ACK_TLVS)
    ea = ffi.new("struct nlf_extack *")
    assert lib.nlf_extack_parse(heap_copy(data), len(data), ea) == 0
    assert ea.error == 22 and ea.req_type == 0x20 and ea.req_seq == 7
    assert ea.has == 0 and ea.msg_len == 0


def test_extack_with_the_echoed_request_whole() -> None:
    req = Message(0x20, attrs=[attrs.u32(1, 1)]).encode(seq=7)
    tlv = attrs_bytes([(lib.NLMSGERR_ATTR_MISS_TYPE, struct.pack("=I", 5)),
                       (lib.NLMSGERR_ATTR_MISS_NEST, struct.pack("=I", 44))])
    body = struct.pack("=i", -22) + req + tlv
    data = struct.pack("=IHHII", 16 + len(body), lib.NLMSG_ERROR, lib.NLM_F_ACK_TLVS, 7,
                       0) + body
    ea = ffi.new("struct nlf_extack *")
    assert lib.nlf_extack_parse(heap_copy(data), len(data), ea) == 0
    assert ea.has == lib.NLF_EXTACK_MISS_TYPE | lib.NLF_EXTACK_MISS_NEST
    assert (ea.miss_type, ea.miss_nest, ea.req_seq) == (5, 44, 7)


# Well-formed attribute trees, encoded here independently of nlfast, in host
# order: (type, kind, value), kind one of the widths, "bin", "str" or "nest".
_WIDTH = {"u8": "=B", "u16": "=H", "u32": "=I", "u64": "=Q", "s16": "=h"}
_leaf = st.one_of(
    *[st.tuples(st.integers(1, 40), st.just(k),
                st.integers(-(2 ** (8 * struct.calcsize(f) - 1)), 2 ** (8 * struct.calcsize(f) - 1) - 1)
                if f.islower() or f == "=h" else
                st.integers(0, 2 ** (8 * struct.calcsize(f)) - 1))
      for k, f in _WIDTH.items()],
    st.tuples(st.integers(1, 40), st.just("bin"), st.binary(max_size=23)),
    st.tuples(st.integers(1, 40), st.just("str"),
              st.text(st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=13)),
)
_tree = st.recursive(st.lists(_leaf, max_size=6),
                     lambda kids: st.lists(st.one_of(_leaf, st.tuples(
                         st.integers(1, 40), st.just("nest"), kids)), max_size=5),
                     max_leaves=20)


def _payload(kind: str, value: Any) -> bytes:
    if kind in _WIDTH:
        return struct.pack(_WIDTH[kind], value)
    if kind == "bin":
        return bytes(value)
    if kind == "str":
        return bytes(value.encode()) + b"\0"
    return _encode(value)


def _encode(items: list[tuple[int, str, Any]]) -> bytes:
    return attrs_bytes([(t | (lib.NLA_F_NESTED if k == "nest" else 0), _payload(k, v))
                        for t, k, v in items])


def _attr(t: int, kind: str, value: Any) -> attrs.Attr:
    if kind == "nest":
        return attrs.nested(t, [_attr(*c) for c in value])
    maker: Any = {"bin": attrs.binary, "str": attrs.string}.get(kind) or getattr(attrs, kind)
    a: attrs.Attr = maker(t, value)
    return a


def _check_stream(data: bytes, items: list[tuple[int, str, Any]]) -> None:
    got, clean = _walk_next(data)
    assert clean
    assert got == [(t | (lib.NLA_F_NESTED if k == "nest" else 0), _payload(k, v))
                   for t, k, v in items]
    buf = heap_copy(data)
    assert lib.nlf_attr_ok(buf, len(data)) == 1
    off = ffi.new("uint32_t[]", 41)
    ln = ffi.new("uint32_t[]", 41)
    assert lib.nlf_attr_parse(buf, len(data), 40, off, ln) == len(items)
    last = {t: _payload(k, v) for t, k, v in items}
    first: dict[int, bytes] = {}
    for t, k, v in items:
        first.setdefault(t, _payload(k, v))
    for t in range(41):
        idx = data[off[t] : off[t] + ln[t]] if off[t] else None
        assert idx == last.get(t)
        found = lib.nlf_attr_find(buf, 0, len(data), t)
        fnd = data[found & 0xFFFFFFFF : (found & 0xFFFFFFFF) + (found >> 32)] if found else None
        assert fnd == first.get(t)
    for _t, k, v in items:
        if k == "nest":
            _check_stream(_payload(k, v), v)


@SETTINGS
@given(_tree)
def test_well_formed_streams_round_trip(items: list[tuple[int, str, Any]]) -> None:
    data = _encode(items)
    raw = Message(0x20, attrs=[_attr(*i) for i in items]).encode()
    assert raw[16:] == data  # the shim frames what the independent encoder does
    _check_stream(data, items)


def test_s16_is_two_bytes_on_the_wire() -> None:
    raw = Message(0x20, attrs=[attrs.s16(3, -300), attrs.u8(4, 1)]).encode()
    assert raw[16:24] == struct.pack("=HHh", 6, 3, -300) + b"\0\0"
    assert MessageView.from_bytes(raw).attrs().s16(3) == -300


@pytest.mark.parametrize("tail", range(1, 4))
def test_unaligned_nlmsg_len_stays_inside(tail: int) -> None:
    # the last message ends 1-3 bytes past a 4-byte boundary, exactly where
    # the (exact-size, under ASan) buffer ends; its last attribute is unpadded
    first = Message(0x20, attrs=[attrs.u32(1, 7)]).encode(seq=1)
    body = struct.pack("=HH", 4 + tail, 2) + b"\xab" * tail
    last = struct.pack("=IHHII", 16 + len(body), 0x21, 0, 2, 0) + body
    data = first + last
    assert len(data) % 4 == tail
    t = _table(data)
    arena = heap_copy(data)
    assert t.count == 2 and t.n_bad == 0
    assert (t.off[1], t.len[1]) == (len(first), len(last))
    out = ffi.new("uint64_t[]", 2)
    assert lib.nlf_table_attr_uint(arena, t, 0, 2, 0, 2, 99, out) == (tail in (1, 2))
    assert out[1] == {1: 0xAB, 2: 0xABAB, 3: 99}[tail] and out[0] == 99
    offs = ffi.new("uint32_t[]", 2)
    lens = ffi.new("uint32_t[]", 2)
    assert lib.nlf_table_attr_column(arena, t, 0, 2, 0, 2, offs, lens) == 1
    assert (offs[1], lens[1]) == (len(first) + 20, tail)
    strs = ffi.new("unsigned char[]", len(data))
    present = ffi.new("uint8_t[]", 2)
    assert lib.nlf_table_attr_strs(arena, t, 0, 2, 0, 2, strs, len(data), present) == tail + 2
    assert bytes(strs[0 : tail + 2]) == b"\0" + b"\xab" * tail + b"\0"
    assert list(present) == [0, 1]
    row = heap_copy(last)
    assert lib.nlf_attr_ok(row + 16, len(body)) == 1
    assert lib.nlf_attr_next(row, 16, len(last)) >> 32 == (2 << 16) | tail


@pytest.mark.parametrize(("inner", "why"), [
    (struct.pack("=HH", 8, 1) + b"\1\0\0\0" + b"\x05\x00", "short tail"),
    (struct.pack("=HH", 8, 1) + b"\1\0\0\0" + struct.pack("=HH", 12, 2) + b"xxxx", "too long"),
    (struct.pack("=HH", 3, 1) + b"\0\0\0\0", "shorter than a header"),
    (struct.pack("=HH", 8, 1) + b"\1\0\0\0" + struct.pack("=HH", 0, 2), "zero length"),
])
def test_malformed_nested_payload(inner: bytes, why: str) -> None:
    nest = struct.pack("=HH", 4 + len(inner), 5 | lib.NLA_F_NESTED) + inner
    data = nest + b"\0" * (-len(nest) % 4) + struct.pack("=HHI", 8, 6, 42)
    buf = heap_copy(data)
    # the outer stream is clean: the fault is inside the nest
    assert lib.nlf_attr_ok(buf, len(data)) == 1, why
    found = lib.nlf_attr_find(buf, 0, len(data), 5)
    start, plen = found & 0xFFFFFFFF, found >> 32
    assert (start, plen) == (4, len(inner))
    assert lib.nlf_attr_ok(buf + start, plen) == 0
    off = ffi.new("uint32_t[]", 8)
    ln = ffi.new("uint32_t[]", 8)
    assert lib.nlf_attr_parse(buf + start, plen, 7, off, ln) == -1
    assert ffi.errno == errno.EINVAL
    assert lib.nlf_attr_find(buf, start, plen, 2) == 0  # past or at the fault
    assert _walk_next(data[start : start + plen])[1] is False
    a = MessageView.from_bytes(struct.pack("=IHHII", 16 + len(data), 0x20, 0, 0, 0) + data).attrs()
    assert a.u32(6) == 42
    with pytest.raises(DecodeError, match="malformed"):
        a.nested(5)
