"""Echo (many requests per datagram), sink, stats."""

from __future__ import annotations

import nlfast
from nlfast import attrs
from nlfast import family as F

from .conftest import msg, stats


def test_echo_batches_every_reply_in_order(sock: nlfast.Socket) -> None:
    n = 20000
    reqs = [msg(F.NLFAM_MSG_ECHO, [attrs.binary(F.NLFAM_A_DATA, bytes([i & 0xFF]) * (i % 97))])
            for i in range(n)]
    got = []
    for start in range(0, n, 2000):  # 2000 in flight: well inside the receive buffer
        seqs = sock.send_batch(reqs[start : start + 2000])
        want = len(seqs)
        while want:
            b = sock.recv(timeout=10)
            assert b.count(F.NLFAM_MSG_ECHO) == len(b)
            for m in b:
                got.append((m.seq, m.attrs().bytes(F.NLFAM_A_DATA)))
            want -= len(b)
    first = got[0][0]
    assert [s for s, _ in got] == list(range(first, first + n))
    assert [d for _, d in got] == [bytes([i & 0xFF]) * (i % 97) for i in range(n)]


def test_echo_is_byte_for_byte(sock: nlfast.Socket) -> None:
    req = msg(F.NLFAM_MSG_ECHO, [attrs.binary(F.NLFAM_A_DATA, b"abc"),
                                 attrs.string(F.NLFAM_A_TEXT, "xyz")])
    seq = sock.send(req)
    (m,) = list(sock.recv(timeout=5))
    assert m.seq == seq and m.type == F.NLFAM_MSG_ECHO and m.flags == 0
    assert bytes(m.payload) == req.encode(seq)[16:]


def test_sink_and_stats_agree(sock: nlfast.Socket) -> None:
    before = stats(sock)
    n = 50000
    sent = sock.send_repeat(msg(F.NLFAM_MSG_SINK, [attrs.binary(F.NLFAM_A_DATA, b"s" * 16)]), n)
    assert sent == n
    after = stats(sock)
    assert after["sink"] - before["sink"] == n
    size = len(msg(F.NLFAM_MSG_SINK, [attrs.binary(F.NLFAM_A_DATA, b"s" * 16)]).encode())
    # the STATS request itself counts as one message
    assert after["msgs"] - before["msgs"] == n + 1
    assert after["bytes"] - before["bytes"] >= n * size
    assert after["errors"] == before["errors"]


def test_sink_acks_only_when_asked(sock: nlfast.Socket) -> None:
    sock.send(msg(F.NLFAM_MSG_SINK))
    import pytest

    with pytest.raises(TimeoutError):
        sock.recv(timeout=0.3)
    assert sock.request(msg(F.NLFAM_MSG_SINK)) == []  # request() asks for the ACK
