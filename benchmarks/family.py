"""Guest workloads: the nlfast kernel family (kernel/uapi/nlfast_family.h),
run inside the QEMU guest where the module is loaded
(``python -m benchmarks.run --guest``).

* ``fam-echo``: NLFAM_MSG_ECHO round trips, one in flight.
* ``fam-echo-pipe``: the same, 64 in flight (simple contenders: one).
* ``fam-sink``: NLFAM_MSG_SINK send rate (the last one acked: a barrier).
* ``fam-flood``: NLFAM_MSG_FLOOD multicast from the kernel to group 3,
  received with losses counted (a second socket asks for it from a thread,
  since the kernel floods inside that request).
* ``fam-dump``: NLFAM_MSG_DUMP entries/s (NLFAM_A_INDEX checked in order).
* ``fam-dump-rss``: peak RSS of a fresh process that dumps 1M entries, and
  that dump's rate (fewer entries for the contenders too slow for 1M under
  TCG: the table says so).

Per message every contender checks the type and seq and decodes the
attribute that carries the work (NLFAM_A_DATA's length for echo,
NLFAM_A_INDEX for flood and dump).  Payloads are nlceil's pattern bytes,
16 of them.  Numbers come from nlfast.family, which reads the header.

Timings in the guest are emulated: only ratios inside one boot mean
anything.  The Python contenders run in one long-lived worker each
(``benchmarks.worker --serve``, see core.Ctx.serve), all but fam-dump-rss.
``proto`` and ``peer`` let the same workers talk to a userspace stand-in
(benchmarks/standin.py, on NETLINK_USERSOCK) to check the plumbing on a
host that cannot load the module: ``--standin``.
"""

# Workload classes carry their settings as class attributes.
# ruff: noqa: RUF012

from __future__ import annotations

import struct
import threading
import time
from array import array
from typing import Any, Callable

from benchmarks.core import Ctx, NotApplicable, RunError, Target, Workload, check_c
from benchmarks.nlconst import (
    BIG_BUF,
    I32,
    NLATTR,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSGHDR,
    RCVBUF,
    U32,
    open_socket,
    pattern,
)

SIZE = 16


_NUMBERS: Any = None


def F() -> Any:
    """The header's numbers (from nlfast.family, imported on first use) as
    plain attributes: nlfast.family resolves each name through a module
    ``__getattr__`` on every access, which inside a per-message loop would
    cost every contender more than the work measured."""
    global _NUMBERS
    if _NUMBERS is None:
        import types

        from nlfast import family

        _NUMBERS = types.SimpleNamespace(**{n: getattr(family, n) for n in family.names()})
    return _NUMBERS


def _result(count: int, seconds: float, units: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"count": count, "seconds": seconds, "units": count if units is None else units,
            **extra}


def _nl(proto: int, **kw: Any) -> Any:
    import nlfast

    return nlfast.Socket(proto, rcvbuf=RCVBUF, rx_buffers=64, rx_bufsize=BIG_BUF, **kw)


def _data_attr(size: int) -> bytes:
    return NLATTR.pack(4 + size, F().NLFAM_A_DATA) + pattern(size) + bytes(-size % 4)


def _u32_attr(t: int, v: int) -> bytes:
    return NLATTR.pack(8, t) + U32.pack(v)


def _frame(mtype: int, flags: int, seq: int, body: bytes, pid: int = 0) -> bytes:
    return NLMSGHDR.pack(16 + len(body), mtype, flags, seq, pid) + body


def _find(buf: Any, p: int, end: int, want: int) -> tuple[int, int] | None:
    while p + 4 <= end:
        alen, atype = NLATTR.unpack_from(buf, p)
        if alen < 4 or p + alen > end:
            raise RunError("malformed attribute")
        if atype & 0x3FFF == want:
            return p + 4, p + alen
        p += (alen + 3) & ~3
    return None


class BenchError(RuntimeError):
    pass


# -- echo ------------------------------------------------------------------------------


def echo_nlfast(count: int, window: int = 1, size: int = SIZE, proto: int = 0,
                peer: int = 0) -> dict[str, Any]:
    """Batch path: send_repeat refills the window, columns check replies."""
    from nlfast import Message, attrs

    f = F()
    proto = proto or f.NLFAM_PROTO_DEFAULT
    got = gaps = 0
    with _nl(proto) as s:
        # framed once, as send_repeat's bytes form takes it (given a Message,
        # send_repeat frames it again on every call)
        tmpl = Message(f.NLFAM_MSG_ECHO,
                       attrs=[attrs.binary(f.NLFAM_A_DATA, pattern(size))]).encode()
        s.next_seq = expect = 1
        t0 = time.perf_counter()
        sent = s.send_repeat(tmpl, min(window, count), dest=peer)
        while got < count:
            b = s.recv(5.0)
            ok = b.count(f.NLFAM_MSG_ECHO)
            if ok != len(b):
                raise BenchError(f"{len(b) - ok} replies not ECHO: errnos "
                                 f"{[e for e in b.errors.tolist() if e][:3]}")
            g, expect = b.seq_gaps(f.NLFAM_MSG_ECHO, expect)
            _offs, lens = b.attr_column(f.NLFAM_A_DATA)
            if lens.tolist().count(size) != ok:
                raise BenchError("an echo came back with other data")
            gaps += g
            got += ok
            k = min(ok, count - sent)
            if k:
                sent += s.send_repeat(tmpl, k, dest=peer)
        t1 = time.perf_counter()
    if gaps:
        raise BenchError(f"{gaps} echoes missing")
    return _result(got, t1 - t0, window=window)


