"""The C parsers against malformed input: they never crash and never read past
the buffer.  Each input is an exact-size malloc'd copy, so under the ASan
build (tests/test_asan.py runs this file there) one byte past it faults."""

from __future__ import annotations

import errno
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlfast import Message, attrs
from nlfast._shim import ffi, lib

from .conftest import heap_copy

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


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
    out, pos = [], 0
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
