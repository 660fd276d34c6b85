"""rtnetlink workloads (host kernel, inside the benchmark's namespace).

* ``linkdump``: RTM_GETLINK dump; per link: type RTM_NEWLINK, the dump's
  seq, IFLA_IFNAME decoded to a str.
* ``addrdump``: RTM_GETADDR dump (AF_UNSPEC); per address: type
  RTM_NEWADDR, the dump's seq, IFA_ADDRESS (else IFA_LOCAL) decoded: an
  IPv4 address as a u32 (the namespace holds only IPv4 addresses; other
  lengths would be kept as bytes).
* ``getlink``: RTM_GETLINK for one ifindex, replies matched to requests by
  seq (in order), IFLA_IFNAME decoded; the batch contenders keep ``window``
  requests in flight, the simple ones one.

Every function takes ``count`` (dumps, or requests) and returns the
worker's result dict (see benchmarks.worker).  Per-entry work is the same
for every contender; only how it is done differs.
"""

from __future__ import annotations

import struct
import time
from array import array
from typing import Any

from benchmarks.nlconst import (
    BIG_BUF,
    I32,
    IFA_ADDRESS,
    IFA_LOCAL,
    IFADDRMSG_LEN,
    IFINFOMSG_LEN,
    IFLA_IFNAME,
    NETLINK_ROUTE,
    NLA_TYPE_MASK,
    NLATTR,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSGHDR,
    RCVBUF,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    U32,
    open_socket,
)

MISSING = (1 << 64) - 1

# What each dump workload asks for and decodes: request type, reply type,
# family header length, the attribute, its fallback, decode to str?
DUMPS = {
    "linkdump": (RTM_GETLINK, RTM_NEWLINK, IFINFOMSG_LEN, IFLA_IFNAME, -1, True),
    "addrdump": (RTM_GETADDR, RTM_NEWADDR, IFADDRMSG_LEN, IFA_ADDRESS, IFA_LOCAL, False),
}


class BenchError(RuntimeError):
    """A contender saw something the workload does not allow."""


def _result(entries: int, seconds: float, units: int, **extra: Any) -> dict[str, Any]:
    return {"count": entries, "seconds": seconds, "units": units, **extra}


def _check_clean(unexpected: int, missing: int) -> None:
    if unexpected or missing:
        raise BenchError(f"{unexpected} unexpected messages, {missing} without the attribute")


# -- nlfast ---------------------------------------------------------------


def _nlfast_socket(**kw: Any) -> Any:
    import nlfast

    # The same receive set-up as nlceil: 64 buffers of 32 KiB, 32 MiB queue.
    return nlfast.Socket(nlfast.NETLINK_ROUTE, rcvbuf=RCVBUF, rx_buffers=64,
                         rx_bufsize=BIG_BUF, **kw)


def dump_nlfast(workload: str, count: int) -> dict[str, Any]:
    """Batch path: one C call per column per receive (no per-message Python)."""
    from nlfast import Message

    req, rtype, hdrlen, want, fallback, as_str = DUMPS[workload]
    entries = unexpected = missing = 0
    with _nlfast_socket() as s:
        msg = Message(req, header=bytes(hdrlen))
        t0 = time.perf_counter()
        for _ in range(count):
            seq = s.next_seq
            for b in s.dump(msg):
                n = len(b)
                typed = b.count(rtype)
                seqd = b.seqs.tolist().count(seq)
                if typed != n or seqd != n:
                    unexpected += n - min(typed, seqd)
                if as_str:
                    vals: Any = b.attr_str(want, hdrlen)
                    missing += vals.count(None)
                else:
                    # decoded in C into a uint64 column; MISSING marks rows
                    # without a 1/2/4/8-byte IFA_ADDRESS: those fall back to
                    # IFA_LOCAL, then to bytes (IPv6).
                    vals = b.attr_uint(want, hdrlen, MISSING)
                    if MISSING in vals:
                        alt = b.attr_uint(fallback, hdrlen, MISSING)
                        raw = b.attr_bytes(want, hdrlen)
                        vals = [v if v != MISSING else a if a != MISSING else r
                                for v, a, r in zip(vals, alt, raw)]
                        missing += vals.count(None)
                entries += n
        t1 = time.perf_counter()
    _check_clean(unexpected, missing)
    return _result(entries, t1 - t0, count, last=_show(vals[-1]))


