"""NETLINK_USERSOCK workloads: two processes, one of them the C ceiling.

The message is nlceil's: type NLMSG_MIN_TYPE, flags 0, seqs 1..N, 16
payload bytes; batched senders put 1024 of them (32 KiB) in a datagram,
nlfast's default datagram size.

* ``usersock-recv``: nlceil sends N messages to the contender's port id;
  the contender receives them: type checked, seq checked in order (gaps
  counted).
* ``usersock-send``: the contender sends N messages to nlceil's receiver.
  Rate: messages / time in the send loop (unicast to a user socket blocks
  when the receiver's queue is full, so this is delivered-rate bound).
* ``usersock-mcast``: nlceil sends N messages to group 3 as fast as it can;
  the contender, a member, receives what it can.  Overload drops
  messages: the receiver counts the gaps and the ENOBUFS it is told of.
  The harness then unicasts an END message (type NLMSG_MIN_TYPE + 1) so
  the receiver knows the flood is over without guessing from a timeout.

Receive rates run from the return of the first receive call to the end of
the processing of the last batch (nlceil stops its clock at the last
receive's return: its processing of a batch is negligible).

Receivers print ``READY <portid>`` on stderr once bound, as nlceil does.
"""

from __future__ import annotations

import errno
import sys
import time
from array import array
from typing import Any

from benchmarks.nlconst import (
    BIG_BUF,
    NETLINK_USERSOCK,
    NLMSGHDR,
    RCVBUF,
    USERSOCK_SIZE,
    USERSOCK_TYPE,
    open_socket,
    pattern,
)

END_TYPE = USERSOCK_TYPE + 1
MSGLEN = 16 + USERSOCK_SIZE  # 32: already aligned
BATCH = BIG_BUF // MSGLEN  # messages per datagram for batched senders
WORDS = MSGLEN // 4


def _ready(portid: int) -> None:
    print(f"READY {portid}", file=sys.stderr, flush=True)


def _recv_result(n: int, got: int, gaps: int, expect: int, t_first: float | None,
                 t_last: float, **extra: Any) -> dict[str, Any]:
    lost = gaps + max(0, n + 1 - expect)
    seconds = (t_last - t_first) if t_first is not None else 0.0
    return {"count": got, "units": got, "seconds": seconds, "requested": n, "lost": lost,
            "loss_pct": 100.0 * lost / n if n else 0.0, **extra}


def _groups(group: int) -> list[int]:
    return [group] if group else []


# -- receivers ------------------------------------------------------------------


def recv_nlfast(count: int, group: int = 0, timeout: float = 5.0,
                rcvbuf: int = RCVBUF) -> dict[str, Any]:
    """Batch path: recvmmsg + C parse; Batch.count and Batch.seq_gaps check
    every message's type and seq in C."""
    import nlfast

    n = count
    got = gaps = overruns = 0
    expect = 1
    t_first: float | None = None
    t_last = 0.0
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, groups=_groups(group), rcvbuf=rcvbuf,
                       rx_buffers=64, rx_bufsize=BIG_BUF) as s:
        _ready(s.portid)
        wait = 30.0  # for the sender to start
        while got < n and expect <= n:
            try:
                b = s.recv(wait)
            except TimeoutError:
                break
            except nlfast.OverrunError:
                overruns += 1
                continue
            if t_first is None:
                t_first = time.perf_counter()
                wait = timeout
            g, expect = b.seq_gaps(USERSOCK_TYPE, expect)
            gaps += g
            got += b.count(USERSOCK_TYPE)
            t_last = time.perf_counter()
            if b.count(END_TYPE):
                break
        drops = s.drops()
    return _recv_result(n, got, gaps, expect, t_first, t_last, overruns=overruns,
                        kernel_drops=drops)


