"""The Python contenders: one function per kind of workload and style, run in a worker.

A workload (workloads.py) names its kind (dump, request, recv, send, decode)
and its parameters; each function, registered by @contender, takes them as
keywords plus ``count`` (the units to do) and returns ``{"count": items
handled, "seconds": of the measured loop only, ...}``.  Per item every
contender does the same work: check the type and the seq (or index), read
the workload's attributes.  nlfast is used through its public API only,
written the way README.md shows it.
"""

from __future__ import annotations

import errno
import os
import resource
import struct
import sys
import threading
import time
from array import array
from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any, Callable

from benchmarks import nlconst as K
from benchmarks.nlconst import NLA_TYPE_MASK, NLATTR, NLMSG_DONE, NLMSGHDR, U32

MISSING = (1 << 64) - 1
NL_KW: dict[str, Any] = {"rx_buffers": 64, "rx_bufsize": K.BIG_BUF, "rcvbuf": K.RCVBUF}
perf = time.perf_counter


class BenchError(RuntimeError):
    """A contender saw something the workload does not allow."""


class NotApplicable(RuntimeError):
    """This contender cannot do this workload (the table says n/a and why)."""


Fn = Callable[..., dict[str, Any]]
CONTENDERS: dict[tuple[str, str], Fn] = {}  # (kind, contender) -> its function


def contender(kind: str, rows: dict[str, dict[str, Any]]) -> Callable[[Fn], Fn]:
    """Registers a function for workloads of ``kind``: each row a contender
    (workloads.NAMES), the function with those keywords fixed."""
    def register(fn: Fn) -> Fn:
        for name, fixed in rows.items():
            CONTENDERS[kind, name] = fn if not fixed else (
                lambda fn=fn, fixed=fixed, **kw: fn(**{**kw, **fixed}))
        return fn
    return register


def maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def ready(portid: int) -> None:
    print(f"READY {portid}", file=sys.stderr, flush=True)


def nl(proto: int, **kw: Any) -> Any:
    """An nlfast socket with nlceil's receive set-up: 64 x 32 KiB, 32 MiB queue."""
    import nlfast

    return nlfast.Socket(proto, **{**NL_KW, **kw})


def body(size: int, attr: int = 0, first: bytes = b"") -> bytes:
    """``size`` pattern bytes (the first ones replaced by ``first``), bare or
    as attribute ``attr``."""
    data = first + K.pattern(size)[len(first):]
    return NLATTR.pack(4 + size, attr) + data + bytes(-size % 4) if attr else data


def receive(s: Any, buf: bytearray, simple: bool) -> tuple[Any, int]:
    """A datagram into ``buf`` (recv_into); ``simple``: as new bytes (recv)."""
    if simple:
        data = s.recv(65536)
        return data, len(data)
    return buf, s.recv_into(buf)


def done(count: int, t0: float, t1: float, units: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"count": count, "seconds": t1 - t0, "units": count if units is None else units, **extra}


# -- dumps: every entry of type `reply` with the dump's seq; `attrs` read (text:
# the first as a str; order: the first is an index counted from 0 in order) ---

def dump_request(count: int, hdrlen: int, size: int | None) -> tuple[int, bytes]:
    """(dumps to do, the request after its nlmsghdr): a family dump asks for
    ``count`` entries once; an rtnetlink dump is done ``count`` times."""
    if size is None:
        return count, bytes(hdrlen)
    return 1, K.attr_u32(K.FAM_A_COUNT, count) + K.attr_u32(K.FAM_A_SIZE, size)


def batch_bad(b: Any, reply: int, seq: int, hdrlen: int, attrs: list[int], text: bool = False,
              order: int = -1) -> int:
    """The columns checks of a dump's batch, in C calls: its entries of
    another type or seq or without the attributes (or out of ``order``: the
    first attribute counts on from it)."""
    n = len(b)
    bad: int = n - min(b.count(reply), b.seqs.tolist().count(seq))
    if order >= 0:
        gaps, nxt, absent = b.attr_gaps(attrs[0], order, hdrlen)
        return bad + gaps + absent + (nxt != order + n)
    if text:
        return bad + b.attr_str(attrs[0], hdrlen).count(None)
    for t in attrs:
        v = b.attr_uint(t, hdrlen, MISSING)
        bad += v.tolist().count(MISSING) if MISSING in v else 0
    return bad


@contender("dump", {"nlfast": {}, "nlfast-messages": {"messages": True}})
def dump_nlfast(count: int, proto: int, req: int, reply: int, hdrlen: int, attrs: list[int],
                text: bool = False, order: bool = False, size: int | None = None,
                messages: bool = False, **_: Any) -> dict[str, Any]:
    """Columns: per batch one C call per check and per attribute.
    ``messages``: per message, as README shows it: ``for m in
    s.dump_messages(msg)``, ``a = m.attrs(hdrlen)``, ``a.str()``/``a.u32()``."""
    from nlfast import Message

    dumps, payload = dump_request(count, hdrlen, size)
    one, two = attrs[0], (attrs[1] if len(attrs) > 1 else None)
    entries = bad = 0
    v: Any = None
    with nl(proto) as s:
        msg = Message(req, header=payload)
        before = maxrss()
        t0 = perf()
        for _ in range(dumps):
            seq = s.next_seq
            if messages:
                for m in s.dump_messages(msg):
                    if m.type != reply or m.seq != seq:
                        raise BenchError(f"message type {m.type} seq {m.seq} in the dump")
                    a = m.attrs(hdrlen)
                    if text:
                        v = a.str(one)
                    elif two is not None:
                        v = (a.u32(one), a.u32(two))
                    elif a.u32(one) != entries and order:
                        raise BenchError("dump entry out of order")
                    entries += 1
                continue
            for b in s.dump(msg):
                bad += batch_bad(b, reply, seq, hdrlen, attrs, text, entries if order else -1)
                entries += len(b)
        t1 = perf()
    if bad:
        raise BenchError(f"{bad} entries of another type or seq, out of order or without the attribute")
    return done(entries, t0, t1, count, rss_before_kib=before, rss_after_kib=maxrss(), last=str(v))