def dump_nlfast_simple(workload: str, count: int) -> dict[str, Any]:
    """Simple path: one MessageView per entry, ``m.attrs(...).get(...)``."""
    from nlfast import Message

    req, rtype, hdrlen, want, fallback, as_str = DUMPS[workload]
    entries = unexpected = missing = 0
    v: Any = None
    with _nlfast_socket() as s:
        msg = Message(req, header=bytes(hdrlen))
        t0 = time.perf_counter()
        for _ in range(count):
            seq = s.next_seq
            for m in s.dump_messages(msg):
                if m.type != rtype or m.seq != seq:
                    unexpected += 1
                    continue
                a = m.attrs(hdrlen)
                try:
                    v = a.str(want) if as_str else a.u32(want)
                except KeyError:
                    try:
                        v = a.u32(fallback)
                    except KeyError:
                        missing += 1
                entries += 1
        t1 = time.perf_counter()
    _check_clean(unexpected, missing)
    return _result(entries, t1 - t0, count, last=_show(v))


# -- stdlib socket ----------------------------------------------------------


def dump_stdlib(workload: str, count: int) -> dict[str, Any]:
    """Pure Python done well: recv_into one reused buffer, Struct.unpack_from
    in place, attributes walked without copying."""
    req, rtype, hdrlen, want, fallback, as_str = DUMPS[workload]
    s = open_socket(NETLINK_ROUTE)
    buf = bytearray(BIG_BUF)
    recv_into = s.recv_into
    hdr = NLMSGHDR.unpack_from
    nla = NLATTR.unpack_from
    u32 = U32.unpack_from
    skip = 16 + ((hdrlen + 3) & ~3)
    request = bytearray(16 + hdrlen)
    entries = unexpected = missing = 0
    v: Any = None
    t0 = time.perf_counter()
    for d in range(count):
        seq = d + 1
        NLMSGHDR.pack_into(request, 0, len(request), req, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
        s.send(request)
        done = False
        while not done:
            n = recv_into(buf)
            off = 0
            while off + 16 <= n:
                ln, typ, _fl, sq, _pid = hdr(buf, off)
                if ln < 16 or off + ln > n:
                    raise BenchError(f"bad nlmsg_len {ln} at {off} of {n}")
                if sq != seq:
                    unexpected += 1
                elif typ == rtype:
                    p = off + skip
                    end = off + ln
                    v = fb = None
                    while p + 4 <= end:
                        alen, atype = nla(buf, p)
                        if alen < 4 or p + alen > end:
                            raise BenchError("malformed attribute")
                        atype &= NLA_TYPE_MASK
                        if atype == want:
                            v = (p + 4, p + alen)
                            break
                        if atype == fallback:
                            fb = (p + 4, p + alen)
                        p += (alen + 3) & ~3
                    if v is None:
                        v = fb
                    if v is None:
                        missing += 1
                    elif as_str:
                        z = buf.find(0, v[0], v[1])
                        v = buf[v[0] : z if z >= 0 else v[1]].decode()
                    elif v[1] - v[0] == 4:
                        v = u32(buf, v[0])[0]
                    else:
                        v = bytes(buf[v[0] : v[1]])
                    entries += 1
                elif typ == NLMSG_DONE:
                    if ln >= 20 and I32.unpack_from(buf, off + 16)[0]:
                        raise BenchError("dump failed")
                    done = True
                    break
                elif typ == NLMSG_ERROR:
                    raise BenchError(f"NLMSG_ERROR {I32.unpack_from(buf, off + 16)[0]}")
                else:
                    unexpected += 1
                off += (ln + 3) & ~3
    t1 = time.perf_counter()
    s.close()
    _check_clean(unexpected, missing)
    return _result(entries, t1 - t0, count, last=_show(v))


def dump_stdlib_simple(workload: str, count: int) -> dict[str, Any]:
    """Pure Python, plainly: recv() into new bytes, unpack slices."""
    req, rtype, hdrlen, want, fallback, as_str = DUMPS[workload]
    s = open_socket(NETLINK_ROUTE)
    skip = 16 + ((hdrlen + 3) & ~3)
    entries = unexpected = missing = 0
    v: Any = None
    t0 = time.perf_counter()
    for d in range(count):
        seq = d + 1
        s.send(struct.pack("=IHHII", 16 + hdrlen, req, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
               + bytes(hdrlen))
        done = False
        while not done:
            data = s.recv(65536)
            off = 0
            while off + 16 <= len(data):
                ln, typ, _fl, sq, _pid = struct.unpack("=IHHII", data[off : off + 16])
                if ln < 16 or off + ln > len(data):
                    raise BenchError("bad nlmsg_len")
                if typ == NLMSG_DONE:
                    done = True
                    break
                if typ == NLMSG_ERROR:
                    raise BenchError("NLMSG_ERROR")
                if typ != rtype or sq != seq:
                    unexpected += 1
                else:
                    p = off + skip
                    v = fb = None
                    while p + 4 <= off + ln:
                        alen, atype = struct.unpack("=HH", data[p : p + 4])
                        if alen < 4:
                            raise BenchError("malformed attribute")
                        atype &= NLA_TYPE_MASK
                        if atype == want:
                            v = data[p + 4 : p + alen]
                            break
                        if atype == fallback:
                            fb = data[p + 4 : p + alen]
                        p += (alen + 3) & ~3
                    if v is None:
                        v = fb
                    if v is None:
                        missing += 1
                    elif as_str:
                        v = v.split(b"\0", 1)[0].decode()
                    elif len(v) == 4:
                        v = struct.unpack("=I", v)[0]
                    entries += 1
                off += (ln + 3) & ~3
    t1 = time.perf_counter()
    s.close()
    _check_clean(unexpected, missing)
    return _result(entries, t1 - t0, count, last=_show(v))


# -- pyroute2 -------------------------------------------------------------------


def dump_pyroute2(workload: str, count: int) -> dict[str, Any]:
    """pyroute2's normal API: IPRoute().get_links() / get_addr()."""
    from pyroute2 import IPRoute

    _, rtype, _, _, _, _ = DUMPS[workload]
    entries = unexpected = missing = 0
    v: Any = None
    with IPRoute() as ipr:
        t0 = time.perf_counter()
        for _ in range(count):
            if workload == "linkdump":
                for m in ipr.get_links():
                    if m["header"]["type"] != rtype:
                        unexpected += 1
                    v = m.get_attr("IFLA_IFNAME")
                    missing += v is None
                    entries += 1
            else:
                for m in ipr.get_addr():
                    if m["header"]["type"] != rtype:
                        unexpected += 1
                    v = m.get_attr("IFA_ADDRESS") or m.get_attr("IFA_LOCAL")
                    missing += v is None
                    entries += 1
        t1 = time.perf_counter()
    _check_clean(unexpected, missing)
    return _result(entries, t1 - t0, count, last=_show(v))


def _show(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return v


# -- pipelined RTM_GETLINK ---------------------------------------------------------


def getlink_nlfast(count: int, ifindex: int = 1, window: int = 64) -> dict[str, Any]:
    """Batch path: send_repeat refills the window in C, columns check the
    replies (types, seq_gaps in order, attr_str)."""
    from nlfast import Message, rtnl

    got = gaps = 0
    names: list[Any] = []
    with _nlfast_socket() as s:
        tmpl = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=ifindex)).encode()
        s.next_seq = expect = 1
        t0 = time.perf_counter()
        sent = s.send_repeat(tmpl, min(window, count))
        while got < count:
            b = s.recv(5.0)
            ok = b.count(RTM_NEWLINK)
            if ok != len(b):
                errs = [e for e in b.errors.tolist() if e]
                raise BenchError(f"{len(b) - ok} replies not RTM_NEWLINK (errnos {errs[:3]})")
            g, expect = b.seq_gaps(RTM_NEWLINK, expect)
            gaps += g
            names = b.attr_str(IFLA_IFNAME, IFINFOMSG_LEN)
            got += ok
            k = min(ok, count - sent)
            if k:
                sent += s.send_repeat(tmpl, k)
        t1 = time.perf_counter()
    if gaps or None in names:
        raise BenchError(f"{gaps} replies missing")
    return _result(got, t1 - t0, count, window=window, last=names[-1])


def getlink_nlfast_request_many(count: int, ifindex: int = 1,
                                window: int = 64) -> dict[str, Any]:
    """request_many: the pipelining helper (adds NLM_F_ACK, copies replies)."""
    from nlfast import Message, rtnl

    with _nlfast_socket() as s:
        msg = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=ifindex))
        t0 = time.perf_counter()
        res = s.request_many([msg] * count, window=window)
        names = [r[0].attrs(IFINFOMSG_LEN).str(IFLA_IFNAME) for r in res]  # type: ignore[index]
        t1 = time.perf_counter()
    if len(names) != count or any(r[0].type != RTM_NEWLINK for r in res[:1]):  # type: ignore[index]
        raise BenchError("wrong replies")
    return _result(count, t1 - t0, count, window=window, last=names[-1])