def recv_nlfast_simple(count: int, group: int = 0, timeout: float = 5.0,
                       rcvbuf: int = RCVBUF) -> dict[str, Any]:
    """Simple path: one MessageView per message (m.type, m.seq)."""
    import nlfast

    n = count
    got = gaps = overruns = 0
    expect = 1
    end = False
    t_first: float | None = None
    t_last = 0.0
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, groups=_groups(group), rcvbuf=rcvbuf,
                       rx_buffers=64, rx_bufsize=BIG_BUF) as s:
        _ready(s.portid)
        wait = 30.0
        while got < n and expect <= n and not end:
            try:
                batch = s.recv(wait)
            except TimeoutError:
                break
            except nlfast.OverrunError:
                overruns += 1
                continue
            if t_first is None:
                t_first = time.perf_counter()
                wait = timeout
            for m in batch:
                if m.type == USERSOCK_TYPE:
                    seq = m.seq
                    if seq > expect:
                        gaps += seq - expect
                    expect = seq + 1
                    got += 1
                elif m.type == END_TYPE:
                    end = True
            t_last = time.perf_counter()
        drops = s.drops()
    return _recv_result(n, got, gaps, expect, t_first, t_last, overruns=overruns,
                        kernel_drops=drops)


def recv_stdlib(count: int, group: int = 0, timeout: float = 5.0,
                rcvbuf: int = RCVBUF) -> dict[str, Any]:
    """Pure Python done well: recv_into a reused buffer, unpack_from in place."""
    n = count
    s = open_socket(NETLINK_USERSOCK, rcvbuf)
    if group:
        s.setsockopt(270, 1, group)  # SOL_NETLINK, NETLINK_ADD_MEMBERSHIP
    _ready(s.getsockname()[0])
    buf = bytearray(BIG_BUF)
    recv_into = s.recv_into
    hdr = NLMSGHDR.unpack_from
    got = gaps = enobufs = 0
    expect = 1
    end = False
    t_first: float | None = None
    t_last = 0.0
    s.settimeout(30.0)
    while got < n and expect <= n and not end:
        try:
            nbytes = recv_into(buf)
        except TimeoutError:
            break
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                enobufs += 1
                continue
            raise
        if t_first is None:
            t_first = time.perf_counter()
            s.settimeout(timeout)
        off = 0
        while off + 16 <= nbytes:
            ln, typ, _fl, seq, _pid = hdr(buf, off)
            if ln < 16 or off + ln > nbytes:
                raise RuntimeError("bad nlmsg_len")
            if typ == USERSOCK_TYPE:
                if seq > expect:
                    gaps += seq - expect
                expect = seq + 1
                got += 1
            elif typ == END_TYPE:
                end = True
            off += (ln + 3) & ~3
        t_last = time.perf_counter()
    s.close()
    return _recv_result(n, got, gaps, expect, t_first, t_last, enobufs=enobufs)


def recv_stdlib_simple(count: int, group: int = 0, timeout: float = 5.0,
                       rcvbuf: int = RCVBUF) -> dict[str, Any]:
    """Pure Python, plainly: recv() into new bytes, unpack slices."""
    import struct

    n = count
    s = open_socket(NETLINK_USERSOCK, rcvbuf)
    if group:
        s.setsockopt(270, 1, group)
    _ready(s.getsockname()[0])
    got = gaps = enobufs = 0
    expect = 1
    end = False
    t_first: float | None = None
    t_last = 0.0
    s.settimeout(30.0)
    while got < n and expect <= n and not end:
        try:
            data = s.recv(65536)
        except TimeoutError:
            break
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                enobufs += 1
                continue
            raise
        if t_first is None:
            t_first = time.perf_counter()
            s.settimeout(timeout)
        off = 0
        while off + 16 <= len(data):
            ln, typ, _fl, seq, _pid = struct.unpack("=IHHII", data[off : off + 16])
            if ln < 16:
                raise RuntimeError("bad nlmsg_len")
            if typ == USERSOCK_TYPE:
                if seq > expect:
                    gaps += seq - expect
                expect = seq + 1
                got += 1
            elif typ == END_TYPE:
                end = True
            off += (ln + 3) & ~3
        t_last = time.perf_counter()
    s.close()
    return _recv_result(n, got, gaps, expect, t_first, t_last, enobufs=enobufs)