@contender("dump", {"stdlib": {}, "stdlib-simple": {"simple": True}})
def dump_stdlib(count: int, proto: int, req: int, reply: int, hdrlen: int, attrs: list[int],
                text: bool = False, order: bool = False, size: int | None = None,
                simple: bool = False, **_: Any) -> dict[str, Any]:
    """recv_into one reused buffer, Struct.unpack_from in place, one walk over
    the attributes.  ``simple``: recv() into new bytes."""
    dumps, payload = dump_request(count, hdrlen, size)
    one, two = attrs[0], (attrs[1] if len(attrs) > 1 else -1)
    s = K.open_socket(proto)
    buf = bytearray(K.BIG_BUF)
    hdr, nla, u32 = NLMSGHDR.unpack_from, NLATTR.unpack_from, U32.unpack_from
    skip = 16 + ((hdrlen + 3) & ~3)
    entries = 0
    v: Any = None
    before = maxrss()
    t0 = perf()
    for seq in range(1, dumps + 1):
        s.send(NLMSGHDR.pack(16 + len(payload), req, K.NLM_F_REQUEST | K.NLM_F_DUMP, seq, 0) + payload)
        end_of_dump = False
        while not end_of_dump:
            data, n = receive(s, buf, simple)
            off = 0
            while off + 16 <= n:
                ln, typ, _fl, sq, _pid = hdr(data, off)
                if ln < 16 or off + ln > n:
                    raise BenchError(f"bad nlmsg_len {ln} at {off} of {n}")
                if typ == NLMSG_DONE and sq == seq:
                    end_of_dump = True
                    break
                if typ != reply or sq != seq:
                    raise BenchError(f"message type {typ} seq {sq} in the dump")
                p, end = off + skip, off + ln
                p1 = p2 = e1 = -1
                while p + 4 <= end:
                    alen, atype = nla(data, p)
                    if alen < 4 or p + alen > end:
                        raise BenchError("malformed attribute")
                    atype &= NLA_TYPE_MASK
                    if atype == one:
                        p1, e1 = p + 4, p + alen
                        if two < 0 or p2 >= 0:
                            break
                    elif atype == two:
                        p2 = p + 4
                        if p1 >= 0:
                            break
                    p += (alen + 3) & ~3
                if p1 < 0 or (two >= 0 and p2 < 0):
                    raise BenchError("an entry without the attribute")
                if text:
                    z = data.find(0, p1, e1)
                    v = data[p1 : z if z >= 0 else e1].decode()
                elif two >= 0:
                    v = (u32(data, p1)[0], u32(data, p2)[0])
                elif u32(data, p1)[0] != entries and order:
                    raise BenchError("dump entry out of order")
                entries += 1
                off += (ln + 3) & ~3
    t1 = perf()
    s.close()
    return done(entries, t0, t1, count, rss_before_kib=before, rss_after_kib=maxrss(), last=str(v))


@contender("dump", {"pyroute2": {}})
def dump_pyroute2(count: int, proto: int, req: int, reply: int, size: int | None = None,
                  p2get: str = "", p2attrs: tuple[str, ...] = (), **_: Any) -> dict[str, Any]:
    """IPRoute().get_links() / get_addr(); for the family nlm_request() with
    NLM_F_DUMP.  The lists are kept as they are returned."""
    entries = 0
    before = maxrss()
    if size is not None:
        s, fammsg = p2_family(proto)
        m = fammsg()
        m["attrs"] = [("NLFAM_A_COUNT", count), ("NLFAM_A_SIZE", size)]
        t0 = perf()
        msgs = list(s.nlm_request(m, msg_type=req, msg_flags=K.NLM_F_REQUEST | K.NLM_F_DUMP))
        idx = [x.get_attr("NLFAM_A_INDEX") for x in msgs]
        t1 = perf()
        entries = len(idx)
        if idx != list(range(count)):
            raise BenchError("dump entries missing or out of order")
        s.close()
    else:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            get = getattr(ipr, p2get)
            t0 = perf()
            for _ in range(count):
                for m in get():
                    entries += p2_entry(m, reply, p2attrs)
            t1 = perf()
    return done(entries, t0, t1, count, rss_before_kib=before, rss_after_kib=maxrss())


def p2_entry(m: Any, reply: int, p2attrs: tuple[str, ...]) -> int:
    if m["header"]["type"] != reply or None in [m.get_attr(a) for a in p2attrs]:
        raise BenchError("an entry of another type or without the attribute")
    return 1


