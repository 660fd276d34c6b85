"""Framing in the shim and parsing back: every attribute kind, padding, nests,
datagram cuts, and the repeat path."""

from __future__ import annotations

import errno
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlfast import AttrSet, Message, MessageView, attrs
from nlfast._shim import ffi, lib
from nlfast.errors import DecodeError, MessageTooLargeError

from .conftest import heap_copy

KINDS = [
    (attrs.u8, "u8", 0xAB),
    (attrs.u16, "u16", 0xBEEF),
    (attrs.u32, "u32", 0xDEADBEEF),
    (attrs.u64, "u64", 0x0123456789ABCDEF),
    (attrs.s8, "s8", -5),
    (attrs.s16, "s16", -300),
    (attrs.s32, "s32", -70000),
    (attrs.s64, "s64", -(1 << 40)),
]


@pytest.mark.parametrize(("make", "kind", "value"), KINDS)
def test_int_round_trip(make: object, kind: str, value: int) -> None:
    m = Message(0x20, attrs=[make(7, value)])  # type: ignore[operator]
    v = MessageView.from_bytes(m.encode(seq=42))
    assert v.seq == 42 and v.type == 0x20
    assert getattr(v.attrs(), kind)(7) == value


def test_string_binary_flag_nested_round_trip() -> None:
    m = Message(
        0x21,
        flags=0x5,
        header=b"\x01\x02\x03",  # 3 bytes: padded to 4
        attrs=[
            attrs.string(1, "eth0"),
            attrs.binary(2, b"\x00\xff\x10"),
            attrs.flag(3),
            attrs.nested(4, [attrs.u32(1, 9), attrs.nested(2, [attrs.string(1, "deep")])]),
        ],
    )
    raw = m.encode(seq=7)
    assert len(raw) % 4 == 0
    v = MessageView.from_bytes(raw)
    assert v.header == (len(raw), 0x21, 0x5, 7, 0)
    assert bytes(v.payload[:4]) == b"\x01\x02\x03\x00"
    a = v.attrs(hdrlen=3)
    assert a.str(1) == "eth0"
    assert a.bytes(2) == b"\x00\xff\x10"
    assert a.flag(3) and not a.flag(9)
    n = a.nested(4)
    assert n.u32(1) == 9
    assert n.nested(2).str(1) == "deep"
    # the nest carries NLA_F_NESTED on the wire
    types = [struct.unpack_from("<H", raw, off + 2)[0] for off in _attr_offsets(raw, 20)]
    assert types[3] & lib.NLA_F_NESTED


def _attr_offsets(raw: bytes, start: int) -> list[int]:
    out, pos = [], start
    while pos + 4 <= len(raw):
        n = struct.unpack_from("<H", raw, pos)[0]
        out.append(pos)
        pos += (n + 3) & ~3
    return out


@given(st.binary(max_size=64), st.binary(max_size=9))
def test_odd_lengths_are_padded_with_zeros(data: bytes, header: bytes) -> None:
    raw = Message(0x22, header=header, attrs=[attrs.binary(1, data), attrs.u8(2, 1)]).encode()
    hdr = (len(header) + 3) & ~3
    alen = 4 + len(data)
    assert struct.unpack_from("<I", raw)[0] == len(raw) == 16 + hdr + ((alen + 3) & ~3) + 8
    assert raw[16 + len(header) : 16 + hdr] == b"\0" * (hdr - len(header))
    pad_start = 16 + hdr + alen
    assert raw[pad_start : 16 + hdr + ((alen + 3) & ~3)] == b"\0" * ((4 - alen % 4) % 4)
    a = MessageView.from_bytes(raw).attrs(len(header))
    assert a.bytes(1) == data and a.u8(2) == 1


