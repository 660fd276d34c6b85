"""Message and MessageView edges the other tests leave open: equality and
hashing, the framed size with a family header, views of an exact-size
message, and errors decoded from NLMSG_ERROR bytes (extended-ack fields,
message text bounds, bad UTF-8)."""

from __future__ import annotations

import struct
import threading

import pytest

import nlfast
from nlfast import Message, MessageView, attrs, message, rtnl
from nlfast._shim import ffi, lib
from nlfast.errors import DecodeError

NLMSG_ERROR = 2
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
ATTR_MSG, ATTR_OFFS, ATTR_MISS_TYPE, ATTR_MISS_NEST = 1, 2, 5, 6


def _error_bytes(code: int, tlvs: list[attrs.Attr]) -> bytes:
    """An NLMSG_ERROR as the kernel frames a capped one: the negative
    errno, the request's header, then the extended-ack attributes."""
    req = struct.pack("=IHHII", 16, rtnl.RTM_GETLINK, 1, 77, 0)
    return Message(NLMSG_ERROR, flags=NLM_F_CAPPED | NLM_F_ACK_TLVS,
                   header=struct.pack("=i", -code) + req, attrs=tlvs).encode(seq=77)


def test_equality_and_hash_follow_the_fields() -> None:
    m = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1))
    assert m == Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1))
    assert m != Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=2))
    assert m != "not a message" and m != 16 and m != object()
    assert hash(m) == hash(Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=1)))
    assert len({hash(Message(t)) for t in range(16, 48)}) > 1


def test_replace_names_the_fields_it_knows() -> None:
    with pytest.raises(TypeError, match="one of type, flags, header, attrs, portid"):
        Message(16).replace(colour=1)


@pytest.mark.parametrize("header", [b"", b"\x01", b"\x01" * 4, b"\x01" * 16, b"\x01" * 17])
def test_wire_size_is_the_framed_length(header: bytes) -> None:
    m = Message(0x40, header=header, attrs=[attrs.u32(1, 5), attrs.string(2, "ab")])
    assert m.wire_size() == len(m.encode())


def test_from_bytes_protocol_must_be_an_int() -> None:
    raw = Message(0x40).encode()
    for bad in ("route", 0.0, True):
        with pytest.raises(TypeError, match="protocol must be an int"):
            MessageView.from_bytes(raw, protocol=bad)  # type: ignore[arg-type]
    assert MessageView.from_bytes(raw, protocol=nlfast.NETLINK_USERSOCK).protocol == \
        nlfast.NETLINK_USERSOCK


def test_attrs_of_an_unnamed_control_type_say_its_number() -> None:
    v = MessageView.from_bytes(Message(5).encode())
    with pytest.raises(DecodeError, match="control type 5 is a netlink control message"):
        v.attrs()


def test_attrs_of_a_message_that_is_only_its_header() -> None:
    # the family header ends the message exactly: no attributes, no error
    v = MessageView.from_bytes(Message(0x40, header=b"\x02" * 16).encode())
    assert list(v.attrs(16)) == []
    with pytest.raises(DecodeError, match="no room for a 17-byte header"):
        v.attrs(17)


def test_to_error_reads_every_extended_ack_field() -> None:
    raw = _error_bytes(22, [attrs.string(ATTR_MSG, "bad value"), attrs.u32(ATTR_OFFS, 20),
                            attrs.u32(ATTR_MISS_TYPE, 7), attrs.u32(ATTR_MISS_NEST, 36)])
    v = MessageView.from_bytes(raw)
    assert v.error == 22
    e = v.to_error()
    assert (e.code, e.msg, e.offset, e.miss_type, e.miss_nest, e.seq) == \
        (22, "bad value", 20, 7, 36, 77)
    bare = MessageView.from_bytes(_error_bytes(22, [])).to_error()
    assert (bare.msg, bare.offset, bare.miss_type, bare.miss_nest) == ("", None, None, None)


def test_to_error_replaces_bad_utf8_in_the_text() -> None:
    raw = _error_bytes(1, [attrs.binary(ATTR_MSG, b"x\xff\xfey\x00")])
    assert MessageView.from_bytes(raw).to_error().msg == "x\ufffd\ufffdy"