def p2_family(proto: int) -> Any:
    """A pyroute2 NetlinkSocket that knows the family's attributes."""
    from pyroute2.netlink import nlmsg
    from pyroute2.netlink.nlsocket import NetlinkSocket

    class fammsg(nlmsg):
        nla_map = tuple((f"NLFAM_A_{n}", t) for n, t in (
            ("UNSPEC", "none"), ("TEXT", "asciiz"), ("DATA", "cdata"), ("COUNT", "uint32"),
            ("SIZE", "uint32"), ("GROUP", "uint32"), ("INDEX", "uint32")))

    s = NetlinkSocket(family=proto)
    s.bind()
    for t in range(16, 32):
        s.marshal.msg_map[t] = fammsg
    return s, fammsg


# -- request/reply: `req`, one `reply` each carrying `attr` (text: decoded as a
# str; else its length must be `size`); RTM_GETLINK when `ifindex` is set ----

def request_payload(ifindex: int = 0, size: int = 0, attr: int = 0) -> bytes:
    return struct.pack("=BxHiII", 0, 0, ifindex, 0, 0) if ifindex else body(size, attr)


def request_msg(req: int, attr: int, ifindex: int, size: int) -> Any:
    """The request as README builds one: RTM_GETLINK of ``ifindex``, or ``req``
    with ``size`` pattern bytes as attribute ``attr``."""
    from nlfast import Message, attrs, rtnl

    if ifindex:
        return Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=ifindex))
    return Message(req, attrs=[attrs.binary(attr, K.pattern(size))])


def check_reply(m: Any, reply: int, hdrlen: int, attr: int, text: bool, size: int) -> None:
    a = m.attrs(hdrlen)
    if m.type != reply or (len(a.str(attr)) < 1 if text else len(a.bytes(attr)) != size):
        raise BenchError(f"a reply of type {m.type} without the right attribute")


@contender("request", {"nlfast": {}})
def request_nlfast(count: int, proto: int, req: int, reply: int, hdrlen: int, attr: int,
                   text: bool = False, ifindex: int = 0, size: int = 0, window: int = 64,
                   **_: Any) -> dict[str, Any]:
    """Columns: send_repeat refills the window in C; count, seq_gaps (in
    order) and the attribute column check the replies."""
    from nlfast import Message

    got = gaps = 0
    with nl(proto) as s:
        tmpl = Message(req, header=request_payload(ifindex, size, attr)).encode()
        s.next_seq = expect = 1
        t0 = perf()
        sent = s.send_repeat(tmpl, min(window, count))
        while got < count:
            b = s.recv(5.0)
            ok = b.count(reply)
            if ok != len(b):
                errs = [e for e in b.errors.tolist() if e]
                raise BenchError(f"{len(b) - ok} replies of another type (errnos {errs[:3]})")
            g, expect = b.seq_gaps(reply, expect)
            gaps += g
            if text:
                bad = b.attr_str(attr, hdrlen).count(None)
            else:
                bad = ok - b.attr_column(attr, hdrlen)[1].tolist().count(size)
            if bad:
                raise BenchError(f"{bad} replies without the right attribute")
            got += ok
            k = min(ok, count - sent)
            if k:
                sent += s.send_repeat(tmpl, k)
        t1 = perf()
    if gaps:
        raise BenchError(f"{gaps} replies missing")
    return done(got, t0, t1)


@contender("request", {"nlfast-request": {}, "nlfast-request_many": {"many": True, "ack": False}, "nlfast-request_many-ack": {"many": True}})
def request_nlfast_calls(count: int, proto: int, req: int, reply: int, hdrlen: int, attr: int,
                         text: bool = False, ifindex: int = 0, size: int = 0, window: int = 64,
                         many: bool = False, ack: bool = True, **_: Any) -> dict[str, Any]:
    """As README shows them: one in flight, ``(m,) = s.request(msg)``; or
    ``many``: ``s.request_many([msg] * n)`` (``ack=False``: each done at its
    reply rather than at its ack)."""
    with nl(proto) as s:
        msg = request_msg(req, attr, ifindex, size)
        t0 = perf()
        if many:
            for r in s.request_many([msg] * count, window=window, ack=ack):
                if not isinstance(r, list) or len(r) != 1:
                    raise BenchError(f"a request answered {r!r}")
                check_reply(r[0], reply, hdrlen, attr, text, size)
        else:
            for _ in range(count):
                (m,) = s.request(msg)
                check_reply(m, reply, hdrlen, attr, text, size)
        t1 = perf()
    return done(count, t0, t1)