def test_attribute_bounds() -> None:
    with pytest.raises(ValueError, match="out of range"):
        attrs.u8(1, 256)
    with pytest.raises(TypeError, match="needs an int"):
        attrs.u32(1, "5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        attrs.u32(70000, 1)
    with pytest.raises(MessageTooLargeError, match="64 KiB"):
        Message(0x20, attrs=[attrs.binary(1, b"x" * 70000)]).encode()
    with pytest.raises(ValueError, match="NUL"):
        Message(0x20, attrs=[attrs.string(1, "a\0b")]).encode()


def _tx(cap: int, dgram: int):  # type: ignore[no-untyped-def]
    return ffi.gc(lib.nlf_tx_new(cap, dgram), lib.nlf_tx_free)


def test_datagram_cut_carries_the_message_over() -> None:
    tx = _tx(4096, 100)  # 100-byte datagrams
    m = Message(0x30, attrs=[attrs.binary(1, b"a" * 20)])  # 16 + 24 = 40 bytes
    seqs = [m.frame(tx) for _ in range(7)]
    assert seqs == list(range(1, 8))
    assert lib.nlf_tx_close(tx) == 0
    cuts = [(tx.dg_off[i], tx.dg_len[i]) for i in range(tx.ndgrams)]
    # two 40-byte messages fit in 100 bytes; the third starts the next datagram
    assert cuts == [(0, 80), (80, 80), (160, 80), (240, 40)]
    assert tx.nmsgs == 7


def test_full_arena_says_so_and_loses_nothing() -> None:
    tx = _tx(100, 1000)
    m = Message(0x30, attrs=[attrs.binary(1, b"a" * 20)])
    assert m.frame(tx) == 1 and m.frame(tx) == 2
    assert m.frame(tx) == -1 and ffi.errno == 28  # ENOSPC
    assert tx.pos == 80 and tx.nmsgs == 2  # the third left no trace
    lib.nlf_tx_reset(tx)
    assert m.frame(tx) == 3  # and carries over to the next batch


def test_put_repeat_numbers_each_copy() -> None:
    tx = _tx(1 << 16, 1024)
    tmpl = Message(0x31, attrs=[attrs.u32(1, 5)]).encode()
    assert lib.nlf_tx_put_repeat(tx, tmpl, len(tmpl), 100) == 100
    raw = bytes(ffi.buffer(tx.arena, tx.pos))
    seqs = [struct.unpack_from("<I", raw, i * len(tmpl) + 8)[0] for i in range(100)]
    assert seqs == list(range(1, 101))
    assert lib.nlf_tx_put_repeat(tx, tmpl[:-1], len(tmpl) - 1, 1) == -1  # len mismatch


def test_nest_errors() -> None:
    tx = _tx(4096, 4096)
    assert lib.nlf_tx_nest_end(tx) == -1  # nothing open
    assert lib.nlf_tx_msg_begin(tx, 0x20, 0, 0, ffi.NULL, 0) >= 0
    assert lib.nlf_tx_nest_start(tx, 1) == 0
    assert lib.nlf_tx_msg_end(tx) == -1  # a nest is open
    assert lib.nlf_tx_nest_end(tx) == 0
    assert lib.nlf_tx_msg_end(tx) == 0


def test_from_bytes_rejects_malformed() -> None:
    with pytest.raises(DecodeError, match="16 bytes"):
        MessageView.from_bytes(b"\x10\0\0\0")
    with pytest.raises(DecodeError, match="does not fit"):
        MessageView.from_bytes(struct.pack("<IHHII", 64, 1, 0, 0, 0))
    bad = Message(0x20).encode() + struct.pack("<HH", 40, 1)
    v = MessageView.from_bytes(struct.pack("<I", len(bad)) + bad[4:])
    with pytest.raises(DecodeError, match="malformed"):
        list(v.attrs())


def test_frame_cache_cannot_go_stale() -> None:
    tx = _tx(4096, 4096)
    m = Message(0x30, attrs=[attrs.u32(1, 5)])
    assert m.frame(tx) == 1
    with pytest.raises(AttributeError, match=r"msg\.replace\(type=\.\.\.\)"):
        m.type = 0x31  # type: ignore[misc]
    changed = m.replace(type=0x31, attrs=(attrs.u32(1, 6),))
    assert changed.frame(tx) == 2 and m.frame(tx) == 3
    raw = bytes(ffi.buffer(tx.arena, tx.pos))
    views = [MessageView.from_bytes(raw[i : i + 24]) for i in (0, 24, 48)]
    assert [(v.type, v.attrs().u32(1), v.seq) for v in views] == [
        (0x30, 5, 1), (0x31, 6, 2), (0x30, 5, 3)]


def test_with_flags_patches_the_cached_bytes() -> None:
    m = Message(0x30, flags=1, attrs=[attrs.u32(1, 5)])
    tx = _tx(4096, 4096)
    m.frame(tx)  # builds the cached bytes
    acked = m.with_flags(5)
    assert (acked.type, acked.flags, acked.attrs) == (0x30, 5, m.attrs)
    assert acked.encode(seq=9) == m.encode(seq=9)[:6] + b"\x05\x00" + m.encode(seq=9)[8:]
    assert acked.frame(tx) == 2
    v = MessageView.from_bytes(bytes(ffi.buffer(tx.arena, tx.pos))[24:])
    assert (v.flags, v.seq, v.attrs().u32(1)) == (5, 2, 5)
    assert m.flags == 1  # the original is untouched


def test_put_str_reads_only_len_bytes() -> None:
    # an exact-size copy with no NUL: under ASan (tests/test_asan.py runs this
    # file there) reading one byte past it faults
    s = heap_copy(b"eth0")
    tx = _tx(4096, 4096)
    assert lib.nlf_tx_msg_begin(tx, 0x20, 0, 0, ffi.NULL, 0) >= 0
    assert lib.nlf_tx_attr_put_str(tx, 3, ffi.cast("char *", s), 4) == 0
    assert lib.nlf_tx_msg_end(tx) == 0
    raw = bytes(ffi.buffer(tx.arena, tx.pos))
    assert raw[16:] == struct.pack("=HH", 9, 3) + b"eth0\0" + b"\0\0\0"
    assert MessageView.from_bytes(raw).attrs().str(3) == "eth0"


def test_nesting_too_deep_leaves_nothing_open() -> None:
    tx = _tx(4096, 4096)
    assert Message(0x20).frame(tx) == 1
    before = tx.pos
    assert lib.nlf_tx_msg_begin(tx, 0x21, 0, 0, ffi.NULL, 0) == 2
    for i in range(lib.NLF_NEST_MAX):
        assert lib.nlf_tx_nest_start(tx, i + 1) == 0
    assert tx.depth == lib.NLF_NEST_MAX
    assert lib.nlf_tx_nest_start(tx, 99) == -1
    assert ffi.errno == errno.E2BIG
    # the open message is gone, nests and all; what was framed before stays
    assert tx.depth == 0 and tx.pos == before and tx.nmsgs == 1
    assert lib.nlf_tx_msg_end(tx) == -1 and ffi.errno == errno.EINVAL
    assert lib.nlf_tx_nest_end(tx) == -1 and ffi.errno == errno.EINVAL
    assert Message(0x22).frame(tx) == 2  # the next message frames as usual


def test_nesting_to_the_limit_frames() -> None:
    tx = _tx(4096, 4096)
    assert lib.nlf_tx_msg_begin(tx, 0x21, 0, 0, ffi.NULL, 0) >= 0
    for i in range(lib.NLF_NEST_MAX):
        assert lib.nlf_tx_nest_start(tx, i + 1) == 0
    assert lib.nlf_tx_attr_put_u32(tx, 1, 7) == 0
    for _ in range(lib.NLF_NEST_MAX):
        assert lib.nlf_tx_nest_end(tx) == 0
    assert lib.nlf_tx_msg_end(tx) == 0
    a = MessageView.from_bytes(bytes(ffi.buffer(tx.arena, tx.pos))).attrs()
    for i in range(lib.NLF_NEST_MAX):
        a = a.nested(i + 1)
    assert a.u32(1) == 7


def test_attrset_reads_widths_strings_and_iterates() -> None:
    m = Message(0x20, attrs=[attrs.u64(1, 2**64 - 1), attrs.binary(2, b"ab\0cd\0"),
                             attrs.string(3, ""), attrs.u16(4, 7), attrs.binary(5, b"xyz")])
    a = MessageView.from_bytes(m.encode()).attrs()
    assert a.u64(1) == 2**64 - 1 and a.s64(1) == -1
    assert a.str(2) == "ab" and a.str(3) == "" and a.str(5) == "xyz"
    with pytest.raises(DecodeError, match="attribute 4 has 2 bytes, needs 4"):
        a.u32(4)
    with pytest.raises(KeyError):
        a.u32(9)
    assert [(t, bytes(v)) for t, v in a] == [
        (1, b"\xff" * 8), (2, b"ab\0cd\0"), (3, b"\0"), (4, struct.pack("=H", 7)), (5, b"xyz")]
    assert a.to_dict()[5] == b"xyz"


def test_attrset_iteration_stops_at_a_malformed_attribute() -> None:
    good = struct.pack("=HHI", 8, 1, 5)
    bad = struct.pack("=HH", 12, 2) + b"\0\0"  # claims 12, has 6
    raw = Message(0x20).encode()[:16] + good + bad
    v = MessageView.from_bytes(struct.pack("=I", len(raw)) + raw[4:])
    with pytest.raises(DecodeError, match="malformed"):
        v.attrs()  # a message's attributes are checked when taken
    a = AttrSet(memoryview(good + bad))  # a bare AttrSet is checked as it is read
    it = iter(a)
    assert next(it)[0] == 1
    with pytest.raises(DecodeError, match="malformed attribute at offset 8"):
        next(it)
    with pytest.raises(DecodeError, match=r"^malformed attribute stream$"):
        a.check()


@pytest.mark.parametrize("last", [attrs.flag(9), attrs.u32(9, 3), attrs.binary(9, b"y" * 40000)])
def test_attrset_iterates_to_a_last_attribute_that_fills_the_stream(last: attrs.Attr) -> None:
    # a 4-byte flag, an attribute with no padding, a length past 32767
    m = Message(0x20, attrs=[attrs.u8(1, 1), last])
    got = [(t, bytes(v)) for t, v in MessageView.from_bytes(m.encode()).attrs()]
    assert [t for t, _ in got] == [1, 9]
    assert got[1][1] == {"flag": b"", "u32": struct.pack("=I", 3)}.get(last.kind, b"y" * 40000)


@pytest.mark.parametrize(("make", "bits"), [(attrs.s8, 8), (attrs.s16, 16), (attrs.s32, 32),
                                            (attrs.s64, 64), (attrs.u8, 8), (attrs.u16, 16),
                                            (attrs.u32, 32), (attrs.u64, 64)])
def test_int_attribute_ranges(make: Any, bits: int) -> None:
    signed = make.__name__.startswith("s")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    for ok in (lo, hi):
        v = MessageView.from_bytes(Message(0x20, attrs=[make(1, ok)]).encode()).attrs()
        assert getattr(v, make.__name__)(1) == ok
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match="out of range"):
            make(1, bad)