def _extack(has: int, msg_off: int = 0, msg_len: int = 0) -> object:
    ea = ffi.new("struct nlf_extack *")
    ea.error, ea.has, ea.msg_off, ea.msg_len = 5, has, msg_off, msg_len
    return ea


def test_extack_error_text_bounds() -> None:
    mv = memoryview(b"\0" * 16 + b"abcd")
    # text that ends exactly at the end of the message is read
    assert message.extack_error(mv, _extack(lib.NLF_EXTACK_MSG, 16, 4), 3).msg == "abcd"
    for off, ln in ((16, 5), (10, 100), (21, 0)):
        with pytest.raises(DecodeError, match=r"^extended-ack message text lies outside the message$"):
            message.extack_error(mv, _extack(lib.NLF_EXTACK_MSG, off, ln), 3)


def test_extack_error_checks_its_arguments() -> None:
    mv = memoryview(b"\0" * 20)
    with pytest.raises(TypeError, match="struct nlf_extack"):
        message.extack_error(mv, ffi.new("int *"), 0)
    with pytest.raises(TypeError, match="struct nlf_extack"):
        message.extack_error(mv, "ea", 0)
    with pytest.raises(TypeError, match="seq must be an int"):
        message.extack_error(mv, _extack(0), "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seq must be an int"):
        message.extack_error(mv, _extack(0), True)
    assert message.extack_error(mv, _extack(0), 9).seq == 9


def test_encode_defaults_to_seq_0() -> None:
    v = MessageView.from_bytes(Message(0x40, flags=5, portid=9).encode())
    assert v.header == (16, 0x40, 5, 0, 9)


def test_framed_with_other_flags_frames_those_flags() -> None:
    m = Message(0x40, flags=1, attrs=[attrs.u32(1, 2)])

    def flags_of(t: tuple[object, int, object]) -> int:
        return MessageView.from_bytes(bytes(ffi.buffer(t[0], t[1]))).flags

    for f in (1, 5, 9, 5, 1, 0x305, 9):
        assert flags_of(m.framed(f)) == f
    assert flags_of(m.framed()) == 1
    assert bytes(ffi.buffer(*m.framed(5)[:2])) == m.with_flags(5).encode()


def test_encode_in_new_threads() -> None:
    # each thread frames in its own arena, made on its first encode()
    m = Message(0x40, flags=5, attrs=[attrs.string(1, "x" * 100), attrs.u64(2, 2**60)])
    want = m.encode(seq=3)
    got: list[bytes] = []
    for _ in range(3):
        t = threading.Thread(target=lambda: got.extend([m.encode(seq=3), m.encode(seq=3)]))
        t.start()
        t.join()
    assert got == [want] * 6


def test_field_ranges_are_exact_and_named() -> None:
    top = Message(0xFFFF, flags=0xFFFF, portid=0xFFFFFFFF)
    assert MessageView.from_bytes(top.encode()).header == (16, 0xFFFF, 0xFFFF, 0, 0xFFFFFFFF)
    with pytest.raises(ValueError, match=r"^message type 65536 is out of range 0\.\.65535$"):
        Message(0x10000)
    with pytest.raises(ValueError, match=r"^message flags 65536 is out of range 0\.\.65535$"):
        Message(16, flags=0x10000)
    with pytest.raises(ValueError,
                       match=r"^message portid 4294967296 is out of range 0\.\.4294967295$"):
        Message(16, portid=2**32)
    with pytest.raises(TypeError, match=r"^message flags must be an int, not '1'$"):
        Message(16, flags="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^message portid must be an int, not None$"):
        Message(16, portid=None)  # type: ignore[arg-type]


def test_a_message_of_exactly_16_mib_is_framed() -> None:
    body = [attrs.binary(1, b"m" * 65528)] * 256  # 256 attributes of 65532 bytes
    exact = Message(0x40, attrs=[*body, attrs.binary(2, b"r" * 1004)])
    assert exact.wire_size() == 1 << 24
    raw = exact.encode(seq=1)
    assert len(raw) == 1 << 24 and MessageView.from_bytes(raw).attrs().bytes(2) == b"r" * 1004
    over = Message(0x40, attrs=[*body, attrs.binary(2, b"r" * 1008)])
    with pytest.raises(nlfast.MessageTooLargeError, match="larger than 16 MiB"):
        over.encode()