@contender("request", {"stdlib": {}, "stdlib-simple": {"window": 1, "simple": True}})
def request_stdlib(count: int, proto: int, req: int, reply: int, hdrlen: int, attr: int,
                   text: bool = False, ifindex: int = 0, size: int = 0, window: int = 64,
                   simple: bool = False, **_: Any) -> dict[str, Any]:
    """``window`` requests per datagram (seqs written by one array slice
    assignment), recv_into, parsed in place.  ``simple``: one at a time,
    plainly (struct.pack, send, recv)."""
    payload = request_payload(ifindex, size, attr)
    one = NLMSGHDR.pack(16 + len(payload), req, K.NLM_F_REQUEST, 0, 0) + payload
    words = len(one) // 4
    s = K.open_socket(proto)
    reqs = array("I")
    reqs.frombytes(one * window)
    raw = memoryview(reqs).cast("B")
    buf = bytearray(K.BIG_BUF)
    hdr, nla = NLMSGHDR.unpack_from, NLATTR.unpack_from
    got = 0
    seq = expect = 1

    def send(k: int) -> None:
        nonlocal seq
        if simple:
            s.send(struct.pack("=IHHII", len(one), req, K.NLM_F_REQUEST, seq, 0) + payload)
        else:
            reqs[2 : words * k : words] = array("I", range(seq, seq + k))
            s.send(raw[: len(one) * k])
        seq += k

    t0 = perf()
    send(min(window, count))
    while got < count:
        data, n = receive(s, buf, simple)
        off = replies = 0
        while off + 16 <= n:
            ln, typ, _fl, sq, _pid = hdr(data, off)
            if ln < 16 or off + ln > n or typ != reply or sq != expect:
                raise BenchError(f"reply type {typ} len {ln} seq {sq}, expected seq {expect}")
            p, end = off + 16 + hdrlen, off + ln
            v = None
            while p + 4 <= end:
                alen, atype = nla(data, p)
                if alen < 4 or p + alen > end:
                    raise BenchError("malformed attribute")
                if atype & NLA_TYPE_MASK == attr:
                    v = data[p + 4 : data.find(0, p + 4, p + alen)].decode() if text else alen - 4
                    break
                p += (alen + 3) & ~3
            if v is None or (not text and v != size):
                raise BenchError("a reply without the right attribute")
            expect += 1
            replies += 1
            off += (ln + 3) & ~3
        got += replies
        k = min(replies, count - seq + 1)
        if k:
            send(k)
    t1 = perf()
    s.close()
    return done(got, t0, t1)


@contender("request", {"pyroute2": {}})
def request_pyroute2(count: int, proto: int, req: int, reply: int, ifindex: int = 0,
                     size: int = 0, **_: Any) -> dict[str, Any]:
    """``IPRoute().link("get", index=...)``; for the family nlm_request()."""
    if ifindex:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            t0 = perf()
            for _ in range(count):
                (m,) = ipr.link("get", index=ifindex)
                if m["header"]["type"] != reply or m.get_attr("IFLA_IFNAME") is None:
                    raise BenchError("wrong reply")
            t1 = perf()
        return done(count, t0, t1)
    s, fammsg = p2_family(proto)
    data = K.pattern(size)
    t0 = perf()
    for _ in range(count):
        m = fammsg()
        m["attrs"] = [("NLFAM_A_DATA", data)]
        (r,) = tuple(s.nlm_request(m, msg_type=req, msg_flags=K.NLM_F_REQUEST))
        if r["header"]["type"] != reply or len(r.get_attr("NLFAM_A_DATA")) != size:
            raise BenchError("bad echo")
    t1 = perf()
    s.close()
    return done(count, t0, t1)


# -- asyncio (nlfast.aio), as README shows it ------------------------------------

@contender("dump", {"nlfast-aio": {}})
def dump_nlfast_aio(count: int, proto: int, req: int, reply: int, hdrlen: int,
                    attrs: list[int], text: bool = False, **_: Any) -> dict[str, Any]:
    """``async for b in s.dump(msg)`` with the columns checks of dump_nlfast."""
    import asyncio

    import nlfast.aio
    from nlfast import Message

    async def main() -> dict[str, Any]:
        entries = bad = 0
        async with nlfast.aio.Socket(proto, **NL_KW) as s:
            msg = Message(req, header=bytes(hdrlen))
            t0 = perf()
            for _ in range(count):
                seq = s.next_seq
                async for b in s.dump(msg):
                    bad += batch_bad(b, reply, seq, hdrlen, attrs, text)
                    entries += len(b)
            t1 = perf()
        if bad:
            raise BenchError(f"{bad} entries of another type or seq or without the attribute")
        return done(entries, t0, t1, count)

    return asyncio.run(main())


@contender("dump", {"pyroute2-aio": {}})
def dump_pyroute2_aio(count: int, reply: int, p2get: str = "", p2attrs: tuple[str, ...] = (),
                      **_: Any) -> dict[str, Any]:
    """``async for m in await AsyncIPRoute().get_links()`` (pyroute2 >= 0.9)."""
    import asyncio

    try:
        from pyroute2 import AsyncIPRoute
    except ImportError as e:
        raise NotApplicable(f"this pyroute2 has no AsyncIPRoute ({e})") from None

    async def main() -> dict[str, Any]:
        entries = 0
        async with AsyncIPRoute() as ipr:
            t0 = perf()
            for _ in range(count):
                async for m in await getattr(ipr, p2get)():
                    entries += p2_entry(m, reply, p2attrs)
            t1 = perf()
        return done(entries, t0, t1, count)

    return asyncio.run(main())