def recv_pyroute2(count: int, group: int = 0, timeout: float = 5.0,
                  rcvbuf: int = RCVBUF) -> dict[str, Any]:
    """pyroute2's generic NetlinkSocket: bind(), get() parses each datagram
    into nlmsg objects; an overrun comes out of get() as NetlinkError(ENOBUFS).
    get() has no timeout: the END message ends the run, a watchdog a hung one."""
    import os
    import socket
    import threading

    from pyroute2.netlink import NETLINK_USERSOCK as P2_USERSOCK
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.nlsocket import NetlinkSocket

    def hung() -> None:
        print("pyroute2 receiver: no END after 60 s", file=sys.stderr, flush=True)
        os._exit(4)

    watchdog = threading.Timer(60.0, hung)
    watchdog.daemon = True
    watchdog.start()
    n = count
    s = NetlinkSocket(family=P2_USERSOCK, rcvbuf=rcvbuf)
    s.bind(groups=(1 << (group - 1)) if group else 0)
    s.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE, as for the others
    _ready(s.asyncore.socket.getsockname()[0])
    got = gaps = enobufs = 0
    expect = 1
    end = False
    t_first: float | None = None
    t_last = 0.0
    while got < n and expect <= n and not end:
        try:
            msgs = s.get()
        except NetlinkError as e:
            if e.code == errno.ENOBUFS:
                enobufs += 1
                continue
            raise
        except OSError as e:  # the same, when it comes out of the transport's recvfrom
            if e.errno == errno.ENOBUFS:
                enobufs += 1
                continue
            raise
        if t_first is None:
            t_first = time.perf_counter()
        for m in msgs:
            h = m["header"]
            if h["type"] == USERSOCK_TYPE:
                seq = h["sequence_number"]
                if seq > expect:
                    gaps += seq - expect
                expect = seq + 1
                got += 1
            elif h["type"] == END_TYPE:
                end = True
        t_last = time.perf_counter()
    watchdog.cancel()
    s.close()
    return _recv_result(n, got, gaps, expect, t_first, t_last, enobufs=enobufs)


# -- senders ---------------------------------------------------------------------


def _send_result(n: int, t0: float, t1: float, **extra: Any) -> dict[str, Any]:
    return {"count": n, "units": n, "seconds": t1 - t0, **extra}


def _dest(dest: int, group: int) -> tuple[int, int]:
    return (0, 1 << (group - 1)) if group else (dest, 0)


def send_nlfast(count: int, dest: int = 0, group: int = 0) -> dict[str, Any]:
    """Batch path: send_repeat frames and sends in C (seqs 1..N)."""
    import nlfast

    pid, groups = _dest(dest, group)
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, sndbuf=RCVBUF) as s:
        tmpl = nlfast.Message(USERSOCK_TYPE, 0, header=pattern(USERSOCK_SIZE))
        s.next_seq = 1
        t0 = time.perf_counter()
        s.send_repeat(tmpl, count, dest=pid, groups=groups)
        t1 = time.perf_counter()
    return _send_result(count, t0, t1)


def send_nlfast_batch(count: int, dest: int = 0, group: int = 0) -> dict[str, Any]:
    """send_batch: each Message framed by Python calls into the C framer,
    sent many per datagram (the general path for messages that differ)."""
    import nlfast

    pid, groups = _dest(dest, group)
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, sndbuf=RCVBUF) as s:
        msg = nlfast.Message(USERSOCK_TYPE, 0, header=pattern(USERSOCK_SIZE))
        s.next_seq = 1
        chunk = [msg] * min(count, 65536)
        t0 = time.perf_counter()
        left = count
        while left:
            k = min(left, len(chunk))
            s.send_batch(chunk if k == len(chunk) else chunk[:k], dest=pid, groups=groups)
            left -= k
        t1 = time.perf_counter()
    return _send_result(count, t0, t1)


def send_nlfast_simple(count: int, dest: int = 0, group: int = 0) -> dict[str, Any]:
    """Simple path: ``sock.send(msg)`` once per message."""
    import nlfast

    pid, groups = _dest(dest, group)
    with nlfast.Socket(nlfast.NETLINK_USERSOCK, sndbuf=RCVBUF) as s:
        msg = nlfast.Message(USERSOCK_TYPE, 0, header=pattern(USERSOCK_SIZE))
        s.next_seq = 1
        send = s.send
        t0 = time.perf_counter()
        for _ in range(count):
            send(msg, dest=pid, groups=groups)
        t1 = time.perf_counter()
    return _send_result(count, t0, t1)