def getlink_nlfast_simple(count: int, ifindex: int = 1, window: int = 1) -> dict[str, Any]:
    """Simple path: ``sock.request(msg, ack=False)``, one round trip at a time."""
    from nlfast import Message, rtnl

    name = None
    with _nlfast_socket() as s:
        msg = Message(rtnl.RTM_GETLINK, header=rtnl.ifinfomsg(index=ifindex))
        t0 = time.perf_counter()
        for _ in range(count):
            (m,) = s.request(msg, ack=False)
            if m.type != RTM_NEWLINK:
                raise BenchError(f"reply type {m.type}")
            name = m.attrs(IFINFOMSG_LEN).str(IFLA_IFNAME)
        t1 = time.perf_counter()
    return _result(count, t1 - t0, count, window=1, last=name)


def _getlink_request(ifindex: int) -> bytes:
    return NLMSGHDR.pack(32, RTM_GETLINK, NLM_F_REQUEST, 0, 0) + struct.pack(
        "=BxHiII", 0, 0, ifindex, 0, 0)


def getlink_stdlib(count: int, ifindex: int = 1, window: int = 64) -> dict[str, Any]:
    """Pure Python done well: ``window`` requests per datagram (seqs written
    by one array slice assignment), recv_into a reused buffer, parsed in place."""
    s = open_socket(NETLINK_ROUTE)
    buf = bytearray(BIG_BUF)
    recv_into = s.recv_into
    hdr = NLMSGHDR.unpack_from
    nla = NLATTR.unpack_from
    reqs = array("I")
    reqs.frombytes(_getlink_request(ifindex) * window)
    reqbytes = memoryview(reqs).cast("B")
    skip = 16 + IFINFOMSG_LEN
    got = sent = 0
    seq = expect = 1
    name = None

    def send(k: int) -> None:
        nonlocal seq
        reqs[2 : 8 * k : 8] = array("I", range(seq, seq + k))
        s.send(reqbytes[: 32 * k])
        seq += k

    t0 = time.perf_counter()
    k = min(window, count)
    send(k)
    sent = k
    while got < count:
        n = recv_into(buf)
        off = replies = 0
        while off + 16 <= n:
            ln, typ, _fl, sq, _pid = hdr(buf, off)
            if ln < 16 or off + ln > n:
                raise BenchError("bad nlmsg_len")
            if typ != RTM_NEWLINK or sq != expect:
                raise BenchError(f"reply type {typ} seq {sq}, expected seq {expect}")
            expect += 1
            p = off + skip
            end = off + ln
            name = None
            while p + 4 <= end:
                alen, atype = nla(buf, p)
                if alen < 4 or p + alen > end:
                    raise BenchError("malformed attribute")
                if atype & NLA_TYPE_MASK == IFLA_IFNAME:
                    z = buf.find(0, p + 4, p + alen)
                    name = buf[p + 4 : z].decode()
                    break
                p += (alen + 3) & ~3
            if name is None:
                raise BenchError("no IFLA_IFNAME")
            replies += 1
            off += (ln + 3) & ~3
        got += replies
        k = min(replies, count - sent)
        if k:
            send(k)
            sent += k
    t1 = time.perf_counter()
    s.close()
    return _result(got, t1 - t0, count, window=window, last=name)