@contender("request", {"nlfast-aio-request": {}, "nlfast-aio-coroutines": {"coroutines": 1000}})
def request_nlfast_aio(count: int, proto: int, req: int, reply: int, hdrlen: int, attr: int,
                       text: bool = False, ifindex: int = 0, size: int = 0,
                       coroutines: int = 1, **_: Any) -> dict[str, Any]:
    """``(m,) = await s.request(msg)``: one in flight, or ``coroutines``
    coroutines sharing one socket and ``count`` requests."""
    import asyncio

    import nlfast.aio

    msg = request_msg(req, attr, ifindex, size)

    async def main() -> dict[str, Any]:
        async with nlfast.aio.Socket(proto, **NL_KW) as s:

            async def worker(n: int) -> None:
                for _ in range(n):
                    (m,) = await s.request(msg)
                    check_reply(m, reply, hdrlen, attr, text, size)

            k = max(1, min(coroutines, count))
            t0 = perf()
            await asyncio.gather(*[worker(count // k + (i < count % k)) for i in range(k)])
            t1 = perf()
        return done(count, t0, t1)

    return asyncio.run(main())


# -- receivers: messages of `mtype` in order, by seq (from 1) or by the u32
# attribute `index` (from 0); an `end_type` message ends the run.  `flood`: a
# second socket asks the family for them, from a thread ------------------------

def flood_thread(count: int, flood: dict[str, int] | None, group: int, proto: int) -> Any:
    """(now, a thread) that asks for the flood from a second socket (the kernel
    floods inside that request) and waits for its ack; errors go to .errors.
    (None, None) without ``flood``."""
    if not flood:
        return None, None
    size = flood["size"]
    req = K.attr_u32(K.FAM_A_COUNT, count) + K.attr_u32(K.FAM_A_SIZE, size) + K.attr_u32(K.FAM_A_GROUP, group)
    req = NLMSGHDR.pack(16 + len(req), K.FAM_MSG_FLOOD, K.NLM_F_REQUEST | K.NLM_F_ACK, 1, 0) + req
    s = K.open_socket(proto)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            s.send(req)
            stdlib_wait_ack(s, 1)
        except BaseException as e:
            errors.append(e)
        finally:
            s.close()

    th = threading.Thread(target=go, daemon=True)
    th.errors = errors  # type: ignore[attr-defined]
    t0 = perf()  # from the request on, as nlceil's flood-recv
    th.start()
    return t0, th


def recv_done(count: int, first: int, got: int, gaps: int, expect: int, t_first: float | None,
              t_last: float, th: Any, **extra: Any) -> dict[str, Any]:
    if th is not None:
        th.join(5)
        if th.errors:
            raise BenchError(f"the flood request failed: {th.errors[0]}")
    return done(got, t_first if t_first is not None and got else t_last, t_last, requested=count,
                lost=gaps + max(0, first + count - expect), **extra)


@contender("recv", {"nlfast": {}, "nlfast-simple": {"simple": True}})
def recv_nlfast(count: int, proto: int, mtype: int, group: int = 0, index: int = 0,
                end_type: int = 0, flood: dict[str, int] | None = None, timeout: float = 5.0,
                rcvbuf: int = K.RCVBUF, simple: bool = False, **_: Any) -> dict[str, Any]:
    """Columns: Batch.seq_gaps / attr_gaps check the order in C.  ``simple``:
    per message, ``m.type`` and ``m.seq`` (or ``m.attrs().u32(index)``)."""
    import nlfast

    expect = first = 0 if index else 1
    got = gaps = overruns = 0
    t_last = 0.0
    with nl(proto, groups=[group] if group else [], rcvbuf=rcvbuf) as s:
        ready(s.portid)
        t_first, th = flood_thread(count, flood, group, proto)
        wait = 0.05 if th else 30.0
        while expect < first + count:
            try:
                b = s.recv(wait)
            except TimeoutError:
                if th is not None and th.is_alive():
                    continue
                break
            except nlfast.OverrunError:
                overruns += 1
                continue
            if t_first is None:
                t_first = perf()
                wait = timeout
            end = False
            if not simple:
                n = b.count(mtype)
                if index:
                    g, expect, absent = b.attr_gaps(index, expect)
                    if absent or n != len(b):
                        raise BenchError("a message of another type or without its index")
                else:
                    g, expect = b.seq_gaps(mtype, expect)
                    end = bool(end_type and b.count(end_type))
                got += n
                gaps += g
            else:
                for m in b:
                    t = m.type
                    if t == mtype:
                        k = m.attrs().u32(index) if index else m.seq
                        if k > expect:
                            gaps += k - expect
                        expect = k + 1
                        got += 1
                    elif t == end_type:
                        end = True
                    else:
                        raise BenchError(f"a message of type {t}")
            t_last = perf()
            if end:
                break
        drops = s.drops()
    return recv_done(count, first, got, gaps, expect, t_first, t_last, th, overruns=overruns,
                     kernel_drops=drops)


@contender("recv", {"stdlib": {}, "stdlib-simple": {"simple": True}})
def recv_stdlib(count: int, proto: int, mtype: int, group: int = 0, index: int = 0,
                end_type: int = 0, flood: dict[str, int] | None = None, timeout: float = 5.0,
                rcvbuf: int = K.RCVBUF, simple: bool = False, **_: Any) -> dict[str, Any]:
    """recv_into a reused buffer, unpack_from in place (``simple``: recv()
    into new bytes); ENOBUFS counted."""
    first = 0 if index else 1
    s = K.open_socket(proto, rcvbuf)
    if group:
        s.setsockopt(K.SOL_NETLINK, K.NETLINK_ADD_MEMBERSHIP, group)
    ready(s.getsockname()[0])
    buf = bytearray(K.BIG_BUF)
    hdr, nla, u32 = NLMSGHDR.unpack_from, NLATTR.unpack_from, U32.unpack_from
    got = gaps = enobufs = 0
    expect, t_last = first, 0.0
    t_first, th = flood_thread(count, flood, group, proto)
    s.settimeout(0.05 if th else 30.0)
    end = False
    while expect < first + count and not end:
        try:
            data, n = receive(s, buf, simple)
        except TimeoutError:
            if th is not None and th.is_alive():
                continue
            break
        except OSError as e:
            if e.errno != errno.ENOBUFS:
                raise
            enobufs += 1
            continue
        if t_first is None:
            t_first = perf()
            s.settimeout(timeout)
        off = 0
        while off + 16 <= n:
            ln, typ, _fl, k, _pid = hdr(data, off)
            if ln < 16 or off + ln > n:
                raise BenchError("bad nlmsg_len")
            if typ == mtype:
                if index:
                    p, e = off + 16, off + ln
                    while p + 4 <= e:
                        alen, atype = nla(data, p)
                        if alen < 4 or p + alen > e:
                            raise BenchError("malformed attribute")
                        if atype & NLA_TYPE_MASK == index:
                            break
                        p += (alen + 3) & ~3
                    else:
                        raise BenchError("a message without its index")
                    (k,) = u32(data, p + 4)
                if k > expect:
                    gaps += k - expect
                expect = k + 1
                got += 1
            elif typ == end_type:
                end = True
            else:
                raise BenchError(f"a message of type {typ}")
            off += (ln + 3) & ~3
        t_last = perf()
    s.close()
    return recv_done(count, first, got, gaps, expect, t_first, t_last, th, enobufs=enobufs)


@contender("recv", {"pyroute2": {}})
def recv_pyroute2(count: int, proto: int, mtype: int, group: int = 0, end_type: int = 0,
                  flood: dict[str, int] | None = None, rcvbuf: int = K.RCVBUF,
                  **_: Any) -> dict[str, Any]:
    """NetlinkSocket.get() parses each datagram into nlmsg objects; an
    overrun comes out as ENOBUFS.  get() has no timeout: the END message
    ends the run, the harness's timeout a hung one."""
    import socket

    from pyroute2.netlink.nlsocket import NetlinkSocket

    if flood:
        raise NotApplicable("pyroute2's get() has no timeout to notice the end of a lossy flood")
    s = NetlinkSocket(family=proto, rcvbuf=rcvbuf)
    s.bind(groups=(1 << (group - 1)) if group else 0)
    s.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE, as for the others
    ready(s.asyncore.socket.getsockname()[0])
    got = gaps = enobufs = 0
    expect = 1
    end = False
    t_first: float | None = None
    t_last = 0.0
    while expect <= count and not end:
        try:
            msgs = s.get()
        except OSError as e:  # pyroute2's NetlinkError is one too
            if errno.ENOBUFS not in (getattr(e, "code", None), e.errno):
                raise
            enobufs += 1
            continue
        if t_first is None:
            t_first = perf()
        for m in msgs:
            h = m["header"]
            if h["type"] == mtype:
                k = h["sequence_number"]
                gaps += max(0, k - expect)
                expect = k + 1
                got += 1
            end = end or h["type"] == end_type
        t_last = perf()
    s.close()
    return recv_done(count, 1, got, gaps, expect, t_first, t_last, None, enobufs=enobufs)


# -- senders: `count` messages of `mtype`, seqs 1..N, to `dest`, each with `size`
# payload bytes (as attribute `attr` if set); `barrier`: the last one asks for an
# ack, awaited.  Distinct messages carry their index in their payload and are
# all prepared before the clock starts ------------------------------------------

def distinct_bodies(count: int, size: int, attr: int) -> list[bytes]:
    """At most 64 datagrams' worth, sent over and over: memory stays bounded."""
    pool = K.BIG_BUF // (16 + len(body(size, attr))) * 64
    return [body(size, attr, i.to_bytes(4, "little")) for i in range(min(count, pool))]


def stdlib_wait_ack(s: Any, seq: int) -> None:
    buf = bytearray(K.BIG_BUF)
    while True:
        n, off = s.recv_into(buf), 0
        while off + 16 <= n:
            ln, typ, _fl, sq, _pid = NLMSGHDR.unpack_from(buf, off)
            err = struct.unpack_from("=i", buf, off + 16)[0] if typ == K.NLMSG_ERROR else 0
            if err:
                raise BenchError(f"NLMSG_ERROR {err}")
            if typ == K.NLMSG_ERROR and sq == seq:
                return
            off += (ln + 3) & ~3


def acked(batch: Any, seq: int) -> bool:
    for m in batch:
        if m.type == K.NLMSG_ERROR and m.error:
            raise m.to_error()
        if m.type == K.NLMSG_ERROR and m.seq == seq:
            return True
    return False


@contender("send", {"nlfast": {}, "nlfast-send_batch": {"how": "send_batch"}, "nlfast-simple": {"how": "send"}})
def send_nlfast(count: int, proto: int, mtype: int, flags: int = 0, size: int = 16,
                attr: int = 0, dest: int = 0, barrier: bool = False,
                how: str = "send_repeat", **_: Any) -> dict[str, Any]:
    """``how``: send_repeat (framed and sent in C), send_batch of distinct
    prepared Messages, or send() per message; then the barrier."""
    from nlfast import Message

    payload = body(size, attr)
    n = count - barrier
    with nl(proto, sndbuf=K.RCVBUF) as s:
        msg = Message(mtype, flags, header=payload)
        if how == "send_batch":
            msgs = [Message(mtype, flags, header=b) for b in distinct_bodies(n, size, attr)]
        s.next_seq = 1
        t0 = perf()
        if how == "send_repeat":
            s.send_repeat(msg.encode(), n, dest=dest)
        elif how == "send_batch":
            for i in range(0, n, len(msgs)):
                s.send_batch(msgs if n - i >= len(msgs) else msgs[: n - i], dest=dest)
        else:
            for _ in range(n):
                s.send(msg, dest=dest)
        if barrier:
            seq = s.send(Message(mtype, flags | K.NLM_F_ACK, header=payload), dest=dest)
            while not acked(s.recv(5.0), seq):
                pass
        t1 = perf()
    return done(count, t0, t1)


@contender("send", {"stdlib": {}, "stdlib-distinct": {"how": "distinct"}, "stdlib-simple": {"how": "simple"}})
def send_stdlib(count: int, proto: int, mtype: int, flags: int = 0, size: int = 16,
                attr: int = 0, dest: int = 0, barrier: bool = False,
                how: str = "batched", **_: Any) -> dict[str, Any]:
    """``how``: batched (32 KiB datagrams of one message, seqs written by an
    array slice assignment), distinct (the prepared payloads framed by one
    Struct.pack each, joined per datagram) or simple (pack, sendto, repeat)."""
    payload = body(size, attr)
    msglen = 16 + len(payload)
    per = max(1, K.BIG_BUF // msglen)
    n = count - barrier
    s = K.open_socket(proto)
    pid = s.getsockname()[0]
    addr = (dest, 0)
    bodies = distinct_bodies(n, size, attr) if how == "distinct" else []
    pack = struct.Struct(f"=IHHII{len(payload)}s").pack
    words = array("I")
    words.frombytes((NLMSGHDR.pack(msglen, mtype, flags, 0, pid) + payload) * per)
    raw = memoryview(words).cast("B")
    t0 = perf()
    if how == "simple":
        for seq in range(1, n + 1):
            s.sendto(struct.pack("=IHHII", msglen, mtype, flags, seq, pid) + payload, addr)
    for seq in range(1, n + 1, per) if how != "simple" else ():
        k = min(per, n + 1 - seq)
        if how == "distinct":  # the pool holds whole datagrams: o + k stays inside
            o = (seq - 1) % len(bodies)
            s.sendto(b"".join(map(pack, repeat(msglen, k), repeat(mtype, k), repeat(flags, k),
                                  range(seq, seq + k), repeat(pid, k), bodies[o : o + k])), addr)
        else:
            words[2 : msglen // 4 * k : msglen // 4] = array("I", range(seq, seq + k))
            s.sendto(raw[: msglen * k], addr)
    if barrier:
        s.sendto(NLMSGHDR.pack(msglen, mtype, flags | K.NLM_F_ACK, count, pid) + payload, addr)
        stdlib_wait_ack(s, count)
    t1 = perf()
    s.close()
    return done(count, t0, t1)


@contender("send", {"pyroute2": {}})
def send_pyroute2(count: int, proto: int, mtype: int, flags: int = 0, size: int = 16,
                  attr: int = 0, dest: int = 0, barrier: bool = False, **_: Any) -> dict[str, Any]:
    """NetlinkSocket.put() of an nlmsg subclass (put() in pyroute2 0.9 ignores
    its address: the socket is connected to ``dest`` first)."""
    from pyroute2.netlink import nlmsg

    if attr:
        s, msgcls = p2_family(proto)
        key, data = "attrs", [("NLFAM_A_DATA", K.pattern(size))]
    else:
        from pyroute2.netlink.nlsocket import NetlinkSocket

        class msgcls(nlmsg):  # type: ignore[no-redef]
            fields = (("data", f"{size}s"),)

        s = NetlinkSocket(family=proto)
        s.bind()
        s.asyncore.connect((dest, 0))
        key, data = "data", K.pattern(size)  # type: ignore[assignment]
    t0 = perf()
    for seq in range(1, count + 1):
        m = msgcls()
        m[key] = data
        if barrier and seq == count:
            tuple(s.nlm_request(m, msg_type=mtype, msg_flags=flags | K.NLM_F_ACK))
        else:
            s.put(m, mtype, msg_flags=flags, msg_seq=seq)
    t1 = perf()
    s.close()
    return done(count, t0, t1)


# -- names from specs (nlfast.spec, as README shows it) beside the numeric API,
# the kernel's own spec client (ynl) and pyroute2 ---------------------------------

def kernel_tree(*parts: str) -> str | None:
    """A path in the kernel tree of $NLFAST_KERNEL_TREE (make bench sets it), or None."""
    tree = os.environ.get("NLFAST_KERNEL_TREE")
    return os.path.join(tree, *parts) if tree else None


@contender("dump", {"nlfast-spec": {}})
def dump_nlfast_spec(count: int, reply: int, **_: Any) -> dict[str, Any]:
    """``for b in rt.batches("getlink")``: ``rt.column(b, "ifname")``, checked
    as the numeric columns are (type, seq, no name missing)."""
    from nlfast import spec

    entries = bad = 0
    with spec.open("rt-link", **NL_KW) as rt:
        t0 = perf()
        for _ in range(count):
            seq = rt.sock.next_seq
            for b in rt.batches("getlink"):
                bad += batch_bad(b, reply, seq, 0, []) + rt.column(b, "ifname").count(None)
                entries += len(b)
        t1 = perf()
    if bad:
        raise BenchError(f"{bad} entries of another type or seq or without a name")
    return done(entries, t0, t1, count)


@contender("request", {"nlfast-do": {}})
def request_nlfast_do(count: int, ifindex: int, **_: Any) -> dict[str, Any]:
    """``rt.do("getlink", {"ifi-index": i})``: one in flight, acked, as request()."""
    from nlfast import spec

    with spec.open("rt-link", **NL_KW) as rt:
        t0 = perf()
        for _ in range(count):
            if not rt.do("getlink", {"ifi-index": ifindex})["ifname"]:
                raise BenchError("a reply without its name")
        t1 = perf()
    return done(count, t0, t1)


def captured_links() -> list[list[bytes]]:
    """One RTM_GETLINK dump, the messages of each datagram, taken before the
    clock: every decoding contender gets these bytes."""
    s = K.open_socket(K.NETLINK_ROUTE)
    s.send(NLMSGHDR.pack(32, K.RTM_GETLINK, K.NLM_F_REQUEST | K.NLM_F_DUMP, 1, 0) + bytes(16))
    out: list[list[bytes]] = []
    end = False
    while not end:
        data, off, msgs = s.recv(K.BIG_BUF), 0, []
        while off + 16 <= len(data):
            ln, typ = NLMSGHDR.unpack_from(data, off)[:2]
            if typ == NLMSG_DONE:
                end = True
                break
            if typ != K.RTM_NEWLINK or ln < 16:
                raise BenchError(f"a message of type {typ} in the dump")
            msgs.append(data[off : off + ((ln + 3) & ~3)])
            off += (ln + 3) & ~3
        if msgs:
            out.append(msgs)
    s.close()
    return out


def decode(count: int, items: list[Any], names: Callable[[Any], Iterable[Any]]) -> dict[str, Any]:
    """``count`` times over the captured ``items``: ``names`` decodes one and
    gives the name of each link in it (none may be missing)."""
    entries = bad = 0
    t0 = perf()
    for _ in range(count):
        for x in items:
            for name in names(x):
                bad += not name
                entries += 1
    t1 = perf()
    if bad:
        raise BenchError(f"{bad} links decoded without their name")
    return done(entries, t0, t1, count)


@contender("decode", {"nlfast-to_dict": {}})
def decode_nlfast(count: int, **_: Any) -> dict[str, Any]:
    """``rt.to_dict(MessageView.from_bytes(m))`` of every message; the
    kernel's rt_link.yaml (every attribute) when NLFAST_KERNEL_TREE is set,
    else the shipped rt-link."""
    from nlfast import MessageView, spec

    msgs = [m for d in captured_links() for m in d]
    with spec.open(kernel_tree("Documentation/netlink/specs/rt_link.yaml") or "rt-link") as rt:
        return decode(count, msgs, lambda m: (rt.to_dict(MessageView.from_bytes(m)).get("ifname"),))


@contender("decode", {"ynl": {}})
def decode_ynl(count: int, **_: Any) -> dict[str, Any]:
    """The kernel's tools/net/ynl/lib (imported from NLFAST_KERNEL_TREE, not
    copied): what its dump() does with each datagram received, NlMsgs, then
    per message nlproto.decode, _decode of the attributes, _decode_struct."""
    lib = kernel_tree("tools/net/ynl")
    if lib is None:
        raise NotApplicable("NLFAST_KERNEL_TREE is not set: no kernel spec client to compare "
                            "against (make bench sets it from tools/kernel-tree.sh)")
    sys.path.insert(0, lib)
    from lib.ynl import NlMsgs, YnlFamily  # type: ignore[import-not-found]

    # schema="": no jsonschema check (at load, outside the clock); process_unknown:
    # attributes newer than the tree's spec kept raw (its CLI's --process-unknown)
    ynl = YnlFamily(kernel_tree("Documentation/netlink/specs/rt_link.yaml"), schema="",
                    process_unknown=True)
    op = ynl.ops["getlink"]
    def names(data: bytes) -> Iterator[Any]:
        for nm in NlMsgs(data, attr_space=op.attr_set):
            m = ynl.nlproto.decode(ynl, nm, op)
            d = ynl._decode(m.raw_attrs, op.attr_set.name)
            d.update(ynl._decode_struct(m.raw, op.fixed_header))
            yield d.get("ifname")

    return decode(count, [b"".join(d) for d in captured_links()], names)


@contender("decode", {"pyroute2": {}})
def decode_pyroute2(count: int, **_: Any) -> dict[str, Any]:
    """``MarshalRtnl().parse(datagram)`` (what IPRoute does with each
    datagram), then ``dump()`` of each message: every attribute into dicts,
    as to_dict gives them (parse alone leaves nested attributes undecoded)."""
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl

    parse = MarshalRtnl().parse

    def names(data: bytes) -> Iterator[Any]:
        for m in parse(data):
            d = m.dump()
            yield next((v for k, v in d["attrs"] if k == "IFLA_IFNAME"), None)

    return decode(count, [b"".join(d) for d in captured_links()], names)