def echo_nlfast_simple(count: int, window: int = 1, size: int = SIZE, proto: int = 0,
                       peer: int = 0) -> dict[str, Any]:
    """Simple path: sock.request(msg, ack=False), one at a time."""
    from nlfast import Message, attrs

    f = F()
    if peer:
        raise NotApplicable("request() talks to the kernel only")
    with _nl(proto or f.NLFAM_PROTO_DEFAULT) as s:
        msg = Message(f.NLFAM_MSG_ECHO, attrs=[attrs.binary(f.NLFAM_A_DATA, pattern(size))])
        t0 = time.perf_counter()
        for _ in range(count):
            (m,) = s.request(msg, ack=False)
            if m.type != f.NLFAM_MSG_ECHO or len(m.attrs().bytes(f.NLFAM_A_DATA)) != size:
                raise BenchError("bad echo")
        t1 = time.perf_counter()
    return _result(count, t1 - t0, window=1)


def echo_stdlib(count: int, window: int = 1, size: int = SIZE, proto: int = 0,
                peer: int = 0) -> dict[str, Any]:
    """Pure Python done well: ``window`` requests per datagram, recv_into,
    unpack_from in place."""
    f = F()
    s = open_socket(proto or f.NLFAM_PROTO_DEFAULT)
    one = _frame(f.NLFAM_MSG_ECHO, NLM_F_REQUEST, 0, _data_attr(size))
    words = len(one) // 4
    reqs = array("I")
    reqs.frombytes(one * window)
    raw = memoryview(reqs).cast("B")
    buf = bytearray(BIG_BUF)
    hdr = NLMSGHDR.unpack_from
    got = sent = 0
    seq = expect = 1

    def send(k: int) -> None:
        nonlocal seq
        reqs[2 : words * k : words] = array("I", range(seq, seq + k))
        s.sendto(raw[: len(one) * k], (peer, 0))
        seq += k

    t0 = time.perf_counter()
    send(min(window, count))
    sent = min(window, count)
    while got < count:
        n = s.recv_into(buf)
        off = replies = 0
        while off + 16 <= n:
            ln, typ, _fl, sq, _pid = hdr(buf, off)
            if typ != f.NLFAM_MSG_ECHO or sq != expect:
                raise BenchError(f"reply type {typ} seq {sq}, expected {expect}")
            a = _find(buf, off + 16, off + ln, f.NLFAM_A_DATA)
            if a is None or a[1] - a[0] != size:
                raise BenchError("bad echo data")
            expect += 1
            replies += 1
            off += (ln + 3) & ~3
        got += replies
        k = min(replies, count - sent)
        if k:
            send(k)
            sent += k
    t1 = time.perf_counter()
    return _result(got, t1 - t0, window=window)


def echo_stdlib_simple(count: int, window: int = 1, size: int = SIZE, proto: int = 0,
                       peer: int = 0) -> dict[str, Any]:
    """Pure Python, plainly: one request, one recv."""
    f = F()
    s = open_socket(proto or f.NLFAM_PROTO_DEFAULT)
    body = _data_attr(size)
    t0 = time.perf_counter()
    for seq in range(1, count + 1):
        s.sendto(struct.pack("=IHHII", 16 + len(body), f.NLFAM_MSG_ECHO, NLM_F_REQUEST, seq, 0)
                 + body, (peer, 0))
        data = s.recv(65536)
        _ln, typ, _fl, sq, _pid = struct.unpack("=IHHII", data[:16])
        alen, atype = struct.unpack("=HH", data[16:20])
        if typ != f.NLFAM_MSG_ECHO or sq != seq or atype != f.NLFAM_A_DATA or alen - 4 != size:
            raise BenchError("bad echo")
    t1 = time.perf_counter()
    return _result(count, t1 - t0, window=1)