def getlink_stdlib_simple(count: int, ifindex: int = 1, window: int = 1) -> dict[str, Any]:
    """Pure Python, plainly: one request, one recv, unpack slices."""
    s = open_socket(NETLINK_ROUTE)
    body = _getlink_request(ifindex)[16:]
    name = None
    t0 = time.perf_counter()
    for seq in range(1, count + 1):
        s.send(struct.pack("=IHHII", 32, RTM_GETLINK, NLM_F_REQUEST, seq, 0) + body)
        data = s.recv(65536)
        ln, typ, _fl, sq, _pid = struct.unpack("=IHHII", data[:16])
        if typ != RTM_NEWLINK or sq != seq:
            raise BenchError(f"reply type {typ} seq {sq}")
        p = 16 + IFINFOMSG_LEN
        name = None
        while p + 4 <= ln:
            alen, atype = struct.unpack("=HH", data[p : p + 4])
            if alen < 4:
                raise BenchError("malformed attribute")
            if atype & NLA_TYPE_MASK == IFLA_IFNAME:
                name = data[p + 4 : p + alen].split(b"\0", 1)[0].decode()
                break
            p += (alen + 3) & ~3
        if name is None:
            raise BenchError("no IFLA_IFNAME")
    t1 = time.perf_counter()
    s.close()
    return _result(count, t1 - t0, count, window=1, last=name)