def test_attribute_type_range_and_lookup_errors() -> None:
    for t in (0, 0xFFFF):
        assert attrs.u8(t, 1).type == t
    for t in (-1, 0x10000):
        with pytest.raises(ValueError, match=r"0\.\.65535"):
            attrs.u8(t, 1)
    a = MessageView.from_bytes(Message(0x20, attrs=[attrs.binary(1, b"a\xffb")]).encode()).attrs()
    assert a.str(1) == "a\ufffdb"  # bad UTF-8 is replaced, not raised
    for read in (a.u32, a.bytes, a.str, a.nested):
        # no pytest.raises(...) as ei: the kept traceback would put the
        # AttrSet in a reference cycle, which crashes the collector (see
        # test_attrset_in_a_reference_cycle_survives_the_collector)
        args: tuple[object, ...] = ()
        try:
            read(7)
        except KeyError as e:
            args = e.args
        assert args == (7,)


CYCLE = """
import gc
from nlfast import Message, MessageView, attrs
for _ in range(50):
    a = MessageView.from_bytes(Message(0x20, attrs=[attrs.u8(1, 1)]).encode()).attrs()
    box = [a]
    box.append(box)  # a cycle holding the AttrSet, as a kept traceback makes
    del a, box
gc.collect()
print("collected")
"""


def test_attrset_in_a_reference_cycle_survives_the_collector() -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", CYCLE], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0 and "collected" in r.stdout, r.stderr[-1000:]