def _p2_socket(proto: int, peer: int) -> Any:
    from pyroute2.netlink import nla, nlmsg
    from pyroute2.netlink.nlsocket import NetlinkSocket

    f = F()

    class fammsg(nlmsg):
        nla_map = (("NLFAM_A_UNSPEC", "none"), ("NLFAM_A_TEXT", "asciiz"),
                   ("NLFAM_A_DATA", "cdata"), ("NLFAM_A_COUNT", "uint32"),
                   ("NLFAM_A_SIZE", "uint32"), ("NLFAM_A_GROUP", "uint32"),
                   ("NLFAM_A_INDEX", "uint32"))

    del nla
    s = NetlinkSocket(family=proto or f.NLFAM_PROTO_DEFAULT)
    s.bind()
    if peer:
        s.asyncore.connect((peer, 0))
    for t in (f.NLFAM_MSG_ECHO, f.NLFAM_MSG_SINK, f.NLFAM_MSG_DUMP):
        s.marshal.msg_map[t] = fammsg
    return s, fammsg


def echo_pyroute2(count: int, window: int = 1, size: int = SIZE, proto: int = 0,
                  peer: int = 0) -> dict[str, Any]:
    """pyroute2's generic NetlinkSocket: nlm_request() with a message class."""
    f = F()
    s, fammsg = _p2_socket(proto, peer)
    data = pattern(size)
    t0 = time.perf_counter()
    for _ in range(count):
        m = fammsg()
        m["attrs"] = [("NLFAM_A_DATA", data)]
        (r,) = tuple(s.nlm_request(m, msg_type=f.NLFAM_MSG_ECHO, msg_flags=NLM_F_REQUEST))
        if r["header"]["type"] != f.NLFAM_MSG_ECHO or len(r.get_attr("NLFAM_A_DATA")) != size:
            raise BenchError("bad echo")
    t1 = time.perf_counter()
    s.close()
    return _result(count, t1 - t0, window=1)


# -- sink ------------------------------------------------------------------------------


def _sink_tmpl(size: int) -> Any:
    from nlfast import Message, attrs

    f = F()
    return Message(f.NLFAM_MSG_SINK, attrs=[attrs.binary(f.NLFAM_A_DATA, pattern(size))])


def sink_nlfast(count: int, size: int = SIZE, proto: int = 0, peer: int = 0) -> dict[str, Any]:
    """send_repeat, then one acked SINK as a barrier."""
    import nlfast

    f = F()
    msg = _sink_tmpl(size)
    with _nl(proto or f.NLFAM_PROTO_DEFAULT) as s:
        t0 = time.perf_counter()
        s.send_repeat(msg.encode(), count - 1, dest=peer)
        acked = nlfast.Message(msg.type, NLM_F_REQUEST | NLM_F_ACK, attrs=msg.attrs)
        _wait_ack(s, s.send(acked, dest=peer))
        t1 = time.perf_counter()
    return _result(count, t1 - t0)


def _wait_ack(s: Any, seq: int) -> None:
    while True:
        for m in s.recv(5.0):
            if m.type == NLMSG_ERROR:
                err = m.to_error()
                if err.code:
                    raise err
                if m.seq == seq:
                    return


def sink_nlfast_simple(count: int, size: int = SIZE, proto: int = 0,
                       peer: int = 0) -> dict[str, Any]:
    """sock.send(msg) per message; the last acked."""
    import nlfast

    f = F()
    msg = _sink_tmpl(size)
    with _nl(proto or f.NLFAM_PROTO_DEFAULT) as s:
        t0 = time.perf_counter()
        for _ in range(count - 1):
            s.send(msg, dest=peer)
        acked = nlfast.Message(msg.type, NLM_F_REQUEST | NLM_F_ACK, attrs=msg.attrs)
        _wait_ack(s, s.send(acked, dest=peer))
        t1 = time.perf_counter()
    return _result(count, t1 - t0)


def _stdlib_ack(s: Any, seq: int) -> None:
    buf = bytearray(BIG_BUF)
    while True:
        n = s.recv_into(buf)
        off = 0
        while off + 16 <= n:
            ln, typ, _fl, sq, _pid = NLMSGHDR.unpack_from(buf, off)
            if typ == NLMSG_ERROR:
                (err,) = I32.unpack_from(buf, off + 16)
                if err:
                    raise BenchError(f"NLMSG_ERROR {err}")
                if sq == seq:
                    return
            off += (ln + 3) & ~3