def getlink_pyroute2(count: int, ifindex: int = 1, window: int = 1) -> dict[str, Any]:
    """pyroute2's normal API: ``IPRoute().link('get', index=...)``."""
    from pyroute2 import IPRoute

    name = None
    with IPRoute() as ipr:
        t0 = time.perf_counter()
        for _ in range(count):
            (m,) = ipr.link("get", index=ifindex)
            if m["header"]["type"] != RTM_NEWLINK:
                raise BenchError("wrong reply type")
            name = m.get_attr("IFLA_IFNAME")
        t1 = time.perf_counter()
    return _result(count, t1 - t0, count, window=1, last=name)


def _dump(fn: Any, workload: str) -> Any:
    def run(count: int) -> dict[str, Any]:
        return fn(workload, count)

    run.__doc__ = fn.__doc__
    return run


WORKERS: dict[tuple[str, str], Any] = {}
for _wl in DUMPS:
    WORKERS[(_wl, "nlfast")] = _dump(dump_nlfast, _wl)
    WORKERS[(_wl, "nlfast-simple")] = _dump(dump_nlfast_simple, _wl)
    WORKERS[(_wl, "stdlib")] = _dump(dump_stdlib, _wl)
    WORKERS[(_wl, "stdlib-simple")] = _dump(dump_stdlib_simple, _wl)
    WORKERS[(_wl, "pyroute2")] = _dump(dump_pyroute2, _wl)
WORKERS.update({
    ("getlink", "nlfast"): getlink_nlfast,
    ("getlink", "nlfast-request_many"): getlink_nlfast_request_many,
    ("getlink", "nlfast-simple"): getlink_nlfast_simple,
    ("getlink", "stdlib"): getlink_stdlib,
    ("getlink", "stdlib-simple"): getlink_stdlib_simple,
    ("getlink", "pyroute2"): getlink_pyroute2,
})


# -- peak memory of one address dump -------------------------------------------------


def _maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def dumpmem_nlfast(count: int = 1) -> dict[str, Any]:
    """Streams the dump batch by batch; keeps the decoded addresses."""
    from nlfast import Message

    with _nlfast_socket() as s:
        msg = Message(RTM_GETADDR, header=bytes(IFADDRMSG_LEN))
        before = _maxrss()
        t0 = time.perf_counter()
        kept: list[int] = []
        for b in s.dump(msg):
            kept += b.attr_uint(IFA_ADDRESS, IFADDRMSG_LEN).tolist()
        t1 = time.perf_counter()
    return _result(len(kept), t1 - t0, 1, rss_before_kib=before, rss_after_kib=_maxrss())


def dumpmem_stdlib(count: int = 1) -> dict[str, Any]:
    """Streams the dump with recv_into one buffer; keeps the decoded addresses."""
    s = open_socket(NETLINK_ROUTE)
    buf = bytearray(BIG_BUF)
    before = _maxrss()
    t0 = time.perf_counter()
    kept: list[int] = []
    s.send(NLMSGHDR.pack(16 + IFADDRMSG_LEN, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
           + bytes(IFADDRMSG_LEN))
    done = False
    while not done:
        n = s.recv_into(buf)
        off = 0
        while off + 16 <= n:
            ln, typ, _fl, _sq, _pid = NLMSGHDR.unpack_from(buf, off)
            if typ == NLMSG_DONE:
                done = True
                break
            if typ == RTM_NEWADDR:
                p, end = off + 16 + IFADDRMSG_LEN, off + ln
                while p + 4 <= end:
                    alen, atype = NLATTR.unpack_from(buf, p)
                    if atype == IFA_ADDRESS and alen == 8:
                        kept.append(U32.unpack_from(buf, p + 4)[0])
                        break
                    p += (alen + 3) & ~3
            off += (ln + 3) & ~3
    t1 = time.perf_counter()
    s.close()
    return _result(len(kept), t1 - t0, 1, rss_before_kib=before, rss_after_kib=_maxrss())


def dumpmem_pyroute2(count: int = 1) -> dict[str, Any]:
    """Keeps get_addr()'s message list, as a pyroute2 user does."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        before = _maxrss()
        t0 = time.perf_counter()
        msgs = ipr.get_addr()
        kept = [m.get_attr("IFA_ADDRESS") for m in msgs]
        t1 = time.perf_counter()
        after = _maxrss()
    return _result(len(kept), t1 - t0, 1, rss_before_kib=before, rss_after_kib=after,
                   held=len(msgs))


WORKERS.update({
    ("dump-rss", "nlfast"): dumpmem_nlfast,
    ("dump-rss", "stdlib"): dumpmem_stdlib,
    ("dump-rss", "pyroute2"): dumpmem_pyroute2,
})
