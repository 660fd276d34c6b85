"""A userspace stand-in for the nlfast kernel family, on NETLINK_USERSOCK,
to check the guest workloads' plumbing where the module cannot be loaded
(``python -m benchmarks.run --guest --standin``).  Slow: its numbers mean
nothing.  It answers ECHO (same type, seq, payload), SINK (an ack when
asked), DUMP (COUNT entries of INDEX and SIZE bytes of DATA, then DONE) and
FLOOD (COUNT messages to GROUP, then the ack), as the module does.

    python -m benchmarks.standin     # prints READY <portid> on stderr
"""

from __future__ import annotations

import sys

from benchmarks import nlconst as K
from benchmarks.nlconst import (
    BIG_BUF,
    NETLINK_USERSOCK,
    NLATTR,
    NLM_F_ACK,
    NLM_F_MULTI,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSGHDR,
    U32,
    open_socket,
)

ECHO, SINK, FLOOD, DUMP = K.FAM_MSG_ECHO, K.FAM_MSG_SINK, K.FAM_MSG_FLOOD, K.FAM_MSG_DUMP
A_DATA, A_COUNT, A_SIZE, A_GROUP, A_INDEX = (K.FAM_A_DATA, K.FAM_A_COUNT, K.FAM_A_SIZE,
                                             K.FAM_A_GROUP, K.FAM_A_INDEX)
NLM_F_CAPPED = 0x100


def attrs(buf: bytes, p: int, end: int) -> dict[int, bytes]:
    out = {}
    while p + 4 <= end:
        alen, atype = NLATTR.unpack_from(buf, p)
        if alen < 4:
            break
        out[atype & 0x3FFF] = buf[p + 4 : p + alen]
        p += (alen + 3) & ~3
    return out


def entry(mtype: int, flags: int, seq: int, index: int, size: int) -> bytes:
    body = NLATTR.pack(8, A_INDEX) + U32.pack(index) + NLATTR.pack(4 + size, A_DATA)
    body += bytes((index + i) & 0xFF for i in range(size)) + bytes(-size % 4)
    return NLMSGHDR.pack(16 + len(body), mtype, flags, seq, 0) + body


def send_many(s: object, msgs: list[bytes], addr: tuple[int, int]) -> None:
    dgram = b""
    for m in msgs:
        if len(dgram) + len(m) > BIG_BUF:
            _send(s, dgram, addr)
            dgram = b""
        dgram += m
    if dgram:
        _send(s, dgram, addr)


def _send(s: object, data: bytes, addr: tuple[int, int]) -> None:
    try:
        s.sendto(data, addr)  # type: ignore[attr-defined]
    except ConnectionRefusedError:
        if not addr[1]:  # a group send also unicasts to port 0: refused after it went
            raise


def ack(seq: int, hdr: bytes, err: int = 0) -> bytes:
    return NLMSGHDR.pack(36, NLMSG_ERROR, NLM_F_CAPPED, seq, 0) + err.to_bytes(4, "little", signed=True) + hdr


def main() -> None:
    s = open_socket(NETLINK_USERSOCK)
    print(f"READY {s.getsockname()[0]}", file=sys.stderr, flush=True)
    buf = bytearray(BIG_BUF)
    while True:
        n, addr = s.recvfrom_into(buf)
        off = 0
        out: list[bytes] = []
        while off + 16 <= n:
            ln, typ, fl, seq, _pid = NLMSGHDR.unpack_from(buf, off)
            hdr = bytes(buf[off : off + 16])
            a = attrs(buf, off + 16, off + ln)
            if typ == ECHO:
                out.append(NLMSGHDR.pack(ln, ECHO, 0, seq, 0) + bytes(buf[off + 16 : off + ln]))
            elif typ == SINK:
                if fl & NLM_F_ACK:
                    out.append(ack(seq, hdr))
            elif typ == DUMP:
                count = int.from_bytes(a.get(A_COUNT, b"\0\0\0\0"), "little")
                size = int.from_bytes(a.get(A_SIZE, b"\0\0\0\0"), "little")
                send_many(s, out, addr)
                out = []
                send_many(s, [entry(DUMP, NLM_F_MULTI, seq, i, size) for i in range(count)]
                          + [NLMSGHDR.pack(20, NLMSG_DONE, NLM_F_MULTI, seq, 0) + bytes(4)], addr)
            elif typ == FLOOD:
                count = int.from_bytes(a.get(A_COUNT, b"\0\0\0\0"), "little")
                size = int.from_bytes(a.get(A_SIZE, b"\0\0\0\0"), "little")
                group = int.from_bytes(a.get(A_GROUP, b"\3\0\0\0"), "little")
                for i in range(count):  # one message per datagram, as the module sends
                    _send(s, entry(FLOOD, 0, 0, i, size), (0, 1 << (group - 1)))
                out.append(ack(seq, hdr))
            else:
                out.append(ack(seq, hdr, -95))  # EOPNOTSUPP
            off += (ln + 3) & ~3
        send_many(s, out, addr)


if __name__ == "__main__":
    main()