def send_stdlib(count: int, dest: int = 0, group: int = 0) -> dict[str, Any]:
    """Pure Python done well: 1024 messages per datagram, their seqs written
    by one array slice assignment per datagram."""
    addr = _dest(dest, group)
    s = open_socket(NETLINK_USERSOCK)
    portid = s.getsockname()[0]
    one = NLMSGHDR.pack(MSGLEN, USERSOCK_TYPE, 0, 0, portid) + pattern(USERSOCK_SIZE)
    words = array("I")
    words.frombytes(one * BATCH)
    raw = memoryview(words).cast("B")
    sendto = s.sendto
    seq = 1
    t0 = time.perf_counter()
    left = count
    while left:
        k = min(left, BATCH)
        words[2 : WORDS * k : WORDS] = array("I", range(seq, seq + k))
        try:
            sendto(raw[: MSGLEN * k], addr)
        except ConnectionRefusedError:
            if not group:  # multicast on USERSOCK: see nlceil's tx_send
                raise
        seq += k
        left -= k
    t1 = time.perf_counter()
    s.close()
    return _send_result(count, t0, t1)


def send_stdlib_simple(count: int, dest: int = 0, group: int = 0) -> dict[str, Any]:
    """Pure Python, plainly: pack one message, sendto, repeat."""
    import struct

    addr = _dest(dest, group)
    s = open_socket(NETLINK_USERSOCK)
    portid = s.getsockname()[0]
    body = pattern(USERSOCK_SIZE)
    sendto = s.sendto
    t0 = time.perf_counter()
    for seq in range(1, count + 1):
        try:
            sendto(struct.pack("=IHHII", MSGLEN, USERSOCK_TYPE, 0, seq, portid) + body, addr)
        except ConnectionRefusedError:
            if not group:
                raise
    t1 = time.perf_counter()
    s.close()
    return _send_result(count, t0, t1)


def send_pyroute2(count: int, dest: int = 0, group: int = 0) -> dict[str, Any]:
    """pyroute2's generic NetlinkSocket: put() of an nlmsg subclass.  put()
    in pyroute2 0.9 ignores its addr argument and sends on the socket, so
    the socket is connected to the receiver first."""
    from pyroute2.netlink import NETLINK_USERSOCK as P2_USERSOCK
    from pyroute2.netlink import nlmsg
    from pyroute2.netlink.nlsocket import NetlinkSocket

    class usermsg(nlmsg):
        fields = (("data", f"{USERSOCK_SIZE}s"),)

    if group:
        raise RuntimeError("n/a: pyroute2 cannot address a multicast group from put()")
    s = NetlinkSocket(family=P2_USERSOCK)
    s.bind()
    s.asyncore.connect((dest, 0))
    data = pattern(USERSOCK_SIZE)
    t0 = time.perf_counter()
    for seq in range(1, count + 1):
        m = usermsg()
        m["data"] = data
        s.put(m, USERSOCK_TYPE, msg_flags=0, msg_seq=seq)
    t1 = time.perf_counter()
    s.close()
    return _send_result(count, t0, t1)


RECEIVERS = {
    "nlfast": recv_nlfast,
    "nlfast-simple": recv_nlfast_simple,
    "stdlib": recv_stdlib,
    "stdlib-simple": recv_stdlib_simple,
    "pyroute2": recv_pyroute2,
}
SENDERS = {
    "nlfast": send_nlfast,
    "nlfast-send_batch": send_nlfast_batch,
    "nlfast-simple": send_nlfast_simple,
    "stdlib": send_stdlib,
    "stdlib-simple": send_stdlib_simple,
    "pyroute2": send_pyroute2,
}

WORKERS: dict[tuple[str, str], Any] = {}
for _c, _f in RECEIVERS.items():
    WORKERS[("usersock-recv", _c)] = _f
    WORKERS[("usersock-mcast", _c)] = _f
for _c, _f in SENDERS.items():
    WORKERS[("usersock-send", _c)] = _f