def sink_stdlib(count: int, size: int = SIZE, proto: int = 0, peer: int = 0) -> dict[str, Any]:
    """As many SINKs per datagram as 32 KiB holds, seqs by array slice."""
    f = F()
    s = open_socket(proto or f.NLFAM_PROTO_DEFAULT)
    one = _frame(f.NLFAM_MSG_SINK, NLM_F_REQUEST, 0, _data_attr(size))
    per = max(1, BIG_BUF // len(one))
    words = len(one) // 4
    reqs = array("I")
    reqs.frombytes(one * per)
    raw = memoryview(reqs).cast("B")
    seq = 1
    t0 = time.perf_counter()
    left = count - 1
    while left:
        k = min(left, per)
        reqs[2 : words * k : words] = array("I", range(seq, seq + k))
        s.sendto(raw[: len(one) * k], (peer, 0))
        seq += k
        left -= k
    last = bytearray(one)
    NLMSGHDR.pack_into(last, 0, len(one), f.NLFAM_MSG_SINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0)
    s.sendto(last, (peer, 0))
    _stdlib_ack(s, seq)
    t1 = time.perf_counter()
    return _result(count, t1 - t0)


def sink_stdlib_simple(count: int, size: int = SIZE, proto: int = 0,
                       peer: int = 0) -> dict[str, Any]:
    """One sendto per SINK; the last acked."""
    f = F()
    s = open_socket(proto or f.NLFAM_PROTO_DEFAULT)
    body = _data_attr(size)
    t0 = time.perf_counter()
    for seq in range(1, count + 1):
        flags = NLM_F_REQUEST | (NLM_F_ACK if seq == count else 0)
        s.sendto(struct.pack("=IHHII", 16 + len(body), f.NLFAM_MSG_SINK, flags, seq, 0) + body,
                 (peer, 0))
    _stdlib_ack(s, count)
    t1 = time.perf_counter()
    return _result(count, t1 - t0)


def sink_pyroute2(count: int, size: int = SIZE, proto: int = 0,
                  peer: int = 0) -> dict[str, Any]:
    """put() per SINK; the last through nlm_request with NLM_F_ACK."""
    f = F()
    s, fammsg = _p2_socket(proto, peer)
    data = pattern(size)
    t0 = time.perf_counter()
    for seq in range(1, count):
        m = fammsg()
        m["attrs"] = [("NLFAM_A_DATA", data)]
        s.put(m, f.NLFAM_MSG_SINK, msg_flags=NLM_F_REQUEST, msg_seq=seq)
    m = fammsg()
    m["attrs"] = [("NLFAM_A_DATA", data)]
    tuple(s.nlm_request(m, msg_type=f.NLFAM_MSG_SINK, msg_flags=NLM_F_REQUEST | NLM_F_ACK))
    t1 = time.perf_counter()
    s.close()
    return _result(count, t1 - t0)


# -- flood -------------------------------------------------------------------------------


def _flood_request(count: int, size: int, group: int, proto: int, peer: int) -> threading.Thread:
    """Asks for the flood from a second socket in a thread (the kernel floods
    inside that request), waiting for its ack."""
    f = F()
    body = (_u32_attr(f.NLFAM_A_COUNT, count) + _u32_attr(f.NLFAM_A_SIZE, size)
            + _u32_attr(f.NLFAM_A_GROUP, group))
    req = _frame(f.NLFAM_MSG_FLOOD, NLM_F_REQUEST | NLM_F_ACK, 1, body)
    s = open_socket(proto)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            s.sendto(req, (peer, 0))
            _stdlib_ack(s, 1)
        except BaseException as e:  # reported by the receiver
            errors.append(e)
        finally:
            s.close()

    th = threading.Thread(target=go, daemon=True)
    th.errors = errors  # type: ignore[attr-defined]
    th.start()
    return th


def _flood_result(count: int, got: int, gaps: int, expect: int, t0: float,
                  t_last: float, th: threading.Thread, **extra: Any) -> dict[str, Any]:
    if th.errors:  # type: ignore[attr-defined]
        raise BenchError(f"the flood request failed: {th.errors[0]}")  # type: ignore[attr-defined]
    lost = gaps + max(0, count - expect)
    secs = t_last - t0 if got else 0.0
    return _result(got, secs, got, requested=count, lost=lost,
                   loss_pct=100.0 * lost / count if count else 0.0, **extra)


def _flood_nlfast(count: int, size: int, group: int, proto: int, peer: int,
                  consume: Callable[[Any, int], tuple[int, int, int]]) -> dict[str, Any]:
    """Receives a flood through nlfast; ``consume(batch, expect)`` checks a
    batch and returns (messages, gaps, next expected index)."""
    import nlfast

    f = F()
    proto = proto or f.NLFAM_PROTO_DEFAULT
    got = gaps = overruns = expect = 0
    t_last = 0.0
    with _nl(proto, groups=[group]) as s:
        t0 = time.perf_counter()  # from the request on, as nlceil's flood-recv
        th = _flood_request(count, size, group, proto, peer)
        while expect < count:
            try:
                b = s.recv(0.05)
            except TimeoutError:
                if not th.is_alive():
                    break
                continue
            except nlfast.OverrunError:
                overruns += 1
                continue
            t_last = time.perf_counter()
            n, g, expect = consume(b, expect)
            got += n
            gaps += g
        th.join(5)
        drops = s.drops()
    return _flood_result(count, got, gaps, expect, t0, t_last, th, overruns=overruns,
                         kernel_drops=drops)


def flood_nlfast(count: int, size: int = SIZE, group: int = 3, proto: int = 0,
                 peer: int = 0) -> dict[str, Any]:
    """Batch path: Batch.count and Batch.attr_gaps(NLFAM_A_INDEX), in C."""
    f = F()
    mtype, aindex = f.NLFAM_MSG_FLOOD, f.NLFAM_A_INDEX

    def consume(b: Any, expect: int) -> tuple[int, int, int]:
        n = b.count(mtype)
        if n != len(b):
            raise BenchError("a message that is not FLOOD")
        g, expect, absent = b.attr_gaps(aindex, expect)
        if absent:
            raise BenchError("a FLOOD message without its INDEX")
        return n, g, expect

    return _flood_nlfast(count, size, group, proto, peer, consume)


def flood_nlfast_simple(count: int, size: int = SIZE, group: int = 3, proto: int = 0,
                        peer: int = 0) -> dict[str, Any]:
    """Simple path: per message m.type and m.attrs().u32(NLFAM_A_INDEX)."""
    f = F()
    mtype, aindex = f.NLFAM_MSG_FLOOD, f.NLFAM_A_INDEX

    def consume(b: Any, expect: int) -> tuple[int, int, int]:
        gaps = 0
        for m in b:
            if m.type != mtype:
                raise BenchError("a message that is not FLOOD")
            i = m.attrs().u32(aindex)
            if i > expect:
                gaps += i - expect
            expect = i + 1
        return len(b), gaps, expect

    return _flood_nlfast(count, size, group, proto, peer, consume)


def _flood_stdlib(count: int, size: int, group: int, proto: int, peer: int,
                  simple: bool) -> dict[str, Any]:
    import errno
    import socket

    f = F()
    proto = proto or f.NLFAM_PROTO_DEFAULT
    s = open_socket(proto)
    s.setsockopt(270, 1, group)
    s.settimeout(0.05)
    buf = bytearray(BIG_BUF)
    got = gaps = enobufs = expect = 0
    t_last = 0.0
    t0 = time.perf_counter()  # from the request on, as nlceil's flood-recv
    th = _flood_request(count, size, group, proto, peer)
    while expect < count:
        try:
            if simple:
                data: Any = s.recv(65536)
                n = len(data)
            else:
                n = s.recv_into(buf)
                data = buf
        except socket.timeout:
            if not th.is_alive():
                break
            continue
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                enobufs += 1
                continue
            raise
        t_last = time.perf_counter()
        off = 0
        while off + 16 <= n:
            ln, typ, _fl, _sq, _pid = NLMSGHDR.unpack_from(data, off)
            if typ != f.NLFAM_MSG_FLOOD:
                raise BenchError("a message that is not FLOOD")
            a = _find(data, off + 16, off + ln, f.NLFAM_A_INDEX)
            if a is None:
                raise BenchError("no NLFAM_A_INDEX")
            (i,) = U32.unpack_from(data, a[0])
            if i > expect:
                gaps += i - expect
            expect = i + 1
            got += 1
            off += (ln + 3) & ~3
    th.join(5)
    s.close()
    return _flood_result(count, got, gaps, expect, t0, t_last, th, enobufs=enobufs)


def flood_stdlib(count: int, size: int = SIZE, group: int = 3, proto: int = 0,
                 peer: int = 0) -> dict[str, Any]:
    """recv_into a reused buffer, unpack_from in place."""
    return _flood_stdlib(count, size, group, proto, peer, simple=False)


def flood_stdlib_simple(count: int, size: int = SIZE, group: int = 3, proto: int = 0,
                        peer: int = 0) -> dict[str, Any]:
    """recv() into new bytes."""
    return _flood_stdlib(count, size, group, proto, peer, simple=True)


# -- dump --------------------------------------------------------------------------------


def _dump_msg() -> Any:
    from nlfast import Message, attrs

    f = F()
    return lambda count, size: Message(
        f.NLFAM_MSG_DUMP, attrs=[attrs.u32(f.NLFAM_A_COUNT, count), attrs.u32(f.NLFAM_A_SIZE, size)])


def _maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def dump_nlfast(count: int, size: int = SIZE, proto: int = 0, peer: int = 0) -> dict[str, Any]:
    """Batch path: Batch.count + Batch.attr_gaps(NLFAM_A_INDEX), both in C:
    every entry of the dump's type, every index present and in order."""
    f = F()
    if peer:
        raise NotApplicable("dump() talks to the kernel only")
    with _nl(proto or f.NLFAM_PROTO_DEFAULT) as s:
        msg = _dump_msg()(count, size)
        before = _maxrss()
        expect = 0
        t0 = time.perf_counter()
        for b in s.dump(msg):
            n = b.count(f.NLFAM_MSG_DUMP)
            gaps, nxt, absent = b.attr_gaps(f.NLFAM_A_INDEX, expect)
            if n != len(b) or gaps or absent or nxt != expect + n:
                raise BenchError("dump entries out of order or of another type")
            expect = nxt
        t1 = time.perf_counter()
    return _result(expect, t1 - t0, rss_before_kib=before, rss_after_kib=_maxrss())


def dump_nlfast_simple(count: int, size: int = SIZE, proto: int = 0,
                       peer: int = 0) -> dict[str, Any]:
    """Simple path: dump_messages, m.attrs().u32(NLFAM_A_INDEX) each."""
    f = F()
    if peer:
        raise NotApplicable("dump() talks to the kernel only")
    with _nl(proto or f.NLFAM_PROTO_DEFAULT) as s:
        msg = _dump_msg()(count, size)
        before = _maxrss()
        expect = 0
        t0 = time.perf_counter()
        for m in s.dump_messages(msg):
            if m.type != f.NLFAM_MSG_DUMP or m.attrs().u32(f.NLFAM_A_INDEX) != expect:
                raise BenchError("dump entry out of order or of another type")
            expect += 1
        t1 = time.perf_counter()
    return _result(expect, t1 - t0, rss_before_kib=before, rss_after_kib=_maxrss())


def _dump_stdlib(count: int, size: int, proto: int, peer: int, simple: bool) -> dict[str, Any]:
    f = F()
    s = open_socket(proto or f.NLFAM_PROTO_DEFAULT)
    body = _u32_attr(f.NLFAM_A_COUNT, count) + _u32_attr(f.NLFAM_A_SIZE, size)
    buf = bytearray(BIG_BUF)
    before = _maxrss()
    expect = 0
    t0 = time.perf_counter()
    s.sendto(_frame(f.NLFAM_MSG_DUMP, NLM_F_REQUEST | NLM_F_DUMP, 1, body), (peer, 0))
    done = False
    while not done:
        if simple:
            data: Any = s.recv(65536)
            n = len(data)
        else:
            n = s.recv_into(buf)
            data = buf
        off = 0
        while off + 16 <= n:
            ln, typ, _fl, sq, _pid = NLMSGHDR.unpack_from(data, off)
            if typ == NLMSG_DONE:
                done = True
                break
            if typ != f.NLFAM_MSG_DUMP or sq != 1:
                raise BenchError(f"message type {typ} seq {sq} in the dump")
            a = _find(data, off + 16, off + ln, f.NLFAM_A_INDEX)
            if a is None or U32.unpack_from(data, a[0])[0] != expect:
                raise BenchError("dump entry out of order")
            expect += 1
            off += (ln + 3) & ~3
    t1 = time.perf_counter()
    s.close()
    return _result(expect, t1 - t0, rss_before_kib=before, rss_after_kib=_maxrss())


def dump_stdlib(count: int, size: int = SIZE, proto: int = 0, peer: int = 0) -> dict[str, Any]:
    """recv_into a reused buffer, unpack_from in place."""
    return _dump_stdlib(count, size, proto, peer, simple=False)


def dump_stdlib_simple(count: int, size: int = SIZE, proto: int = 0,
                       peer: int = 0) -> dict[str, Any]:
    """recv() into new bytes."""
    return _dump_stdlib(count, size, proto, peer, simple=True)


def dump_pyroute2(count: int, size: int = SIZE, proto: int = 0,
                  peer: int = 0) -> dict[str, Any]:
    """nlm_request() with NLM_F_DUMP, the message list kept as users do."""
    f = F()
    s, fammsg = _p2_socket(proto, peer)
    m = fammsg()
    m["attrs"] = [("NLFAM_A_COUNT", count), ("NLFAM_A_SIZE", size)]
    before = _maxrss()
    t0 = time.perf_counter()
    msgs = list(s.nlm_request(m, msg_type=f.NLFAM_MSG_DUMP, msg_flags=NLM_F_REQUEST | NLM_F_DUMP))
    idx = [x.get_attr("NLFAM_A_INDEX") for x in msgs]
    t1 = time.perf_counter()
    if idx != list(range(count)):
        raise BenchError("dump entries missing or out of order")
    s.close()
    return _result(len(idx), t1 - t0, rss_before_kib=before, rss_after_kib=_maxrss())


def _echo(window: int) -> Any:
    def bind(fn: Any) -> Any:
        def run(count: int, **kw: Any) -> dict[str, Any]:
            kw.setdefault("window", window)
            return fn(count, **kw)

        run.__doc__ = fn.__doc__
        return run

    return bind


WORKERS: dict[tuple[str, str], Any] = {}
_EACH = {
    "nlfast": (echo_nlfast, sink_nlfast, flood_nlfast, dump_nlfast),
    "nlfast-simple": (echo_nlfast_simple, sink_nlfast_simple, flood_nlfast_simple,
                      dump_nlfast_simple),
    "stdlib": (echo_stdlib, sink_stdlib, flood_stdlib, dump_stdlib),
    "stdlib-simple": (echo_stdlib_simple, sink_stdlib_simple, flood_stdlib_simple,
                      dump_stdlib_simple),
    "pyroute2": (echo_pyroute2, sink_pyroute2, None, dump_pyroute2),
}
for _c, (_e, _s, _fl, _d) in _EACH.items():
    WORKERS[("fam-echo", _c)] = _echo(1)(_e)
    WORKERS[("fam-echo-pipe", _c)] = _echo(64)(_e)
    WORKERS[("fam-sink", _c)] = _s
    if _fl is not None:
        WORKERS[("fam-flood", _c)] = _fl
    WORKERS[("fam-dump", _c)] = _d
    WORKERS[("fam-dump-rss", _c)] = _d


# -- the workloads -----------------------------------------------------------------------
#
# Sized for the guest: QEMU/TCG runs everything ~50x slower than the host,
# so the rates below (to size the first run) are what one boot measured.


class _Fam(Workload):
    tier = "guest"
    c_name = ""
    opts: dict[str, Any] = {}

    def fam(self, ctx: Ctx) -> dict[str, Any]:
        kw = {"proto": ctx.facts.get("proto", 0)}
        if ctx.facts.get("peer"):
            kw["peer"] = ctx.facts["peer"]
        return kw

    def c_cmd(self, ctx: Ctx, units: int) -> list[str]:
        kw = self.fam(ctx)
        return ctx.c(self.c_name, count=units, size=SIZE, **self.opts,
                     **{k: v for k, v in kw.items() if v})

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        if contender in self.na:
            raise NotApplicable(self.na[contender])
        if contender == "c":
            res = ctx.run(self.c_cmd(ctx, units))
            self.check(res)
            res["units"] = units
            return res
        kw = {k: v for k, v in self.fam(ctx).items() if v}
        return ctx.call(self.name, contender, count=units, **kw)

    def check(self, res: dict[str, Any]) -> None:
        check_c(res)


class FamEcho(_Fam):
    name = "fam-echo"
    c_name = "echo"
    opts = {"window": 1}
    unit = "round trips/s"
    expected = {"c": 4.5e3, "nlfast": 2e3, "nlfast-simple": 1.2e3, "stdlib": 3e3,
                "stdlib-simple": 2.2e3, "pyroute2": 200}
    target = Target(vs_c=0.5)
    min_units = 100

    def describe(self) -> str:
        return "NLFAM_MSG_ECHO round trips, one in flight, 16 data bytes"


class FamEchoPipe(FamEcho):
    name = "fam-echo-pipe"
    opts = {"window": 64}
    expected = {"c": 14e3, "nlfast": 8e3, "nlfast-simple": 1.3e3, "stdlib": 3e3,
                "stdlib-simple": 3e3, "pyroute2": 200}
    target = Target(vs_c=0.9)
    notes = "64 in flight for nlceil, nlfast batch and stdlib batched; one for the rest"

    def describe(self) -> str:
        return "NLFAM_MSG_ECHO round trips, pipelined"


class FamSink(_Fam):
    name = "fam-sink"
    c_name = "sink"
    unit = "msgs/s"
    expected = {"c": 230e3, "nlfast": 200e3, "nlfast-simple": 6e3, "stdlib": 200e3,
                "stdlib-simple": 9e3, "pyroute2": 500}
    opts = {"batch": 1024}  # nlceil packs as many SINKs per datagram as fit 32 KiB, as
    # nlfast's send_repeat and stdlib batched do (its default is 64)
    target = Target(vs_c=0.8)
    min_units = 1000
    notes = "batched senders put as many SINKs in a datagram as 32 KiB holds (910)"

    def describe(self) -> str:
        return "NLFAM_MSG_SINK send rate (the last one acked)"


class FamFlood(_Fam):
    name = "fam-flood"
    c_name = "flood-recv"
    unit = "msgs/s"
    opts = {"group": 3}
    calibrate = False
    lossy = True
    target = Target(vs_c=0.5)
    na = {"pyroute2": "pyroute2's get() has no timeout to notice the end of a lossy flood"}
    count = 5_000
    quick_count = 2_000
    notes = (f"the kernel floods {count // 1000}k messages ({quick_count // 1000}k with --quick; "
             "not 1M: the guest floods ~12k/s) to group 3, timed from the request to the "
             "last one received; a 64 MiB receive buffer (SO_RCVBUFFORCE 32 MiB) holds them "
             "all, so what is measured is how fast each receiver keeps up; losses apart")

    def describe(self) -> str:
        return "NLFAM_MSG_FLOOD multicast from the kernel, received; losses apart"

    def first_units(self, contender: str, ctx: Ctx) -> int:
        return self.quick_count if ctx.quick else self.count

    def next_units(self, res: dict[str, Any], ctx: Ctx) -> int:
        return self.first_units("", ctx)

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        res = super().measure(ctx, contender, units)
        res["units"] = units
        res["loss_pct"] = 100.0 * float(res.get("lost", 0)) / units
        res["overrun_events"] = int(res.get("enobufs", 0) or res.get("overruns", 0))
        return res

    def check(self, res: dict[str, Any]) -> None:
        bad = {k: res.get(k) for k in ("errors", "malformed", "unexpected", "out_of_order",
                                        "size_mismatch", "missing") if res.get(k)}
        if bad:
            raise RunError(f"nlceil counted {bad} {res.get('first_error', '')}".strip())


class FamDump(_Fam):
    name = "fam-dump"
    c_name = "dump"
    unit = "entries/s"
    expected = {"c": 1.2e6, "nlfast": 300e3, "nlfast-simple": 5e3, "stdlib": 12e3,
                "stdlib-simple": 11e3, "pyroute2": 650}
    target = Target(vs_c=0.5)
    min_units = 1000
    notes = "one dump per run, of as many entries as take ~0.3 s; 1M entries: fam-dump-rss"

    def describe(self) -> str:
        return "NLFAM_MSG_DUMP entries, NLFAM_A_INDEX checked in order"


class FamDumpRss(_Fam):
    name = "fam-dump-rss"
    c_name = "dump"
    kind = "footprint"
    unit = "MiB"
    contenders = ("c", "nlfast", "stdlib", "pyroute2")
    names = {"nlfast": "nlfast (streamed)", "stdlib": "stdlib (streamed)",
             "pyroute2": "pyroute2 (list kept)"}
    calibrate = False
    warmup = False
    max_repeat = 1  # a fresh process each: the interpreter's start dominates in the guest
    # Entries per dump: 1M where the guest allows it (the C ceiling and nlfast's
    # batch path); the slower contenders would take minutes for 1M under TCG.
    counts = {"c": 1_000_000, "nlfast": 1_000_000, "stdlib": 100_000, "pyroute2": 10_000}
    quick_counts = {"c": 200_000, "nlfast": 200_000, "stdlib": 20_000, "pyroute2": 2_000}
    row_notes = {"stdlib": "fewer entries (1M would take most of a minute in the guest); it streams: "
                           "its peak does not grow with the count",
                 "pyroute2": "fewer entries (1M would take a quarter of an hour in the guest); its "
                             "list grows with the count, so at 1M it would be GiBs"}
    keeps_list = ("pyroute2",)  # its growth is per entry: reported as such
    bound_mib = 4.0
    notes = ("peak RSS (GNU time %M) of a fresh process that dumps once, 16 data bytes per "
             "entry, and that dump's rate; one run each (the start of a fresh interpreter "
             "takes seconds in the guest); nlfast and stdlib stream, pyroute2 keeps its "
             "message list as nlm_request() returns it")

    def describe(self) -> str:
        return "peak RSS of one NLFAM_MSG_DUMP of 1M entries, and its rate"

    def first_units(self, contender: str, ctx: Ctx) -> int:
        return (self.quick_counts if ctx.quick else self.counts).get(contender, 1_000_000)

    def measure(self, ctx: Ctx, contender: str, units: int) -> dict[str, Any]:
        if contender in self.na:
            raise NotApplicable(self.na[contender])
        if contender == "c":
            argv = self.c_cmd(ctx, units)
        else:
            kw = {k: v for k, v in self.fam(ctx).items() if v}
            argv = ctx.worker(self.name, contender, count=units, **kw)
        res, peak = ctx.run_peak_rss(argv)
        if contender == "c":
            check_c(res)
        if res.get("count") != units:
            raise RunError(f"the dump brought {res.get('count')} of {units} entries")
        res["value"] = peak / 1024
        res["dump_entries"] = units
        res["dump_rate"] = res["rate"]
        if "rss_before_kib" in res:
            res["growth_mib"] = (res["rss_after_kib"] - res["rss_before_kib"]) / 1024
            if contender in self.keeps_list:
                res["growth_per_entry_b"] = res["growth_mib"] * (1 << 20) / units
        return res


GUEST_WORKLOADS: list[Workload] = [FamEcho(), FamEchoPipe(), FamSink(), FamFlood(), FamDump(),
                                   FamDumpRss()]


def guest_setup(ctx: Ctx, proto: int | None) -> dict[str, Any]:
    """Checks that the family answers; returns facts for the report."""
    import nlfast

    p = proto if proto is not None else F().NLFAM_PROTO_DEFAULT
    ctx.facts["proto"] = p
    try:
        nlfast.Socket(p).close()
    except OSError as e:
        raise SystemExit(f"benchmarks.run --guest: cannot open netlink protocol {p}: "
                         f"{e.strerror or e}; load the nlfast family module first") from None
    return {"family_proto": p}
